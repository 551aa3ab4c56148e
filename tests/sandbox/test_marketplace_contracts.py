"""The sandboxes hold the marketplaces' documented contracts for every call the handlers make
(MARKETPLACES §5-6): each call is listed with its documentation, each exists in its sandbox, and
the sandboxes refuse what the real APIs refuse, in the real error shapes."""

import asyncio
from typing import Any

import pytest
import requests

from sandbox.ebay import EbaySandbox
from sandbox.ebay.account import DEFAULT_LOCATION
from sandbox.etsy import EtsySandbox
from sandbox.etsy.profiles import READINESS_STATE_ID, RETURN_POLICY_ID, SHIPPING_PROFILE_ID
from sandbox.vinted.account import VintedAccount
from sandbox.vinted.api import VintedApi
from tests.sandbox.conftest import INVENTORY, POLICY_IDS

EBAY_DOCS = "https://developer.ebay.com/api-docs"
ITEM_DOCS = f"{EBAY_DOCS}/sell/inventory/resources/inventory_item/methods"
OFFER_DOCS = f"{EBAY_DOCS}/sell/inventory/resources/offer/methods"
ACCOUNT = "/sell/account/v1"
ACCOUNT_DOCS = f"{EBAY_DOCS}/sell/account/resources"
POLICY_DOCS = {
    kind: f"{ACCOUNT_DOCS}/{kind}_policy/methods/get{kind.capitalize()}Policies"
    for kind in ("fulfillment", "payment", "return")
}
ORDER_DOCS = f"{EBAY_DOCS}/sell/fulfillment/resources/order/methods/getOrders"
LOCATION_DOCS = f"{EBAY_DOCS}/sell/inventory/resources/location/methods/getInventoryLocations"
SHOP = "/v3/application/shops/1"
ETSY_DOCS = "https://developers.etsy.com/documentation/reference#operation"
READINESS_DOCS = f"{ETSY_DOCS}/getShopReadinessStateDefinitions"
ETSY_AUTH_DOCS = "https://developers.etsy.com/documentation/essentials/authentication"
# Vinted has no public API: its contract is the web app's, as MARKETPLACES §4 and §6 record it.
VINTED_DOCS = "../shared/MARKETPLACES.md#4-vinted-plugin-protocol"

# Every call a handler, client or account-setup read makes: (method, path, documentation).
CONTRACT: dict[str, list[tuple[str, str, str]]] = {
    "ebay": [
        ("POST", "/identity/v1/oauth2/token", f"{EBAY_DOCS}/static/oauth-tokens.html"),
        ("PUT", f"{INVENTORY}/inventory_item/SKU-1", f"{ITEM_DOCS}/createOrReplaceInventoryItem"),
        ("DELETE", f"{INVENTORY}/inventory_item/SKU-1", f"{ITEM_DOCS}/deleteInventoryItem"),
        ("GET", f"{INVENTORY}/inventory_item", f"{ITEM_DOCS}/getInventoryItems"),
        ("GET", f"{INVENTORY}/offer", f"{OFFER_DOCS}/getOffers"),
        ("POST", f"{INVENTORY}/offer", f"{OFFER_DOCS}/createOffer"),
        ("PUT", f"{INVENTORY}/offer/1", f"{OFFER_DOCS}/updateOffer"),
        ("POST", f"{INVENTORY}/offer/1/publish", f"{OFFER_DOCS}/publishOffer"),
        ("POST", f"{INVENTORY}/offer/1/withdraw", f"{OFFER_DOCS}/withdrawOffer"),
        ("GET", f"{INVENTORY}/location", LOCATION_DOCS),
        ("GET", f"{ACCOUNT}/fulfillment_policy", POLICY_DOCS["fulfillment"]),
        ("GET", f"{ACCOUNT}/payment_policy", POLICY_DOCS["payment"]),
        ("GET", f"{ACCOUNT}/return_policy", POLICY_DOCS["return"]),
        ("GET", "/sell/fulfillment/v1/order", ORDER_DOCS),
    ],
    "etsy": [
        ("POST", "/v3/public/oauth/token", ETSY_AUTH_DOCS),
        ("GET", "/v3/application/users/me", f"{ETSY_DOCS}/getMe"),
        ("POST", f"{SHOP}/listings", f"{ETSY_DOCS}/createDraftListing"),
        ("PATCH", f"{SHOP}/listings/2", f"{ETSY_DOCS}/updateListing"),
        ("DELETE", "/v3/application/listings/2", f"{ETSY_DOCS}/deleteListing"),
        ("GET", "/v3/application/listings/2", f"{ETSY_DOCS}/getListing"),
        ("GET", f"{SHOP}/listings", f"{ETSY_DOCS}/getListingsByShop"),
        ("PUT", "/v3/application/listings/2/inventory", f"{ETSY_DOCS}/updateListingInventory"),
        ("GET", "/v3/application/listings/2/images", f"{ETSY_DOCS}/getListingImages"),
        ("POST", f"{SHOP}/listings/2/images", f"{ETSY_DOCS}/uploadListingImage"),
        ("GET", SHOP, f"{ETSY_DOCS}/getShop"),
        ("PUT", SHOP, f"{ETSY_DOCS}/updateShop"),
        ("GET", f"{SHOP}/receipts", f"{ETSY_DOCS}/getShopReceipts"),
        ("GET", f"{SHOP}/shipping-profiles", f"{ETSY_DOCS}/getShopShippingProfiles"),
        ("GET", f"{SHOP}/readiness-state-definitions", READINESS_DOCS),
        ("GET", f"{SHOP}/policies/return", f"{ETSY_DOCS}/getShopReturnPolicies"),
    ],
    "vinted": [
        ("GET", "/api/v2/users/current", VINTED_DOCS),
        ("POST", "/api/v2/photos", VINTED_DOCS),
        ("POST", "/api/v2/item_upload/items", VINTED_DOCS),
        ("PUT", "/api/v2/item_upload/items/1", VINTED_DOCS),
        ("POST", "/api/v2/items/1/delete", VINTED_DOCS),
        ("GET", "/api/v2/wardrobe/1/items", VINTED_DOCS),
        ("GET", "/api/v2/my_orders", VINTED_DOCS),
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "doc"),
    [pytest.param(*call, id=f"{call[0]} {call[1]}") for call in CONTRACT["ebay"]],
)
def test_every_ebay_call_exists_in_the_sandbox(ebay_sandbox: EbaySandbox, method, path, doc):
    assert doc.startswith("https://developer.ebay.com/")
    assert ebay_sandbox.router.match(method, path).route is not None


