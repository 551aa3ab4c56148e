"""Sold once, gone everywhere: a buyer purchases on one marketplace's sandbox (or the Vinted
simulator), the scheduled sync finds the order through the real worker, and the product is
delisted on the other marketplaces through their real APIs."""

from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from marketplace.handlers.base import WAITING_FOR_EXTENSION
from marketplace.models import Listing, MarketplaceJob, Product
from marketplace.states import JobStatus, ListingStatus
from sales.models import OrderLine, Sale, SaleAction
from sales.schedule.models import SyncSchedule
from sales.services.fanout import sale_actions_settle
from sales.services.sync import sale_syncs_run_due
from sales.states import SaleOutcome
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import simulator_for, wait_for, wait_terminal

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker", "vinted_clean")]


def _published_on(server, *marketplaces, quantity: int = 1):
    product = ProductFactory(quantity=quantity)
    ProductImageFactory(product=product, url=server.image_url(product.sku), position=0)
    for marketplace in marketplaces:
        job = wait_terminal(make_job(marketplace=marketplace, product_id=product.pk).pk)
        assert job.status == JobStatus.COMPLETED, job.error_message
    return product


def _only_this_tenant_due(tenant, *marketplaces) -> None:
    """Only the named marketplaces of this tenant are due in this pass."""
    SyncSchedule.objects.update(enabled=False)
    SyncSchedule.objects.filter(tenant=tenant, marketplace__in=marketplaces).update(
        enabled=True, next_run_at=timezone.now()
    )


def _sync_job(marketplace: str) -> MarketplaceJob:
    job = MarketplaceJob.objects.get(marketplace=marketplace, action_type__code="sync_orders")
    return wait_terminal(job.pk)


def test_a_sale_on_ebay_delists_etsy_through_the_schedule(ebay, etsy, live_tenant):
    # given: one unit, live on eBay and Etsy
    product = _published_on(ebay, "ebay", "etsy")
    etsy_id = int(Listing.objects.get(product=product, marketplace="etsy").external_id)
    # when: a buyer purchases it on eBay, and beat's pass finds the due schedule rows
    sold = requests.post(
        f"{ebay.root_url}/__sandbox__/purchase", json={"sku": product.sku}, timeout=5
    )
    assert sold.status_code == 200
    _only_this_tenant_due(live_tenant, "ebay")
    started = sale_syncs_run_due()
    # then: the sync recorded the line, took the stock and queued Etsy's delist
    assert started == 1
    sync = _sync_job("ebay")
    assert sync.status == JobStatus.COMPLETED
    assert (sync.result_data["sales"], sync.result_data["oversells"]) == (1, 0)
    line = OrderLine.objects.get(sku=product.sku)
    assert line.order.external_id == sold.json()["orderId"]
    product.refresh_from_db()
    assert product.quantity == 0
    delist = wait_terminal(SaleAction.objects.get(marketplace="etsy").job_id)
    assert (delist.status, delist.priority, delist.action_type.code) == (
        JobStatus.COMPLETED,
        1,
        "delete",
    )
    assert etsy_id not in etsy.listings.listings
    assert Listing.objects.get(product=product, marketplace="etsy").status == ListingStatus.DELETED
    assert sale_actions_settle() == 1
    assert SaleAction.objects.get(marketplace="etsy").outcome == SaleOutcome.DELISTED


def test_a_sale_on_etsy_delists_ebay_and_a_re_sync_changes_nothing(ebay, etsy, live_tenant):
    # given
    product = _published_on(ebay, "ebay", "etsy")
    sold = requests.post(
        f"{etsy.root_url}/__sandbox__/purchase", json={"sku": product.sku}, timeout=5
    )
    assert sold.status_code == 200, sold.text
    _only_this_tenant_due(live_tenant, "etsy")
    sale_syncs_run_due()
    assert _sync_job("etsy").result_data["sales"] == 1
    delist = wait_terminal(SaleAction.objects.get(marketplace="ebay").job_id)
    assert delist.status == JobStatus.COMPLETED
    assert ebay.stats()["active_listings"] == 0
    # when: the same receipts are read again (an explicit window re-reads everything)
    again = wait_terminal(make_job(marketplace="etsy", action="sync_orders").pk)
    # then
    assert (again.result_data["new_lines"], again.result_data["sales"]) == (0, 0)
    product.refresh_from_db()
    assert product.quantity == 0
    assert Sale.objects.count() == 1


