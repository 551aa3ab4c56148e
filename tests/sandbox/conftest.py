"""Fixtures for the sandbox tests: running servers, HTTP sessions, authenticated headers.

The servers come from `sandbox.pytest_plugin` (the same fixtures the rest of the suite uses).
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sandbox.ebay import EbaySandbox
from sandbox.ebay.account import DEFAULT_LOCATION, POLICY_KINDS
from sandbox.etsy import EtsySandbox
from sandbox.etsy.profiles import READINESS_STATE_ID, SHIPPING_PROFILE_ID
from sandbox.images import sample_jpeg
from sandbox.pytest_plugin import ebay_sandbox, etsy_sandbox

__all__ = ["ebay_sandbox", "etsy_sandbox"]

INVENTORY = "/sell/inventory/v1"
POLICY_IDS = {kind: row[3] for kind, row in POLICY_KINDS.items()}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive client session, closed after the test."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def ebay_headers(ebay_sandbox: EbaySandbox) -> dict[str, str]:
    token = ebay_sandbox.issue_tokens()["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Language": "en-US"}


@pytest.fixture
def ebay_item(ebay_sandbox: EbaySandbox) -> dict[str, Any]:
    """A complete inventory item body, ready to publish."""
    return {
        "availability": {"shipToLocationAvailability": {"quantity": 2}},
        "condition": "USED_GOOD",
        "product": {
            "title": "Blue wool jumper",
            "description": "Hand-knitted, size M.",
            "imageUrls": [ebay_sandbox.image_url("jumper")],
            "aspects": {"Colour": ["Blue"]},
        },
    }


@pytest.fixture
def ebay_offer() -> Callable[[str], dict[str, Any]]:
    """A complete createOffer body for a SKU."""

    def build(sku: str) -> dict[str, Any]:
        return {
            "sku": sku,
            "marketplaceId": "EBAY_US",
            "format": "FIXED_PRICE",
            "availableQuantity": 2,
            "categoryId": "11484",
            "listingDescription": "Hand-knitted, size M.",
            "pricingSummary": {"price": {"value": "24.50", "currency": "USD"}},
            # The seller's seeded business policies and location: eBay publishes nothing
            # without them.
            "listingPolicies": {
                "fulfillmentPolicyId": POLICY_IDS["fulfillment"],
                "paymentPolicyId": POLICY_IDS["payment"],
                "returnPolicyId": POLICY_IDS["return"],
            },
            "merchantLocationKey": DEFAULT_LOCATION,
        }

    return build


@pytest.fixture
def ebay_put_item(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_item: dict[str, Any],
) -> Callable[[str], requests.Response]:
    def put(sku: str) -> requests.Response:
        url = f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/{sku}"
        return http.put(url, json=ebay_item, headers=ebay_headers)

    return put


@pytest.fixture
def ebay_offer_id(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
    ebay_offer: Callable[[str], dict[str, Any]],
) -> str:
    """The offer of SKU-1, created (unpublished) with its inventory item."""
    ebay_put_item("SKU-1")
    url = f"{ebay_sandbox.base_url}{INVENTORY}/offer"
    return http.post(url, json=ebay_offer("SKU-1"), headers=ebay_headers).json()["offerId"]


@pytest.fixture
def etsy_tokens(etsy_sandbox: EtsySandbox) -> dict[str, Any]:
    return etsy_sandbox.issue_tokens()


@pytest.fixture
def etsy_headers(etsy_sandbox: EtsySandbox, etsy_tokens: dict[str, Any]) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {etsy_tokens['access_token']}",
        "x-api-key": etsy_sandbox.keystring,
    }


@pytest.fixture
def etsy_shop_url(etsy_sandbox: EtsySandbox, etsy_tokens: dict[str, Any]) -> str:
    return f"{etsy_sandbox.base_url}/application/shops/{etsy_tokens['shop_id']}"


@pytest.fixture
def etsy_draft() -> dict[str, Any]:
    """A complete createDraftListing form."""
    return {
        "quantity": "3",
        "title": "Blue wool jumper",
        "description": "Hand-knitted, size M.",
        "price": "24.50",
        "who_made": "i_did",
        "when_made": "made_to_order",
        "taxonomy_id": "2078",
        "sku": "SKU-1",
        "shipping_profile_id": str(SHIPPING_PROFILE_ID),
        "readiness_state_id": str(READINESS_STATE_ID),
    }


@pytest.fixture
def etsy_listing_id(
    http: requests.Session,
    etsy_headers: dict[str, str],
    etsy_shop_url: str,
    etsy_draft: dict[str, Any],
) -> int:
    """A draft listing of SKU-1, without images."""
    response = http.post(f"{etsy_shop_url}/listings", data=etsy_draft, headers=etsy_headers)
    return int(response.json()["listing_id"])


@pytest.fixture
def jpeg() -> bytes:
    return sample_jpeg("upload")