@pytest.mark.parametrize(
    ("method", "path", "doc"),
    [pytest.param(*call, id=f"{call[0]} {call[1]}") for call in CONTRACT["etsy"]],
)
def test_every_etsy_call_exists_in_the_sandbox(etsy_sandbox: EtsySandbox, method, path, doc):
    assert doc.startswith("https://developers.etsy.com/")
    assert etsy_sandbox.router.match(method, path).route is not None


@pytest.mark.parametrize(
    ("method", "path", "doc"),
    [pytest.param(*call, id=f"{call[0]} {call[1]}") for call in CONTRACT["vinted"]],
)
def test_every_vinted_call_exists_in_the_simulator(method, path, doc):
    api = VintedApi(VintedAccount(), fetch_photos=False)
    answer = asyncio.run(api.handle(method, path, body={}))
    assert (answer.status, answer.error) not in {(404, "not found"), (405, "method not allowed")}


# --- eBay ----------------------------------------------------------------------------------


def _ebay_error(response: requests.Response) -> tuple[int, int, str]:
    error = response.json()["errors"][0]
    field = next((p["value"] for p in error.get("parameters", []) if p["name"] == "fieldName"), "")
    return response.status_code, error["errorId"], field


def _publish(ebay_sandbox, http, headers, offer_body) -> requests.Response:
    created = http.post(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer", json=offer_body, headers=headers
    )
    offer_id = created.json()["offerId"]
    return http.post(
        f"{ebay_sandbox.base_url}{INVENTORY}/offer/{offer_id}/publish", headers=headers
    )


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        pytest.param(
            lambda o: o.pop("listingPolicies"),
            (400, 25007, "listingPolicies.fulfillmentPolicyId"),
            id="no-policies",
        ),
        pytest.param(
            lambda o: o["listingPolicies"].update(paymentPolicyId="999"),
            (400, 25008, "listingPolicies.paymentPolicyId"),
            id="unknown-payment-policy",
        ),
        pytest.param(
            lambda o: o["listingPolicies"].pop("returnPolicyId"),
            (400, 25009, "listingPolicies.returnPolicyId"),
            id="no-return-policy",
        ),
        pytest.param(
            lambda o: o.pop("merchantLocationKey"),
            (400, 25002, "merchantLocationKey"),
            id="no-location",
        ),
        pytest.param(
            lambda o: o.update(merchantLocationKey="nowhere"),
            (400, 25002, "merchantLocationKey"),
            id="unknown-location",
        ),
    ],
)
def test_ebay_refuses_to_publish_an_offer_without_policies_or_location(
    ebay_sandbox, http, ebay_headers, ebay_put_item, ebay_offer, change, refusal
):
    # given an item and an offer lacking one piece of account setup
    ebay_put_item("SKU-1")
    body = ebay_offer("SKU-1")
    change(body)
    # when it is published
    response = _publish(ebay_sandbox, http, ebay_headers, body)
    # then eBay's error, and no listing
    assert _ebay_error(response) == refusal
    assert ebay_sandbox.stats()["listings_created"] == {}


