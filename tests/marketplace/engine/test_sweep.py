"""Every path of the sweep: expire, recover, dispatch due and lost triggers, wake waiting jobs,
the due-work index (full and incremental sweeps) and batch enqueueing."""

import base64
import json
from datetime import timedelta

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from batches.services import batch_enqueue_jobs
from marketplace.engine import dispatch, duework, lifecycle, sweep
from marketplace.handlers.base import WAITING_FOR_EXTENSION
from marketplace.models import MarketplaceJob
from marketplace.services.jobs import job_cancel
from marketplace.states import EventActor, JobStatus
from tests.factories.marketplace import make_batch, make_job

RUN_JOB = "marketplace.run_job"


def _sent_ids(sent) -> list[int]:
    return [args[0] for name, args in sent if name == RUN_JOB]


@pytest.fixture
def broker_queue():
    """The test broker's `ebay` list, emptied before and after."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.delete("ebay")
    yield client
    client.delete("ebay")


def test_expire_moves_overdue_pending_jobs_only(tenant, no_broker):
    # given one overdue and one fresh job
    overdue, fresh = make_job(), make_job()
    MarketplaceJob.objects.filter(pk=overdue.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    # when
    expired = sweep.jobs_expire_overdue()
    # then
    assert expired == 1
    statuses = dict(MarketplaceJob.objects.values_list("pk", "status"))
    assert statuses == {overdue.pk: JobStatus.EXPIRED, fresh.pk: JobStatus.PENDING}


def test_recover_sends_a_stale_job_back_and_leaves_a_fresh_one(
    tenant, no_broker, django_capture_on_commit_callbacks
):
    # given two running jobs, one whose heartbeat is old
    stale, alive = (lifecycle.job_claim(job_id=make_job().pk) for _ in range(2))
    MarketplaceJob.objects.filter(pk=stale.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    no_broker.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        recovered = sweep.jobs_recover_stale(stale_after=timedelta(minutes=2))
    # then it is sent again
    assert (recovered, _sent_ids(no_broker)) == (1, [stale.pk])
    statuses = dict(MarketplaceJob.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: JobStatus.PENDING, alive.pk: JobStatus.RUNNING}


def test_recover_honours_a_cancel_asked_before_the_worker_died(
    tenant, no_broker, django_capture_on_commit_callbacks
):
    # given a running job the user cancelled, whose worker then died
    job = lifecycle.job_claim(job_id=make_job().pk)
    job_cancel(job_id=job.pk, actor=EventActor.USER)
    MarketplaceJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    no_broker.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        sweep.jobs_recover_stale(stale_after=timedelta(minutes=2))
    # then it is cancelled, not retried
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert _sent_ids(no_broker) == []


def test_dispatch_due_resends_a_lost_trigger_once_its_queue_is_empty(
    tenant, no_broker, broker_queue, django_capture_on_commit_callbacks
):
    # given a pending job dispatched two sweep intervals ago, and an empty queue
    job = make_job()
    no_broker.clear()
    old = timezone.now() - 2 * sweep.sweep_interval()
    MarketplaceJob.objects.filter(pk=job.pk).update(dispatched_at=old)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        dispatched = sweep.jobs_dispatch_due()
    # then it is re-sent and stamped, and a second sweep right after sends nothing
    assert (dispatched, _sent_ids(no_broker)) == (1, [job.pk])
    assert MarketplaceJob.objects.get(pk=job.pk).dispatched_at > old
    assert sweep.jobs_dispatch_due() == 0


def _trigger(job_id: int, schema: str) -> bytes:
    """A run_job message as kombu's Redis transport stores it (envelope, base64 body)."""
    body = base64.b64encode(json.dumps([[job_id], {}, {}]).encode()).decode()
    headers = {"task": RUN_JOB, "_schema_name": schema, "id": f"t{job_id}"}
    return json.dumps({"body": body, "headers": headers, "properties": {}}).encode()


def test_dispatch_due_does_not_duplicate_a_healthy_backlog(tenant, no_broker, broker_queue):
    # given the same job, but its trigger still waits in the queue (a backlog being drained)
    job = make_job()
    no_broker.clear()
    MarketplaceJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - 2 * sweep.sweep_interval()
    )
    broker_queue.rpush("ebay", _trigger(job.pk, tenant.schema_name))
    # when
    dispatched = sweep.jobs_dispatch_due()
    # then
    assert (dispatched, _sent_ids(no_broker)) == (0, [])


