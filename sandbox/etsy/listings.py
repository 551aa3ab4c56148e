"""Etsy Open API v3 listings: drafts, updates and activation, inventory.

API reference: https://developers.etsy.com/documentation/reference#tag/ShopListing
"""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sandbox.etsy.common import (
    PREFIX,
    as_bool,
    as_int,
    as_list,
    as_price,
    fail,
    money,
    page,
    results,
)
from sandbox.etsy.profiles import ProfilesApi
from sandbox.routing import Request, Response, Router

REQUIRED = ("quantity", "title", "description", "price", "who_made", "when_made", "taxonomy_id")
WHO_MADE = ("i_did", "someone_else", "collective")
WHEN_MADE = frozenset(
    {
        "made_to_order", "before_2006", "2000_2005", "1990s", "1980s", "1970s", "1960s", "1950s",
        "1940s", "1930s", "1920s", "1910s", "1900s", "1800s", "1700s", "before_1700",
    }
)  # fmt: skip
_YEAR_RANGE = re.compile(r"\d{4}_\d{4}")  # the recent ranges roll with the calendar
_TAG_REFUSED = re.compile(r"[^\w\s\-'™©®]")
LISTING_TYPES = ("physical", "download", "both")
STATES = ("active", "inactive", "draft", "expired", "sold_out")


def _title(name: str, value: Any) -> str:
    text = str(value).strip()
    if not 0 < len(text) <= 140:
        fail(400, f"Invalid value for {name}: expected 1 to 140 characters.")
    return text


def _who_made(name: str, value: Any) -> str:
    if value not in WHO_MADE:
        fail(400, f"Invalid value for {name}: expected one of {', '.join(WHO_MADE)}.")
    return str(value)


def _when_made(name: str, value: Any) -> str:
    if value not in WHEN_MADE and not _YEAR_RANGE.fullmatch(str(value)):
        fail(400, f"Invalid value for {name}: expected a WhenMade value such as made_to_order.")
    return str(value)


def _tags(name: str, value: Any) -> list[str]:
    """Tags: at most 13, each at most 20 characters of letters, digits, spaces, - ' ™ © ®."""
    items = as_list(name, value)
    if len(items) > 13:
        fail(400, f"Invalid value for {name}: at most 13 items.")
    for item in items:
        if len(item) > 20 or _TAG_REFUSED.search(item):
            fail(400, f"Invalid value for {name}: {item!r} is not a valid tag.")
    return items


def _materials(name: str, value: Any) -> list[str]:
    items = as_list(name, value)
    if len(items) > 13 or any(len(item) > 45 for item in items):
        fail(400, f"Invalid value for {name}: at most 13 items of at most 45 characters.")
    return items


# Fields that createDraftListing and updateListing share, with their parsers.
_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "title": _title,
    "description": lambda _name, value: str(value),
    "who_made": _who_made,
    "when_made": _when_made,
    "taxonomy_id": lambda name, value: as_int(name, value, minimum=1),
    "tags": _tags,
    "materials": _materials,
    "is_supply": as_bool,
    "should_auto_renew": as_bool,
    "shipping_profile_id": lambda name, value: as_int(name, value, minimum=1),
    "return_policy_id": lambda name, value: as_int(name, value, minimum=1),
    "readiness_state_id": lambda name, value: as_int(name, value, minimum=1),
}

# Setup fields a listing may name: they must be the shop's own.
_SETUP_FIELDS = {
    "shipping_profile_id": "shipping_profiles",
    "readiness_state_id": "readiness_states",
    "return_policy_id": "return_policies",
}


def _parse_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {name: parse(name, data[name]) for name, parse in _FIELDS.items() if name in data}


def _skus(data: dict[str, Any]) -> list[str]:
    # Not a createDraftListing parameter on Etsy (SKUs live in the inventory); accepted here so
    # that a listing can carry its SKU from the start.
    if "skus" in data:
        return as_list("skus", data["skus"])
    return [str(data["sku"])] if data.get("sku") else []