def test_quantity_above_zero_updates_the_other_listing(ebay, etsy, live_tenant):
    # given: three units
    product = _published_on(ebay, "ebay", "etsy", quantity=3)
    # when
    requests.post(
        f"{ebay.root_url}/__sandbox__/purchase", json={"sku": product.sku, "quantity": 2}, timeout=5
    )
    _only_this_tenant_due(live_tenant, "ebay")
    sale_syncs_run_due()
    _sync_job("ebay")
    update = wait_terminal(SaleAction.objects.get(marketplace="etsy").job_id)
    # then
    assert (update.status, update.action_type.code) == (JobStatus.COMPLETED, "update")
    etsy_id = int(Listing.objects.get(product=product, marketplace="etsy").external_id)
    assert etsy.listings.listings[etsy_id]["quantity"] == 1


def test_a_cancelled_ebay_order_restores_stock_once(ebay, live_tenant):
    # given: a sale synced
    product = _published_on(ebay, "ebay", quantity=2)
    sold = requests.post(
        f"{ebay.root_url}/__sandbox__/purchase", json={"sku": product.sku}, timeout=5
    ).json()
    wait_terminal(make_job(marketplace="ebay", action="sync_orders").pk)
    # when: the buyer cancels, and two syncs read it
    requests.post(
        f"{ebay.root_url}/__sandbox__/orders/cancel", json={"order_id": sold["orderId"]}, timeout=5
    )
    first = wait_terminal(make_job(marketplace="ebay", action="sync_orders").pk)
    second = wait_terminal(make_job(marketplace="ebay", action="sync_orders").pk)
    # then
    assert (first.result_data["restocked"], second.result_data["restocked"]) == (1, 0)
    product.refresh_from_db()
    assert product.quantity == 2


def test_a_vinted_sale_waits_for_the_extension_then_delists_ebay(
    asgi_server, extension_token, live_tenant, ebay
):
    # given: live on eBay and Vinted
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        product = _published_on(ebay, "ebay", "vinted")
    vinted_item = int(Listing.objects.get(product=product, marketplace="vinted").external_id)
    sim.account.seed_order(title=product.title, item_id=vinted_item, price="25.00")
    # when: the scheduled sync runs while the extension is offline
    _only_this_tenant_due(live_tenant, "vinted")
    sale_syncs_run_due()
    job = MarketplaceJob.objects.get(marketplace="vinted", action_type__code="sync_orders")
    wait_for(
        lambda: MarketplaceJob.objects.filter(
            pk=job.pk, status_reason=WAITING_FOR_EXTENSION
        ).exists()
    )
    # then: it waits without using an attempt, and runs once the extension is back
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    with simulator_for(asgi_server, extension_token, live_tenant, account=sim.account):
        done = wait_terminal(job.pk, timeout=30)
        assert (done.status, done.result_data["sales"]) == (JobStatus.COMPLETED, 1)
        delist = wait_terminal(SaleAction.objects.get(marketplace="ebay").job_id)
    assert delist.status == JobStatus.COMPLETED
    assert ebay.stats()["active_listings"] == 0


def test_importing_an_ebay_shop_recreates_its_products_once(ebay, live_tenant):
    # given: two live eBay listings whose products this shop does not know (a new customer)
    products = [_published_on(ebay, "ebay") for _ in range(2)]
    expected = {
        p.sku: Listing.objects.get(product=p, marketplace="ebay").external_id for p in products
    }
    Product.objects.all().delete()
    # when
    first = wait_terminal(
        make_job(marketplace="ebay", action="sync_listings", input_data={"import": True}).pk
    )
    again = wait_terminal(
        make_job(marketplace="ebay", action="sync_listings", input_data={"import": True}).pk
    )
    # then
    assert (first.result_data["imported"], again.result_data["imported"]) == (2, 0)
    imported = dict(
        Listing.objects.filter(marketplace="ebay").values_list("product__sku", "external_id")
    )
    assert imported == expected
    assert Product.objects.count() == 2
    assert all(p.images.count() == 1 for p in Product.objects.all())


def test_importing_the_vinted_wardrobe_links_relist_items_and_imports_the_rest(
    asgi_server, extension_token, live_tenant, ebay
):
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        # given: one item Relist published (it carries the marker), one that predates Relist
        ours = _published_on(ebay, "vinted")
        Listing.objects.filter(product=ours).delete()
        theirs = sim.account.seed_item(title="Linen shirt", price="15.00")
        # when
        job = wait_terminal(
            make_job(marketplace="vinted", action="sync_listings", input_data={"import": True}).pk
        )
    # then
    assert job.status == JobStatus.COMPLETED
    assert (job.result_data["linked_products"], job.result_data["imported"]) == (1, 1)
    assert Listing.objects.get(product=ours, marketplace="vinted").status == ListingStatus.ACTIVE
    imported = Listing.objects.get(marketplace="vinted", external_id=str(theirs["id"])).product
    assert (imported.title, imported.price) == ("Linen shirt", Decimal("15.00"))
