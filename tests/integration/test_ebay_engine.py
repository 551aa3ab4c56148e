"""The execution engine end to end: real worker, real broker, eBay sandbox over HTTP."""

import pytest

from batches.models import BatchJob
from batches.services import batch_create
from marketplace.models import Listing
from marketplace.states import JobStatus, TaskStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import wait_for, wait_terminal

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]

PUBLISH_STEPS = ["inventory_item", "offer", "publish"]


def _product_with_image(ebay):
    product = ProductFactory()
    ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    return product


def test_publish_runs_steps_in_order_and_saves_the_listing(ebay):
    # given
    product = _product_with_image(ebay)
    # when
    job = wait_terminal(make_job(marketplace="ebay", product_id=product.pk).pk)
    # then
    assert job.status == JobStatus.COMPLETED
    steps = list(job.tasks.order_by("position").values_list("name", "status", "attempts"))
    assert steps == [(name, TaskStatus.SUCCESS, 1) for name in PUBLISH_STEPS]
    listing = Listing.objects.get(product=product, marketplace="ebay")
    assert listing.external_id == job.result_data["listing_id"]
    assert listing.status == "active"
    assert ebay.stats()["listings_created"] == {product.sku: 1}
    assert list(job.events.values_list("from_status", "to_status")) == [
        ("pending", "running"),
        ("running", "completed"),
    ]


def test_batch_counters_and_status_follow_the_jobs(ebay):
    # given / when
    products = [_product_with_image(ebay) for _ in range(4)]
    batch = batch_create(
        product_ids=[p.pk for p in products], marketplaces=["ebay"], action="publish"
    )
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).status == "completed")
    # then
    batch.refresh_from_db()
    assert (batch.completed_count, batch.failed_count, batch.progress_percent) == (4, 0, 100.0)
    assert sum(ebay.stats()["listings_created"].values()) == 4


def test_4xx_fails_at_once_with_the_marketplace_message(ebay):
    # given: eBay refuses the offer
    ebay.faults.add_rule(
        "status",
        r"/offer$",
        method="POST",
        status=400,
        body={"errors": [{"errorId": 25709, "message": "Invalid value for categoryId."}]},
    )
    # when
    job = wait_terminal(make_job(marketplace="ebay", product_id=_product_with_image(ebay).pk).pk)
    # then
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert "25709: Invalid value for categoryId." in job.error_message
    assert job.tasks.get(name="offer").status == TaskStatus.FAILED


def test_5xx_then_success_completes_after_retries(ebay):
    # given: the first two publishes answer 503
    ebay.faults.add_rule("status", r"/publish$", method="POST", status=503, times=2)
    # when
    job = wait_terminal(make_job(marketplace="ebay", product_id=_product_with_image(ebay).pk).pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 3
    assert ebay.stats()["calls"]["PUT /sell/inventory/v1/inventory_item/{sku}"] == 1
    assert sum(ebay.stats()["listings_created"].values()) == 1


def test_always_5xx_fails_with_the_max_retries_message(ebay):
    # given
    ebay.faults.add_rule("status", r"/inventory_item/", method="PUT", status=500, times=10)
    # when
    product = _product_with_image(ebay)
    job = wait_terminal(make_job(marketplace="ebay", product_id=product.pk).pk, timeout=30)
    # then
    assert job.status == JobStatus.FAILED
    assert job.attempts == 6
    assert job.error_message.startswith("Max retries (5) exceeded: ebay PUT")
