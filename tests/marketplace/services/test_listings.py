"""What sync handlers record: orders_upsert (insert new orders, refresh known ones) and
listings_mark_seen (link the tenant's products to items found on a marketplace, by SKU)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from marketplace.models import Listing, Order
from marketplace.services.listings import OrderData, listings_mark_seen, orders_upsert
from marketplace.states import ListingStatus
from tests.factories.marketplace import ListingFactory, ProductFactory

pytestmark = pytest.mark.usefixtures("tenant")

AT = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def _order(external_id: str, *, status: str = "PAID", total: str = "12.50") -> OrderData:
    return OrderData(
        external_id=external_id,
        status=status,
        total=Decimal(total),
        currency="USD",
        ordered_at=AT,
        buyer="buyer_1",
        data={"orderId": external_id, "status": status},
    )


def test_orders_upsert_inserts_every_order_with_its_fields():
    # when
    count = orders_upsert(marketplace="ebay", orders=[_order("O-1"), _order("O-2", total="3")])
    # then
    assert count == 2
    rows = Order.objects.order_by("external_id").values_list(
        "marketplace", "external_id", "status", "total", "currency", "ordered_at", "buyer", "data"
    )
    assert list(rows) == [
        ("ebay", "O-1", "PAID", Decimal("12.50"), "USD", AT, "buyer_1", _order("O-1").data),
        ("ebay", "O-2", "PAID", Decimal("3.00"), "USD", AT, "buyer_1", _order("O-2").data),
    ]


def test_orders_upsert_refreshes_a_known_order_in_place():
    # given
    orders_upsert(marketplace="ebay", orders=[_order("O-1")])
    pk = Order.objects.get().pk
    # when the marketplace reports it again, shipped and refunded in part
    orders_upsert(marketplace="ebay", orders=[_order("O-1", status="FULFILLED", total="10.00")])
    # then the same row carries the new values
    assert list(Order.objects.values_list("pk", "status", "total", "data")) == [
        (pk, "FULFILLED", Decimal("10.00"), {"orderId": "O-1", "status": "FULFILLED"})
    ]


def test_orders_upsert_keeps_the_same_id_on_two_marketplaces_apart():
    # when
    orders_upsert(marketplace="ebay", orders=[_order("123")])
    orders_upsert(marketplace="etsy", orders=[_order("123", status="open")])
    # then
    rows = Order.objects.order_by("marketplace").values_list("marketplace", "status")
    assert list(rows) == [("ebay", "PAID"), ("etsy", "open")]


def test_orders_upsert_of_nothing_writes_nothing():
    # when / then
    assert orders_upsert(marketplace="ebay", orders=[]) == 0
    assert not Order.objects.exists()


def test_listings_mark_seen_links_only_the_tenants_skus():
    # given two products of the tenant; the marketplace also holds an unknown SKU
    jacket, boots = ProductFactory(sku="JACKET-1"), ProductFactory(sku="BOOTS-1")
    # when
    linked = listings_mark_seen(
        marketplace="vinted",
        external_ids_by_sku={"JACKET-1": "4000000001", "BOOTS-1": "4000000002", "NOT-MINE": "9"},
    )
    # then
    assert linked == 2
    rows = Listing.objects.order_by("product__sku").values_list(
        "product_id", "marketplace", "status", "external_id"
    )
    assert list(rows) == [
        (boots.pk, "vinted", ListingStatus.ACTIVE, "4000000002"),
        (jacket.pk, "vinted", ListingStatus.ACTIVE, "4000000001"),
    ]


def test_listings_mark_seen_reactivates_a_record_and_updates_its_id():
    # given a record that says deleted, with an old id
    listing = ListingFactory(
        product=ProductFactory(sku="JACKET-1"),
        marketplace="etsy",
        external_id="111",
        status=ListingStatus.DELETED,
    )
    # when
    listings_mark_seen(marketplace="etsy", external_ids_by_sku={"JACKET-1": "222"})
    # then
    listing.refresh_from_db()
    assert (listing.status, listing.external_id) == (ListingStatus.ACTIVE, "222")
    assert Listing.objects.count() == 1


def test_listings_mark_seen_without_an_id_keeps_the_known_one():
    # given (eBay's inventory list names SKUs, not listing ids)
    listing = ListingFactory(
        product=ProductFactory(sku="JACKET-1"), marketplace="ebay", external_id="110554000001"
    )
    # when
    listings_mark_seen(marketplace="ebay", external_ids_by_sku={"JACKET-1": ""})
    # then
    listing.refresh_from_db()
    assert (listing.status, listing.external_id) == (ListingStatus.ACTIVE, "110554000001")


def test_listings_mark_seen_leaves_other_marketplaces_records_alone():
    # given
    product = ProductFactory(sku="JACKET-1")
    ebay = ListingFactory(
        product=product, marketplace="ebay", external_id="E-1", status=ListingStatus.DELETED
    )
    # when
    listings_mark_seen(marketplace="etsy", external_ids_by_sku={"JACKET-1": "T-1"})
    # then
    ebay.refresh_from_db()
    assert (ebay.status, ebay.external_id) == (ListingStatus.DELETED, "E-1")
    assert Listing.objects.get(marketplace="etsy").external_id == "T-1"
