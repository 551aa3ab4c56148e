"""eBay Sell Account API business policies and Sell Inventory API locations, per seller.

Every seller starts with one fulfillment, payment and return policy on each marketplace it
asks about, and one enabled inventory location, as a seller opted into business policies has:
what an offer must name before eBay publishes it (MARKETPLACES §6).

https://developer.ebay.com/api-docs/sell/account/resources/methods and
https://developer.ebay.com/api-docs/sell/inventory/resources/location/methods/getInventoryLocations
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.ebay.errors import fail, invalid_value
from sandbox.ebay.paging import page_params
from sandbox.routing import Request, Response, Router

ACCOUNT = "/sell/account/v1"
LOCATIONS = "/sell/inventory/v1/location"
ACCOUNT_DOMAIN = "API_ACCOUNT"
# The policy kinds: path, list key, id key, the seeded policy's id.
POLICY_KINDS = {
    "fulfillment": (
        "fulfillment_policy",
        "fulfillmentPolicies",
        "fulfillmentPolicyId",
        "6200000001",
    ),
    "payment": ("payment_policy", "paymentPolicies", "paymentPolicyId", "6200000002"),
    "return": ("return_policy", "returnPolicies", "returnPolicyId", "6200000003"),
}
DEFAULT_LOCATION = "default-warehouse"
_MARKETPLACE_ID = re.compile(r"EBAY_[A-Z_]{2,}")
_LOCATION_KEY = re.compile(r"[A-Za-z0-9_-]{1,36}")


def _policy(kind: str, marketplace_id: str) -> dict[str, Any]:
    _, _, id_key, policy_id = POLICY_KINDS[kind]
    return {
        id_key: policy_id,
        "name": f"Default {kind} policy",
        "marketplaceId": marketplace_id,
        "categoryTypes": [{"name": "ALL_EXCLUDING_MOTORS_VEHICLES", "default": True}],
    }


class AccountApi:
    """Business policies and inventory locations; handlers run under the sandbox lock."""

    def __init__(self, authenticate: Callable[[Request], str]) -> None:
        self._authenticate = authenticate
        self.reset()

    def reset(self) -> None:
        # seller → kind → policy id → policy (with its marketplaceId)
        self._policies: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        # seller → merchantLocationKey → location
        self._locations: dict[str, dict[str, dict[str, Any]]] = {}

    def register(self, router: Router) -> None:
        for kind, (path, *_rest) in POLICY_KINDS.items():
            router.add("GET", f"{ACCOUNT}/{path}", self._lister(kind))
        router.add("GET", LOCATIONS, self.get_inventory_locations)
        router.add("POST", f"{LOCATIONS}/{{merchantLocationKey}}", self.create_inventory_location)

    # -- what offers are checked against ---------------------------------------------------

    def policy_exists(self, user: str, kind: str, policy_id: Any, marketplace_id: str) -> bool:
        policy = self._seller_policies(user, marketplace_id)[kind].get(str(policy_id))
        return policy is not None and policy["marketplaceId"] == marketplace_id

    def location_enabled(self, user: str, key: Any) -> bool:
        location = self._seller_locations(user).get(str(key))
        return location is not None and location["merchantLocationStatus"] == "ENABLED"

    def remove_setup(self, user: str) -> None:
        """A seller who never opted into business policies and has no location (tests)."""
        self._policies[user] = {kind: {} for kind in POLICY_KINDS}
        self._locations[user] = {}

    # -- state -----------------------------------------------------------------------------

    def _seller_policies(self, user: str, marketplace_id: str) -> dict[str, dict[str, Any]]:
        policies = self._policies.get(user)
        if policies is None:
            policies = self._policies[user] = {kind: {} for kind in POLICY_KINDS}
            for kind in POLICY_KINDS:
                seeded = _policy(kind, marketplace_id)
                policies[kind][POLICY_KINDS[kind][3]] = seeded
        return policies

    def _seller_locations(self, user: str) -> dict[str, dict[str, Any]]:
        if user not in self._locations:
            self._locations[user] = {
                DEFAULT_LOCATION: {
                    "merchantLocationKey": DEFAULT_LOCATION,
                    "name": "Default warehouse",
                    "merchantLocationStatus": "ENABLED",
                    "locationTypes": ["WAREHOUSE"],
                    "location": {"address": {"postalCode": "95125", "country": "US"}},
                }
            }
        return self._locations[user]

    # -- routes ----------------------------------------------------------------------------

    def _lister(self, kind: str) -> Callable[[Request], Response]:
        _, list_key, _, _ = POLICY_KINDS[kind]

        def get_policies(request: Request) -> Response:
            """getFulfillmentPolicies / getPaymentPolicies / getReturnPolicies: marketplace_id
            is required."""
            user = self._authenticate(request)
            marketplace_id = request.arg("marketplace_id") or ""
            if not _MARKETPLACE_ID.fullmatch(marketplace_id):
                fail(
                    400,
                    20401,
                    "Missing field marketplaceId.",
                    domain=ACCOUNT_DOMAIN,
                    parameters={"fieldName": "marketplace_id"},
                )
            policies = [
                policy
                for policy in self._seller_policies(user, marketplace_id)[kind].values()
                if policy["marketplaceId"] == marketplace_id
            ]
            return Response.json({"total": len(policies), list_key: policies})

        get_policies.__name__ = f"get_{kind}_policies"
        return get_policies

    def get_inventory_locations(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/location/methods/getInventoryLocations"""
        user = self._authenticate(request)
        paging = page_params(request, default_limit=100, max_limit=100)
        if paging is None:
            fail(400, 25706, "You have provided invalid pagination values.")
        limit, offset = paging
        locations = list(self._seller_locations(user).values())
        return Response.json(
            {
                "total": len(locations),
                "limit": limit,
                "offset": offset,
                "locations": locations[offset : offset + limit],
            }
        )

    def create_inventory_location(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/location/methods/createInventoryLocation"""
        user = self._authenticate(request)
        key = request.params["merchantLocationKey"]
        if not _LOCATION_KEY.fullmatch(key):
            invalid_value("merchantLocationKey", "Up to 36 letters, digits, - or _.")
        body = request.json()
        address = (
            ((body or {}).get("location") or {}).get("address") if isinstance(body, dict) else None
        )
        if not isinstance(address, dict) or not address.get("country"):
            invalid_value("location.address.country", "A country is required.")
        if not (
            address.get("postalCode") or (address.get("city") and address.get("stateOrProvince"))
        ):
            invalid_value("location.address", "Give a postalCode, or a city and stateOrProvince.")
        locations = self._seller_locations(user)
        if key in locations:
            fail(409, 25803, f"Location {key} already exists.")
        locations[key] = {
            "merchantLocationKey": key,
            "name": str(body.get("name") or key),
            "merchantLocationStatus": str(body.get("merchantLocationStatus") or "ENABLED"),
            "locationTypes": body.get("locationTypes") or ["WAREHOUSE"],
            "location": {"address": address},
        }
        return Response.empty(204)