def test_dispatch_due_resends_a_trigger_missing_from_a_busy_queue(
    tenant, other_tenant, no_broker, broker_queue
):
    # given a queue holding other triggers (another job, and this job's id in another shop)
    # but not this job's: it was taken by a worker that was then SIGKILLed
    job, neighbour = make_job(), make_job()
    no_broker.clear()
    MarketplaceJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - 2 * sweep.sweep_interval()
    )
    broker_queue.rpush("ebay", _trigger(neighbour.pk, tenant.schema_name))
    broker_queue.rpush("ebay", _trigger(job.pk, other_tenant.schema_name))
    # when
    dispatched = sweep.jobs_dispatch_due()
    # then only the lost one is sent, within one sweep rather than the long backlog wait
    assert (dispatched, _sent_ids(no_broker)) == (1, [job.pk])


def test_dispatch_due_waits_long_for_a_queue_too_long_to_read(
    tenant, no_broker, broker_queue, settings, monkeypatch
):
    # given a queue longer than the sweep reads, and a trigger a little old
    monkeypatch.setattr("marketplace.engine.dispatch.QUEUE_SCAN_MAX", 0)
    job = make_job()
    no_broker.clear()
    broker_queue.rpush("ebay", _trigger(job.pk + 1, tenant.schema_name))
    long_wait = timedelta(seconds=settings.RELIST_BACKLOG_LOST_AFTER_S)
    MarketplaceJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - 2 * sweep.sweep_interval()
    )
    # when / then: patient until the long wait has passed
    assert sweep.jobs_dispatch_due() == 0
    MarketplaceJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - long_wait - timedelta(seconds=1)
    )
    assert sweep.jobs_dispatch_due() == 1


def test_dispatch_due_sends_held_jobs_only_as_far_as_the_window_allows(
    tenant, no_broker, broker_queue, settings
):
    # given three held-back jobs (never dispatched) and a window of two; Redis lost the window
    settings.RELIST_TENANT_TRIGGER_WINDOW = 2
    jobs = [make_job() for _ in range(3)]
    redis.Redis.from_url(settings.REDIS_URL).delete(f"relist:window:{tenant.schema_name}:ebay")
    MarketplaceJob.objects.filter(pk__in=[j.pk for j in jobs]).update(dispatched_at=None)
    no_broker.clear()
    # when
    dispatched = sweep.jobs_dispatch_due()
    # then the two oldest are sent and stamped; the third stays held and unstamped
    assert (dispatched, _sent_ids(no_broker)) == (2, [jobs[0].pk, jobs[1].pk])
    stamped = dict(MarketplaceJob.objects.values_list("pk", "dispatched_at"))
    assert stamped[jobs[2].pk] is None
    assert all(stamped[j.pk] is not None for j in jobs[:2])


def test_the_sweep_wakes_a_job_parked_just_after_its_extension_connected(
    tenant, no_broker, django_capture_on_commit_callbacks, monkeypatch
):
    # given a vinted job parked for the extension while a session is present (its connect's
    # wake ran while the job was still running)
    job = lifecycle.job_claim(job_id=make_job(marketplace="vinted").pk)
    lifecycle.job_defer(job=job, reason=WAITING_FOR_EXTENSION, delay_s=300)
    monkeypatch.setattr(sweep.presence, "presence_list", lambda schema: ["a session"])
    no_broker.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        woken = sweep.jobs_wake_if_extension_present()
    # then it is sent now, not in five minutes
    assert (woken, _sent_ids(no_broker)) == (1, [job.pk])
    assert MarketplaceJob.objects.get(pk=job.pk).next_attempt_at is None


def test_the_sweep_leaves_parked_jobs_while_no_extension_is_present(tenant, no_broker):
    job = lifecycle.job_claim(job_id=make_job(marketplace="vinted").pk)
    lifecycle.job_defer(job=job, reason=WAITING_FOR_EXTENSION, delay_s=300)
    no_broker.clear()
    assert sweep.jobs_wake_if_extension_present() == 0


def test_dispatch_due_waits_for_a_retry_that_is_not_due(tenant, no_broker, broker_queue):
    # given a job retrying in a minute, whose trigger is old
    job = make_job()
    no_broker.clear()
    MarketplaceJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - timedelta(hours=1),
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )
    # when / then
    assert sweep.jobs_dispatch_due() == 0


def test_lost_after_derives_from_the_sweep_interval(settings):
    settings.RELIST_SWEEP_INTERVAL_S = 10
    assert sweep.lost_after() == timedelta(seconds=10)


