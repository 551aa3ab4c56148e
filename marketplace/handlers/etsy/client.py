"""Etsy Open API v3 over HTTP. https://developers.etsy.com/documentation/reference

Every call carries the app's keystring in `x-api-key` and the shop owner's bearer token
(https://developers.etsy.com/documentation/essentials/requests). Errors come as
`{"error": "..."}`; the OAuth endpoint adds `error_description`."""

import mimetypes
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from core.errors import (
    MarketplaceAuthError,
    PermanentMarketplaceError,
    TransientMarketplaceError,
    is_retryable_status,
)
from marketplace.handlers.http import MarketplaceHttpClient
from marketplace.handlers.oauth import token_request
from marketplace.models import MarketplaceConnection
from marketplace.services.connections import (
    ConnectionCredentials,
    TokenGrant,
    connection_check_usable,
    connection_get_usable,
)
from marketplace.services.ratelimit import TokenBucketLimiter

APP = "/application"
PAGE_LIMIT = 100  # Etsy's maximum `limit` on paged endpoints
# Where a listing created by an earlier attempt can be: a lost create leaves a draft; a lost
# answer to a later step may have moved it on.
SEARCH_STATES = ("draft", "inactive", "active")


def _keystring() -> str:
    # Since 2026 Etsy also accepts `keystring:shared_secret` in x-api-key; OAuth's client_id is
    # the keystring alone.
    return str(settings.ETSY_API_KEY).partition(":")[0]


def refresh_access_token(refresh_token: str) -> TokenGrant:
    """Etsy rotates the refresh token on every refresh; connections.py saves the new one.
    https://developers.etsy.com/documentation/essentials/authentication#requesting-a-refresh-oauth-token
    """
    return token_request(
        marketplace="etsy",
        url=settings.ETSY_TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": _keystring(),
            "refresh_token": refresh_token,
        },
    )


