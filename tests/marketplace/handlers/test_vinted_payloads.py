"""Vinted item bodies and the product marker: pure functions, no database, no network."""

import uuid
from decimal import Decimal

import pytest

from marketplace.handlers.vinted import payloads
from tests.factories.mappings import canonical_product, reference_mappings

MAPPINGS = reference_mappings()


def _product(**kwargs):
    return canonical_product(**kwargs)


def test_description_ends_with_the_products_marker():
    # given / when
    text = payloads.description(_product(description="  Lightly worn.  "))
    # then
    assert text == "Lightly worn.\n\n[ref:SKU-1]"


def test_description_falls_back_to_the_title():
    # given / when
    text = payloads.description(_product(description=""))
    # then
    assert text == "Denim jacket\n\n[ref:SKU-1]"


def test_a_long_description_is_shortened_but_keeps_its_marker():
    # given / when
    text = payloads.description(_product(description="word " * 1000))
    # then
    assert len(text) <= payloads.DESCRIPTION_MAX
    assert text.endswith("word\n\n[ref:SKU-1]")


def test_item_fields_come_from_the_canonical_product_through_the_mappings():
    # given a men's jacket, Levi's, size M, blue and navy, 800 g
    product = _product(colours=["blue", "navy", "black"], weight_g=800)
    # when
    fields = payloads.item_fields(product, MAPPINGS)
    # then catalog, status, brand, size and colour ids are Vinted's; at most two colours
    assert fields == {
        "title": "Denim jacket",
        "description": "Lightly worn.\n\n[ref:SKU-1]",
        "price": "25.00",
        "currency": "EUR",
        "catalog_id": 1206,
        "status_id": 3,
        "package_size_id": 1,
        "color_ids": [9, 27],
        "brand_id": 10,
        "size_id": 208,
    }


def test_item_fields_take_the_products_vinted_overrides_and_limits():
    # given
    product = _product(
        title="word " * 40,
        price=Decimal("7.499"),
        attributes={
            "vinted_catalog_id": "1900",
            "vinted_package_size_id": 3,
            "vinted_brand_id": "53",
            "vinted_size_id": 208,
            "vinted_color_ids": [1, 2, 3],
        },
    )
    # when
    fields = payloads.item_fields(product, MAPPINGS)
    # then the title is cut at a word boundary within 100 characters; price rounded half up
    assert len(fields["title"]) <= payloads.TITLE_MAX
    assert fields["title"].endswith("word")
    assert (fields["price"], fields["catalog_id"], fields["package_size_id"]) == ("7.50", 1900, 3)
    assert (fields["brand_id"], fields["size_id"], fields["color_ids"]) == (53, 208, [1, 2])


@pytest.mark.parametrize(
    ("condition", "status_id"),
    [
        pytest.param("new_with_tags", 6, id="new-with-tags"),
        pytest.param("new_without_tags", 1, id="new-without-tags"),
        pytest.param("used_excellent", 2, id="used-excellent"),
        pytest.param("used_good", 3, id="used-good"),
        pytest.param("used_acceptable", 4, id="used-acceptable"),
    ],
)
def test_item_condition_maps_to_vinted_status_id(condition, status_id):
    # given / when
    fields = payloads.item_fields(_product(condition=condition), MAPPINGS)
    # then
    assert fields["status_id"] == status_id


def test_an_unmapped_brand_travels_as_text_and_an_unmapped_size_is_left_out():
    # given / when
    fields = payloads.item_fields(_product(brand="Unknown Maker", size="XXS"), MAPPINGS)
    # then
    assert (fields["brand"], "brand_id" in fields, "size_id" in fields) == (
        "Unknown Maker",
        False,
        False,
    )


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        pytest.param({}, [], id="ready"),
        pytest.param({"category": None}, ["no_category"], id="no-category"),
        pytest.param({"condition": "mint"}, ["condition_not_mapped"], id="condition"),
        pytest.param({"colours": ["teal"]}, ["colour_not_mapped"], id="colour"),
        pytest.param({"price": Decimal("0.50")}, ["price_out_of_bounds"], id="price"),
    ],
)
def test_missing_names_what_vinted_would_refuse(changes, codes):
    # given / when
    reasons = payloads.missing(_product(**changes), MAPPINGS, has_images=True)
    # then
    assert [reason.code for reason in reasons] == codes


def test_missing_names_a_product_without_photos():
    reasons = payloads.missing(_product(), MAPPINGS, has_images=False)
    assert [(r.code, r.field) for r in reasons] == [("no_images", "images")]


def test_item_upload_assigns_photos_in_order_with_a_fresh_session():
    # given
    product = _product()
    # when
    first = payloads.item_upload(product, [17_000_000_002, 17_000_000_001], MAPPINGS)
    second = payloads.item_upload(product, [17_000_000_002, 17_000_000_001], MAPPINGS)
    # then
    assert first["item"] == {
        **payloads.item_fields(product, MAPPINGS),
        "assigned_photos": [
            {"id": 17_000_000_002, "orientation": 0},
            {"id": 17_000_000_001, "orientation": 0},
        ],
    }
    assert first["feedback_id"] is None
    assert uuid.UUID(first["upload_session_id"]).version == 4
    assert first["upload_session_id"] != second["upload_session_id"]


def test_images_are_ordered_without_repeats_and_capped_at_twenty():
    urls = [f"http://127.0.0.1/{n}.jpg" for n in range(25)]
    assert payloads.images([urls[1], urls[1], *urls]) == [urls[1], urls[0], *urls[2:20]]


def test_sku_of_reads_the_marker_back():
    # given an item as Vinted returns it, with the description Relist sent
    item = {"id": 4_000_000_001, "description": payloads.description(_product(sku="AB-12/x"))}
    # when / then
    assert payloads.sku_of(item) == "AB-12/x"


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"id": 1, "description": "A jacket without marker"}, id="no-marker"),
        pytest.param({"id": 1}, id="no-description"),
        pytest.param({"id": 1, "description": None}, id="null-description"),
        pytest.param({"id": 1, "description": "[ref:]"}, id="empty-marker"),
    ],
)
def test_sku_of_is_none_without_a_marker(item):
    # given / when / then
    assert payloads.sku_of(item) is None


def test_sku_of_takes_the_first_marker():
    # given a description quoting two markers
    item = {"description": "see [ref:SKU-1] and [ref:SKU-2]"}
    # when / then
    assert payloads.sku_of(item) == "SKU-1"
