"""The batches admin on a tenant's host: progress bars, recount and cancel through the services,
refusals as messages, bounded lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches import admin as batches_admin
from batches.models import BatchJob
from batches.services import batch_cancel
from marketplace.models import JobEvent
from marketplace.states import EventActor, JobStatus
from tests.conftest import tenant_host
from tests.factories.marketplace import job_walk_to, make_batch
from tests.operators import host_client, messages_of, platform_operator

S = JobStatus
BATCHES_URL = "/admin/batches/batchjob/"


@pytest.fixture
def operator(tenant):
    return platform_operator()


@pytest.fixture
def client(tenant, operator):
    return host_client(host=tenant_host(tenant), user=operator)


def _act(client, action: str, *batches: BatchJob, **extra: str):
    return client.post(
        BATCHES_URL,
        {"action": action, "index": "0", "_selected_action": [b.pk for b in batches], **extra},
    )


def _job_statuses(batch: BatchJob) -> list[str]:
    return list(batch.jobs.order_by("pk").values_list("status", flat=True))


def test_changelist_shows_each_batch_with_a_progress_bar(client):
    # given a batch of four jobs, one completed and one failed
    batch = make_batch(products=4)
    first, second = batch.jobs.order_by("pk")[:2]
    job_walk_to(first, S.COMPLETED)
    job_walk_to(second, S.FAILED)

    # when the operator lists batches
    response = client.get(BATCHES_URL)

    # then the batch's row has a progress bar at 50 % and its counters
    assert response.status_code == 200
    html = response.content.decode()
    assert '<progress value="50.0" max="100" title="50%">50%</progress> 50%' in html
    assert "2/4: 1 completed, 1 failed, 0 cancelled, 0 expired" in html
    assert f'href="/admin/marketplace/marketplacejob/?batch__id__exact={batch.pk}">jobs</a>' in html


def test_changelist_queries_do_not_grow_with_the_batches_shown(
    client, django_assert_max_num_queries
):
    # given the queries that list one batch
    make_batch(products=1)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(BATCHES_URL).context["cl"].result_list) == 1
    make_batch(products=1)
    make_batch(products=2, marketplaces=("ebay", "vinted"))

    # when three batches are listed
    with django_assert_max_num_queries(len(one)):
        response = client.get(BATCHES_URL)

    # then no more queries were needed
    assert len(response.context["cl"].result_list) == 3


def test_recount_repairs_drifted_counters_from_the_jobs(client):
    # given a batch of three jobs (one completed, one failed) whose counters drifted
    batch = make_batch(products=3)
    first, second, _ = batch.jobs.order_by("pk")
    job_walk_to(first, S.COMPLETED)
    job_walk_to(second, S.FAILED)
    BatchJob.objects.filter(pk=batch.pk).update(completed_count=0, failed_count=3, status="failed")

    # when the operator recounts it
    response = _act(client, "recount_batches", batch)

    # then the counters and the derived status match the jobs again
    batch.refresh_from_db()
    assert (
        batch.total_count,
        batch.completed_count,
        batch.failed_count,
        batch.cancelled_count,
        batch.status,
    ) == (3, 1, 1, 0, "running")
    assert messages_of(response) == [
        ("success", f"Recounted {batch.batch_id}: 2 of 3 processed, running.")
    ]


def test_cancel_cancels_the_jobs_with_operator_events(client, operator):
    # given a batch of two pending jobs and one paused
    batch = make_batch(products=3)
    paused = batch.jobs.order_by("pk").last()
    job_walk_to(paused, S.PAUSED)

    # when the operator cancels the batch
    response = _act(client, "cancel_batches", batch)

    # then every job is cancelled, each with an event naming the operator
    batch.refresh_from_db()
    assert (batch.status, batch.cancelled_count) == ("cancelled", 3)
    assert _job_statuses(batch) == [S.CANCELLED] * 3
    assert list(
        JobEvent.objects.filter(job__batch=batch, actor=EventActor.OPERATOR)
        .order_by("job_id")
        .values_list("from_status", "to_status", "actor_user_id", "reason")
    ) == [
        (S.PENDING, S.CANCELLED, operator.pk, "batch cancelled by operator"),
        (S.PENDING, S.CANCELLED, operator.pk, "batch cancelled by operator"),
        (S.PAUSED, S.CANCELLED, operator.pk, "batch cancelled by operator"),
    ]
    assert messages_of(response) == [
        (
            "success",
            f"Cancelled {batch.batch_id}: 3 of 3 jobs cancelled; running jobs stop at their "
            "next step boundary.",
        )
    ]


def test_cancel_of_a_finished_batch_is_refused_with_a_message(client):
    # given a batch a user already cancelled
    batch = make_batch(products=2)
    batch_cancel(batch_pk=batch.pk, actor=EventActor.USER)
    events_before = JobEvent.objects.filter(job__batch=batch).count()

    # when the operator cancels it again
    response = _act(client, "cancel_batches", batch)

    # then it is refused by message, and nothing changed
    assert response.status_code == 302
    assert messages_of(response) == [
        ("error", f"{batch.batch_id}: Cannot cancel a batch that is cancelled.")
    ]
    assert JobEvent.objects.filter(job__batch=batch).count() == events_before


def test_action_refuses_a_selection_over_the_limit(client, monkeypatch):
    # given a limit of one batch per action and two pending batches
    monkeypatch.setattr(batches_admin, "MAX_BATCHES_PER_ACTION", 1)
    batches = [make_batch(products=1), make_batch(products=1)]

    # when the operator cancels both
    response = _act(client, "cancel_batches", *batches)

    # then nothing changed
    assert messages_of(response) == [
        ("error", "Select at most 1 batches per action; nothing was changed.")
    ]
    assert [_job_statuses(batch) for batch in batches] == [[S.PENDING], [S.PENDING]]


def test_change_page_offers_recount_and_cancel_and_returns_to_it(client):
    # given a pending batch
    batch = make_batch(products=1)

    # when the operator opens it, then presses "Recount"
    page = client.get(f"{BATCHES_URL}{batch.pk}/change/")
    recount = _act(client, "recount_batches", batch, _from_change="1")

    # then both actions were offered and the operator is back on the batch's page
    assert page.context["operator_actions"] == [
        {"name": "recount_batches", "label": "Recount"},
        {"name": "cancel_batches", "label": "Cancel"},
    ]
    assert '<progress value="0.0" max="100" title="0%">0%</progress> 0%' in page.content.decode()
    assert (recount.status_code, recount["Location"]) == (302, f"{BATCHES_URL}{batch.pk}/change/")
