"""The jobs admin on a tenant's host: actions go through the services (events name the operator),
refusals are messages, search by id / SKU / external listing id, bounded lists, and only the
host's own tenant is ever shown."""

import logging
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import BatchJob
from core.logging import StructuredFormatter
from marketplace import admin as marketplace_admin
from marketplace.models import JobEvent, MarketplaceJob
from marketplace.services.connections import TokenGrant, connection_store
from marketplace.services.jobs import job_pause
from marketplace.services.listings import listing_record
from marketplace.states import EventActor, JobStatus, ListingStatus
from tenants.context import tenant_context
from tests.conftest import tenant_host
from tests.factories.marketplace import (
    MarketplaceTaskFactory,
    ProductFactory,
    job_walk_to,
    make_batch,
    make_job,
    make_job_in,
)
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.operators import PUBLIC_HOST, host_client, messages_of, platform_operator

S = JobStatus
JOBS_URL = "/admin/marketplace/marketplacejob/"


@pytest.fixture
def operator(tenant):
    return platform_operator()


@pytest.fixture
def client(tenant, operator):
    return host_client(host=tenant_host(tenant), user=operator)


def _events(job: MarketplaceJob) -> list[tuple[str, str, str, int | None, str]]:
    return list(
        JobEvent.objects.filter(job_id=job.pk)
        .order_by("id")
        .values_list("from_status", "to_status", "actor", "actor_user_id", "reason")
    )


def _act(client, action: str, *jobs: MarketplaceJob, **extra: str):
    return client.post(
        JOBS_URL,
        {"action": action, "index": "0", "_selected_action": [job.pk for job in jobs], **extra},
    )


def _listed(response) -> list[int]:
    return [job.pk for job in response.context["cl"].result_list]


