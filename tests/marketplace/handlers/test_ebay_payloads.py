"""eBay bodies from the canonical product through the mappings: pure functions, no database."""

from decimal import Decimal

import pytest

from marketplace.handlers.ebay import payloads
from tests.factories.mappings import CATEGORIES, canonical_product, reference_mappings

MAPPINGS = reference_mappings()
SETUP = {
    "fulfillment_policy_id": "6200000001",
    "payment_policy_id": "6200000002",
    "return_policy_id": "6200000003",
    "merchant_location_key": "default-warehouse",
}
IMAGES = [f"http://127.0.0.1/{n}.jpg" for n in range(30)]


def test_inventory_item_comes_from_the_canonical_product_through_the_mappings():
    # given a men's jacket with its parcel
    product = canonical_product(
        colours=["navy", "white"],
        length_cm=Decimal("40"),
        width_cm=Decimal("30"),
        height_cm=Decimal("5.5"),
        weight_g=900,
    )
    # when
    body = payloads.inventory_item(product, IMAGES[:2], MAPPINGS)
    # then: eBay's condition for apparel, the category's fixed aspects, mapped names
    assert body == {
        "availability": {"shipToLocationAvailability": {"quantity": 1}},
        "condition": "USED_EXCELLENT",
        "product": {
            "title": "Denim jacket",
            "description": "Lightly worn.",
            "imageUrls": IMAGES[:2],
            "aspects": {
                "Department": ["Men"],
                "Type": ["Jacket"],
                "Brand": ["Levi's"],
                "Size": ["M"],
                "Colour": ["Blue", "White"],
                "Material": ["Cotton"],
            },
        },
        "packageWeightAndSize": {
            "dimensions": {"length": 40.0, "width": 30.0, "height": 5.5, "unit": "CENTIMETER"},
            "weight": {"value": 900, "unit": "GRAM"},
        },
    }


def test_offer_carries_the_category_price_policies_and_location():
    # given / when
    body = payloads.offer(canonical_product(price=Decimal("19.995")), MAPPINGS, SETUP)
    # then
    assert body == {
        "sku": "SKU-1",
        "marketplaceId": "EBAY_US",
        "format": "FIXED_PRICE",
        "availableQuantity": 1,
        "categoryId": "57988",
        "listingDescription": "Lightly worn.",
        "pricingSummary": {"price": {"value": "20.00", "currency": "EUR"}},
        "listingPolicies": {
            "fulfillmentPolicyId": "6200000001",
            "paymentPolicyId": "6200000002",
            "returnPolicyId": "6200000003",
        },
        "merchantLocationKey": "default-warehouse",
    }


def test_title_is_cut_at_a_word_boundary_within_80_and_images_capped_at_24():
    # given
    product = canonical_product(title="Vintage Levi's trucker denim jacket " * 4)
    # when
    body = payloads.inventory_item(product, IMAGES, MAPPINGS)
    # then
    title = body["product"]["title"]
    assert len(title) <= payloads.TITLE_MAX
    assert product.title.startswith(title)
    assert title.endswith(("jacket", "Vintage", "Levi's", "trucker", "denim"))
    assert body["product"]["imageUrls"] == IMAGES[:24]


def test_shoes_send_their_size_as_us_shoe_size():
    product = canonical_product(category=CATEGORIES["mens-sneakers"], size="10")
    aspects = payloads.aspects(product, MAPPINGS)
    assert (aspects["US Shoe Size"], "Size" in aspects) == (["10"], False)


def test_product_overrides_win_over_the_mappings():
    product = canonical_product(
        attributes={"ebay_category_id": "11450", "ebay_aspects": {"Style": "Trucker"}}
    )
    assert payloads.category_id(product, MAPPINGS) == "11450"
    assert payloads.aspects(product, MAPPINGS)["Style"] == ["Trucker"]


@pytest.mark.parametrize(
    ("changes", "images", "reasons"),
    [
        pytest.param({}, 1, [], id="ready"),
        pytest.param({}, 0, [("no_images", "images")], id="no-images"),
        pytest.param({"category": None}, 1, [("no_category", "category")], id="no-category"),
        pytest.param(
            {"brand": "", "colours": []},
            1,
            [("aspect_missing", "Brand"), ("aspect_missing", "Colour")],
            id="required-aspects",
        ),
        pytest.param(
            {"condition": "mint"}, 1, [("condition_not_mapped", "condition")], id="condition"
        ),
        pytest.param({"price": Decimal("0.50")}, 1, [("price_out_of_bounds", "price")], id="price"),
    ],
)
def test_missing_names_what_ebay_would_refuse(changes, images, reasons):
    found = payloads.missing(canonical_product(**changes), MAPPINGS, has_images=bool(images))
    assert [(r.code, r.field) for r in found] == reasons
