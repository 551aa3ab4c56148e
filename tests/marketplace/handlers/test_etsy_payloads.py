"""Etsy payloads, error parsing and step plans: pure functions, no database, no network."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from core.errors import PermanentMarketplaceError
from marketplace.handlers.base import JobContext
from marketplace.handlers.etsy import client as etsy_client
from marketplace.handlers.etsy import payloads
from marketplace.handlers.etsy.client import EtsyClient
from marketplace.handlers.etsy.handler import EtsyPublish, EtsyUpdate
from marketplace.handlers.etsy.orders import order_input
from marketplace.models import Listing, MarketplaceJob
from marketplace.states import ListingStatus
from sales.services.orders import LineData, OrderInput
from tests.factories.mappings import canonical_product, reference_mappings

MAPPINGS = reference_mappings()
SETUP = {"shipping_profile_id": "190000001", "readiness_state_id": "1400000001"}


def _product(**kwargs):
    return canonical_product(**kwargs)


def _response(status: int, body: bytes, content_type: str = "application/json"):
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers["Content-Type"] = content_type
    response.reason = "Bad Request"
    return response


def _context(*, images: int = 0, listing: Listing | None = None) -> JobContext:
    return JobContext(
        job=MarketplaceJob(input_data={}),
        tenant_schema="shop",
        product=_product(),
        listing=listing,
        image_urls=[f"http://127.0.0.1/{n}.jpg" for n in range(images)],
    )


# --- request bodies --------------------------------------------------------------------------


def test_draft_listing_comes_from_the_canonical_product_through_the_mappings():
    # given / when
    body = payloads.draft_listing(
        _product(description="Lightly worn.", quantity=2),
        MAPPINGS,
        {**SETUP, "return_policy_id": "77"},
    )
    # then: Etsy's required fields, the taxonomy node of the category, the shop's profiles,
    # tags from what describes the product
    assert body == {
        "quantity": "2",
        "title": "Denim jacket",
        "description": "Lightly worn.",
        "price": "25.00",
        "who_made": "someone_else",
        "when_made": "2010_2019",
        "taxonomy_id": "449",
        "is_supply": "false",
        "type": "physical",
        "sku": "SKU-1",
        "shipping_profile_id": "190000001",
        "readiness_state_id": "1400000001",
        "return_policy_id": "77",
        "tags": "Levi's,Men's coats jackets,Blue,Cotton,size M",
        "materials": "Cotton",
    }


def test_draft_listing_takes_product_overrides_and_etsy_limits():
    # given
    product = _product(
        title="word " * 40,
        description="",
        attributes={
            "etsy_who_made": "i_did",
            "etsy_when_made": "made_to_order",
            "etsy_taxonomy_id": 1429,
            "etsy_tags": [f"tag{n}" for n in range(15)] + ["a tag far longer than twenty"],
        },
    )
    # when
    body = payloads.draft_listing(product, MAPPINGS, SETUP)
    # then
    assert len(body["title"]) <= payloads.TITLE_MAX
    assert body["title"].endswith("word")
    assert body["description"] == product.title.strip()
    assert (body["who_made"], body["when_made"], body["taxonomy_id"]) == (
        "i_did",
        "made_to_order",
        "1429",
    )
    assert body["tags"] == ",".join(f"tag{n}" for n in range(13))


def test_tags_are_at_most_thirteen_of_at_most_twenty_characters_without_refused_signs():
    # given
    product = _product(attributes={"etsy_tags": ["Levi's® 501 (vintage!) denim jacket", "ok"]})
    # when
    tags = payloads.tags(product, MAPPINGS)
    # then
    assert tags[:2] == ["Levi's® 501 vintage", "ok"]
    assert len(tags) <= payloads.TAGS_MAX
    assert all(len(tag) <= payloads.TAG_LENGTH_MAX for tag in tags)


@pytest.mark.parametrize(
    ("changes", "images", "codes"),
    [
        pytest.param({}, 1, [], id="ready"),
        pytest.param({}, 0, ["no_images"], id="no-images"),
        pytest.param({"category": None}, 1, ["no_category"], id="no-category"),
        pytest.param({"price": Decimal("0.10")}, 1, ["price_out_of_bounds"], id="price"),
    ],
)
def test_missing_names_what_etsy_would_refuse(changes, images, codes):
    reasons = payloads.missing(_product(**changes), MAPPINGS, has_images=bool(images))
    assert [r.code for r in reasons] == codes


def test_listing_update_leaves_price_and_quantity_to_the_inventory():
    # given / when
    body = payloads.listing_update(_product(description="Blue."), MAPPINGS)
    # then
    assert body == {
        "title": "Denim jacket",
        "description": "Blue.",
        "tags": "Levi's,Men's coats jackets,Blue,Cotton,size M",
    }


def test_inventory_is_one_product_with_one_offering():
    # given / when
    body = payloads.inventory(_product(price=Decimal("19.90"), quantity=3))
    # then
    assert body == {
        "products": [
            {
                "sku": "SKU-1",
                "property_values": [],
                "offerings": [{"price": 19.9, "quantity": 3, "is_enabled": True}],
            }
        ],
        "price_on_property": [],
        "quantity_on_property": [],
        "sku_on_property": [],
    }
    assert json.loads(json.dumps(body)) == body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"amount": 1999, "divisor": 100}, Decimal("19.99"), id="cents"),
        pytest.param({"amount": 5, "divisor": 1}, Decimal(5), id="units"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_money_is_amount_over_divisor(value, expected):
    assert payloads.money(value) == expected


def test_receipt_becomes_an_order_with_its_lines():
    # given
    receipt = {
        "receipt_id": 3000000001,
        "status": "paid",
        "name": "Buyer 42",
        "buyer_user_id": 42,
        "created_timestamp": 1_760_000_000,
        "grandtotal": {"amount": 4550, "divisor": 100, "currency_code": "USD"},
        "transactions": [
            {"transaction_id": 77, "listing_id": 901, "sku": "SKU-1", "quantity": 2, "title": "A"}
        ],
    }
    # when
    order = order_input(receipt)
    # then
    assert order == OrderInput(
        external_id="3000000001",
        status="paid",
        total=Decimal("45.5"),
        currency="USD",
        ordered_at=datetime.fromtimestamp(1_760_000_000, tz=UTC),
        buyer="Buyer 42",
        data=receipt,
        lines=(
            LineData(line_id="77", quantity=2, sku="SKU-1", external_listing_id="901", title="A"),
        ),
    )


def test_shop_changes_keeps_etsy_fields():
    assert payloads.shop_changes({"announcement": "Closed", "title": 7}) == {
        "announcement": "Closed",
        "title": "7",
    }


@pytest.mark.parametrize(
    ("input_data", "unknown"),
    [
        pytest.param({"currency": "EUR", "title": "A"}, ["currency"], id="unknown-field"),
        pytest.param({}, [], id="nothing-to-change"),
    ],
)
def test_shop_changes_refuses_what_etsy_would_refuse(input_data, unknown):
    with pytest.raises(PermanentMarketplaceError) as caught:
        payloads.shop_changes(input_data)
    assert caught.value.details == {"unknown_fields": unknown}


# --- client ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(
            _response(400, b'{"error":"Invalid value for taxonomy_id."}'),
            "Invalid value for taxonomy_id.",
            id="api-error",
        ),
        pytest.param(
            _response(401, b'{"error":"invalid_token","error_description":"expired"}'),
            "invalid_token: expired",
            id="oauth-error",
        ),
        pytest.param(
            _response(502, b"<html>bad gateway</html>", "text/html"),
            "<html>bad gateway</html>",
            id="html",
        ),
        pytest.param(_response(400, b""), "Bad Request", id="empty"),
    ],
)
def test_error_message_reads_etsy_error_body(response, message):
    client = EtsyClient(base_url="http://127.0.0.1/v3", shop_id="1", credentials=None)
    assert client.error_message(response) == message


def test_refresh_sends_the_keystring_as_client_id(settings, monkeypatch):
    # given: an API key in Etsy's `keystring:shared_secret` form
    settings.ETSY_API_KEY = "abc123:s3cret"
    settings.ETSY_TOKEN_URL = "http://127.0.0.1:1/v3/public/oauth/token"
    sent = {}
    monkeypatch.setattr(etsy_client, "token_request", lambda **kwargs: sent.update(kwargs))
    # when
    etsy_client.refresh_access_token("user.refresh")
    # then
    assert sent == {
        "marketplace": "etsy",
        "url": "http://127.0.0.1:1/v3/public/oauth/token",
        "data": {
            "grant_type": "refresh_token",
            "client_id": "abc123",
            "refresh_token": "user.refresh",
        },
    }


# --- plans -----------------------------------------------------------------------------------


def test_publish_plans_one_upload_per_image_between_create_and_activate():
    # given / when
    plan = EtsyPublish().plan(_context(images=3))
    # then
    assert [(step.name, step.description) for step in plan] == [
        ("create_draft", "Create the draft listing"),
        ("set_inventory", "Set the SKU, price and quantity"),
        ("upload_image_1", "Upload image 1/3"),
        ("upload_image_2", "Upload image 2/3"),
        ("upload_image_3", "Upload image 3/3"),
        ("activate", "Activate the listing"),
    ]
    assert plan[3].payload == {"url": "http://127.0.0.1/1.jpg", "rank": 2}


def test_publish_plans_at_most_ten_uploads():
    plan = EtsyPublish().plan(_context(images=12))
    assert plan[-2].description == "Upload image 10/10"


def test_publish_plans_nothing_for_an_active_listing():
    listing = Listing(status=ListingStatus.ACTIVE, external_id="1500000001")
    assert EtsyPublish().plan(_context(images=1, listing=listing)) == []


def test_publish_without_images_is_refused_before_any_call():
    with pytest.raises(PermanentMarketplaceError, match="at least one image"):
        EtsyPublish().plan(_context())


@pytest.mark.parametrize(
    ("recorded", "steps"),
    [
        pytest.param(
            {"price": "25.00", "quantity": 1}, ["update_listing"], id="same-price-and-quantity"
        ),
        pytest.param(
            {"price": "20.00", "quantity": 1},
            ["update_listing", "update_inventory"],
            id="price-changed",
        ),
        pytest.param({}, ["update_listing", "update_inventory"], id="terms-unknown"),
    ],
)
def test_update_touches_the_inventory_only_when_price_or_quantity_changed(recorded, steps):
    listing = Listing(status=ListingStatus.ACTIVE, external_id="1", data=recorded)
    plan = EtsyUpdate().plan(_context(listing=listing))
    assert [step.name for step in plan] == steps
