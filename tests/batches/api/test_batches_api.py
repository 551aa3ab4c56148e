"""/api/batches/ over HTTP: bulk creation (fast, enqueued after commit, Idempotency-Key),
list, detail with counters, derived status and progress, cancel, and tenant scoping."""

import re

import pytest

from batches.models import BatchJob
from marketplace.models import JobEvent, MarketplaceJob, Product, ProductImage
from tenants.context import tenant_context
from tests.api_support import FORBIDDEN, NOT_FOUND, error
from tests.factories.marketplace import (
    ProductFactory,
    job_walk_to,
    make_batch,
    ready_product,
    reference_category,
)

BATCH_FIELDS = {
    "batch_id",
    "marketplaces",
    "action",
    "priority",
    "status",
    "total_count",
    "completed_count",
    "failed_count",
    "cancelled_count",
    "expired_count",
    "processed_count",
    "pending_count",
    "progress_percent",
    "is_terminal",
    "allowed_actions",
    "created_at",
    "started_at",
    "finished_at",
    "enqueued_at",
}
CREATED_FIELDS = {*BATCH_FIELDS, "skipped"}


def _jobs(batch_id: str) -> list[MarketplaceJob]:
    return list(MarketplaceJob.objects.filter(batch__batch_id=batch_id).order_by("pk"))


# --- create -------------------------------------------------------------------------------


def test_create_makes_one_job_per_product_and_marketplace_and_enqueues_after_commit(
    tenant, api_client, member, no_broker, django_capture_on_commit_callbacks
):
    # given three products
    products = [ready_product() for _ in range(3)]

    # when the member creates a publish batch on eBay and Etsy
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/batches/",
            {
                "product_ids": [p.pk for p in products],
                "marketplaces": ["ebay", "etsy"],
                "action": "publish",
            },
        )

    # then 201 answers the batch's summary (not its jobs), six pending jobs exist, and one
    # message asks a worker to enqueue them in chunks
    assert response.status_code == 201
    body = response.json()
    batch = BatchJob.objects.get()
    assert set(body) == CREATED_FIELDS
    assert body["skipped"] == []
    assert re.fullmatch(r"publish_\d{8}_\d{6}_[0-9a-f]{8}", body["batch_id"])
    assert {k: body[k] for k in BATCH_FIELDS - {"batch_id", "created_at"}} == {
        "marketplaces": ["ebay", "etsy"],
        "action": "publish",
        "priority": 3,
        "status": "pending",
        "total_count": 6,
        "completed_count": 0,
        "failed_count": 0,
        "cancelled_count": 0,
        "expired_count": 0,
        "processed_count": 0,
        "pending_count": 6,
        "progress_percent": 0.0,
        "is_terminal": False,
        "allowed_actions": ["cancel"],
        "started_at": None,
        "finished_at": None,
        "enqueued_at": None,
    }
    assert sorted(
        (j.marketplace, j.product_id, j.status) for j in _jobs(body["batch_id"])
    ) == sorted((m, p.pk, "pending") for m in ("ebay", "etsy") for p in products)
    assert batch.created_by_id == member.pk
    assert no_broker == [("batches.enqueue_batch", (batch.pk,))]


@pytest.mark.slow
def test_a_ten_thousand_job_batch_is_created_in_a_bounded_number_of_queries(
    tenant, api_client, django_assert_max_num_queries
):
    # given 5,000 products (built by the factory, inserted in bulk)
    category = reference_category()
    products = Product.objects.bulk_create(ProductFactory.build_batch(5_000, category=category))
    ProductImage.objects.bulk_create(
        ProductImage(product=p, url=f"http://127.0.0.1:9/{p.pk}.jpg", position=0) for p in products
    )
    body = {
        "product_ids": [p.pk for p in products],
        "marketplaces": ["ebay", "etsy"],
        "action": "publish",
    }

    # when the member creates a batch of 10,000 jobs
    with django_assert_max_num_queries(25):
        response = api_client.post("/api/batches/", body, HTTP_IDEMPOTENCY_KEY="big-1")

    # then it answers 201 with the summary after a bounded number of queries whatever the size
    # (per-job work would be 10,000 of them); its speed is measured by `python -m bench.api`
    # (docs/performance.md), never by a timed test
    assert response.status_code == 201
    assert response.json()["total_count"] == 10_000
    assert MarketplaceJob.objects.count() == 10_000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"product_ids": [], "marketplaces": ["ebay"], "action": "publish"},
            error(
                "validation_failed",
                "The request is invalid.",
                {"product_ids": ["Ensure this field has at least 1 elements."]},
            ),
        ),
        (
            {"product_ids": [987654], "marketplaces": ["ebay"], "action": "publish"},
            error(
                "validation_failed",
                "Some products do not exist.",
                {"missing_product_ids": [987654]},
            ),
        ),
        (
            {"product_ids": [1], "marketplaces": ["amazon"], "action": "publish"},
            error(
                "validation_failed",
                "The request is invalid.",
                {"marketplaces": {"0": ['"amazon" is not a valid choice.']}},
            ),
        ),
        (
            {"product_ids": "1,2", "marketplaces": "ebay", "action": "publish"},
            error(
                "validation_failed",
                "The request is invalid.",
                {
                    "product_ids": ['Expected a list of items but got type "str".'],
                    "marketplaces": ['Expected a list of items but got type "str".'],
                },
            ),
        ),
    ],
    ids=["no-products", "unknown-product", "unknown-marketplace", "not-lists"],
)
def test_create_refuses_invalid_batches(tenant, api_client, body, expected):
    # when the member posts an invalid batch / then 400 says why and nothing is created
    response = api_client.post("/api/batches/", body)
    assert response.status_code == 400
    assert response.json() == expected
    assert (BatchJob.objects.count(), MarketplaceJob.objects.count()) == (0, 0)


