"""eBay Sell APIs over HTTP. https://developer.ebay.com/api-docs/sell/inventory/overview.html"""

from typing import Any

import requests
from django.conf import settings

from core.errors import PermanentMarketplaceError
from marketplace.handlers.http import MarketplaceHttpClient
from marketplace.handlers.oauth import token_request
from marketplace.models import MarketplaceConnection
from marketplace.services.connections import ConnectionCredentials, TokenGrant
from marketplace.services.ratelimit import TokenBucketLimiter

INVENTORY = "/sell/inventory/v1"
FULFILLMENT = "/sell/fulfillment/v1"
ACCOUNT = "/sell/account/v1"
USER_ERROR = 25002  # a generic "user error"; "Offer entity already exists" is one of them
NOT_FOUND_IDS = frozenset({25710, 25713})


def refresh_access_token(refresh_token: str) -> TokenGrant:
    """https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html"""
    return token_request(
        marketplace="ebay",
        url=f"{settings.EBAY_API_BASE_URL}/identity/v1/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(settings.EBAY_CLIENT_ID, settings.EBAY_CLIENT_SECRET),
    )


def error_ids(error: PermanentMarketplaceError) -> set[int]:
    return {int(e.get("errorId", 0)) for e in error.details.get("errors", [])}


def is_offer_exists(error: PermanentMarketplaceError) -> bool:
    return any(
        int(e.get("errorId", 0)) == USER_ERROR and "already exists" in str(e.get("message", ""))
        for e in error.details.get("errors", [])
    )


class EbayClient(MarketplaceHttpClient):
    marketplace = "ebay"

    @classmethod
    def for_tenant(cls, connection: MarketplaceConnection | None = None) -> "EbayClient":
        """The current tenant's client; its first token comes from `connection` (the row read
        with the job) when given."""
        return cls(
            base_url=settings.EBAY_API_BASE_URL,
            credentials=ConnectionCredentials(
                marketplace="ebay", refresher=refresh_access_token, connection=connection
            ),
            rate_limiter=TokenBucketLimiter.for_marketplace("ebay"),
        )

    def auth_headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Content-Language": settings.EBAY_CONTENT_LANGUAGE,
            "Accept": "application/json",
        }

    def error_message(self, response: requests.Response) -> str:
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        if errors:
            return "; ".join(f"{e.get('errorId')}: {e.get('message')}" for e in errors)
        return response.reason

    # https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/createOrReplaceInventoryItem
    def put_inventory_item(self, sku: str, body: dict[str, Any]) -> None:
        self.request("PUT", f"{INVENTORY}/inventory_item/{sku}", json=body)

    # https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/deleteInventoryItem
    def delete_inventory_item(self, sku: str) -> None:
        self.request("DELETE", f"{INVENTORY}/inventory_item/{sku}")

    # https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/getInventoryItems
    def inventory_items(self, *, limit: int, offset: int) -> dict[str, Any]:
        return self.json(
            "GET", f"{INVENTORY}/inventory_item", params={"limit": limit, "offset": offset}
        )

    # https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/getOffers
    def find_offer(self, sku: str) -> dict[str, Any] | None:
        try:
            body = self.json("GET", f"{INVENTORY}/offer", params={"sku": sku})
        except PermanentMarketplaceError as error:
            if error.status == 404:
                return None
            raise
        offers = body.get("offers") or []
        return offers[0] if offers else None

    # https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/createOffer
    def create_offer(self, body: dict[str, Any]) -> str:
        return str(self.json("POST", f"{INVENTORY}/offer", json=body)["offerId"])

    # https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/updateOffer
    def update_offer(self, offer_id: str, body: dict[str, Any]) -> None:
        self.request("PUT", f"{INVENTORY}/offer/{offer_id}", json=body)

    # https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/publishOffer
    def publish_offer(self, offer_id: str) -> str:
        return str(self.json("POST", f"{INVENTORY}/offer/{offer_id}/publish")["listingId"])

    # https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/withdrawOffer
    def withdraw_offer(self, offer_id: str) -> None:
        self.request("POST", f"{INVENTORY}/offer/{offer_id}/withdraw")

    # https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders
    def orders(self, *, modified_since: str, limit: int, offset: int) -> dict[str, Any]:
        """Orders changed since a moment (new sales, cancellations, refunds), paged.
        https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders"""
        return self.json(
            "GET",
            f"{FULFILLMENT}/order",
            params={
                "filter": f"lastmodifieddate:[{modified_since}..]",
                "limit": limit,
                "offset": offset,
            },
        )

    # --- account setup: business policies and inventory locations --------------------------

    # https://developer.ebay.com/api-docs/sell/account/resources/fulfillment_policy/methods/getFulfillmentPolicies
    def fulfillment_policies(self, marketplace_id: str) -> list[dict[str, Any]]:
        body = self.json(
            "GET", f"{ACCOUNT}/fulfillment_policy", params={"marketplace_id": marketplace_id}
        )
        return list(body.get("fulfillmentPolicies") or [])

    # https://developer.ebay.com/api-docs/sell/account/resources/payment_policy/methods/getPaymentPolicies
    def payment_policies(self, marketplace_id: str) -> list[dict[str, Any]]:
        body = self.json(
            "GET", f"{ACCOUNT}/payment_policy", params={"marketplace_id": marketplace_id}
        )
        return list(body.get("paymentPolicies") or [])

    # https://developer.ebay.com/api-docs/sell/account/resources/return_policy/methods/getReturnPolicies
    def return_policies(self, marketplace_id: str) -> list[dict[str, Any]]:
        body = self.json(
            "GET", f"{ACCOUNT}/return_policy", params={"marketplace_id": marketplace_id}
        )
        return list(body.get("returnPolicies") or [])

    # https://developer.ebay.com/api-docs/sell/inventory/resources/location/methods/getInventoryLocations
    def inventory_locations(self) -> list[dict[str, Any]]:
        locations: list[dict[str, Any]] = []
        while True:
            body = self.json(
                "GET", f"{INVENTORY}/location", params={"limit": 100, "offset": len(locations)}
            )
            page = list(body.get("locations") or [])
            locations.extend(page)
            if not page or len(locations) >= int(body.get("total", 0)):
                return locations
