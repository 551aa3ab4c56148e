"""eBay update, delete, sync_listings and sync_orders against the eBay sandbox: a real worker, the
real broker, the sandbox over HTTP. Each test reads the sandbox back through its public API and
the tenant's Listing/Order rows, and asserts the exact effect."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketplace.models import Listing, Order, Product
from marketplace.states import JobStatus, ListingStatus, TaskStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import wait_terminal

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]

INVENTORY = "/sell/inventory/v1"
GET_OFFERS = "GET /sell/inventory/v1/offer"
WITHDRAW = "POST /sell/inventory/v1/offer/{offerId}/withdraw"
DELETE_ITEM = "DELETE /sell/inventory/v1/inventory_item/{sku}"
GET_ITEMS = "GET /sell/inventory/v1/inventory_item"
GET_ORDERS = "GET /sell/fulfillment/v1/order"


def _read(ebay, path: str, **params: Any) -> requests.Response:
    """Read the sandbox as the connected seller would (same default seller account)."""
    token = ebay.issue_tokens()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Language": "en-US"}
    return requests.get(f"{ebay.base_url}{path}", params=params, headers=headers, timeout=5)


def _put_item(ebay, sku: str) -> requests.Response:
    """An inventory item created on eBay by hand, outside Relist."""
    token = ebay.issue_tokens()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Language": "en-US"}
    body = {
        "availability": {"shipToLocationAvailability": {"quantity": 1}},
        "condition": "USED_GOOD",
        "product": {"title": f"Listed by hand {sku}", "imageUrls": [ebay.image_url(sku)]},
    }
    url = f"{ebay.base_url}{INVENTORY}/inventory_item/{sku}"
    return requests.put(url, json=body, headers=headers, timeout=5)


def _product(ebay, **fields):
    product = ProductFactory(**fields)
    ProductImageFactory(product=product, url=ebay.image_url(product.sku), position=0)
    return product


def _run(**kwargs):
    return wait_terminal(make_job(marketplace="ebay", **kwargs).pk)


def _published(ebay, product) -> Listing:
    assert _run(product_id=product.pk).status == JobStatus.COMPLETED
    return Listing.objects.get(product=product, marketplace="ebay")


def _steps(job) -> list[tuple[str, str]]:
    return list(job.tasks.order_by("position").values_list("name", "status"))


# --- update ---------------------------------------------------------------------------------


def test_update_replaces_the_item_and_revises_the_published_offer(ebay):
    # given a published product whose title, price and quantity then change
    product = _product(ebay)
    listing = _published(ebay, product)
    offer_id = listing.data["offer_id"]
    product.title, product.price, product.quantity = "Indigo denim jacket", Decimal("31.50"), 2
    product.save(update_fields=["title", "price", "quantity"])
    # when
    job = _run(action="update", product_id=product.pk)
    # then both steps ran once and eBay holds the new values on the same offer and listing
    assert job.status == JobStatus.COMPLETED
    assert _steps(job) == [("inventory_item", TaskStatus.SUCCESS), ("offer", TaskStatus.SUCCESS)]
    assert job.result_data == {"offer_id": offer_id}
    item = _read(ebay, f"{INVENTORY}/inventory_item/{product.sku}").json()
    assert item["product"]["title"] == "Indigo denim jacket"
    assert item["availability"]["shipToLocationAvailability"]["quantity"] == 2
    offer = _read(ebay, f"{INVENTORY}/offer/{offer_id}").json()
    assert offer["pricingSummary"]["price"] == {"value": "31.50", "currency": "EUR"}
    assert offer["availableQuantity"] == 2
    assert offer["status"] == "PUBLISHED"
    assert offer["listing"]["listingId"] == listing.external_id
    stats = ebay.stats()
    assert stats["inventory_item_puts"] == {product.sku: 2}
    assert stats["offers_created"] == {product.sku: 1}
    assert stats["listings_created"] == {product.sku: 1}
    # and the tenant's listing record is untouched
    listing.refresh_from_db()
    assert (listing.status, listing.data) == (ListingStatus.ACTIVE, {"offer_id": offer_id})


def test_update_of_a_product_never_published_fails_at_once_and_creates_no_offer(ebay):
    # given a product eBay has never seen
    product = _product(ebay)
    # when
    job = _run(action="update", product_id=product.pk)
    # then the missing offer is a permanent failure, after the inventory item PUT
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert job.error_message == f"eBay has no offer for SKU {product.sku}: publish it first."
    assert _steps(job) == [("inventory_item", TaskStatus.SUCCESS), ("offer", TaskStatus.FAILED)]
    stats = ebay.stats()
    assert (stats["offers"], stats["offers_created"], stats["listings_created"]) == (0, {}, {})
    assert not Listing.objects.filter(product=product).exists()


# --- delete ---------------------------------------------------------------------------------


def test_delete_withdraws_the_offer_deletes_the_item_and_marks_the_listing_deleted(ebay):
    # given a published product
    product = _product(ebay)
    listing = _published(ebay, product)
    offer_id = listing.data["offer_id"]
    # when
    job = _run(action="delete", product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert _steps(job) == [
        ("withdraw", TaskStatus.SUCCESS),
        ("inventory_item", TaskStatus.SUCCESS),
    ]
    assert job.result_data == {"withdrawn": True}
    assert job.tasks.get(name="withdraw").result == {"withdrawn": True, "offer_id": offer_id}
    assert job.tasks.get(name="inventory_item").result == {"deleted": True}
    stats = ebay.stats()
    assert (stats["inventory_items"], stats["offers"], stats["active_listings"]) == (0, 0, 0)
    assert (stats["calls"][WITHDRAW], stats["calls"][DELETE_ITEM]) == (1, 1)
    assert _read(ebay, f"{INVENTORY}/inventory_item/{product.sku}").status_code == 404
    listing_id = listing.external_id
    listing.refresh_from_db()
    # the record keeps the ended listing's id, for the history
    assert (listing.status, listing.external_id) == (ListingStatus.DELETED, listing_id)


def test_delete_of_an_item_already_gone_from_ebay_completes_without_calls_that_fail(ebay):
    # given a listing record whose item was removed on eBay directly
    product = _product(ebay)
    _published(ebay, product)
    ebay.reset()
    # when
    job = _run(action="delete", product_id=product.pk)
    # then nothing to withdraw, the 404 on the item counts as done, the record says deleted
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 1
    assert job.result_data == {"withdrawn": False}
    assert job.tasks.get(name="withdraw").result == {"withdrawn": False}
    assert job.tasks.get(name="inventory_item").result == {"deleted": False, "already_gone": True}
    assert ebay.stats()["calls"].get(WITHDRAW, 0) == 0
    assert Listing.objects.get(product=product).status == ListingStatus.DELETED


def test_delete_whose_withdraw_answer_was_lost_completes_on_the_retry(ebay):
    # given: eBay withdraws the offer but the answer is lost; the retry finds it unpublished
    product = _product(ebay)
    _published(ebay, product)
    ebay.faults.add_rule("drop_after", r"/withdraw$", method="POST", times=1)
    # when
    job = _run(action="delete", product_id=product.pk)
    # then the second attempt does not withdraw again and the item is deleted once
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 2
    stats = ebay.stats()
    assert (stats["calls"][WITHDRAW], stats["calls"][DELETE_ITEM]) == (1, 1)
    assert (stats["inventory_items"], stats["offers"]) == (0, 0)
    assert Listing.objects.get(product=product).status == ListingStatus.DELETED


# --- sync_listings --------------------------------------------------------------------------


def test_sync_listings_reads_every_page_and_links_the_tenants_products_by_sku(ebay):
    # given 101 inventory items on eBay (two pages of 100): two are this tenant's products,
    # published, whose listing records were lost, and 99 were put on eBay without an offer
    mine = [_product(ebay) for _ in range(2)]
    listing_ids = {product.sku: _published(ebay, product).external_id for product in mine}
    Listing.objects.all().delete()
    for n in range(99):
        assert _put_item(ebay, f"FOREIGN-{n:03d}").status_code == 204
    # when
    job = _run(action="sync_listings")
    # then both pages were read; only published offers are live listings, and they link
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {
        "items": 2,
        "linked_products": 2,
        "imported": 0,
        "to_review": 0,
        "ended": 0,
    }
    inventory = job.tasks.get(name="inventory").result
    assert inventory["count"] == 101
    assert sorted(item["sku"] for item in inventory["live"]) == sorted(listing_ids)
    assert ebay.stats()["calls"][GET_ITEMS] == 2
    linked = Listing.objects.filter(marketplace="ebay")
    # the offers carry the listing ids: the records are linked with them
    assert sorted(linked.values_list("product__sku", "status", "external_id")) == sorted(
        (sku, ListingStatus.ACTIVE, listing_id) for sku, listing_id in listing_ids.items()
    )


def test_sync_listings_of_an_empty_inventory_links_nothing(ebay):
    # given products of the tenant that eBay does not hold
    _product(ebay)
    # when
    job = _run(action="sync_listings")
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {
        "items": 0,
        "linked_products": 0,
        "imported": 0,
        "to_review": 0,
        "ended": 0,
    }
    assert not Listing.objects.exists()


# --- sync_orders ----------------------------------------------------------------------------


def test_sync_orders_stores_every_page_with_its_amounts(ebay):
    # given 60 orders over the last 30 days (two pages of 50)
    order_ids = ebay.seed_orders(60)
    # when
    job = _run(action="sync_orders", input_data={"days": 31})
    # then every order is stored once, with the fields eBay gave
    assert job.status == JobStatus.COMPLETED
    assert job.result_data["orders"] == 60
    assert ebay.stats()["calls"][GET_ORDERS] == 2
    orders = Order.objects.filter(marketplace="ebay")
    assert sorted(orders.values_list("external_id", flat=True)) == sorted(order_ids)
    on_ebay = _read(ebay, "/sell/fulfillment/v1/order", orderIds=order_ids[0]).json()["orders"][0]
    order = orders.get(external_id=order_ids[0])
    assert order.total == Decimal(on_ebay["pricingSummary"]["total"]["value"])
    assert order.currency == on_ebay["pricingSummary"]["total"]["currency"] == "USD"
    assert order.status == on_ebay["orderFulfillmentStatus"]
    assert order.buyer == on_ebay["buyer"]["username"]
    assert order.data == on_ebay


def test_sync_orders_twice_reads_only_what_changed_and_adds_the_new_orders(ebay):
    # given a first sync of 3 orders, then 2 buyers purchase on eBay
    first = ebay.seed_orders(3)
    assert _run(action="sync_orders").status == JobStatus.COMPLETED
    pks = dict(Order.objects.values_list("external_id", "pk"))
    products = [_product(ebay, quantity=2) for _ in range(2)]
    for product in products:
        _published(ebay, product)
    second = [ebay.purchase(product.sku, 1)["orderId"] for product in products]
    # when the next sync reads from its cursor (orders modified since the last one)
    job = _run(action="sync_orders")
    # then only the new orders came back, the known rows kept, and each sale took one unit
    assert job.status == JobStatus.COMPLETED
    assert (job.result_data["orders"], job.result_data["sales"]) == (2, 2)
    stored = dict(Order.objects.filter(marketplace="ebay").values_list("external_id", "pk"))
    assert sorted(stored) == sorted(first + second)
    assert {order_id: stored[order_id] for order_id in first} == pks
    assert sorted(
        Product.objects.filter(pk__in=[p.pk for p in products]).values_list("quantity", flat=True)
    ) == [1, 1]


def test_sync_orders_reads_only_the_days_asked(ebay):
    # given orders spread over the last 30 days
    ebay.seed_orders(40)
    on_ebay = _read(ebay, "/sell/fulfillment/v1/order", limit=200).json()["orders"]
    # the window applies to the last change (a sale, a cancellation, a refund)
    created = {o["orderId"]: parse_datetime(o["lastModifiedDate"]) for o in on_ebay}
    # when only the last 7 days are asked for
    before = timezone.now()
    job = _run(action="sync_orders", input_data={"days": 7})
    after = timezone.now()
    # then every order of the window is stored and none older (the filter reached eBay)
    assert job.status == JobStatus.COMPLETED
    stored = set(Order.objects.filter(marketplace="ebay").values_list("external_id", flat=True))
    surely_in = {i for i, at in created.items() if at >= after - timedelta(days=7)}
    surely_out = {i for i, at in created.items() if at < before - timedelta(days=7)}
    assert surely_in <= stored
    assert not surely_out & stored
    # (the seeded orders fall on both sides of the window, so both checks bite)
    assert surely_in
    assert surely_out
    assert job.result_data["orders"] == len(stored)
