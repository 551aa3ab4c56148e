"""eBay Sell Inventory API: inventory items and offers, per seller account.

API reference: https://developer.ebay.com/api-docs/sell/inventory/resources/methods
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.ebay.account import AccountApi
from sandbox.ebay.errors import NOT_FOUND_MESSAGE, fail, invalid_value
from sandbox.ebay.paging import page_links, page_params
from sandbox.routing import Request, Response, Router

PREFIX = "/sell/inventory/v1"
MAX_SKU_LENGTH = 50
INVALID_SKU = (
    "This is an invalid value for a SKU. Only alphanumeric characters can be used for SKUs, "
    "and their length must not exceed 50 characters."
)
OFFER_NOT_AVAILABLE = "This Offer is not available."
CONDITIONS = frozenset(
    {
        "NEW", "LIKE_NEW", "NEW_OTHER", "NEW_WITH_DEFECTS", "CERTIFIED_REFURBISHED",
        "EXCELLENT_REFURBISHED", "VERY_GOOD_REFURBISHED", "GOOD_REFURBISHED",
        "SELLER_REFURBISHED", "USED_EXCELLENT", "USED_VERY_GOOD", "USED_GOOD",
        "USED_ACCEPTABLE", "FOR_PARTS_OR_NOT_WORKING", "PRE_OWNED_EXCELLENT", "PRE_OWNED_FAIR",
    }
)  # fmt: skip
FORMATS = frozenset({"FIXED_PRICE", "AUCTION"})
_MARKETPLACE_ID = re.compile(r"EBAY_[A-Z_]{2,}")
_CONTENT_LANGUAGE = re.compile(r"([a-z]{2})-([A-Z]{2})")
_CURRENCY = re.compile(r"[A-Z]{3}")
_RESERVED_OFFER_FIELDS = frozenset({"offerId", "sku", "marketplaceId", "status", "listing"})
# Policy kind → the listingPolicies field naming it, and the error publishOffer answers
# without a valid one (errorIds as best known from eBay's Inventory API error list).
_POLICY_FIELDS = {
    "fulfillment": "fulfillmentPolicyId",
    "payment": "paymentPolicyId",
    "return": "returnPolicyId",
}
_POLICY_ERRORS = {
    "fulfillment": (25007, "Please add a valid fulfillment policy to the offer."),
    "payment": (25008, "Please add a valid payment policy to the offer."),
    "return": (25009, "Please add a valid return policy to the offer."),
}
# Item specifics these leaf categories require (getItemAspectsForCategory, aspectRequired),
# for the categories Relist's reference data uses; other categories require none here.
REQUIRED_ASPECTS: dict[str, tuple[str, ...]] = {
    "57988": ("Brand", "Size", "Department", "Type"),
    "63862": ("Brand", "Size", "Department", "Type"),
    "11483": ("Brand", "Size", "Department"),
    "11554": ("Brand", "Size", "Department"),
    "15687": ("Brand", "Size", "Department"),
    "63861": ("Brand", "Size", "Department"),
    "15709": ("Brand", "US Shoe Size", "Department"),
    "53557": ("Brand", "US Shoe Size", "Department"),
    "169291": ("Brand", "Department"),
    "45238": ("Brand", "Department"),
    "2993": ("Brand", "Size", "Department"),
}


@dataclass
class _Seller:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # by SKU
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by offerId


def _require_content_language(request: Request) -> str:
    """The locale of a create/update call; eBay refuses these calls without Content-Language."""
    found = _CONTENT_LANGUAGE.fullmatch(request.header("Content-Language") or "")
    if found is None:
        invalid_value("header Content-Language", "Use a supported locale such as en-US.")
    return f"{found[1]}_{found[2]}"


def _json_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        fail(400, 2004, "Invalid request", domain="ACCESS", long_message="Expected a JSON object.")
    return body


def _check_sku(sku: Any) -> str:
    if not isinstance(sku, str) or not 0 < len(sku) <= MAX_SKU_LENGTH:
        fail(400, 25707, INVALID_SKU)
    return sku


def _check_product(product: Any) -> None:
    if not isinstance(product, dict):
        invalid_value("product", "The product container is required.")
    title = product.get("title")
    if not isinstance(title, str) or not 0 < len(title.strip()) <= 80:
        invalid_value("product.title", "A title of 1 to 80 characters is required.")
    if not isinstance(product.get("description", ""), str):
        invalid_value("product.description", "The description must be a string.")
    images = product.get("imageUrls", [])
    valid_url = re.compile(r"https?://\S+")
    if not isinstance(images, list) or not all(
        isinstance(url, str) and valid_url.fullmatch(url) for url in images
    ):
        invalid_value("product.imageUrls", "Give a list of http(s) image URLs.")
    if len(images) > 24:
        invalid_value("product.imageUrls", "At most 24 images are allowed.")
    if not isinstance(product.get("aspects", {}), dict):
        invalid_value("product.aspects", "Aspects map a name to a list of values.")


def _check_item(body: dict[str, Any]) -> None:
    _check_product(body.get("product"))
    if body.get("condition") not in CONDITIONS:
        invalid_value("condition", "Use a ConditionEnum value such as NEW or USED_GOOD.")
    quantity = (body.get("availability") or {}).get("shipToLocationAvailability", {})
    quantity = quantity.get("quantity") if isinstance(quantity, dict) else None
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        field_name = "availability.shipToLocationAvailability.quantity"
        invalid_value(field_name, "A quantity of 0 or more is required.")


def _check_price(pricing: Any) -> None:
    price = pricing.get("price") if isinstance(pricing, dict) else None
    if not isinstance(price, dict):
        invalid_value("pricingSummary.price", "Give value and currency.")
    try:
        amount = Decimal(str(price.get("value")))
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0:
        invalid_value("pricingSummary.price.value", "The price must be greater than 0.")
    if not _CURRENCY.fullmatch(str(price.get("currency", ""))):
        invalid_value("pricingSummary.price.currency", "Use an ISO 4217 code such as USD.")


def _check_offer(body: dict[str, Any]) -> None:
    if body.get("format", "FIXED_PRICE") not in FORMATS:
        invalid_value("format", "Use FIXED_PRICE or AUCTION.")
    quantity = body.get("availableQuantity", 0)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        invalid_value("availableQuantity", "The quantity must be 0 or more.")
    if "pricingSummary" in body:
        _check_price(body["pricingSummary"])
    if not re.fullmatch(r"\d+", str(body.get("categoryId", "0"))):
        invalid_value("categoryId", "The category ID is numeric.")
    if "listingPolicies" in body:
        _check_listing_policies(body["listingPolicies"])
    location = body.get("merchantLocationKey")
    if location is not None and not (isinstance(location, str) and 0 < len(location) <= 36):
        invalid_value("merchantLocationKey", "A key of 1 to 36 characters.")


def _check_listing_policies(policies: Any) -> None:
    if not isinstance(policies, dict) or not all(
        isinstance(policies.get(key, ""), str) for key in _POLICY_FIELDS.values()
    ):
        invalid_value("listingPolicies", "Give the business policy ids as strings.")


def _missing_for_publish(item: dict[str, Any], offer: dict[str, Any]) -> tuple[str, str] | None:
    """The first thing in the item or offer itself that keeps an offer from becoming a
    listing: (field, message)."""
    product = item["product"]
    quantity = item["availability"]["shipToLocationAvailability"]["quantity"]
    description = product.get("description") or offer.get("listingDescription")
    checks = [
        ("product.description", bool(description), "is missing"),
        ("product.imageUrls", bool(product.get("imageUrls")), "needs at least one image"),
        ("pricingSummary.price", "pricingSummary" in offer, "is missing"),
        ("categoryId", bool(offer.get("categoryId")), "is missing"),
        ("availability.shipToLocationAvailability.quantity", quantity > 0, "must be above 0"),
    ]
    for field_name, present, problem in checks:
        if not present:
            return field_name, f"A user error has occurred. {field_name} {problem}."
    aspects = product.get("aspects") or {}
    for name in REQUIRED_ASPECTS.get(str(offer["categoryId"]), ()):
        if not aspects.get(name):
            return (
                f"product.aspects.{name}",
                f"A user error has occurred. The item specific {name} is missing. Add {name} "
                "to this listing, enter a valid value and then try again.",
            )
    return None


class InventoryApi:
    """Inventory items and offers; handlers run under the sandbox lock."""

    def __init__(
        self,
        authenticate: Callable[[Request], str],
        base_url: Callable[[], str],
        account: AccountApi,
    ) -> None:
        self._authenticate = authenticate
        self._base_url = base_url
        self._account = account
        self.reset()

    def reset(self) -> None:
        self._sellers: dict[str, _Seller] = {}
        self._offer_ids = itertools.count(5_005_000_001)
        self._listing_ids = itertools.count(110_554_000_001)
        self.item_puts: Counter[str] = Counter()
        self.offers_created: Counter[str] = Counter()
        self.listings_created: Counter[str] = Counter()

    def register(self, router: Router) -> None:
        item, offer = f"{PREFIX}/inventory_item", f"{PREFIX}/offer"
        router.add("GET", item, self.get_inventory_items)
        router.add("PUT", f"{item}/{{sku}}", self.create_or_replace_inventory_item)
        router.add("GET", f"{item}/{{sku}}", self.get_inventory_item)
        router.add("DELETE", f"{item}/{{sku}}", self.delete_inventory_item)
        router.add("POST", offer, self.create_offer)
        router.add("GET", offer, self.get_offers)
        router.add("GET", f"{offer}/{{offerId}}", self.get_offer)
        router.add("PUT", f"{offer}/{{offerId}}", self.update_offer)
        router.add("DELETE", f"{offer}/{{offerId}}", self.delete_offer)
        router.add("POST", f"{offer}/{{offerId}}/publish", self.publish_offer)
        router.add("POST", f"{offer}/{{offerId}}/withdraw", self.withdraw_offer)

    def stats(self) -> dict[str, Any]:
        offers = [offer for seller in self._sellers.values() for offer in seller.offers.values()]
        return {
            "inventory_item_puts": dict(self.item_puts),
            "offers_created": dict(self.offers_created),
            "listings_created": dict(self.listings_created),
            "inventory_items": sum(len(seller.items) for seller in self._sellers.values()),
            "offers": len(offers),
            "active_listings": sum(1 for offer in offers if offer["status"] == "PUBLISHED"),
        }

    def catalogue(self, user: str) -> list[tuple[str, str, str | None]]:
        """(sku, title, listingId or None) of a seller's items, for seeding plausible orders."""
        seller = self._sellers.get(user, _Seller())
        listings = {
            offer["sku"]: offer["listing"]["listingId"]
            for offer in seller.offers.values()
            if "listing" in offer
        }
        return [
            (sku, item["product"]["title"], listings.get(sku)) for sku, item in seller.items.items()
        ]

    def sell(self, user: str, sku: str, quantity: int) -> dict[str, Any] | None:
        """A buyer purchase (control API): take `quantity` off the SKU's published offer.

        Answers (title, listingId, unit price) or None when the SKU has no live listing; at 0
        the listing ends as eBay ends a sold-out fixed-price listing.
        """
        seller = self._sellers.get(user)
        if seller is None or sku not in seller.items:
            return None
        offer = next(
            (o for o in seller.offers.values() if o["sku"] == sku and o["status"] == "PUBLISHED"),
            None,
        )
        if offer is None or offer["listing"].get("listingStatus") != "ACTIVE":
            return None
        left = max(int(offer.get("availableQuantity", 1)) - quantity, 0)
        offer["availableQuantity"] = left
        offer["listing"]["soldQuantity"] = offer["listing"].get("soldQuantity", 0) + quantity
        if left == 0:
            offer["listing"]["listingStatus"] = "OUT_OF_STOCK"
        price = offer.get("pricingSummary", {}).get("price", {"value": "10.00", "currency": "USD"})
        return {
            "title": seller.items[sku]["product"]["title"],
            "listing_id": offer["listing"]["listingId"],
            "price": price,
        }

    def _seller(self, request: Request) -> _Seller:
        return self._sellers.setdefault(self._authenticate(request), _Seller())

    def _item(self, seller: _Seller, sku: str) -> dict[str, Any]:
        item = seller.items.get(sku)
        if item is None:
            fail(404, 25710, NOT_FOUND_MESSAGE)
        return item

    def _offer(self, seller: _Seller, offer_id: str) -> dict[str, Any]:
        offer = seller.offers.get(offer_id)
        if offer is None:
            fail(404, 25713, OFFER_NOT_AVAILABLE, parameters={"offerId": offer_id})
        return offer

    def create_or_replace_inventory_item(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/createOrReplaceInventoryItem"""
        seller = self._seller(request)
        locale = _require_content_language(request)
        sku = _check_sku(request.params["sku"])
        body = _json_object(request)
        _check_item(body)
        seller.items[sku] = {**body, "sku": sku, "locale": locale}
        self.item_puts[sku] += 1
        return Response.empty(204)  # what eBay answers for both a create and a replace

    def get_inventory_item(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/getInventoryItem"""
        return Response.json(self._item(self._seller(request), request.params["sku"]))

    def delete_inventory_item(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/deleteInventoryItem

        Also deletes the SKU's offers and so ends its listings, as eBay does.
        """
        seller, sku = self._seller(request), request.params["sku"]
        self._item(seller, sku)
        del seller.items[sku]
        for offer_id in [key for key, offer in seller.offers.items() if offer["sku"] == sku]:
            del seller.offers[offer_id]
        return Response.empty(204)

    def get_inventory_items(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/getInventoryItems"""
        seller = self._seller(request)
        paging = page_params(request, default_limit=100, max_limit=100)
        if paging is None:
            message = "You have provided invalid pagination values. Use a limit of 1 to 100."
            fail(400, 25706, message)
        limit, offset = paging
        items = list(seller.items.values())
        url = self._base_url() + request.path
        return Response.json(
            {
                **page_links(url, {}, limit=limit, offset=offset, total=len(items)),
                "limit": limit,
                "size": -(-len(items) // limit),  # eBay documents `size` as the number of pages
                "total": len(items),
                "inventoryItems": items[offset : offset + limit],
            }
        )

    def create_offer(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/createOffer"""
        seller = self._seller(request)
        _require_content_language(request)
        body = _json_object(request)
        sku = _check_sku(body.get("sku"))
        marketplace_id = body.get("marketplaceId")
        if not isinstance(marketplace_id, str) or not _MARKETPLACE_ID.fullmatch(marketplace_id):
            invalid_value("marketplaceId", "Use a MarketplaceEnum value such as EBAY_US.")
        if "format" not in body:
            invalid_value("format", "Use FIXED_PRICE or AUCTION.")
        _check_offer(body)
        if sku not in seller.items:
            fail(400, 25702, f"{sku} could not be found or is not available in the system.")
        for offer in seller.offers.values():
            if (offer["sku"], offer["marketplaceId"], offer["format"]) == (
                sku,
                marketplace_id,
                body["format"],
            ):
                message = "A user error has occurred. Offer entity already exists."
                fail(400, 25002, message, parameters={"offerId": offer["offerId"]})
        offer_id = str(next(self._offer_ids))
        fields = {key: value for key, value in body.items() if key not in _RESERVED_OFFER_FIELDS}
        seller.offers[offer_id] = {
            "offerId": offer_id,
            "sku": sku,
            "marketplaceId": marketplace_id,
            "listingDuration": "GTC",
            **fields,
            "status": "UNPUBLISHED",
        }
        self.offers_created[sku] += 1
        return Response.json({"offerId": offer_id}, 201)

    def get_offers(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/getOffers"""
        seller = self._seller(request)
        sku = _check_sku(request.arg("sku"))
        paging = page_params(request, default_limit=100, max_limit=100)
        if paging is None:
            fail(
                400, 25706, "You have provided invalid pagination values. Use a limit of 1 to 100."
            )
        limit, offset = paging
        if sku not in seller.items:
            fail(404, 25702, f"{sku} could not be found or is not available in the system.")
        wanted = {"marketplaceId": request.arg("marketplace_id"), "format": request.arg("format")}
        offers = [
            offer
            for offer in seller.offers.values()
            if offer["sku"] == sku
            and all(value is None or offer[key] == value for key, value in wanted.items())
        ]
        if not offers:
            fail(404, 25713, OFFER_NOT_AVAILABLE, parameters={"sku": sku})
        query = {"sku": sku} | {
            name: request.arg(name) or ""
            for name in ("marketplace_id", "format")
            if request.arg(name)
        }
        page = offers[offset : offset + limit]
        url = self._base_url() + request.path
        return Response.json(
            {
                **page_links(url, query, limit=limit, offset=offset, total=len(offers)),
                "limit": limit,
                "size": len(page),
                "total": len(offers),
                "offers": page,
            }
        )

    def get_offer(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/getOffer"""
        return Response.json(self._offer(self._seller(request), request.params["offerId"]))

    def update_offer(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/updateOffer

        A full replacement of the offer's fields; a published offer revises its listing.
        """
        seller = self._seller(request)
        offer = self._offer(seller, request.params["offerId"])
        _require_content_language(request)
        body = _json_object(request)
        _check_offer(body)
        kept = {key: offer[key] for key in (*_RESERVED_OFFER_FIELDS, "format") if key in offer}
        fields = {key: value for key, value in body.items() if key not in _RESERVED_OFFER_FIELDS}
        offer.clear()
        offer.update({"listingDuration": "GTC", **kept, **fields})
        return Response.empty(204)

    def delete_offer(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/deleteOffer"""
        seller = self._seller(request)
        offer = self._offer(seller, request.params["offerId"])
        del seller.offers[offer["offerId"]]
        return Response.empty(204)

    def publish_offer(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/publishOffer

        Publishing a published offer answers its existing listingId and creates nothing.
        """
        user = self._authenticate(request)
        seller = self._seller(request)
        offer = self._offer(seller, request.params["offerId"])
        if offer["status"] == "PUBLISHED":
            return Response.json({"listingId": offer["listing"]["listingId"], "warnings": []})
        item = seller.items.get(offer["sku"])
        if item is None:
            message = f"{offer['sku']} could not be found or is not available in the system."
            fail(400, 25702, message)
        missing = _missing_for_publish(item, offer)
        if missing is not None:
            fail(400, 25002, missing[1], parameters={"fieldName": missing[0]})
        self._check_account_setup(user, offer)
        listing_id = str(next(self._listing_ids))
        offer["status"] = "PUBLISHED"
        offer["listing"] = {"listingId": listing_id, "listingStatus": "ACTIVE", "soldQuantity": 0}
        self.listings_created[offer["sku"]] += 1
        return Response.json({"listingId": listing_id, "warnings": []})

    def _check_account_setup(self, user: str, offer: dict[str, Any]) -> None:
        """The offer's business policies and location must be the seller's own."""
        policies = offer.get("listingPolicies") or {}
        for kind, field_name in _POLICY_FIELDS.items():
            if not self._account.policy_exists(
                user, kind, policies.get(field_name), offer["marketplaceId"]
            ):
                error_id, message = _POLICY_ERRORS[kind]
                fail(
                    400,
                    error_id,
                    message,
                    parameters={"fieldName": f"listingPolicies.{field_name}"},
                )
        if not self._account.location_enabled(user, offer.get("merchantLocationKey")):
            fail(
                400,
                25002,
                "A user error has occurred. No Item.Country exists: the offer needs the "
                "merchantLocationKey of an enabled inventory location.",
                parameters={"fieldName": "merchantLocationKey"},
            )

    def withdraw_offer(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/withdrawOffer

        Ends the listing; the offer stays, UNPUBLISHED, and can be published again.
        """
        seller = self._seller(request)
        offer = self._offer(seller, request.params["offerId"])
        if offer["status"] != "PUBLISHED":
            fail(400, 25002, "A user error has occurred. The offer is not published.")
        listing = offer.pop("listing")
        offer["status"] = "UNPUBLISHED"
        return Response.json({"listingId": listing["listingId"], "warnings": []})