def test_ebay_refuses_to_publish_without_an_aspect_the_category_requires(
    ebay_sandbox, http, ebay_headers, ebay_put_item, ebay_offer
):
    # given a men's jacket (57988) whose item has no Brand
    ebay_put_item("SKU-1")
    body = {**ebay_offer("SKU-1"), "categoryId": "57988"}
    # when / then
    response = _publish(ebay_sandbox, http, ebay_headers, body)
    assert _ebay_error(response) == (400, 25002, "product.aspects.Brand")
    assert "The item specific Brand is missing" in response.json()["errors"][0]["message"]


def test_ebay_refuses_a_title_over_80_characters(ebay_sandbox, http, ebay_headers, ebay_item):
    ebay_item["product"]["title"] = "x" * 81
    response = http.put(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1",
        json=ebay_item,
        headers=ebay_headers,
    )
    assert _ebay_error(response) == (400, 25709, "product.title")


def test_ebay_account_lists_the_sellers_policies_and_locations(ebay_sandbox, http, ebay_headers):
    # when the account setup is read, as Relist does at connect time
    base = ebay_sandbox.base_url
    policies = {
        kind: http.get(
            f"{base}/sell/account/v1/{kind}_policy",
            params={"marketplace_id": "EBAY_US"},
            headers=ebay_headers,
        ).json()
        for kind in ("fulfillment", "payment", "return")
    }
    locations = http.get(f"{base}{INVENTORY}/location", headers=ebay_headers).json()
    no_marketplace = http.get(f"{base}/sell/account/v1/payment_policy", headers=ebay_headers)
    # then one of each, and the marketplace is required
    assert (
        policies["fulfillment"]["fulfillmentPolicies"][0]["fulfillmentPolicyId"]
        == (POLICY_IDS["fulfillment"])
    )
    assert policies["payment"]["total"] == policies["return"]["total"] == 1
    assert [loc["merchantLocationKey"] for loc in locations["locations"]] == [DEFAULT_LOCATION]
    assert _ebay_error(no_marketplace) == (400, 20401, "marketplace_id")


def test_ebay_creates_an_inventory_location_with_an_address(ebay_sandbox, http, ebay_headers):
    base = f"{ebay_sandbox.base_url}{INVENTORY}/location"
    bad = http.post(f"{base}/shop-2", json={"location": {"address": {}}}, headers=ebay_headers)
    good = http.post(
        f"{base}/shop-2",
        json={"name": "Shop", "location": {"address": {"country": "FR", "postalCode": "75011"}}},
        headers=ebay_headers,
    )
    keys = [
        loc["merchantLocationKey"]
        for loc in http.get(base, headers=ebay_headers).json()["locations"]
    ]
    assert (_ebay_error(bad)[:2], good.status_code, keys) == (
        (400, 25709),
        204,
        [DEFAULT_LOCATION, "shop-2"],
    )


# --- Etsy ----------------------------------------------------------------------------------


def _upload(http, headers, listing_url, jpeg) -> None:
    files = {"image": ("1.jpg", jpeg, "image/jpeg")}
    assert http.post(f"{listing_url}/images", files=files, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("left_out", "message"),
    [
        pytest.param(
            "shipping_profile_id",
            "A physical listing must have a shipping profile before it can be activated.",
            id="no-shipping-profile",
        ),
        pytest.param(
            "readiness_state_id",
            "A physical listing must have a processing profile (readiness_state_id) before "
            "it can be activated.",
            id="no-processing-profile",
        ),
    ],
)
def test_etsy_refuses_to_activate_a_physical_listing_without_its_profiles(
    etsy_sandbox, http, etsy_headers, etsy_shop_url, etsy_draft, jpeg, left_out, message
):
    # given a draft with an image but without one of its profiles
    del etsy_draft[left_out]
    draft = http.post(f"{etsy_shop_url}/listings", data=etsy_draft, headers=etsy_headers).json()
    listing_url = f"{etsy_shop_url}/listings/{draft['listing_id']}"
    _upload(http, etsy_headers, listing_url, jpeg)
    # when it is activated
    refused = http.patch(listing_url, data={"state": "active"}, headers=etsy_headers)
    # then Etsy's refusal, and the listing stays a draft
    assert (refused.status_code, refused.json()) == (400, {"error": message})
    assert etsy_sandbox.stats()["activations"] == {}


