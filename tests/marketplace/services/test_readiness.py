"""Readiness: for products × marketplaces, ready or exactly what is missing."""

from decimal import Decimal

import pytest

from marketplace.models import CategoryMapping, MarketplaceConnection
from marketplace.models.connections import ConnectionStatus
from marketplace.services.readiness import readiness_check
from tests.factories.marketplace import (
    ConnectionFactory,
    ProductFactory,
    marketplaces_connect,
    ready_product,
)

ALL = ["ebay", "etsy", "vinted"]


def _reasons(product_id: int, marketplace: str) -> list[tuple[str, str]]:
    [result] = readiness_check(product_ids=[product_id], marketplaces=[marketplace])
    return [(reason.code, reason.field) for reason in result.reasons]


def test_a_canonical_product_with_an_image_on_set_up_connections_is_ready_everywhere(tenant):
    # given
    marketplaces_connect(ALL)
    product = ready_product()
    # when
    results = readiness_check(product_ids=[product.pk], marketplaces=ALL)
    # then
    assert [(r.product_id, r.marketplace, r.ready, r.reasons) for r in results] == [
        (product.pk, m, True, []) for m in ALL
    ]


@pytest.mark.parametrize("marketplace", ALL)
def test_no_images_is_a_reason_on_every_marketplace(tenant, marketplace):
    marketplaces_connect(ALL)
    assert _reasons(ProductFactory().pk, marketplace) == [("no_images", "images")]


@pytest.mark.parametrize("marketplace", ALL)
def test_no_category_is_a_reason_on_every_marketplace(tenant, marketplace):
    marketplaces_connect(ALL)
    product = ready_product(category=None)
    assert ("no_category", "category") in _reasons(product.pk, marketplace)


def test_a_category_without_an_etsy_mapping_is_named_for_etsy_only(tenant):
    # given the category's Etsy mapping was removed
    marketplaces_connect(ALL)
    product = ready_product()
    CategoryMapping.objects.filter(category=product.category, marketplace="etsy").delete()
    # when / then
    assert _reasons(product.pk, "etsy") == [("category_not_mapped", "category")]
    assert _reasons(product.pk, "ebay") == []


def test_an_aspect_the_ebay_category_requires_is_named(tenant):
    marketplaces_connect(ALL)
    product = ready_product(brand="")
    assert _reasons(product.pk, "ebay") == [("aspect_missing", "Brand")]


def test_a_colour_vinted_does_not_know_is_named(tenant):
    marketplaces_connect(ALL)
    product = ready_product(colours=["teal"])
    assert _reasons(product.pk, "vinted") == [("colour_not_mapped", "colours")]


def test_a_price_out_of_etsys_bounds_is_named(tenant):
    marketplaces_connect(ALL)
    product = ready_product(price=Decimal("0.10"))
    assert _reasons(product.pk, "etsy") == [("price_out_of_bounds", "price")]


@pytest.mark.parametrize("marketplace", ALL)
def test_no_connection_is_a_reason(tenant, marketplace):
    product = ready_product()
    assert _reasons(product.pk, marketplace) == [("not_connected", "connection")]


def test_a_connection_needing_reauthorisation_is_named(tenant):
    ConnectionFactory(marketplace="ebay", status=ConnectionStatus.NEEDS_REAUTH)
    product = ready_product()
    assert _reasons(product.pk, "ebay") == [("needs_reauth", "connection")]


def test_ebay_business_policies_and_location_missing_on_the_connection_are_named(tenant):
    # given an eBay connection whose setup has only a fulfillment policy
    ConnectionFactory(marketplace="ebay", setup={"fulfillment_policy_id": "1"})
    product = ready_product()
    # when / then each missing piece is named
    assert _reasons(product.pk, "ebay") == [
        ("setup_missing", "payment_policy_id"),
        ("setup_missing", "return_policy_id"),
        ("setup_missing", "merchant_location_key"),
    ]


def test_etsy_shipping_and_processing_profiles_missing_on_the_connection_are_named(tenant):
    ConnectionFactory(marketplace="etsy", setup={})
    product = ready_product()
    assert _reasons(product.pk, "etsy") == [
        ("setup_missing", "shipping_profile_id"),
        ("setup_missing", "readiness_state_id"),
    ]


def test_a_missing_product_is_named(tenant):
    marketplaces_connect(["ebay"])
    assert _reasons(2**40, "ebay") == [("no_product", "product_id")]


def test_actions_that_do_not_render_the_product_need_only_the_account(tenant):
    # given a product with nothing, on a connected eBay
    marketplaces_connect(["ebay"])
    product = ProductFactory(category=None)
    # when
    [result] = readiness_check(product_ids=[product.pk], marketplaces=["ebay"], action="delete")
    # then
    assert result.ready


def test_the_check_costs_a_fixed_number_of_queries(tenant, django_assert_max_num_queries):
    marketplaces_connect(ALL)
    ids = [ready_product().pk for _ in range(20)]
    with django_assert_max_num_queries(6):
        results = readiness_check(product_ids=ids, marketplaces=ALL)
    assert len(results) == 60
    assert MarketplaceConnection.objects.count() == 2