class EtsyClient(MarketplaceHttpClient):
    marketplace = "etsy"

    def __init__(self, *, shop_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shop_id = shop_id
        self.shop = f"{APP}/shops/{shop_id}"

    @classmethod
    def for_tenant(cls, connection: MarketplaceConnection | None = None) -> "EtsyClient":
        """The client of the current tenant's Etsy shop (its id is the connection's account),
        from the connection row read with the job when given."""
        if connection is not None:
            connection = connection_check_usable(connection, marketplace="etsy")
        else:
            connection = connection_get_usable(marketplace="etsy")
        if not connection.account_id:
            raise MarketplaceAuthError(
                "The Etsy connection does not name its shop; reconnect the account.",
                details={"marketplace": "etsy"},
            )
        return cls(
            base_url=settings.ETSY_API_BASE_URL,
            shop_id=connection.account_id,
            credentials=ConnectionCredentials(
                marketplace="etsy", refresher=refresh_access_token, connection=connection
            ),
            rate_limiter=TokenBucketLimiter.for_marketplace("etsy"),
        )

    def auth_headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "x-api-key": settings.ETSY_API_KEY,
            "Accept": "application/json",
        }

    def error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error"):
            description = body.get("error_description")
            return f"{body['error']}: {description}" if description else str(body["error"])
        return response.text[:500] or response.reason

    # --- listings --------------------------------------------------------------------------

    def create_draft_listing(self, body: dict[str, str]) -> dict[str, Any]:
        """https://developers.etsy.com/documentation/reference#operation/createDraftListing"""
        return self.json("POST", f"{self.shop}/listings", data=body)

    def update_listing(self, listing_id: str, body: dict[str, str]) -> dict[str, Any]:
        """`state=active` publishes a draft (it needs an image).
        https://developers.etsy.com/documentation/reference#operation/updateListing"""
        return self.json("PATCH", f"{self.shop}/listings/{listing_id}", data=body)

    def delete_listing(self, listing_id: str) -> None:
        """https://developers.etsy.com/documentation/reference#operation/deleteListing"""
        self.request("DELETE", f"{APP}/listings/{listing_id}")

    def get_listing(self, listing_id: str) -> dict[str, Any]:
        """https://developers.etsy.com/documentation/reference#operation/getListing"""
        return self.json("GET", f"{APP}/listings/{listing_id}")

    def listings(
        self, *, state: str, limit: int, offset: int, newest_first: bool = False
    ) -> dict[str, Any]:
        """One page of the shop's listings in `state`: {count, results}.
        https://developers.etsy.com/documentation/reference#operation/getListingsByShop"""
        params: dict[str, Any] = {"state": state, "limit": limit, "offset": offset}
        if newest_first:
            params.update(sort_on="created", sort_order="desc")
        return self.json("GET", f"{self.shop}/listings", params=params)

    def iter_listings(self, *, state: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self.listings(state=state, limit=PAGE_LIMIT, offset=offset)
            results = page.get("results") or []
            yield from results
            offset += len(results)
            if not results or offset >= int(page.get("count", 0)):
                return

    def find_recent_draft_by_sku(self, sku: str) -> dict[str, Any] | None:
        """A draft carrying `sku` among the shop's most recent drafts, or None: the cheap,
        bounded lookup that reconciles a create whose answer was lost moments ago (at most two
        calls whatever the shop's size: the newest page, and the last page for a server that
        ignores the sort and lists oldest first)."""
        first = self.listings(state="draft", limit=PAGE_LIMIT, offset=0, newest_first=True)
        pages = [first]
        count = int(first.get("count", 0))
        if count > PAGE_LIMIT:
            last = self.listings(
                state="draft", limit=PAGE_LIMIT, offset=count - PAGE_LIMIT, newest_first=True
            )
            pages.append(last)
        for page in pages:
            for listing in page.get("results") or []:
                if sku in (listing.get("skus") or []):
                    return listing  # type: ignore[no-any-return]
        return None

    def find_listing_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The shop's listing carrying `sku`, drafts included, or None. Etsy has no SKU filter,
        so this pages through the shop's listings: it only runs to reconcile a lost answer."""
        for state in SEARCH_STATES:
            for listing in self.iter_listings(state=state):
                if sku in (listing.get("skus") or []):
                    return listing
        return None

    def update_inventory(self, listing_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replaces the whole inventory (price, quantity, SKU).
        https://developers.etsy.com/documentation/reference#operation/updateListingInventory"""
        return self.json("PUT", f"{APP}/listings/{listing_id}/inventory", json=body)

    # --- images ----------------------------------------------------------------------------

    def listing_images(self, listing_id: str) -> list[dict[str, Any]]:
        """https://developers.etsy.com/documentation/reference#operation/getListingImages"""
        return self.json("GET", f"{APP}/listings/{listing_id}/images").get("results") or []

    def upload_listing_image(self, listing_id: str, *, image_url: str, rank: int) -> dict[str, Any]:
        """Etsy takes the image bytes, not a URL: fetch them, then upload as multipart.
        `overwrite` makes a repeat replace the image at `rank` instead of adding one.
        https://developers.etsy.com/documentation/reference#operation/uploadListingImage"""
        name, content, content_type = fetch_image(image_url)
        return self.json(
            "POST",
            f"{self.shop}/listings/{listing_id}/images",
            files={"image": (name, content, content_type)},
            data={"rank": str(rank), "overwrite": "true"},
        )

    # --- shop setup: shipping, processing and return profiles -------------------------------

    def shipping_profiles(self) -> list[dict[str, Any]]:
        """https://developers.etsy.com/documentation/reference#operation/getShopShippingProfiles"""
        return self.json("GET", f"{self.shop}/shipping-profiles").get("results") or []

    def readiness_state_definitions(self) -> list[dict[str, Any]]:
        """Processing profiles: a physical listing needs one (`readiness_state_id`).
        https://developers.etsy.com/documentation/reference#operation/getShopReadinessStateDefinitions"""
        return self.json("GET", f"{self.shop}/readiness-state-definitions").get("results") or []

    def return_policies(self) -> list[dict[str, Any]]:
        """https://developers.etsy.com/documentation/reference#operation/getShopReturnPolicies"""
        return self.json("GET", f"{self.shop}/policies/return").get("results") or []

    # --- shop and receipts -----------------------------------------------------------------

    def get_shop(self) -> dict[str, Any]:
        """https://developers.etsy.com/documentation/reference#operation/getShop"""
        return self.json("GET", self.shop)

    def update_shop(self, body: dict[str, str]) -> dict[str, Any]:
        """https://developers.etsy.com/documentation/reference#operation/updateShop"""
        return self.json("PUT", self.shop, data=body)

    def receipts(self, *, min_last_modified: int, limit: int, offset: int) -> dict[str, Any]:
        """One page of the shop's receipts (orders) modified since `min_last_modified` (epoch s).
        https://developers.etsy.com/documentation/reference#operation/getShopReceipts"""
        return self.json(
            "GET",
            f"{self.shop}/receipts",
            params={
                "min_last_modified": min_last_modified,
                "sort_on": "updated",
                "sort_order": "asc",  # new receipts land after the pages already read
                "limit": limit,
                "offset": offset,
            },
        )


def fetch_image(url: str) -> tuple[str, bytes, str]:
    """(file name, bytes, content type) of a product image. The image host is not Etsy, so no
    token and no Etsy budget; its failures follow the same transient/permanent split."""
    try:
        response = requests.get(url, timeout=settings.MARKETPLACE_HTTP_TIMEOUT)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientMarketplaceError(f"image {url}: {type(error).__name__}") from error
    status = response.status_code
    if is_retryable_status(status):
        raise TransientMarketplaceError(f"image {url} → {status}", status=status)
    if status >= 400 or not response.content:
        raise PermanentMarketplaceError(
            f"The product image {url} could not be fetched ({status}).", status=status
        )
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "image.jpg"
    content_type = (
        response.headers.get("Content-Type", "").split(";")[0]
        or mimetypes.guess_type(name)[0]
        or "image/jpeg"
    )
    return name, response.content, content_type
