"""Recovery paths of the engine on eBay: partial retries, lost answers, a killed worker, token
expiry, and pause/resume/cancel at step boundaries."""

from datetime import timedelta

import pytest

from batches.models import BatchJob
from batches.services import batch_create
from marketplace.engine.sweep import jobs_recover_stale
from marketplace.models import MarketplaceConnection, MarketplaceJob
from marketplace.services.jobs import job_cancel, job_pause, job_resume, job_retry
from marketplace.states import EventActor, JobStatus, TaskStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import wait_for, wait_terminal
from tests.integration.workers import WorkerProcess

pytestmark = pytest.mark.integration

ITEM_PUT = "PUT /sell/inventory/v1/inventory_item/{sku}"
OFFER_POST = "POST /sell/inventory/v1/offer"
PUBLISH_POST = "POST /sell/inventory/v1/offer/{offerId}/publish"


def _publish_job(ebay) -> MarketplaceJob:
    product = ProductFactory()
    ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    return make_job(marketplace="ebay", product_id=product.pk)


def _step_status(job_id: int, name: str) -> str | None:
    """None until the job's steps are planned."""
    return (
        MarketplaceJob.objects.get(pk=job_id)
        .tasks.filter(name=name)
        .values_list("status", flat=True)
        .first()
    )


@pytest.mark.usefixtures("celery_worker")
def test_retry_after_a_failure_at_step_3_reruns_only_step_3(ebay):
    # given: the publish step fails permanently once
    ebay.faults.add_rule("status", r"/publish$", method="POST", status=400)
    job = wait_terminal(_publish_job(ebay).pk)
    assert job.status == JobStatus.FAILED
    # when
    job_retry(job_id=job.pk, actor=EventActor.USER)
    job = wait_terminal(job.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    calls = ebay.stats()["calls"]
    assert (calls[ITEM_PUT], calls[OFFER_POST], calls[PUBLISH_POST]) == (1, 1, 2)
    attempts = dict(job.tasks.values_list("name", "attempts"))
    assert attempts == {"inventory_item": 1, "offer": 1, "publish": 2}


@pytest.mark.usefixtures("celery_worker")
def test_a_lost_create_answer_is_reconciled_not_repeated(ebay):
    # given: eBay creates the offer, then the connection drops before the answer
    ebay.faults.add_rule("drop_after", r"/offer$", method="POST")
    # when
    job = wait_terminal(_publish_job(ebay).pk)
    # then
    assert job.status == JobStatus.COMPLETED
    sku = job.product.sku
    stats = ebay.stats()
    assert stats["offers_created"] == {sku: 1}
    assert stats["listings_created"] == {sku: 1}
    assert job.tasks.get(name="offer").attempts == 2


def test_a_worker_killed_mid_job_is_recovered_and_publishes_once(ebay, worker_env, celery_worker):
    # given: the only worker is one that will die while the publish call hangs
    celery_worker.stop()
    doomed = WorkerProcess(worker_env, name="doomed", concurrency=1)
    try:
        ebay.faults.add_rule("delay", r"/publish$", method="POST", delay_ms=4000)
        job = _publish_job(ebay)
        wait_for(lambda: _step_status(job.pk, "publish") == TaskStatus.PROCESSING)
        # when: SIGKILL, then beat's recovery finds the stale heartbeat
        doomed.kill()
    finally:
        doomed.stop()
    celery_worker.start()
    assert jobs_recover_stale(stale_after=timedelta(0)) == 1
    job = wait_terminal(job.pk, timeout=30)
    # then
    assert job.status == JobStatus.COMPLETED
    assert ebay.stats()["listings_created"] == {job.product.sku: 1}
    actors = list(job.events.values_list("to_status", "actor"))
    assert ("pending", "beat") in actors


@pytest.mark.usefixtures("celery_worker")
def test_token_expiry_mid_batch_refreshes_once_and_completes(ebay):
    # given
    products = [ProductFactory() for _ in range(3)]
    for product in products:
        ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    old_token = MarketplaceConnection.objects.get(marketplace="ebay").access_token
    ebay.expire_access_tokens()
    # when
    batch = batch_create(
        product_ids=[p.pk for p in products], marketplaces=["ebay"], action="publish"
    )
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).status == "completed")
    # then
    assert ebay.stats()["calls"]["POST /identity/v1/oauth2/token"] == 1
    assert MarketplaceConnection.objects.get(marketplace="ebay").access_token != old_token


@pytest.mark.usefixtures("celery_worker")
def test_pause_takes_effect_at_the_next_step_boundary_and_resume_finishes(ebay):
    # given: the offer call is slow, so the job is mid-step when paused
    ebay.faults.add_rule("delay", r"/offer$", method="POST", delay_ms=1500)
    job = _publish_job(ebay)
    wait_for(lambda: _step_status(job.pk, "offer") == TaskStatus.PROCESSING)
    # when
    job_pause(job_id=job.pk, actor=EventActor.USER)
    wait_for(lambda: MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.PAUSED)
    # then: stopped after the offer, before the publish
    statuses = dict(job.tasks.values_list("name", "status"))
    assert statuses == {"inventory_item": "success", "offer": "success", "publish": "pending"}
    # when
    job_resume(job_id=job.pk, actor=EventActor.USER)
    job = wait_terminal(job.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert ebay.stats()["calls"][OFFER_POST] == 1


@pytest.mark.usefixtures("celery_worker")
def test_cancel_of_a_running_job_stops_at_the_next_step_boundary(ebay):
    # given
    ebay.faults.add_rule("delay", r"/offer$", method="POST", delay_ms=1500)
    job = _publish_job(ebay)
    wait_for(lambda: _step_status(job.pk, "offer") == TaskStatus.PROCESSING)
    # when
    job_cancel(job_id=job.pk, actor=EventActor.USER)
    job = wait_terminal(job.pk)
    # then
    assert job.status == JobStatus.CANCELLED
    assert _step_status(job.pk, "publish") == TaskStatus.CANCELLED
    assert ebay.stats()["listings_created"] == {}
