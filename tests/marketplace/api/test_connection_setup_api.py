"""A connection's listing setup: read from the marketplace at connect time and on demand,
chosen per shop, and what readiness checks (eBay business policies and location, Etsy
shipping and processing profiles)."""

from urllib.parse import urlsplit

import pytest
import requests

from marketplace.models import MarketplaceConnection
from marketplace.services.readiness import readiness_check
from sandbox.ebay.account import DEFAULT_LOCATION
from sandbox.etsy.profiles import READINESS_STATE_ID, RETURN_POLICY_ID, SHIPPING_PROFILE_ID
from sandbox.pytest_plugin import ebay_sandbox, etsy_sandbox
from tests.factories.marketplace import ready_product

__all__ = ["ebay_sandbox", "etsy_sandbox"]

EBAY_SETUP = {
    "fulfillment_policy_id": "6200000001",
    "payment_policy_id": "6200000002",
    "return_policy_id": "6200000003",
    "merchant_location_key": DEFAULT_LOCATION,
}


@pytest.fixture
def ebay(ebay_sandbox, settings):
    settings.EBAY_AUTH_BASE_URL = ebay_sandbox.root_url
    settings.EBAY_API_BASE_URL = ebay_sandbox.base_url
    return ebay_sandbox


@pytest.fixture
def etsy(etsy_sandbox, settings):
    settings.ETSY_CONNECT_URL = etsy_sandbox.connect_url
    settings.ETSY_TOKEN_URL = etsy_sandbox.token_url
    settings.ETSY_API_BASE_URL = etsy_sandbox.base_url
    return etsy_sandbox


def _connect(api_client, marketplace: str) -> dict:
    start = api_client.post(f"/api/connections/{marketplace}/authorize/").json()
    redirect = requests.get(start["authorize_url"], allow_redirects=False, timeout=5)
    location = urlsplit(redirect.headers["Location"])
    response = api_client.get(f"{location.path}?{location.query}")
    assert response.status_code == 200
    return response.json()


def test_connecting_ebay_reads_its_business_policies_and_location(tenant, api_client, ebay):
    # when the shop connects eBay
    _connect(api_client, "ebay")
    # then the account's policies and location were read and chosen
    response = api_client.get("/api/connections/ebay/setup/")
    assert response.status_code == 200
    body = response.json()
    assert (body["setup"], body["missing"]) == (EBAY_SETUP, [])
    assert body["options"]["payment_policy_id"] == [
        {"id": "6200000002", "name": "Default payment policy", "default": True}
    ]


def test_connecting_etsy_reads_its_shipping_processing_and_return_profiles(
    tenant, api_client, etsy
):
    _connect(api_client, "etsy")
    body = api_client.get("/api/connections/etsy/setup/").json()
    assert (body["setup"], body["missing"]) == (
        {
            "shipping_profile_id": str(SHIPPING_PROFILE_ID),
            "readiness_state_id": str(READINESS_STATE_ID),
            "return_policy_id": str(RETURN_POLICY_ID),
        },
        [],
    )


def test_a_seller_without_policies_is_connected_but_not_ready(tenant, api_client, ebay):
    # given an eBay seller who never opted into business policies
    ebay.account.remove_setup("sandbox-seller")
    # when the shop connects, then asks whether a product is ready
    _connect(api_client, "ebay")
    [result] = readiness_check(product_ids=[ready_product().pk], marketplaces=["ebay"])
    # then the connection stands, and readiness names each missing piece
    assert MarketplaceConnection.objects.get(marketplace="ebay").status == "connected"
    assert [(r.code, r.field) for r in result.reasons] == [
        ("setup_missing", key) for key in EBAY_SETUP
    ]


def test_the_setup_is_read_again_on_demand(tenant, api_client, ebay):
    # given a shop connected while the seller had no location
    ebay.account.remove_setup("sandbox-seller")
    _connect(api_client, "ebay")
    ebay.account.reset()  # the seller sets up policies and a location on eBay
    # when the shop reads its setup again
    response = api_client.post("/api/connections/ebay/setup/refresh/")
    # then
    assert response.status_code == 200
    assert (response.json()["setup"], response.json()["missing"]) == (EBAY_SETUP, [])


def test_the_shop_chooses_among_what_the_account_offers(tenant, api_client, ebay):
    # given
    _connect(api_client, "ebay")
    # when a policy the account does not offer, an unknown key, then a valid choice are sent
    foreign = api_client.patch(
        "/api/connections/ebay/setup/", {"setup": {"payment_policy_id": "42"}}, format="json"
    )
    unknown = api_client.patch(
        "/api/connections/ebay/setup/", {"setup": {"shipping_profile_id": "1"}}, format="json"
    )
    chosen = api_client.patch(
        "/api/connections/ebay/setup/",
        {"setup": {"payment_policy_id": "6200000002"}},
        format="json",
    )
    # then
    assert (foreign.status_code, foreign.json()["error"]["details"]) == (
        400,
        {"invalid": {"payment_policy_id": "42"}},
    )
    assert unknown.status_code == 400
    assert (chosen.status_code, chosen.json()["setup"]) == (200, EBAY_SETUP)


def test_vinted_has_no_setup(tenant, api_client):
    response = api_client.get("/api/connections/vinted/setup/")
    assert response.status_code == 404


def test_a_marketplace_never_connected_has_no_setup(tenant, api_client):
    assert api_client.get("/api/connections/etsy/setup/").status_code == 404