class ListingsApi:
    """Listings and their inventory; handlers run under the sandbox lock.

    `images` holds each listing's images (see `ListingImagesApi`): activation needs one.
    """

    def __init__(
        self,
        authenticate: Callable[[Request], int],
        owned_shop: Callable[[Request], tuple[int, int]],
        profiles: ProfilesApi,
    ) -> None:
        # authenticate: the caller's user id; owned_shop: (user id, shop id) for a path naming
        # a shop the caller owns. Both answer 401/403/404 themselves.
        self._authenticate = authenticate
        self._owned_shop = owned_shop
        self._profiles = profiles
        self.reset()

    def reset(self) -> None:
        self.listings: dict[int, dict[str, Any]] = {}
        self.images: dict[int, list[dict[str, Any]]] = {}
        self._inventory: dict[int, dict[str, Any]] = {}
        self._listing_ids = itertools.count(1_500_000_001)
        self._product_ids = itertools.count(9_100_000_001)
        self.created_by_sku: Counter[str] = Counter()
        self.created_total = 0
        self.activations: Counter[str] = Counter()

    def register(self, router: Router) -> None:
        shop_listings = f"{PREFIX}/shops/{{shop_id:\\d+}}/listings"
        shop_listing = f"{shop_listings}/{{listing_id:\\d+}}"
        listing = f"{PREFIX}/listings/{{listing_id:\\d+}}"
        router.add("POST", shop_listings, self.create_draft_listing)
        router.add("GET", shop_listings, self.get_listings_by_shop)
        router.add(
            "GET", f"{shop_listings}/{{state:{'|'.join(STATES)}}}", self.get_listings_by_shop
        )
        router.add("PATCH", shop_listing, self.update_listing)
        router.add("DELETE", shop_listing, self.delete_listing)
        router.add("GET", listing, self.get_listing)
        router.add("DELETE", listing, self.delete_listing)
        router.add("GET", f"{listing}/inventory", self.get_listing_inventory)
        router.add("PUT", f"{listing}/inventory", self.update_listing_inventory)

    def stats(self) -> dict[str, Any]:
        per_sku: Counter[str] = Counter(
            sku for listing in self.listings.values() for sku in listing["skus"]
        )
        return {
            "listings_created": dict(self.created_by_sku),
            "listings_created_total": self.created_total,
            "listings_per_sku": dict(per_sku),
            "activations": dict(self.activations),
            "listings": len(self.listings),
            "active_listings": sum(
                1 for item in self.listings.values() if item["state"] == "active"
            ),
        }

    def of_shop(self, shop_id: int) -> list[dict[str, Any]]:
        return [listing for listing in self.listings.values() if listing["shop_id"] == shop_id]

    def owned_listing(self, request: Request, *, shop_scoped: bool) -> dict[str, Any]:
        """The listing in the path, which the caller must own (through the shop in the path)."""
        if shop_scoped:
            user_id, shop_id = self._owned_shop(request)
        else:
            user_id, shop_id = self._authenticate(request), None
        listing_id = int(request.params["listing_id"])
        listing = self.listings.get(listing_id)
        if listing is None or (shop_id is not None and listing["shop_id"] != shop_id):
            fail(404, f"Listing {listing_id} was not found.")
        if listing["user_id"] != user_id:
            fail(403, f"User {user_id} does not own listing {listing_id}.")
        return listing

    def create_draft_listing(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/createDraftListing"""
        user_id, shop_id = self._owned_shop(request)
        data = request.fields()
        missing = [name for name in REQUIRED if data.get(name) in (None, "")]
        if missing:
            fail(400, f"Missing required parameter(s): {', '.join(missing)}.")
        fields = _parse_fields(data)
        self._check_setup(shop_id, fields)
        listing_type = data.get("type", "physical")
        if listing_type not in LISTING_TYPES:
            fail(400, f"Invalid value for type: expected one of {', '.join(LISTING_TYPES)}.")
        quantity = as_int("quantity", data["quantity"], minimum=1, maximum=999)
        price = as_price("price", data["price"])
        skus = _skus(data)
        listing_id, now = next(self._listing_ids), int(time.time())
        slug = re.sub(r"[^a-z0-9]+", "-", fields["title"].lower()).strip("-")[:60]
        listing = {
            "listing_id": listing_id,
            "user_id": user_id,
            "shop_id": shop_id,
            "state": "draft",
            "creation_timestamp": now,
            "created_timestamp": now,
            "ending_timestamp": now + 120 * 86400,
            "original_creation_timestamp": now,
            "last_modified_timestamp": now,
            "updated_timestamp": now,
            "state_timestamp": now,
            "quantity": quantity,
            "shop_section_id": None,
            "featured_rank": -1,
            "url": f"https://www.etsy.com/listing/{listing_id}/{slug}",
            "num_favorers": 0,
            "is_taxable": True,
            "is_customizable": False,
            "is_personalizable": False,
            "listing_type": listing_type,
            "readiness_state_id": None,
            "tags": [],
            "materials": [],
            "shipping_profile_id": None,
            "return_policy_id": None,
            "is_supply": False,
            "should_auto_renew": False,
            "language": "en-US",
            "price": money(price),
            "skus": skus,
            "views": 0,
            "has_variations": False,
            **fields,
        }
        self.listings[listing_id] = listing
        self.images[listing_id] = []
        self._inventory[listing_id] = self._default_inventory(listing)
        self.created_total += 1
        for sku in skus:
            self.created_by_sku[sku] += 1
        return Response.json(listing, 201)

    def update_listing(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/updateListing

        Price and quantity are not listing fields here: they change through the inventory.
        """
        listing = self.owned_listing(request, shop_scoped=True)
        data = request.fields()
        fields = _parse_fields(data)
        self._check_setup(listing["shop_id"], fields)
        state = data.get("state")
        if state is not None:
            if state not in ("active", "inactive"):
                fail(400, "Invalid value for state: expected active or inactive.")
            if state == "active":
                self._check_activation({**listing, **fields})
            if state != listing["state"]:
                if state == "active":
                    self.activations[str(listing["listing_id"])] += 1
                fields |= {"state": state, "state_timestamp": int(time.time())}
        now = int(time.time())
        listing.update(fields, last_modified_timestamp=now, updated_timestamp=now)
        return Response.json(listing)

    def _check_setup(self, shop_id: int, fields: dict[str, Any]) -> None:
        for name, kind in _SETUP_FIELDS.items():
            if fields.get(name) is not None and not self._profiles.has(
                shop_id, kind, name, fields[name]
            ):
                fail(400, f"Invalid value for {name}: {fields[name]} is not one of this shop's.")

    def _check_activation(self, listing: dict[str, Any]) -> None:
        """What Etsy requires before a listing goes live (MARKETPLACES §6)."""
        if not self.images[listing["listing_id"]]:
            fail(400, "A listing must have at least one image before it can be activated.")
        if listing["listing_type"] != "download":
            for name, label in (
                ("shipping_profile_id", "a shipping profile"),
                ("readiness_state_id", "a processing profile (readiness_state_id)"),
            ):
                if not listing.get(name):
                    fail(400, f"A physical listing must have {label} before it can be activated.")

    def delete_listing(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/deleteListing"""
        listing = self.owned_listing(request, shop_scoped="shop_id" in request.params)
        listing_id = listing["listing_id"]
        del self.listings[listing_id], self.images[listing_id], self._inventory[listing_id]
        return Response.empty(204)

    def get_listing(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getListing

        Active listings are public; others only show to their owner.
        """
        user_id = self._authenticate(request)
        listing = self.listings.get(int(request.params["listing_id"]))
        if listing is None or (listing["state"] != "active" and listing["user_id"] != user_id):
            fail(404, f"Listing {request.params['listing_id']} was not found.")
        return Response.json(listing)

    def get_listings_by_shop(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getListingsByShop

        `/listings?state=` is Etsy's form; `/listings/active` (findAllActiveListingsByShop) and
        the other `/listings/<state>` paths filter the same way.
        """
        _user_id, shop_id = self._owned_shop(request)
        state = request.params.get("state") or request.arg("state") or "active"
        if state not in STATES:
            fail(400, f"Invalid value for state: expected one of {', '.join(STATES)}.")
        limit, offset = page(request)
        found = [listing for listing in self.of_shop(shop_id) if listing["state"] == state]
        return results(found, limit, offset)

    def _default_inventory(self, listing: dict[str, Any]) -> dict[str, Any]:
        return {
            "products": [self._product(listing["skus"][0] if listing["skus"] else "", listing)],
            "price_on_property": [],
            "quantity_on_property": [],
            "sku_on_property": [],
        }

    def _product(self, sku: str, offering: dict[str, Any]) -> dict[str, Any]:
        return {
            "product_id": next(self._product_ids),
            "sku": sku,
            "is_deleted": False,
            "offerings": [
                {
                    "offering_id": next(self._product_ids),
                    "quantity": offering["quantity"],
                    "is_enabled": offering.get("is_enabled", True),
                    "is_deleted": False,
                    "price": offering["price"],
                }
            ],
            "property_values": [],
        }

    def get_listing_inventory(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/getListingInventory"""
        return Response.json(
            self._inventory[self.owned_listing(request, shop_scoped=False)["listing_id"]]
        )

    def update_listing_inventory(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/reference#operation/updateListingInventory

        Sets the listing's price (the lowest), quantity (enabled offerings) and SKUs.
        """
        listing = self.owned_listing(request, shop_scoped=False)
        body = request.json()
        products = body.get("products") if isinstance(body, dict) else None
        if not isinstance(products, list) or not products:
            fail(400, "Invalid value for products: expected a non-empty list.")
        parsed = [self._parse_product(index, item) for index, item in enumerate(products)]
        enabled = [product["offerings"][0] for product in parsed]
        inventory = {
            "products": parsed,
            "price_on_property": body.get("price_on_property", []),
            "quantity_on_property": body.get("quantity_on_property", []),
            "sku_on_property": body.get("sku_on_property", []),
        }
        self._inventory[listing["listing_id"]] = inventory
        listing.update(
            quantity=sum(offer["quantity"] for offer in enabled if offer["is_enabled"]),
            price=min((offer["price"] for offer in enabled), key=lambda price: price["amount"]),
            skus=[product["sku"] for product in parsed if product["sku"]],
            has_variations=len(parsed) > 1,
            updated_timestamp=int(time.time()),
        )
        return Response.json(inventory)

    def _parse_product(self, index: int, item: Any) -> dict[str, Any]:
        where = f"products[{index}]"
        offerings = item.get("offerings") if isinstance(item, dict) else None
        if not isinstance(offerings, list) or len(offerings) != 1:
            fail(400, f"Invalid value for {where}.offerings: expected one offering.")
        offering = offerings[0] if isinstance(offerings[0], dict) else {}
        parsed = {
            "quantity": as_int(
                f"{where}.offerings[0].quantity", offering.get("quantity"), maximum=999
            ),
            "price": money(as_price(f"{where}.offerings[0].price", offering.get("price"))),
            "is_enabled": as_bool(
                f"{where}.offerings[0].is_enabled", offering.get("is_enabled", True)
            ),
        }
        product = self._product(str(item.get("sku") or ""), parsed)
        product["property_values"] = item.get("property_values") or []
        return product
