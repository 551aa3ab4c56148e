"""/api/jobs/ over HTTP: list (filters, cursor pagination, one query), detail with steps and
events, create with Idempotency-Key, the user actions and their refusals, and tenant scoping."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from batches.models import BatchJob
from marketplace.api.serializers.jobs import JobSerializer
from marketplace.models import IdempotencyRecord, JobEvent, MarketplaceJob
from marketplace.selectors import job_list_planner_costs
from tenants.context import tenant_context
from tests.api_support import FORBIDDEN, NOT_FOUND, error
from tests.factories.marketplace import (
    MarketplaceTaskFactory,
    ProductFactory,
    make_batch,
    make_job,
    make_job_in,
    marketplaces_connect,
    ready_product,
)

JOB_FIELDS = {
    "id",
    "marketplace",
    "action",
    "product_id",
    "batch_id",
    "status",
    "status_reason",
    "priority",
    "attempts",
    "max_retries",
    "next_attempt_at",
    "expires_at",
    "idempotency_key",
    "input_data",
    "result_data",
    "error_code",
    "error_message",
    "pause_requested",
    "cancel_requested",
    "heartbeat_at",
    "created_at",
    "started_at",
    "finished_at",
}
DETAIL_FIELDS = JOB_FIELDS | {"allowed_actions", "tasks", "events"}


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- list ---------------------------------------------------------------------------------


def test_list_pages_through_every_job_newest_first_with_a_cursor(tenant, api_client):
    # given five jobs
    jobs = [make_job(marketplace="ebay", action="sync_orders") for _ in range(5)]
    newest_first = [job.pk for job in reversed(jobs)]

    # when the member walks the list two at a time
    first = api_client.get("/api/jobs/", {"page_size": 2})
    second = api_client.get(first.json()["next"])
    third = api_client.get(second.json()["next"])

    # then the pages hold 2, 2 and 1 jobs, in order, and the last one has no next page
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [_ids(first), _ids(second), _ids(third)] == [
        newest_first[:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert first.json()["previous"] is None
    assert third.json()["next"] is None
    assert parse_qs(urlsplit(first.json()["next"]).query)["page_size"] == ["2"]
    assert set(first.json()) == {"next", "previous", "results"}
    assert set(first.json()["results"][0]) == JOB_FIELDS


def test_list_rows_render_as_drfs_serializer_renders_each_job(tenant, api_client):
    # given a batch job with every field set (a datetime without microseconds among them) and
    # a job outside any batch
    batch = make_batch(products=1)
    job = MarketplaceJob.objects.get(batch=batch)
    now = timezone.now()
    MarketplaceJob.objects.filter(pk=job.pk).update(
        started_at=now.replace(microsecond=0),
        heartbeat_at=now,
        finished_at=now + timedelta(seconds=1),
        next_attempt_at=now,
        input_data={"nested": {"list": [1, 2.5, "é"]}, "none": None},
        result_data={"listing_id": "x1"},
        error_code="E42",
        error_message="a message",
        status_reason="a reason",
        pause_requested=True,
    )
    lone = make_job(marketplace="etsy", action="sync_listings")

    # when the member lists the jobs
    rows = api_client.get("/api/jobs/").json()["results"]

    # then each row is what DRF's own field-by-field ModelSerializer renders for that job
    jobs = MarketplaceJob.objects.select_related("action_type", "batch").order_by("-pk")
    expected = [
        serializers.ModelSerializer.to_representation(JobSerializer(), each)
        for each in jobs.filter(pk__in=(job.pk, lone.pk))
    ]
    assert rows == expected
    assert [row["batch_id"] for row in rows] == [None, batch.batch_id]


def test_list_page_size_is_capped(tenant, api_client):
    # given 3 jobs
    for _ in range(3):
        make_job(marketplace="etsy", action="sync_listings")

    # when a page of 10,000 is asked for
    response = api_client.get("/api/jobs/", {"page_size": 10_000})

    # then the cap (200) applies and the three jobs are there
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_list_reads_the_jobs_table_once_whatever_the_page(tenant, api_client):
    # given 30 jobs spread over two batches, with products
    make_batch(products=15, marketplaces=("ebay",))
    make_batch(products=15, marketplaces=("etsy",))

    # when the member reads a page of 3 and a page of 30
    with CaptureQueriesContext(connection) as small:
        api_client.get("/api/jobs/", {"page_size": 3})
    with CaptureQueriesContext(connection) as large:
        response = api_client.get("/api/jobs/", {"page_size": 30})

    # then each page is one SELECT on the jobs table (batch and action joined), no N+1
    def job_selects(queries):
        return [
            q["sql"]
            for q in queries.captured_queries
            if 'FROM "marketplace_marketplacejob"' in q["sql"]
        ]

    assert len(job_selects(small)) == 1
    assert len(job_selects(large)) == 1
    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(response.json()["results"]) == 30
    assert {row["batch_id"] is not None for row in response.json()["results"]} == {True}


def test_list_reads_its_page_with_ssd_planner_costs(tenant, api_client):
    # given three pending eBay jobs
    make_batch(products=3, marketplaces=("ebay",))

    # when the member reads a filtered page
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/jobs/", {"status": "pending", "marketplace": "ebay"})

    # then the page's SELECT runs after SET LOCAL random_page_cost, in the same transaction
    sqls = [q["sql"] for q in queries.captured_queries]
    set_at = next(i for i, sql in enumerate(sqls) if "random_page_cost" in sql)
    page_at = next(i for i, sql in enumerate(sqls) if 'FROM "marketplace_marketplacejob"' in sql)
    assert set_at < page_at
    assert "SET LOCAL random_page_cost = 1.1" in sqls[set_at]
    assert len(response.json()["results"]) == 3


def _random_page_cost() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        return cursor.fetchone()[0]


def test_the_list_planner_cost_lasts_only_the_pages_transaction(live_tenant, settings):
    # given the connection in autocommit, as a request's
    before = _random_page_cost()
    # when a page is read inside the block
    with job_list_planner_costs():
        inside = _random_page_cost()
    # then the cost held inside only; 0 leaves the server's setting and opens no transaction
    assert (inside, _random_page_cost()) == ("1.1", before)
    settings.RELIST_JOB_LIST_RANDOM_PAGE_COST = 0
    with job_list_planner_costs():
        assert (_random_page_cost(), connection.in_atomic_block) == (before, False)


def test_list_query_count_is_bounded(tenant, api_client, django_assert_max_num_queries):
    # given 50 jobs in a batch
    make_batch(products=50)

    # when the member lists them
    with django_assert_max_num_queries(10) as captured:
        response = api_client.get("/api/jobs/")

    # then five SELECTs: host, schema, token, membership and the page (the rest is
    # django-tenants setting the search_path)
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 5
    assert len(response.json()["results"]) == 50


def test_batch_filter_stays_one_select_without_a_join(tenant, api_client):
    # given two batches
    batch = make_batch(products=3)
    make_batch(products=2)

    # when the member lists the jobs of one batch
    with CaptureQueriesContext(connection) as captured:
        response = api_client.get("/api/jobs/", {"batch_id": batch.batch_id})
    job_selects = [
        q["sql"]
        for q in captured.captured_queries
        if 'FROM "marketplace_marketplacejob"' in q["sql"]
    ]

    # then its three jobs come from one SELECT that names the batch through a scalar subquery
    # (a join would hide the batch from the planner and walk the primary key instead)
    assert len(response.json()["results"]) == 3
    assert len(job_selects) == 1
    assert '"marketplace_marketplacejob"."batch_id" = (SELECT' in job_selects[0]


@pytest.fixture
def assorted_jobs(tenant):
    """Jobs that differ in one dimension each, named for the filter tests."""
    product = ProductFactory()
    batch = make_batch(products=2, marketplaces=("vinted",))
    return {
        "failed": make_job_in("failed", marketplace="ebay", action="publish"),
        "expired": make_job_in("expired", marketplace="ebay", action="publish"),
        "etsy_sync": make_job(marketplace="etsy", action="sync_orders"),
        "of_product": make_job(marketplace="ebay", action="update", product_id=product.pk),
        "batch": batch,
        "batch_jobs": list(MarketplaceJob.objects.filter(batch=batch).order_by("-pk")),
        "product": product,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda j: {"status": "failed"}, lambda j: [j["failed"]]),
        (
            lambda j: {"status": ["failed", "expired"]},
            lambda j: [j["expired"], j["failed"]],
        ),
        (lambda j: {"marketplace": "etsy"}, lambda j: [j["etsy_sync"]]),
        (lambda j: {"action": "sync_orders"}, lambda j: [j["etsy_sync"]]),
        (lambda j: {"action": "update"}, lambda j: [j["of_product"]]),
        (lambda j: {"batch_id": j["batch"].batch_id}, lambda j: j["batch_jobs"]),
        (lambda j: {"product_id": j["product"].pk}, lambda j: [j["of_product"]]),
        (lambda j: {"marketplace": "ebay", "status": "pending"}, lambda j: [j["of_product"]]),
        (lambda j: {"batch_id": "publish_20250101_000000_00000000"}, lambda j: []),
    ],
    ids=[
        "status",
        "two-statuses",
        "marketplace",
        "action",
        "other-action",
        "batch",
        "product",
        "marketplace-and-status",
        "unknown-batch",
    ],
)
def test_list_filters(assorted_jobs, api_client, query, expected):
    # given jobs of different statuses, marketplaces, actions, batch and product
    # when the member filters the list
    response = api_client.get("/api/jobs/", query(assorted_jobs))

    # then exactly the matching jobs come back, newest first
    assert response.status_code == 200
    assert _ids(response) == [job.pk for job in expected(assorted_jobs)]


@pytest.mark.parametrize(
    ("query", "details"),
    [
        (
            {"status": "lost"},
            {"status": ["Select a valid choice. lost is not one of the available choices."]},
        ),
        (
            {"action": "dance"},
            {"action": ["Select a valid choice. dance is not one of the available choices."]},
        ),
        ({"product_id": "x"}, {"product_id": ["Enter a whole number."]}),
        (
            {"product_id": "0"},
            {"product_id": ["Ensure this value is greater than or equal to 1."]},
        ),
    ],
    ids=["status", "action", "product-not-a-number", "product-zero"],
)
def test_list_refuses_invalid_filters(tenant, api_client, query, details):
    # when the member filters with a value that cannot match / then 400 names the filter
    response = api_client.get("/api/jobs/", query)
    assert response.status_code == 400
    assert response.json() == error("validation_failed", "The request is invalid.", details)


def test_list_refuses_a_forged_cursor(tenant, api_client):
    # when the cursor is not one the API gave ("o=x": no offset) / then 404, in the error shape
    response = api_client.get("/api/jobs/", {"cursor": "bz14"})
    assert response.status_code == 404
    assert response.json() == error("not_found", "Invalid cursor")


# --- detail and tasks ------------------------------------------------------------------


def test_detail_has_steps_events_and_allowed_actions(tenant, api_client):
    # given a running job with two planned steps
    job = make_job_in("running", marketplace="ebay", action="publish")
    MarketplaceTaskFactory(job=job, position=1, name="publish_offer", description="Publish")
    MarketplaceTaskFactory(job=job, position=0, name="put_item", description="Put item")

    # when the member reads it
    response = api_client.get(f"/api/jobs/{job.pk}/")

    # then the steps come in order, with the event of the claim and the actions allowed
    assert response.status_code == 200
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert (body["id"], body["marketplace"], body["action"], body["status"]) == (
        job.pk,
        "ebay",
        "publish",
        "running",
    )
    assert body["allowed_actions"] == ["pause", "cancel"]
    assert [(t["position"], t["name"], t["status"]) for t in body["tasks"]] == [
        (0, "put_item", "pending"),
        (1, "publish_offer", "pending"),
    ]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["events"]] == [
        ("pending", "running", "worker")
    ]


def test_tasks_lists_the_steps_of_one_job_in_order(tenant, api_client):
    # given a job with three steps, and another job with one
    job = make_job(marketplace="ebay", action="publish")
    for position in (2, 0, 1):
        MarketplaceTaskFactory(job=job, position=position, description=f"Step {position}")
    MarketplaceTaskFactory(position=0)

    # when the member asks for the job's tasks
    response = api_client.get(f"/api/jobs/{job.pk}/tasks/")

    # then only its steps come, by position, unpaginated
    assert response.status_code == 200
    assert [(t["position"], t["description"]) for t in response.json()] == [
        (0, "Step 0"),
        (1, "Step 1"),
        (2, "Step 2"),
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/987654/",
        "/api/jobs/987654/tasks/",
        "/api/jobs/abc/",
        "/api/jobs/9999999999999999999999/",
    ],
    ids=["detail", "tasks", "not-a-number", "beyond-bigint"],
)
def test_unknown_job_is_not_found(tenant, api_client, path):
    # when the member asks for a job that does not exist / then a bare 404
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- create -------------------------------------------------------------------------------


def test_create_answers_the_job_and_enqueues_it_after_commit(
    tenant, api_client, member, no_broker, django_capture_on_commit_callbacks
):
    # given a product ready for eBay
    marketplaces_connect(["ebay"])
    product = ready_product()

    # when the member creates a publish job on eBay
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/jobs/",
            {
                "marketplace": "ebay",
                "action": "publish",
                "product_id": product.pk,
                "input_data": {"category_id": "11450"},
                "priority": 2,
            },
        )

    # then 201 with the pending job, created by the member and sent to a worker once
    assert response.status_code == 201
    body = response.json()
    job = MarketplaceJob.objects.get()
    assert set(body) == DETAIL_FIELDS
    assert (body["id"], body["status"], body["product_id"], body["priority"]) == (
        job.pk,
        "pending",
        product.pk,
        2,
    )
    assert (body["input_data"], body["allowed_actions"], body["tasks"], body["events"]) == (
        {"category_id": "11450"},
        ["pause", "cancel"],
        [],
        [],
    )
    assert job.created_by_id == member.pk
    assert no_broker == [("marketplace.run_job", (job.pk,))]


def test_create_refuses_a_publish_that_is_not_ready(tenant, api_client, no_broker):
    # given a product without images, on a connected eBay
    marketplaces_connect(["ebay"])
    product = ProductFactory()
    # when / then 400 with the reasons, and no job
    response = api_client.post(
        "/api/jobs/", {"marketplace": "ebay", "action": "publish", "product_id": product.pk}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["not_ready"] == [
        {
            "product_id": product.pk,
            "marketplace": "ebay",
            "ready": False,
            "reasons": [
                {
                    "code": "no_images",
                    "field": "images",
                    "message": "eBay needs at least one image.",
                }
            ],
        }
    ]
    assert (MarketplaceJob.objects.count(), no_broker) == (0, [])


def test_create_uses_the_actions_default_priority(tenant, api_client):
    # when a sync is created without priority / then it has the catalogue's (4, low)
    response = api_client.post("/api/jobs/", {"marketplace": "etsy", "action": "sync_orders"})
    assert response.status_code == 201
    assert (response.json()["priority"], response.json()["product_id"]) == (4, None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"marketplace": "ebay", "action": "publish"},
            error("validation_failed", "A publish job needs a product.", {"product_id": None}),
        ),
        (
            {"marketplace": "ebay", "action": "publish", "product_id": 987654},
            error("validation_failed", "This product does not exist.", {"product_id": 987654}),
        ),
        (
            {"marketplace": "vinted", "action": "get_shop"},
            error(
                "validation_failed",
                "vinted has no action 'get_shop'.",
                {"marketplace": "vinted", "action": "get_shop"},
            ),
        ),
        (
            {"marketplace": "amazon", "action": "publish", "priority": 9},
            error(
                "validation_failed",
                "The request is invalid.",
                {
                    "marketplace": ['"amazon" is not a valid choice.'],
                    "priority": ['"9" is not a valid choice.'],
                },
            ),
        ),
        (
            {"marketplace": "ebay", "action": "sync_orders", "input_data": {"a": "\x00"}},
            error(
                "validation_failed",
                "The request is invalid.",
                {"input_data": ["Strings may not contain the NUL character."]},
            ),
        ),
        (
            ["ebay", "publish"],
            error(
                "validation_failed",
                "The request is invalid.",
                {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
            ),
        ),
    ],
    ids=[
        "publish-without-product",
        "missing-product",
        "action-not-on-marketplace",
        "bad-choices",
        "nul-in-input-data",
        "not-an-object",
    ],
)
def test_create_refuses_invalid_requests(tenant, api_client, body, expected):
    # when the member posts an invalid job
    response = api_client.post("/api/jobs/", body)

    # then 400 says why, and nothing was created
    assert response.status_code == 400
    assert response.json() == expected
    assert MarketplaceJob.objects.count() == 0


def test_create_refuses_malformed_json(tenant, api_client):
    # when the body is not JSON / then 400 parse_error, in the error shape
    response = api_client.post("/api/jobs/", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert MarketplaceJob.objects.count() == 0


def test_viewer_cannot_create_a_job(tenant, viewer):
    # when a viewer creates a job / then 403 and no job
    response = viewer.post("/api/jobs/", {"marketplace": "etsy", "action": "sync_orders"})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert MarketplaceJob.objects.count() == 0


# --- Idempotency-Key ----------------------------------------------------------------------


def test_repeat_with_the_same_key_returns_the_first_response(tenant, api_client):
    # given a job created with an Idempotency-Key, which then moved on (paused)
    marketplaces_connect(["vinted"])
    product = ready_product()
    body = {"marketplace": "vinted", "action": "publish", "product_id": product.pk}
    first = api_client.post("/api/jobs/", body, HTTP_IDEMPOTENCY_KEY="order-1")
    api_client.post(f"/api/jobs/{first.json()['id']}/pause/")

    # when the same request is repeated with the same key
    again = api_client.post("/api/jobs/", body, HTTP_IDEMPOTENCY_KEY="order-1")

    # then the answer is the first one, byte for byte, and there is still one job
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.json()["status"] == "pending"
    assert MarketplaceJob.objects.count() == 1
    assert MarketplaceJob.objects.get().idempotency_key == "order-1"


@pytest.mark.parametrize(
    "change",
    [{"priority": 1}, {"input_data": {"price": "9"}}, {"marketplace": "etsy"}],
    ids=["priority", "input-data", "marketplace"],
)
def test_same_key_with_a_different_body_is_refused(tenant, api_client, change):
    # given a job created with a key
    marketplaces_connect(["ebay", "etsy"])
    product = ready_product()
    body = {"marketplace": "ebay", "action": "publish", "product_id": product.pk}
    first = api_client.post("/api/jobs/", body, HTTP_IDEMPOTENCY_KEY="order-2")

    # when the key is reused for another request
    response = api_client.post("/api/jobs/", {**body, **change}, HTTP_IDEMPOTENCY_KEY="order-2")

    # then 422, and the first job is alone and unchanged
    assert response.status_code == 422
    assert response.json() == error(
        "idempotency_conflict",
        "This idempotency key was used for a different request.",
        {"idempotency_key": "order-2"},
    )
    assert list(MarketplaceJob.objects.values_list("pk", "marketplace", "priority")) == [
        (first.json()["id"], "ebay", 3)
    ]


def test_keys_are_per_endpoint(tenant, api_client):
    # given a job created under a key (the product ready for the batch endpoint's check)
    product = ready_product()
    marketplaces_connect(["ebay", "etsy"])
    job_body = {"marketplace": "ebay", "action": "publish", "product_id": product.pk}
    job = api_client.post("/api/jobs/", job_body, HTTP_IDEMPOTENCY_KEY="shared-1")
    batch_body = {"product_ids": [product.pk], "marketplaces": ["etsy"], "action": "publish"}

    # when the same key is sent to the batch endpoint with another body, then both are repeated
    batch = api_client.post("/api/batches/", batch_body, HTTP_IDEMPOTENCY_KEY="shared-1")
    job_again = api_client.post("/api/jobs/", job_body, HTTP_IDEMPOTENCY_KEY="shared-1")
    batch_again = api_client.post("/api/batches/", batch_body, HTTP_IDEMPOTENCY_KEY="shared-1")

    # then the batch is created (no conflict with the job's key), each repeat replays its own
    # endpoint's first answer, and there is one record per endpoint
    assert (job.status_code, batch.status_code) == (201, 201)
    assert (job_again.content, batch_again.content) == (job.content, batch.content)
    assert batch.json()["total_count"] == 1
    assert sorted(MarketplaceJob.objects.values_list("marketplace", "batch_id")) == [
        ("ebay", None),
        ("etsy", BatchJob.objects.get(batch_id=batch.json()["batch_id"]).pk),
    ]
    assert sorted(IdempotencyRecord.objects.values_list("scope", "key")) == [
        ("batches", "shared-1"),
        ("jobs", "shared-1"),
    ]


def test_requests_without_a_key_are_not_recorded_and_each_creates_a_job(tenant, api_client):
    # given / when two identical requests without a key
    body = {"marketplace": "etsy", "action": "sync_orders"}
    first = api_client.post("/api/jobs/", body)
    second = api_client.post("/api/jobs/", body)

    # then they are two jobs and no idempotency record exists
    assert (first.status_code, second.status_code) == (201, 201)
    assert sorted(MarketplaceJob.objects.values_list("pk", flat=True)) == sorted(
        [first.json()["id"], second.json()["id"]]
    )
    assert first.json()["id"] != second.json()["id"]
    assert IdempotencyRecord.objects.count() == 0


def test_malformed_idempotency_key_is_refused(tenant, api_client):
    # when the key is longer than 200 characters / then 400 and no job
    response = api_client.post(
        "/api/jobs/",
        {"marketplace": "etsy", "action": "sync_orders"},
        HTTP_IDEMPOTENCY_KEY="k" * 201,
    )
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed",
        "Idempotency-Key must be 1 to 200 printable ASCII characters.",
        {"header": "Idempotency-Key"},
    )
    assert MarketplaceJob.objects.count() == 0


# --- actions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "action", "status", "allowed"),
    [
        ("pending", "pause", "paused", ["resume", "cancel"]),
        ("paused", "resume", "pending", ["pause", "cancel"]),
        ("pending", "cancel", "cancelled", []),
        ("paused", "cancel", "cancelled", []),
        ("failed", "retry", "pending", ["pause", "cancel"]),
        ("expired", "retry", "pending", ["pause", "cancel"]),
    ],
    ids=[
        "pause-pending",
        "resume-paused",
        "cancel-pending",
        "cancel-paused",
        "retry-failed",
        "retry-expired",
    ],
)
def test_action_moves_the_job_and_records_the_member(
    tenant, api_client, member, start, action, status, allowed
):
    # given a job in `start`
    job = make_job_in(start)
    events_before = JobEvent.objects.filter(job=job).count()

    # when the member posts the action
    response = api_client.post(f"/api/jobs/{job.pk}/{action}/")

    # then the job is in `status`, the answer lists what is allowed now, and one event names
    # the member
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["allowed_actions"]) == (status, allowed)
    assert MarketplaceJob.objects.get(pk=job.pk).status == status
    event = JobEvent.objects.filter(job=job).order_by("-pk").first()
    assert JobEvent.objects.filter(job=job).count() == events_before + 1
    assert (event.from_status, event.to_status, event.actor, event.actor_user_id) == (
        start,
        status,
        "user",
        member.pk,
    )


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_action_on_a_running_job_is_requested_for_the_next_step(tenant, api_client, action):
    # given a running job
    job = make_job_in("running")

    # when the member pauses or cancels it
    response = api_client.post(f"/api/jobs/{job.pk}/{action}/")

    # then it keeps running with the request flagged, for the worker to honour
    assert response.status_code == 200
    assert response.json()["status"] == "running"
    assert response.json()[f"{action}_requested"] is True


@pytest.mark.parametrize(
    ("start", "action", "allowed"),
    [
        ("completed", "pause", []),
        ("paused", "pause", ["resume", "cancel"]),
        ("pending", "resume", ["pause", "cancel"]),
        ("failed", "resume", ["retry"]),
        ("completed", "cancel", []),
        ("cancelled", "cancel", []),
        ("expired", "cancel", ["retry"]),
        ("pending", "retry", ["pause", "cancel"]),
        ("running", "retry", ["pause", "cancel"]),
        ("completed", "retry", []),
    ],
    ids=[
        "pause-completed",
        "pause-paused",
        "resume-pending",
        "resume-failed",
        "cancel-completed",
        "cancel-cancelled",
        "cancel-expired",
        "retry-pending",
        "retry-running",
        "retry-completed",
    ],
)
def test_action_from_a_wrong_state_is_a_conflict(tenant, api_client, start, action, allowed):
    # given a job in a state the action cannot leave
    job = make_job_in(start)
    events_before = JobEvent.objects.filter(job=job).count()

    # when the member posts the action
    response = api_client.post(f"/api/jobs/{job.pk}/{action}/")

    # then 409 carries the current status and what is allowed, and nothing changed
    assert response.status_code == 409
    assert response.json() == error(
        "invalid_transition",
        f"Cannot {action} a job that is {start}.",
        {"job_id": job.pk, "current_status": start, "allowed_actions": allowed},
    )
    assert MarketplaceJob.objects.get(pk=job.pk).status == start
    assert JobEvent.objects.filter(job=job).count() == events_before


def test_action_refuses_other_methods(tenant, api_client):
    # given a job
    job = make_job_in("pending")

    # when the member GETs an action, or PUTs the job / then 405, in the error shape
    get_action = api_client.get(f"/api/jobs/{job.pk}/pause/")
    put_job = api_client.put(f"/api/jobs/{job.pk}/", {})
    assert (get_action.status_code, put_job.status_code) == (405, 405)
    assert get_action.json() == error("method_not_allowed", 'Method "GET" not allowed.')
    assert put_job.json() == error("method_not_allowed", 'Method "PUT" not allowed.')


# --- tenant scoping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/jobs/", None),
        ("post", "/api/jobs/", {"marketplace": "etsy", "action": "sync_orders"}),
        ("get", "/api/jobs/{b}/", None),
        ("get", "/api/jobs/{b}/tasks/", None),
        ("post", "/api/jobs/{b}/pause/", None),
        ("post", "/api/jobs/{b}/resume/", None),
        ("post", "/api/jobs/{b}/cancel/", None),
        ("post", "/api/jobs/{b}/retry/", None),
    ],
    ids=["list", "create", "detail", "tasks", "pause", "resume", "cancel", "retry"],
)
def test_member_of_a_on_bs_host_gets_404_and_changes_nothing(
    tenant, other_tenant, intruder, method, path, body
):
    # given a paused job in B (every action would be allowed or refused by state)
    with tenant_context(other_tenant.schema_name):
        job_b = make_job_in("paused")

    # when A's member calls B's host with A's token
    response = getattr(intruder, method)(path.format(b=job_b.pk), body)

    # then a bare 404, and B's jobs are as they were
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert list(MarketplaceJob.objects.values_list("pk", "status")) == [(job_b.pk, "paused")]
        assert JobEvent.objects.filter(job_id=job_b.pk).count() == 1


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "tasks/"),
        ("post", "pause/"),
        ("post", "resume/"),
        ("post", "cancel/"),
        ("post", "retry/"),
    ],
    ids=["detail", "tasks", "pause", "resume", "cancel", "retry"],
)
def test_bs_job_id_on_as_host_is_not_found(tenant, other_tenant, api_client, method, suffix):
    # given a job that exists in B only
    with tenant_context(other_tenant.schema_name):
        job_b = make_job_in("paused")
    assert not MarketplaceJob.objects.filter(pk=job_b.pk).exists()

    # when A's member uses that id on A's host
    response = getattr(api_client, method)(f"/api/jobs/{job_b.pk}/{suffix}")

    # then 404 and B's job is untouched
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert MarketplaceJob.objects.get(pk=job_b.pk).status == "paused"