def test_wake_waiting_sends_the_jobs_parked_for_the_extension(
    tenant, no_broker, django_capture_on_commit_callbacks
):
    # given one vinted job waiting for the extension, one for another reason
    waiting = lifecycle.job_claim(job_id=make_job(marketplace="vinted").pk)
    lifecycle.job_defer(job=waiting, reason=WAITING_FOR_EXTENSION)
    other = lifecycle.job_claim(job_id=make_job(marketplace="vinted").pk)
    lifecycle.job_defer(job=other, reason="rate limited", delay_s=60)
    no_broker.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        woken = sweep.jobs_wake_waiting(marketplace="vinted")
    # then
    assert (woken, _sent_ids(no_broker)) == (1, [waiting.pk])


def test_a_new_job_marks_its_tenant_in_the_due_work_index(tenant, no_broker):
    # when
    make_job()
    # then
    assert tenant.schema_name in duework.duework_due(now=timezone.now())


def test_the_sweep_visits_due_tenants_and_forgets_those_without_work(tenant, no_broker):
    # given a tenant whose only job is finished
    job = make_job()
    job_cancel(job_id=job.pk, actor=EventActor.USER)
    # when
    reports = sweep.sweep_all()
    # then it was visited, and its row deleted
    assert reports[tenant.schema_name]["active"] == 0
    assert tenant.schema_name not in duework.duework_due(now=timezone.now() + timedelta(days=1))
    connection.set_tenant(tenant)


def test_the_sweep_keeps_a_tenant_with_work_until_the_next_interval(tenant, no_broker):
    # given a tenant with a pending job
    make_job()
    # when
    sweep.sweep_all()
    # then its next visit is one interval away
    now = timezone.now()
    assert tenant.schema_name not in duework.duework_due(now=now)
    assert tenant.schema_name in duework.duework_due(now=now + 2 * sweep.sweep_interval())
    connection.set_tenant(tenant)


def test_a_full_sweep_rebuilds_the_index_from_the_jobs(tenant, no_broker):
    # given a tenant with work whose row was lost
    make_job()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.engine_duework")
    # when
    sweep.sweep_all(full=True)
    # then
    assert tenant.schema_name in duework.duework_due(now=timezone.now() + timedelta(days=1))
    connection.set_tenant(tenant)


def test_batch_enqueue_sends_every_pending_job_in_chunks(tenant, no_broker, monkeypatch):
    # given a batch of five, one of them already cancelled, and chunks of two
    monkeypatch.setattr("batches.services.ENQUEUE_CHUNK", 2)
    batch = make_batch(products=5)
    jobs = list(MarketplaceJob.objects.filter(batch=batch).order_by("pk"))
    job_cancel(job_id=jobs[0].pk, actor=EventActor.USER)
    no_broker.clear()
    # when
    sent = batch_enqueue_jobs(batch_pk=batch.pk)
    # then
    assert sent == 4
    assert sorted(_sent_ids(no_broker)) == [job.pk for job in jobs[1:]]


def test_dispatch_due_leaves_a_job_just_parked_for_the_extension(tenant, no_broker, broker_queue):
    # given a vinted job that just deferred itself to wait for the extension (no trigger)
    job = lifecycle.job_claim(job_id=make_job(marketplace="vinted").pk)
    lifecycle.job_defer(job=job, reason=WAITING_FOR_EXTENSION)
    no_broker.clear()
    # when / then: the extension's connection wakes it, not the sweep
    assert sweep.jobs_dispatch_due() == 0


def test_the_sweeps_soft_time_limit_is_raised_not_swallowed(tenant, no_broker, monkeypatch):
    # given a tenant with work, and a sweep that runs out of time inside it
    make_job()

    def out_of_time(**_: object) -> dict[str, int]:
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(sweep, "tenant_sweep", out_of_time)
    # when / then
    with pytest.raises(SoftTimeLimitExceeded):
        sweep.sweep_all()
    connection.set_tenant(tenant)


def test_one_sweep_pass_reads_the_queues_once_for_every_tenant(
    tenant, other_tenant, no_broker, broker_queue
):
    # given a trigger of each shop in the queue
    broker_queue.rpush("ebay", _trigger(1, tenant.schema_name))
    broker_queue.rpush("ebay", _trigger(2, other_tenant.schema_name))
    with dispatch.queue_snapshot():
        # when the first tenant's lookup reads the queue, and a trigger is queued after it
        first = dispatch.queued_job_ids(marketplace="ebay", schema=tenant.schema_name)
        broker_queue.rpush("ebay", _trigger(3, other_tenant.schema_name))
        second = dispatch.queued_job_ids(marketplace="ebay", schema=other_tenant.schema_name)
    # then the second tenant's answer came from the same read; outside a pass, a fresh read
    assert (first, second) == ({1}, {2})
    assert dispatch.queued_job_ids(marketplace="ebay", schema=other_tenant.schema_name) == {2, 3}