def test_etsy_activates_once_the_profile_is_set(
    etsy_sandbox, http, etsy_headers, etsy_shop_url, etsy_draft, jpeg
):
    del etsy_draft["shipping_profile_id"]
    draft = http.post(f"{etsy_shop_url}/listings", data=etsy_draft, headers=etsy_headers).json()
    listing_url = f"{etsy_shop_url}/listings/{draft['listing_id']}"
    _upload(http, etsy_headers, listing_url, jpeg)
    activated = http.patch(
        listing_url,
        data={"state": "active", "shipping_profile_id": str(SHIPPING_PROFILE_ID)},
        headers=etsy_headers,
    )
    assert (activated.status_code, activated.json()["state"]) == (200, "active")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"title": "x" * 141},
            "Invalid value for title: expected 1 to 140 characters.",
            id="title-over-140",
        ),
        pytest.param(
            {"tags": ",".join(f"t{n}" for n in range(14))},
            "Invalid value for tags: at most 13 items.",
            id="fourteen-tags",
        ),
        pytest.param(
            {"tags": "a tag of twenty-one c"},
            "Invalid value for tags: 'a tag of twenty-one c' is not a valid tag.",
            id="tag-over-20",
        ),
        pytest.param(
            {"shipping_profile_id": "42"},
            "Invalid value for shipping_profile_id: 42 is not one of this shop's.",
            id="foreign-shipping-profile",
        ),
        pytest.param(
            {"type": "service"},
            "Invalid value for type: expected one of physical, download, both.",
            id="unknown-type",
        ),
    ],
)
def test_etsy_refuses_a_draft_over_its_limits(
    etsy_sandbox, http, etsy_headers, etsy_shop_url, etsy_draft, change, message
):
    response = http.post(
        f"{etsy_shop_url}/listings", data={**etsy_draft, **change}, headers=etsy_headers
    )
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert etsy_sandbox.stats()["listings_created_total"] == 0


def test_etsy_lists_the_shops_profiles_and_return_policies(http, etsy_headers, etsy_shop_url):
    def ids(path: str, key: str) -> list[int]:
        body = http.get(f"{etsy_shop_url}/{path}", headers=etsy_headers).json()
        return [row[key] for row in body["results"]]

    assert ids("shipping-profiles", "shipping_profile_id") == [SHIPPING_PROFILE_ID]
    assert ids("readiness-state-definitions", "readiness_state_id") == [READINESS_STATE_ID]
    assert ids("policies/return", "return_policy_id") == [RETURN_POLICY_ID]


# --- Vinted ---------------------------------------------------------------------------------


def _vinted_create(**overrides: Any):
    account = VintedAccount()
    photo = account.add_photo(source_url="http://127.0.0.1/1.jpg")
    item = {
        "title": "Levi's 501 jeans",
        "description": "Blue. [ref:SKU-1]",
        "price": "12.50",
        "currency": "EUR",
        "catalog_id": 257,
        "status_id": 3,
        "color_ids": [9],
        "assigned_photos": [{"id": photo["id"], "orientation": 0}],
        **overrides,
    }
    api = VintedApi(account, fetch_photos=False)
    return asyncio.run(api.handle("POST", "/api/v2/item_upload/items", body={"item": item}))


def test_vinted_keeps_the_items_colours():
    answer = _vinted_create(color_ids=[9, 27])
    assert (answer.status, answer.body["item"]["color_ids"]) == (200, [9, 27])


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        pytest.param(
            {"color_ids": [1, 2, 3]},
            {"field": "color_ids", "value": "must contain at most 2 colours"},
            id="three-colours",
        ),
        pytest.param(
            {"color_ids": ["blue"]}, {"field": "color_ids", "value": "is invalid"}, id="colour-name"
        ),
        pytest.param(
            {"title": "x" * 101},
            {"field": "title", "value": "is too long (maximum is 100 characters)"},
            id="title-over-100",
        ),
        pytest.param(
            {"catalog_id": None},
            {"field": "catalog_id", "value": "can't be blank"},
            id="no-catalog",
        ),
    ],
)
def test_vinted_refuses_an_item_over_its_limits_with_code_99(overrides, error):
    answer = _vinted_create(**overrides)
    assert (answer.status, answer.body["code"], answer.body["errors"]) == (422, 99, [error])
