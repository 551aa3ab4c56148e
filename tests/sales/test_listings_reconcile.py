"""Onboarding and listing reconciliation: `listings_reconcile`, as the listing syncs call it."""

from decimal import Decimal

import pytest

from core.errors import InvalidTransition
from marketplace.models import Listing, Product
from marketplace.states import ListingStatus
from sales.models import LinkReview
from sales.services.imports import (
    ImportedItem,
    link_review_confirm,
    link_review_split,
    listings_reconcile,
)
from tests.factories.marketplace import ListingFactory, ProductFactory


def _item(external_id: str = "E1", **kwargs) -> ImportedItem:
    defaults = {"title": "Wool coat", "price": Decimal("80.00"), "url": f"https://m/{external_id}"}
    return ImportedItem(external_id=external_id, **{**defaults, **kwargs})


def test_unknown_items_are_imported_as_products_with_their_listing(tenant):
    # when
    done = listings_reconcile(
        marketplace="vinted",
        items=[_item("V1", image_urls=("https://img/1.jpg", "https://img/2.jpg"), quantity=2)],
        import_unknown=True,
    )
    # then
    assert (done.items, done.imported, done.linked_products, done.to_review) == (1, 1, 0, 0)
    product = Product.objects.get()
    assert (product.sku, product.title, product.price, product.quantity) == (
        "VINTED-V1",
        "Wool coat",
        Decimal("80.00"),
        2,
    )
    assert list(product.images.values_list("url", flat=True)) == [
        "https://img/1.jpg",
        "https://img/2.jpg",
    ]
    listing = Listing.objects.get()
    assert (listing.marketplace, listing.external_id, listing.status) == (
        "vinted",
        "V1",
        ListingStatus.ACTIVE,
    )


def test_re_importing_changes_nothing(tenant):
    items = [_item("V1"), _item("V2", title="Silk scarf", price=Decimal("20.00"))]
    listings_reconcile(marketplace="vinted", items=items, import_unknown=True)
    before = list(Listing.objects.order_by("pk").values_list("pk", "product_id", "external_id"))
    # when
    again = listings_reconcile(marketplace="vinted", items=items, import_unknown=True)
    # then
    assert (again.imported, again.to_review, again.ended) == (0, 0, 0)
    assert Product.objects.count() == 2
    after = list(Listing.objects.order_by("pk").values_list("pk", "product_id", "external_id"))
    assert after == before


@pytest.mark.parametrize(
    "given",
    [
        pytest.param({"sku": "COAT-1"}, id="by-sku"),
        pytest.param({"description": "Warm. [ref:COAT-1]"}, id="by-marker"),
    ],
)
def test_the_same_item_links_across_marketplaces(tenant, given):
    # given: the coat is Relist's, listed on eBay
    product = ProductFactory(sku="COAT-1")
    ListingFactory(product=product, marketplace="ebay")
    # when: Etsy shows it too
    done = listings_reconcile(marketplace="etsy", items=[_item("T9", **given)], import_unknown=True)
    # then
    assert (done.linked_products, done.imported) == (1, 0)
    assert set(product.listings.values_list("marketplace", "external_id")) == {
        ("ebay", product.listings.get(marketplace="ebay").external_id),
        ("etsy", "T9"),
    }
    assert Product.objects.count() == 1


def test_a_title_and_price_match_is_linked_but_queued_for_review(tenant):
    # given: a product with the same title and price, not on Vinted, and no SKU in common
    product = ProductFactory(title="Wool  Coat", price=Decimal("80.00"))
    # when
    done = listings_reconcile(marketplace="vinted", items=[_item("V7")], import_unknown=True)
    # then
    assert (done.to_review, done.imported) == (1, 0)
    review = LinkReview.objects.get()
    assert (review.product_id, review.listing.product_id, review.status) == (
        product.pk,
        product.pk,
        "pending",
    )


def test_a_review_is_confirmed_once(tenant):
    ProductFactory(title="Wool coat", price=Decimal("80.00"))
    listings_reconcile(marketplace="vinted", items=[_item("V7")], import_unknown=True)
    review = link_review_confirm(review_id=LinkReview.objects.get().pk)
    assert review.status == "confirmed"
    with pytest.raises(InvalidTransition):
        link_review_split(review_id=review.pk)


def test_a_split_review_makes_the_item_its_own_product(tenant):
    # given
    product = ProductFactory(title="Wool coat", price=Decimal("80.00"))
    listings_reconcile(marketplace="vinted", items=[_item("V7")], import_unknown=True)
    # when
    review = link_review_split(review_id=LinkReview.objects.get().pk)
    # then
    listing = Listing.objects.get(marketplace="vinted")
    assert listing.product_id != product.pk
    assert (review.status, review.product_id) == ("split", listing.product_id)
    assert listing.product.sku == "VINTED-V7"
    assert not product.listings.exists()


def test_without_import_unknown_items_are_left_alone(tenant):
    done = listings_reconcile(marketplace="etsy", items=[_item("T1")], import_unknown=False)
    assert (done.imported, done.linked_products) == (0, 0)
    assert not Product.objects.exists()


def test_listings_gone_from_the_marketplace_are_marked_ended(tenant):
    # given: two active Etsy listings; the marketplace now shows only one
    kept = ListingFactory(marketplace="etsy", external_id="T1")
    gone = ListingFactory(marketplace="etsy", external_id="T2")
    # when
    done = listings_reconcile(marketplace="etsy", items=[_item("T1")])
    # then
    assert done.ended == 1
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert (kept.status, gone.status) == (ListingStatus.ACTIVE, ListingStatus.ENDED)
