"""Vinted through the extension: a real ASGI server, a real worker, the simulator over a real
socket, the channel layer on the real Redis."""

import pytest

from marketplace.models import Listing, MarketplaceJob
from marketplace.services.execution import WAITING_FOR_EXTENSION
from marketplace.states import JobStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import simulator_for, wait_for, wait_terminal

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("celery_worker", "vinted_clean"),
]


def _vinted_job(ebay_server, *, images: int = 2) -> MarketplaceJob:
    product = ProductFactory()
    for position in range(images):
        ProductImageFactory(
            product=product, url=ebay_server.image_url(f"photo{position}"), position=position
        )
    return make_job(marketplace="vinted", product_id=product.pk)


def test_publish_through_the_extension(asgi_server, extension_token, live_tenant, ebay_server):
    # given
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        # when
        job = wait_terminal(_vinted_job(ebay_server).pk)
        # then
        assert job.status == JobStatus.COMPLETED
        names = list(job.tasks.order_by("position").values_list("name", flat=True))
        assert names == ["upload_photo_1", "upload_photo_2", "create_item"]
        assert sim.count_items_with_marker(job.product.marker) == 1
        listing = Listing.objects.get(product=job.product, marketplace="vinted")
        assert int(listing.external_id) == sim.items_created[0]


def test_offline_jobs_wait_then_run_when_the_extension_connects(
    asgi_server, extension_token, live_tenant, ebay_server
):
    # given: no extension connected
    jobs = [_vinted_job(ebay_server, images=1) for _ in range(3)]
    wait_for(
        lambda: all(
            MarketplaceJob.objects.filter(pk=j.pk, status_reason=WAITING_FOR_EXTENSION).exists()
            for j in jobs
        )
    )
    assert [j.attempts for j in MarketplaceJob.objects.filter(pk__in=[j.pk for j in jobs])] == [
        0,
        0,
        0,
    ]
    # when
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        done = [wait_terminal(j.pk) for j in jobs]
        # then
        assert [j.status for j in done] == [JobStatus.COMPLETED] * 3
        assert [j.attempts for j in done] == [1, 1, 1]
        assert len(sim.items_created) == 3
