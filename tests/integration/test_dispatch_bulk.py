"""Triggers published in bulk (dispatch._TriggerPublisher, from the batch's enqueue task on a
worker) are run by a real worker unchanged: both priority bands, and a job due later not before
it is due. tests/marketplace/engine/test_dispatch_bulk.py compares the messages with
send_task's."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from batches.models import BatchJob
from batches.services import batch_create
from marketplace.models import MarketplaceJob
from marketplace.states import JobStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]


def test_a_worker_runs_bulk_published_triggers_of_both_bands_and_one_due_later(ebay):
    # given a priority 1 batch of 6 eBay publishes (the tenant's first 5 go to the .high band,
    # the sixth to the normal one), the last of them due 2 s from now
    products = [ProductFactory() for _ in range(6)]
    for product in products:
        ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    with transaction.atomic():
        batch = batch_create(
            product_ids=[p.pk for p in products],
            marketplaces=["ebay"],
            action="publish",
            priority=1,
        )
        later = MarketplaceJob.objects.filter(batch=batch).order_by("pk").last()
        due = timezone.now() + timedelta(seconds=2)
        MarketplaceJob.objects.filter(pk=later.pk).update(next_attempt_at=due)

    # when the enqueue task publishes them and the worker runs them
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).status == "completed", timeout=40)

    # then every job completed once, each product was listed once, and the last not before due
    jobs = MarketplaceJob.objects.filter(batch=batch)
    assert sorted(jobs.values_list("status", "attempts")) == [(JobStatus.COMPLETED, 1)] * 6
    assert ebay.stats()["listings_created"] == {p.sku: 1 for p in products}
    later.refresh_from_db()
    assert later.started_at >= due
    assert BatchJob.objects.get(pk=batch.pk).enqueued_at is not None
