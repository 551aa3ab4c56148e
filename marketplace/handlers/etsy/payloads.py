"""Product ↔ Etsy Open API v3 bodies (pure functions).

Listing reference: https://developers.etsy.com/documentation/reference#tag/ShopListing
"""

from decimal import Decimal
from typing import Any

from core.errors import PermanentMarketplaceError
from marketplace.models import Product

# Etsy caps: https://developers.etsy.com/documentation/reference#operation/createDraftListing
TITLE_MAX = 140
TAGS_MAX = 13
IMAGES_MAX = 10  # https://developers.etsy.com/documentation/reference#operation/uploadListingImage
# Relist sells second-hand goods: made by someone else, in the last decade unless the product
# says otherwise. A product may name its own values in `attributes` (etsy_who_made, ...).
DEFAULT_WHO_MADE = "someone_else"
DEFAULT_WHEN_MADE = "2010_2019"
# The node Etsy's listings tutorial uses; shops map their categories to precise nodes
# (getSellerTaxonomyNodes) through product.attributes["etsy_taxonomy_id"].
DEFAULT_TAXONOMY_ID = 1
# updateShop's text fields: https://developers.etsy.com/documentation/reference#operation/updateShop
SHOP_FIELDS = frozenset(
    {"title", "announcement", "sale_message", "digital_sale_message", "policy_additional"}
)


def price_text(price: Decimal) -> str:
    """Etsy takes the price as a decimal in the shop's currency."""
    return f"{price:.2f}"


def _tags(product: Product) -> str | None:
    tags = product.attributes.get("etsy_tags") or []
    # Form bodies carry Etsy's array parameters as comma-separated strings.
    return ",".join(str(tag) for tag in tags[:TAGS_MAX]) or None


def draft_listing(product: Product) -> dict[str, str]:
    """The createDraftListing form body.

    `sku` is not an Etsy listing field (SKUs live in the inventory); the sandbox records it at
    creation so that a lost create can be found again by SKU, and Etsy ignores it.
    """
    attributes = product.attributes
    body = {
        "quantity": str(product.quantity),
        "title": product.title[:TITLE_MAX],
        "description": product.description or product.title,
        "price": price_text(product.price),
        "who_made": str(attributes.get("etsy_who_made", DEFAULT_WHO_MADE)),
        "when_made": str(attributes.get("etsy_when_made", DEFAULT_WHEN_MADE)),
        "taxonomy_id": str(attributes.get("etsy_taxonomy_id", DEFAULT_TAXONOMY_ID)),
        "is_supply": "false",
        "sku": product.sku,
    }
    if (tags := _tags(product)) is not None:
        body["tags"] = tags
    return body


def listing_update(product: Product) -> dict[str, str]:
    """The updateListing form body: the fields a product edit can change. Price and quantity
    are not listing fields on Etsy; they change through the inventory."""
    body = {
        "title": product.title[:TITLE_MAX],
        "description": product.description or product.title,
    }
    if (tags := _tags(product)) is not None:
        body["tags"] = tags
    return body


def inventory(product: Product) -> dict[str, Any]:
    """The updateListingInventory JSON body for a listing without variations: one product,
    one offering. https://developers.etsy.com/documentation/reference#operation/updateListingInventory
    """
    return {
        "products": [
            {
                "sku": product.sku,
                "property_values": [],
                "offerings": [
                    {
                        "price": float(product.price),
                        "quantity": product.quantity,
                        "is_enabled": True,
                    }
                ],
            }
        ],
        "price_on_property": [],
        "quantity_on_property": [],
        "sku_on_property": [],
    }


def sale_terms(product: Product) -> dict[str, Any]:
    """What the inventory holds, as recorded on the tenant's Listing to detect changes."""
    return {"price": price_text(product.price), "quantity": product.quantity}


def money(value: dict[str, Any] | None) -> Decimal | None:
    """Etsy's Money object (an integer amount over a divisor) as a Decimal."""
    if not value:
        return None
    return Decimal(int(value["amount"])) / Decimal(int(value.get("divisor") or 1))


def shop_changes(input_data: dict[str, Any]) -> dict[str, str]:
    """The updateShop form body from a job's input; refuses what Etsy would refuse."""
    unknown = sorted(set(input_data) - SHOP_FIELDS)
    if unknown or not input_data:
        raise PermanentMarketplaceError(
            "An Etsy shop update takes one or more of: " + ", ".join(sorted(SHOP_FIELDS)) + ".",
            details={"unknown_fields": unknown},
        )
    return {name: str(value) for name, value in input_data.items()}
