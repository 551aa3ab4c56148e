"""Etsy shop setup: shipping profiles, processing profiles (readiness state definitions) and
return policies. Each shop starts with one of each, as a shop that completed Etsy's onboarding
has: a physical listing cannot be activated without the first two (MARKETPLACES §6).

https://developers.etsy.com/documentation/reference#operation/getShopShippingProfiles
https://developers.etsy.com/documentation/reference#operation/getShopReadinessStateDefinitions
https://developers.etsy.com/documentation/reference#operation/getShopReturnPolicies
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.etsy.common import PREFIX, results
from sandbox.routing import Request, Response, Router

SHIPPING_PROFILE_ID = 190000001
READINESS_STATE_ID = 1400000001
RETURN_POLICY_ID = 1700000001


class ProfilesApi:
    """Per-shop setup; `owned_shop(request)` answers (user id, shop id) or 401/403/404."""

    def __init__(self, owned_shop: Callable[[Request], tuple[int, int]]) -> None:
        self._owned_shop = owned_shop
        self.reset()

    def reset(self) -> None:
        self._shops: dict[int, dict[str, list[dict[str, Any]]]] = {}

    def register(self, router: Router) -> None:
        shop = f"{PREFIX}/shops/{{shop_id:\\d+}}"
        router.add("GET", f"{shop}/shipping-profiles", self._lister("shipping_profiles"))
        router.add("GET", f"{shop}/readiness-state-definitions", self._lister("readiness_states"))
        router.add("GET", f"{shop}/policies/return", self._lister("return_policies"))

    def of_shop(self, shop_id: int) -> dict[str, list[dict[str, Any]]]:
        if shop_id not in self._shops:
            self._shops[shop_id] = {
                "shipping_profiles": [
                    {
                        "shipping_profile_id": SHIPPING_PROFILE_ID,
                        "title": "Standard shipping",
                        "user_id": None,
                        "origin_country_iso": "US",
                        "profile_type": "manual",
                        "min_processing_days": 1,
                        "max_processing_days": 3,
                    }
                ],
                "readiness_states": [
                    {
                        "readiness_state_id": READINESS_STATE_ID,
                        "shop_id": shop_id,
                        "readiness_state": "ready_to_ship",
                        "min_processing_time": 1,
                        "max_processing_time": 3,
                        "processing_time_unit": "days",
                    }
                ],
                "return_policies": [
                    {
                        "return_policy_id": RETURN_POLICY_ID,
                        "shop_id": shop_id,
                        "accepts_returns": True,
                        "accepts_exchanges": True,
                        "return_deadline": 30,
                    }
                ],
            }
        return self._shops[shop_id]

    def has(self, shop_id: int, kind: str, id_key: str, value: int) -> bool:
        return any(row[id_key] == value for row in self.of_shop(shop_id)[kind])

    def remove_setup(self, shop_id: int) -> None:
        """A shop without shipping or processing profiles (tests)."""
        self._shops[shop_id] = {
            "shipping_profiles": [],
            "readiness_states": [],
            "return_policies": [],
        }

    def _lister(self, kind: str) -> Callable[[Request], Response]:
        def listing(request: Request) -> Response:
            _user_id, shop_id = self._owned_shop(request)
            rows = self.of_shop(shop_id)[kind]
            return results(rows, len(rows) or 1, 0)

        listing.__name__ = f"get_{kind}"
        return listing
