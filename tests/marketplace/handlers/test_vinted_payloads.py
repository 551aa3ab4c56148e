"""Vinted item bodies and the product marker: pure functions, no database, no network."""

import uuid
from decimal import Decimal

import pytest

from marketplace.handlers.vinted import payloads
from tests.factories.marketplace import ProductFactory


def _product(**kwargs):
    defaults = {
        "sku": "SKU-1",
        "title": "Denim jacket",
        "description": "Lightly worn.",
        "price": Decimal("25.00"),
        "currency": "EUR",
        "condition": "used_good",
    }
    return ProductFactory.build(**{**defaults, **kwargs})


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


def test_item_fields_carry_vinted_defaults():
    # given / when
    fields = payloads.item_fields(_product())
    # then
    assert fields == {
        "title": "Denim jacket",
        "description": "Lightly worn.\n\n[ref:SKU-1]",
        "price": "25.00",
        "currency": "EUR",
        "catalog_id": 1206,
        "status_id": 3,
        "package_size_id": 2,
    }


def test_item_fields_take_the_products_vinted_attributes_and_limits():
    # given
    product = _product(
        title="x" * 150,
        price=Decimal("7.5"),
        attributes={
            "vinted_catalog_id": "1900",
            "vinted_package_size_id": 3,
            "vinted_brand_id": "53",
            "vinted_size_id": 208,
        },
    )
    # when
    fields = payloads.item_fields(product)
    # then
    assert fields["title"] == "x" * 100
    assert (fields["price"], fields["catalog_id"], fields["package_size_id"]) == ("7.50", 1900, 3)
    assert (fields["brand_id"], fields["size_id"]) == (53, 208)


@pytest.mark.parametrize(
    ("condition", "status_id"),
    [
        pytest.param("new_with_tags", 6, id="new-with-tags"),
        pytest.param("new_without_tags", 1, id="new-without-tags"),
        pytest.param("used_excellent", 2, id="used-excellent"),
        pytest.param("used_good", 3, id="used-good"),
        pytest.param("used_acceptable", 4, id="used-acceptable"),
        pytest.param("something_else", 3, id="unknown-is-good"),
    ],
)
def test_item_condition_maps_to_vinted_status_id(condition, status_id):
    # given / when
    fields = payloads.item_fields(_product(condition=condition))
    # then
    assert fields["status_id"] == status_id


def test_item_fields_leave_out_brand_and_size_without_attributes():
    # given / when
    fields = payloads.item_fields(_product(attributes={}))
    # then
    assert "brand_id" not in fields
    assert "size_id" not in fields


def test_item_upload_assigns_photos_in_order_with_a_fresh_session():
    # given
    product = _product()
    # when
    first = payloads.item_upload(product, [17_000_000_002, 17_000_000_001])
    second = payloads.item_upload(product, [17_000_000_002, 17_000_000_001])
    # then
    assert first["item"] == {
        **payloads.item_fields(product),
        "assigned_photos": [
            {"id": 17_000_000_002, "orientation": 0},
            {"id": 17_000_000_001, "orientation": 0},
        ],
    }
    assert first["feedback_id"] is None
    assert uuid.UUID(first["upload_session_id"]).version == 4
    assert first["upload_session_id"] != second["upload_session_id"]


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