# --- actions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "source", "target", "reason", "message"),
    [
        ("pause_jobs", S.PENDING, S.PAUSED, "pause by operator", "Paused job {pk}."),
        ("resume_jobs", S.PAUSED, S.PENDING, "resumed by operator", "Resumed job {pk}."),
        ("cancel_jobs", S.PENDING, S.CANCELLED, "cancel by operator", "Cancelled job {pk}."),
        ("cancel_jobs", S.PAUSED, S.CANCELLED, "cancel by operator", "Cancelled job {pk}."),
        ("retry_jobs", S.FAILED, S.PENDING, "retry by operator", "Retried job {pk}."),
        ("retry_jobs", S.EXPIRED, S.PENDING, "retry by operator", "Retried job {pk}."),
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
def test_action_moves_the_job_through_its_service(
    client, operator, action, source, target, reason, message
):
    # given a job at rest in `source`
    job = make_job_in(source)
    events_before = _events(job)

    # when the operator applies the action from the changelist
    response = _act(client, action, job)

    # then the job moved, with one event naming the operator, and the operator is told
    job.refresh_from_db()
    assert response.status_code == 302
    assert job.status == target
    assert _events(job) == [*events_before, (source, target, "operator", operator.pk, reason)]
    assert messages_of(response) == [("success", message.format(pk=job.pk))]


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_pause_or_cancel_of_a_running_job_is_a_request(client, operator, action):
    # given a job a worker is running
    job = make_job_in(S.RUNNING)
    events_before = _events(job)

    # when the operator pauses or cancels it
    response = _act(client, f"{action}_jobs", job)

    # then it keeps running with the flag raised, and the request is in its events
    job.refresh_from_db()
    assert (job.status, job.pause_requested, job.cancel_requested) == (
        S.RUNNING,
        action == "pause",
        action == "cancel",
    )
    assert _events(job) == [
        *events_before,
        (
            S.RUNNING,
            S.RUNNING,
            "operator",
            operator.pk,
            f"{action} requested; takes effect at the next step boundary",
        ),
    ]
    assert messages_of(response) == [
        (
            "success",
            f"{action.capitalize()} requested for running job {job.pk}; it takes effect at "
            "the next step boundary.",
        )
    ]


@pytest.mark.parametrize(
    ("action", "status", "message"),
    [
        ("pause_jobs", S.COMPLETED, "Cannot pause a job that is completed."),
        ("resume_jobs", S.PENDING, "Cannot resume a job that is pending."),
        ("cancel_jobs", S.CANCELLED, "Cannot cancel a job that is cancelled."),
        ("retry_jobs", S.COMPLETED, "Cannot retry a job that is completed."),
    ],
    ids=["pause-completed", "resume-pending", "cancel-cancelled", "retry-completed"],
)
def test_refused_action_is_a_message_and_changes_nothing(client, action, status, message):
    # given a job the action does not apply to
    job = make_job_in(status)
    events_before = _events(job)

    # when the operator applies it
    response = _act(client, action, job)

    # then the answer is a redirect with an error message, not a 500, and the job is unchanged
    job.refresh_from_db()
    assert response.status_code == 302
    assert messages_of(response) == [("error", f"{message} Refused: job {job.pk}.")]
    assert job.status == status
    assert _events(job) == events_before


def test_mixed_selection_moves_some_jobs_and_reports_the_others(client):
    # given two pending jobs and two completed ones
    pending = [make_job_in(S.PENDING), make_job_in(S.PENDING)]
    completed = [make_job_in(S.COMPLETED), make_job_in(S.COMPLETED)]

    # when the operator cancels all four
    response = _act(client, "cancel_jobs", *pending, *completed)

    # then the pending ones are cancelled and the completed ones are named in one error
    assert dict(
        MarketplaceJob.objects.filter(pk__in=[j.pk for j in pending + completed]).values_list(
            "pk", "status"
        )
    ) == {pending[0].pk: S.CANCELLED, pending[1].pk: S.CANCELLED} | {
        job.pk: S.COMPLETED for job in completed
    }
    assert messages_of(response) == [
        ("success", f"Cancelled jobs {pending[0].pk}, {pending[1].pk}."),
        (
            "error",
            "Cannot cancel a job that is completed. "
            f"Refused: jobs {completed[0].pk}, {completed[1].pk}.",
        ),
    ]


def test_action_on_a_batch_job_moves_the_batch_counters(client):
    # given a batch of two pending jobs
    batch = make_batch(products=2)
    job = batch.jobs.order_by("pk").first()

    # when the operator cancels one of them
    _act(client, "cancel_jobs", job)

    # then the batch counts it, as the service does in the same transaction
    batch.refresh_from_db()
    assert (batch.cancelled_count, batch.processed_count, batch.status) == (1, 1, "pending")


def test_action_refuses_a_selection_over_the_limit(client, monkeypatch):
    # given a limit of two jobs per action and three pending jobs
    monkeypatch.setattr(marketplace_admin, "MAX_JOBS_PER_ACTION", 2)
    jobs = [make_job_in(S.PENDING) for _ in range(3)]

    # when the operator pauses the three
    response = _act(client, "pause_jobs", *jobs)

    # then nothing changed
    assert messages_of(response) == [
        ("error", "Select at most 2 jobs per action; nothing was changed.")
    ]
    assert (
        list(
            MarketplaceJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list(
                "status", flat=True
            )
        )
        == [S.PENDING] * 3
    )
    assert JobEvent.objects.filter(job_id__in=[j.pk for j in jobs]).count() == 0


def test_button_on_the_change_page_acts_and_returns_to_it(client, operator):
    # given a pending job
    job = make_job_in(S.PENDING)

    # when the operator presses "Pause" on the job's page
    response = _act(client, "pause_jobs", job, _from_change="1")

    # then the job is paused and the operator is back on its page
    job.refresh_from_db()
    assert job.status == S.PAUSED
    assert response.status_code == 302
    assert response["Location"] == f"{JOBS_URL}{job.pk}/change/"


# --- pages ------------------------------------------------------------------------------------


def test_change_page_shows_steps_events_and_the_allowed_actions(client):
    # given a job with two planned steps that was paused and resumed by a user
    job = make_job()
    MarketplaceTaskFactory(job=job, position=0, description="Create the inventory item")
    MarketplaceTaskFactory(job=job, position=1, description="Publish the offer")
    job_pause(job_id=job.pk, actor=EventActor.USER)

    # when the operator opens the job
    response = client.get(f"{JOBS_URL}{job.pk}/change/")

    # then the steps and events are inlined, read-only, and only resume and cancel are offered
    assert response.status_code == 200
    html = response.content.decode()
    assert "Create the inventory item" in html
    assert "Publish the offer" in html
    assert "pause by user" in html
    assert response.context["operator_actions"] == [
        {"name": "resume_jobs", "label": "Resume"},
        {"name": "cancel_jobs", "label": "Cancel"},
    ]
    assert 'value="resume_jobs"' in html
    assert response.context["has_change_permission"] is False


@pytest.mark.parametrize("kind", ["id", "sku", "external id"])
def test_search_finds_the_job_by_id_sku_or_external_listing_id(client, kind):
    # given a published product's job, and another job
    product = ProductFactory(sku="JACKET-42")
    listing_record(
        product=product,
        marketplace="ebay",
        status=ListingStatus.ACTIVE,
        external_id="110553388221",
    )
    job = make_job(product_id=product.pk)
    make_job()
    term = {"id": str(job.pk), "sku": "JACKET-42", "external id": "110553388221"}[kind]

    # when the operator searches for it
    response = client.get(JOBS_URL, {"q": term})

    # then exactly that job is listed
    assert response.status_code == 200
    assert _listed(response) == [job.pk]


def test_search_without_a_match_lists_nothing(client):
    # given a job
    make_job()

    # when the operator searches for a SKU nobody has
    response = client.get(JOBS_URL, {"q": "NO-SUCH-SKU"})

    # then nothing is listed
    assert _listed(response) == []


def test_changelist_queries_do_not_grow_with_the_jobs_shown(client, django_assert_max_num_queries):
    # given the queries that list 2 jobs (the search_path rides with the statements)
    make_batch(products=2)
    with CaptureQueriesContext(connection) as few:
        assert len(_listed(client.get(JOBS_URL))) == 2
    # (some decide the role: the membership, and the operator permission read in public)
    assert len(few) == 9
    make_batch(products=5, marketplaces=("ebay", "etsy"))

    # when the changelist lists 12 jobs of two batches, products and action types
    with django_assert_max_num_queries(len(few)):
        response = client.get(JOBS_URL)

    # then no more queries were needed
    assert len(_listed(response)) == 12


def test_changelist_filters_the_jobs_of_a_batch(client):
    # given two batches
    batch = make_batch(products=2)
    make_batch(products=1)

    # when the operator follows the batch's "jobs" link
    response = client.get(JOBS_URL, {"batch__id__exact": batch.pk})

    # then only that batch's jobs are listed
    assert _listed(response) == list(batch.jobs.order_by("-pk").values_list("pk", flat=True))


# --- who sees what ----------------------------------------------------------------------------


def test_tenant_host_admin_shows_only_its_own_tenant(tenant, other_tenant, client):
    # given a job in A, and a job in B whose id and SKU A does not have
    own = make_job()
    with tenant_context(other_tenant.schema_name):
        foreign = make_job(product_id=ProductFactory(sku="ONLY-IN-B").pk)
    assert not MarketplaceJob.objects.filter(pk=foreign.pk).exists()

    # when the operator lists, searches and opens jobs on A's host
    listing = client.get(JOBS_URL)
    search = client.get(JOBS_URL, {"q": "ONLY-IN-B"})
    cancel = _act(client, "cancel_jobs", foreign)
    cancel_messages = messages_of(cancel)
    detail = client.get(f"{JOBS_URL}{foreign.pk}/change/")

    # then only A's job is ever seen, and B's job is untouched
    assert _listed(listing) == [own.pk]
    assert _listed(search) == []
    assert (cancel.status_code, cancel_messages) == (302, [])
    assert (detail.status_code, detail["Location"]) == (302, "/admin/")
    assert messages_of(detail) == [
        (
            "warning",
            f"marketplace job with ID “{foreign.pk}” doesn’t exist. Perhaps it was deleted?",
        )
    ]
    with tenant_context(other_tenant.schema_name):
        assert MarketplaceJob.objects.get(pk=foreign.pk).status == S.PENDING
        assert JobEvent.objects.filter(job_id=foreign.pk).count() == 0


def test_job_admin_is_not_served_on_the_public_host(tenant):
    # given a superuser on the public host
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = host_client(host=PUBLIC_HOST, user=superuser)

    # when they open the admin index and the jobs list there
    index = client.get("/admin/")
    jobs = client.get(JOBS_URL)

    # then even to a superuser, tenant-schema models are not offered and the list is forbidden
    assert [app["app_label"] for app in index.context["app_list"]] == [
        "authtoken",
        "auth",
        "tenants",
    ]
    assert jobs.status_code == 403


def test_tenant_host_admin_index_offers_the_tenants_models_only(client):
    # when the operator opens the admin index on a tenant's host
    response = client.get("/admin/")

    # then it offers the tenant's batches and marketplace data, not the tenants
    assert {
        app["app_label"]: [model["object_name"] for model in app["models"]]
        for app in response.context["app_list"]
        if app["app_label"] in {"batches", "marketplace", "tenants"}
    } == {
        "batches": ["BatchJob"],
        "marketplace": [
            "Category",
            "Listing",
            "MarketplaceConnection",
            "MarketplaceJob",
            "Order",
            "Product",
            "ValueMapping",
        ],
    }


def test_non_staff_user_gets_no_admin(tenant, member):
    # given a tenant member who is not staff, and a pending job
    job = make_job_in(S.PENDING)
    client = host_client(host=tenant_host(tenant), user=member)

    # when they open the jobs list and post a cancel
    listing = client.get(JOBS_URL)
    cancel = _act(client, "cancel_jobs", job)

    # then both are sent to the login page and the job is unchanged
    assert (listing.status_code, cancel.status_code) == (302, 302)
    assert listing["Location"] == f"/admin/login/?next={JOBS_URL}"
    job.refresh_from_db()
    assert job.status == S.PENDING


def test_connection_admin_never_shows_token_values(client):
    # given an eBay connection with tokens
    connection_store(
        marketplace="ebay",
        grant=TokenGrant(
            access_token="ACCESS-SECRET-1", expires_in=3600, refresh_token="REFRESH-SECRET-2"
        ),
        account_id="seller-1",
    )

    # when the operator lists and opens it
    listing = client.get("/admin/marketplace/marketplaceconnection/")
    connection_row = listing.context["cl"].result_list[0]
    detail = client.get(f"/admin/marketplace/marketplaceconnection/{connection_row.pk}/change/")

    # then whether tokens are set is shown, never their values
    assert (connection_row.access_token_set, connection_row.refresh_token_set) == (True, True)
    for response in (listing, detail):
        assert response.status_code == 200
        assert "SECRET" not in response.content.decode()
    assert "seller-1" in detail.content.decode()


def test_job_row_links_to_its_batch(client):
    # given a job of a batch that completed
    batch = make_batch(products=1)
    job = job_walk_to(batch.jobs.get(), S.COMPLETED)

    # when the operator opens the jobs list
    response = client.get(JOBS_URL)

    # then the job links to its batch's page
    assert f'href="/admin/batches/batchjob/{batch.pk}/change/">{batch.batch_id}</a>' in (
        response.content.decode()
    )
    assert BatchJob.objects.get(pk=batch.pk).completed_count == 1
    assert _listed(response) == [job.pk]


def test_action_logs_carry_tenant_job_batch_and_operator(client, operator):
    # given a job of a batch, and the service's log lines formatted as the console does
    batch = make_batch(products=1)
    job = batch.jobs.get()
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(StructuredFormatter())
    transitions_logger = logging.getLogger("marketplace.engine.transitions")
    transitions_logger.addHandler(handler)

    # when the operator cancels the job
    try:
        _act(client, "cancel_jobs", job)
    finally:
        transitions_logger.removeHandler(handler)

    # then the service's line names the tenant, the job, its batch and the operator
    [line] = [line for line in lines if " job.transition " in line]
    fields = dict(re.findall(r' (\w+)=("[^"]*"|\d+)', line))
    assert {key: fields[key] for key in ("tenant", "job", "batch", "operator", "to")} == {
        "tenant": '"test_shop_a"',
        "job": str(job.pk),
        "batch": str(batch.pk),
        "operator": str(operator.pk),
        "to": '"cancelled"',
    }


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_a_shops_own_staff_operates_its_admin_and_the_event_names_them(tenant, role):
    # given a staff member of A (is_staff to log in, role owner/staff in A only) and a failed job
    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, tenant=tenant, role=role)
    job = make_job_in(S.FAILED)
    client = host_client(host=tenant_host(tenant), user=staff)

    # when they list A's jobs and retry the failed one
    listed = client.get(JOBS_URL)
    _act(client, "retry_jobs", job)

    # then they see A's jobs, and the retry is in the job's events with their name on it
    assert listed.status_code == 200
    assert _listed(listed) == [job.pk]
    assert _events(job)[-1][1:4] == (S.PENDING, EventActor.OPERATOR, staff.pk)


