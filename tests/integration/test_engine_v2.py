"""Engine v2 against real workers: one lock order (no deadlock between batch cancels and job
transitions), requests honoured whatever the step's outcome, heartbeats inside long steps, and
a SIGKILLed worker's job recovered by the real sweep while a slow healthy job is left alone."""

import contextlib
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count

from batches.models import BatchJob
from batches.services import batch_cancel, batch_create
from core.errors import InvalidTransition
from marketplace.engine import sweep
from marketplace.models import MarketplaceJob
from marketplace.services.jobs import job_cancel, job_pause
from marketplace.states import EventActor, JobStatus, TaskStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import wait_for, wait_terminal
from tests.integration.workers import WorkerProcess

pytestmark = pytest.mark.integration

OFFER_POST = "POST /sell/inventory/v1/offer"
PUBLISH_POST = "POST /sell/inventory/v1/offer/{offerId}/publish"
OPEN = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)
COUNTERS = {
    JobStatus.COMPLETED: "completed_count",
    JobStatus.FAILED: "failed_count",
    JobStatus.CANCELLED: "cancelled_count",
    JobStatus.EXPIRED: "expired_count",
}


def _publish_job(ebay) -> MarketplaceJob:
    product = ProductFactory()
    ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    return make_job(marketplace="ebay", product_id=product.pk)