def test_create_refuses_an_action_a_marketplace_lacks(tenant, api_client):
    # given a product
    product = ready_product()

    # when a batch asks Vinted for Etsy's get_shop / then 400 names the pair
    response = api_client.post(
        "/api/batches/",
        {"product_ids": [product.pk], "marketplaces": ["etsy", "vinted"], "action": "get_shop"},
    )
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed",
        "vinted has no action 'get_shop'.",
        {"marketplace": "vinted", "action": "get_shop"},
    )
    assert BatchJob.objects.count() == 0


def test_repeat_with_the_same_key_returns_the_first_response(tenant, api_client):
    # given a batch created with an Idempotency-Key, then cancelled
    products = [ready_product() for _ in range(2)]
    body = {"product_ids": [p.pk for p in products], "marketplaces": ["ebay"], "action": "publish"}
    first = api_client.post("/api/batches/", body, HTTP_IDEMPOTENCY_KEY="sale-1")
    api_client.post(f"/api/batches/{first.json()['batch_id']}/cancel/")

    # when the request is repeated with the key
    again = api_client.post("/api/batches/", body, HTTP_IDEMPOTENCY_KEY="sale-1")

    # then the first answer comes back as it was, and there is one batch of two jobs
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.json()["status"] == "pending"
    assert (BatchJob.objects.count(), MarketplaceJob.objects.count()) == (1, 2)


@pytest.mark.parametrize(
    "change",
    [
        lambda products: {"product_ids": [products[0].pk]},
        lambda products: {"marketplaces": ["ebay", "etsy"]},
        lambda products: {"action": "update"},
        lambda products: {"priority": 1},
    ],
    ids=["products", "marketplaces", "action", "priority"],
)
def test_same_key_with_a_different_body_is_refused(tenant, api_client, change):
    # given a batch created with a key
    products = [ready_product() for _ in range(2)]
    body = {"product_ids": [p.pk for p in products], "marketplaces": ["ebay"], "action": "publish"}
    first = api_client.post("/api/batches/", body, HTTP_IDEMPOTENCY_KEY="sale-2")

    # when the key is reused for another request
    response = api_client.post(
        "/api/batches/", {**body, **change(products)}, HTTP_IDEMPOTENCY_KEY="sale-2"
    )

    # then 422, and only the first batch exists
    assert response.status_code == 422
    assert response.json() == error(
        "idempotency_conflict",
        "This idempotency key was used for a different request.",
        {"idempotency_key": "sale-2"},
    )
    assert list(BatchJob.objects.values_list("batch_id", flat=True)) == [first.json()["batch_id"]]
    assert MarketplaceJob.objects.count() == 2


# --- list and detail ----------------------------------------------------------------------


def test_list_is_newest_first_paginated_and_filtered(tenant, api_client):
    # given three batches, the middle one cancelled
    first, second, third = make_batch(products=1), make_batch(products=1), make_batch(products=1)
    api_client.post(f"/api/batches/{second.batch_id}/cancel/")

    # when the member lists two per page, and filters the cancelled ones
    page = api_client.get("/api/batches/", {"page_size": 2})
    rest = api_client.get(page.json()["next"])
    cancelled = api_client.get("/api/batches/", {"status": "cancelled"})

    # then pages hold the batches newest first, and the filter finds the cancelled one
    assert [b["batch_id"] for b in page.json()["results"]] == [third.batch_id, second.batch_id]
    assert [b["batch_id"] for b in rest.json()["results"]] == [first.batch_id]
    assert [b["batch_id"] for b in cancelled.json()["results"]] == [second.batch_id]


def test_detail_has_counters_derived_status_and_progress(tenant, api_client):
    # given a batch of four jobs: one completed, one failed, one cancelled, one pending
    batch = make_batch(products=4)
    jobs = _jobs(batch.batch_id)
    for job, status in zip(jobs, ("completed", "failed", "cancelled"), strict=False):
        job_walk_to(job, status)

    # when the member reads it
    running = api_client.get(f"/api/batches/{batch.batch_id}/").json()
    # and again once the last job completed
    job_walk_to(jobs[3], "completed")
    done = api_client.get(f"/api/batches/{batch.batch_id}/").json()

    # then the counters add up, the status is derived, and progress follows
    counters = ("completed_count", "failed_count", "cancelled_count", "processed_count")
    assert [running[k] for k in counters] == [1, 1, 1, 3]
    assert (running["status"], running["pending_count"], running["progress_percent"]) == (
        "running",
        1,
        75.0,
    )
    assert (running["is_terminal"], running["allowed_actions"]) == (False, ["cancel"])
    assert (done["status"], done["progress_percent"], done["is_terminal"]) == (
        "partially_failed",
        100.0,
        True,
    )
    assert (done["pending_count"], done["allowed_actions"]) == (0, [])
    assert done["finished_at"] is not None