def test_a_shops_staff_is_refused_on_another_shops_admin(tenant, other_tenant):
    # given a staff member of shop A, and a job in shop B
    staff = UserFactory(is_staff=True)
    MembershipFactory(user=staff, tenant=tenant, role="staff")
    with tenant_context(other_tenant.schema_name):
        job_b = make_job_in(S.FAILED)
    client = host_client(host=tenant_host(other_tenant), user=staff)

    # when they open B's admin, its jobs, one of B's jobs, and try an action there
    index = client.get("/admin/")
    jobs = client.get(JOBS_URL)
    change = client.get(f"{JOBS_URL}{job_b.pk}/change/")
    _act(client, "retry_jobs", job_b)

    # then nothing of B is shown and nothing in B changed
    assert index.status_code == 200
    assert index.context["app_list"] == []
    assert (jobs.status_code, change.status_code) == (403, 403)
    with tenant_context(other_tenant.schema_name):
        assert MarketplaceJob.objects.get(pk=job_b.pk).status == S.FAILED


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_without_the_staff_role_are_refused(tenant, role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, tenant=tenant, role=role)
    response = host_client(host=tenant_host(tenant), user=user).get(JOBS_URL)
    assert response.status_code == 403


def test_is_staff_alone_is_no_longer_an_operator_of_every_shop(tenant):
    response = host_client(host=tenant_host(tenant), user=UserFactory(is_staff=True)).get(JOBS_URL)
    assert response.status_code == 403