def _step_status(job_id: int, name: str) -> str | None:
    return (
        MarketplaceJob.objects.get(pk=job_id)
        .tasks.filter(name=name)
        .values_list("status", flat=True)
        .first()
    )


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _counters_equal_recount(batch_pk: int) -> bool:
    batch = BatchJob.objects.get(pk=batch_pk)
    counts = dict(
        MarketplaceJob.objects.filter(batch_id=batch_pk)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return all(getattr(batch, field) == counts.get(status, 0) for status, field in COUNTERS.items())


@pytest.mark.slow
@pytest.mark.usefixtures("celery_worker")
def test_cancelling_batches_while_workers_fail_their_jobs_never_deadlocks(ebay):
    # given 100 products whose eBay publish fails at once (400 on the first call)
    ebay.faults.add_rule("status", r"/inventory_item/", method="PUT", status=400, times=10**6)
    products = [ProductFactory() for _ in range(100)]
    for product in products:
        ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    ids = [p.pk for p in products]
    deadlocks_before = _deadlocks()
    batches = []

    # when, 50 times, a batch of 100 is cancelled while the workers are failing its jobs
    for _ in range(50):
        batch = batch_create(product_ids=ids, marketplaces=["ebay"], action="publish")
        batches.append(batch.pk)
        wait_for(
            lambda pk=batch.pk: MarketplaceJob.objects.filter(
                batch_id=pk, status=JobStatus.FAILED
            ).exists(),
            every=0.01,
        )
        # (every job may already have failed: nothing left to cancel, also fine)
        with contextlib.suppress(InvalidTransition):
            batch_cancel(batch_pk=batch.pk, actor=EventActor.USER)

    # then every job is terminal, no deadlock happened, and counters equal a recount
    wait_for(
        lambda: not MarketplaceJob.objects.filter(batch_id__in=batches, status__in=OPEN).exists(),
        timeout=60,
    )
    assert _deadlocks() == deadlocks_before
    assert [pk for pk in batches if not _counters_equal_recount(pk)] == []
    assert MarketplaceJob.objects.filter(batch_id__in=batches, status=JobStatus.CANCELLED).exists()


@pytest.mark.usefixtures("celery_worker")
def test_a_cancel_asked_during_a_failing_step_cancels_and_never_retries(ebay):
    # given the offer call is slow and then fails with a 503 (retryable)
    ebay.faults.add_rule("status", r"/offer$", method="POST", status=503, delay_ms=1500)
    job = _publish_job(ebay)
    wait_for(lambda: _step_status(job.pk, "offer") == TaskStatus.PROCESSING)
    # when the user cancels while the call is in flight
    job_cancel(job_id=job.pk, actor=EventActor.USER)
    job = wait_terminal(job.pk)
    time.sleep(0.5)  # a retry, if one were (wrongly) scheduled, would run within this
    # then the job is cancelled: the offer was asked once, nothing was published
    assert job.status == JobStatus.CANCELLED
    calls = ebay.stats()["calls"]
    assert (calls[OFFER_POST], calls.get(PUBLISH_POST, 0)) == (1, 0)
    assert ebay.stats()["listings_created"] == {}
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED


@pytest.mark.usefixtures("celery_worker")
def test_a_pause_asked_during_a_failing_step_pauses(ebay):
    # given
    ebay.faults.add_rule("status", r"/offer$", method="POST", status=400, delay_ms=1500)
    job = _publish_job(ebay)
    wait_for(lambda: _step_status(job.pk, "offer") == TaskStatus.PROCESSING)
    # when
    job_pause(job_id=job.pk, actor=EventActor.USER)
    wait_for(lambda: MarketplaceJob.objects.get(pk=job.pk).status != JobStatus.RUNNING)
    # then
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.PAUSED


@pytest.mark.usefixtures("celery_worker")
def test_a_step_longer_than_the_stale_threshold_is_not_recovered_while_alive(ebay):
    # given an order sync whose pages take 0.8 s each (5 pages: 4 s, twice the threshold)
    ebay.seed_orders(220)
    ebay.faults.add_rule("delay", r"/order$", method="GET", delay_ms=800, times=10)
    job = make_job(marketplace="ebay", action="sync_orders", input_data={"days": 30})
    wait_for(lambda: MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.RUNNING)
    # when beat looks for stale jobs with a 2 s threshold all along
    recovered = 0
    while not MarketplaceJob.objects.get(pk=job.pk).is_terminal:
        recovered += sweep.jobs_recover_stale(stale_after=timedelta(seconds=2))
        time.sleep(0.2)
    # then it was never taken for dead, and completed in one run
    job = MarketplaceJob.objects.get(pk=job.pk)
    assert (recovered, job.status, job.attempts) == (0, JobStatus.COMPLETED, 1)
    assert job.result_data["orders"] == 220


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stale_s", "alive_every_s"),
    [(2.0, 3600.0), (120.0, 2.0)],
    ids=["stale-heartbeat-2s", "dead-process-known"],
)
def test_a_killed_workers_job_is_recovered_by_the_sweep_and_a_slow_live_one_left_alone(
    ebay, worker_env, celery_worker, settings, stale_s, alive_every_s
):
    # given a healthy worker running a slow order sync (15 pages of 0.8 s), then a second
    # worker that will die in the middle of a publish; the sweep finds it either by its stale
    # heartbeat (a 2 s threshold, process liveness not trusted) or, with the default 120 s
    # threshold, because its process is known dead (its keep-alive key expired)
    settings.RELIST_STALE_HEARTBEAT_S = stale_s
    settings.RELIST_WORKER_ALIVE_EVERY_S = alive_every_s
    celery_worker.stop()
    healthy = WorkerProcess(worker_env, name="healthy", concurrency=1)
    doomed = None
    try:
        ebay.seed_orders(720)
        ebay.faults.add_rule("delay", r"/order$", method="GET", delay_ms=800, times=20)
        slow = make_job(marketplace="ebay", action="sync_orders", input_data={"days": 30})
        wait_for(lambda: MarketplaceJob.objects.get(pk=slow.pk).status == JobStatus.RUNNING)
        doomed = WorkerProcess(worker_env, name="doomed", concurrency=1)
        ebay.faults.add_rule("delay", r"/publish$", method="POST", delay_ms=6000)
        victim = _publish_job(ebay)
        wait_for(lambda: _step_status(victim.pk, "publish") == TaskStatus.PROCESSING)
        # when the second worker is SIGKILLed and the real sweep runs every 0.5 s
        doomed.kill()
        while not (
            MarketplaceJob.objects.get(pk=victim.pk).is_terminal
            and MarketplaceJob.objects.get(pk=slow.pk).is_terminal
        ):
            sweep.sweep_all()  # restores the test's tenant afterwards
            time.sleep(0.5)
    finally:
        healthy.stop()
        if doomed is not None:
            doomed.stop()
        celery_worker.start()
    # then the victim was recovered by beat and published once; the slow job ran once
    victim = MarketplaceJob.objects.get(pk=victim.pk)
    slow = MarketplaceJob.objects.get(pk=slow.pk)
    assert victim.status == JobStatus.COMPLETED
    assert ("running", "pending", "beat") in set(
        victim.events.values_list("from_status", "to_status", "actor")
    )
    assert ebay.stats()["listings_created"] == {victim.product.sku: 1}
    assert (slow.status, slow.attempts, slow.result_data["orders"]) == (
        JobStatus.COMPLETED,
        1,
        720,
    )
    assert not slow.events.filter(actor="beat").exists()