@pytest.mark.parametrize(
    "path",
    ["/api/batches/publish_20250101_000000_00000000/", "/api/batches/x-y/"],
    ids=["unknown", "malformed"],
)
def test_unknown_batch_is_not_found(tenant, api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- cancel -------------------------------------------------------------------------------


def test_cancel_stops_pending_jobs_now_and_running_ones_at_their_next_step(
    tenant, api_client, member
):
    # given a batch of three jobs, one of them running
    batch = make_batch(products=3)
    jobs = _jobs(batch.batch_id)
    job_walk_to(jobs[0], "running")

    # when the member cancels the batch
    response = api_client.post(f"/api/batches/{batch.batch_id}/cancel/")

    # then it is cancelled, its pending jobs are cancelled by the member, and the running one
    # is asked to stop
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelled_count"], body["allowed_actions"]) == (
        "cancelled",
        2,
        [],
    )
    assert [(j.status, j.cancel_requested) for j in _jobs(batch.batch_id)] == [
        ("running", True),
        ("cancelled", False),
        ("cancelled", False),
    ]
    assert set(
        JobEvent.objects.filter(to_status="cancelled").values_list("actor", "actor_user")
    ) == {("user", member.pk)}


def test_cancel_of_a_completed_batch_is_a_conflict(tenant, api_client):
    # given a batch whose only job completed
    batch = make_batch(products=1)
    job_walk_to(_jobs(batch.batch_id)[0], "completed")

    # when the member cancels it
    response = api_client.post(f"/api/batches/{batch.batch_id}/cancel/")

    # then 409 with its status and no allowed action, and nothing changed
    assert response.status_code == 409
    assert response.json() == error(
        "invalid_transition",
        "Cannot cancel a batch that is completed.",
        {"current_status": "completed", "allowed_actions": []},
    )
    assert BatchJob.objects.get(pk=batch.pk).status == "completed"
    assert MarketplaceJob.objects.get().status == "completed"


def test_cancel_twice_is_a_conflict(tenant, api_client):
    # given a batch the member cancelled
    batch = make_batch(products=2)
    first = api_client.post(f"/api/batches/{batch.batch_id}/cancel/")
    events = JobEvent.objects.count()

    # when the member cancels it again / then 409, and no new event
    again = api_client.post(f"/api/batches/{batch.batch_id}/cancel/")
    assert (first.status_code, again.status_code) == (200, 409)
    assert again.json() == error(
        "invalid_transition",
        "Cannot cancel a batch that is cancelled.",
        {"current_status": "cancelled", "allowed_actions": []},
    )
    assert JobEvent.objects.count() == events


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/batches/"), ("post", "/api/batches/{b}/cancel/")],
    ids=["create", "cancel"],
)
def test_viewer_cannot_create_or_cancel(tenant, viewer, method, path):
    # given a batch
    batch = make_batch(products=1)
    body = {"product_ids": [ready_product().pk], "marketplaces": ["ebay"], "action": "publish"}

    # when a viewer writes / then 403, and the batch is as it was
    response = getattr(viewer, method)(path.format(b=batch.batch_id), body)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert list(BatchJob.objects.values_list("batch_id", "status")) == [(batch.batch_id, "pending")]


# --- tenant scoping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/batches/"),
        ("post", "/api/batches/"),
        ("get", "/api/batches/{b}/"),
        ("post", "/api/batches/{b}/cancel/"),
    ],
    ids=["list", "create", "detail", "cancel"],
)
def test_member_of_a_on_bs_host_gets_404_and_changes_nothing(
    tenant, other_tenant, intruder, method, path
):
    # given a batch in B
    with tenant_context(other_tenant.schema_name):
        batch_b = make_batch(products=1)
        product_b = ready_product()
    body = {"product_ids": [product_b.pk], "marketplaces": ["ebay"], "action": "publish"}

    # when A's member calls B's host with A's token
    response = getattr(intruder, method)(path.format(b=batch_b.batch_id), body)

    # then a bare 404, and B's batches are as they were
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert list(BatchJob.objects.values_list("batch_id", "status")) == [
            (batch_b.batch_id, "pending")
        ]


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "cancel/")], ids=["detail", "cancel"]
)
def test_bs_batch_id_on_as_host_is_not_found(tenant, other_tenant, api_client, method, suffix):
    # given a batch that exists in B only
    with tenant_context(other_tenant.schema_name):
        batch_b = make_batch(products=1)

    # when A's member uses its batch_id on A's host / then 404 and B's batch is untouched
    response = getattr(api_client, method)(f"/api/batches/{batch_b.batch_id}/{suffix}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert BatchJob.objects.get(pk=batch_b.pk).status == "pending"
