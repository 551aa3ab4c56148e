"""Product ↔ Etsy Open API v3 bodies (pure functions).

Listing reference: https://developers.etsy.com/documentation/reference#tag/ShopListing
"""

import re
from decimal import Decimal
from typing import Any

from core.errors import PermanentMarketplaceError
from marketplace.models import Product
from marketplace.rendering import text
from marketplace.rendering.mappings import Mappings, ProductLike
from marketplace.rendering.text import Reason

# Etsy caps: https://developers.etsy.com/documentation/reference#operation/createDraftListing
TITLE_MAX = 140
TAGS_MAX = 13
TAG_LENGTH_MAX = 20
MATERIALS_MAX = 13
MATERIAL_LENGTH_MAX = 45
IMAGES_MAX = 10  # https://developers.etsy.com/documentation/reference#operation/uploadListingImage
PRICE_MIN, PRICE_MAX = Decimal("0.20"), Decimal("50000.00")
# Tags take letters, digits, spaces, - ' ™ © ®; anything else makes Etsy refuse the listing.
_TAG_REFUSED = re.compile(r"[^\w\s\-'™©®]")
# Relist sells second-hand goods: made by someone else, in the last decade unless the product
# says otherwise (`attributes.etsy_who_made`, `etsy_when_made`).
DEFAULT_WHO_MADE = "someone_else"
DEFAULT_WHEN_MADE = "2010_2019"
# A physical listing can only be activated with a shipping profile and a processing profile
# (readiness state); the return policy is sent when the shop has one.
SETUP_KEYS = ("shipping_profile_id", "readiness_state_id")
OPTIONAL_SETUP_KEYS = ("return_policy_id",)
# updateShop's text fields: https://developers.etsy.com/documentation/reference#operation/updateShop
SHOP_FIELDS = frozenset(
    {"title", "announcement", "sale_message", "digital_sale_message", "policy_additional"}
)


def price_text(price: Decimal) -> str:
    """Etsy takes the price as a decimal in the shop's currency."""
    return f"{text.price(price)}"


def title(product: Product) -> str:
    return text.fit(product.title, TITLE_MAX)


def tags(product: Product, mappings: Mappings) -> list[str]:
    """At most 13 tags of at most 20 characters: the product's own (attributes.etsy_tags)
    first, then what describes it (brand, category, colours, material, size). A tag that does
    not fit is cut at a word boundary; characters Etsy refuses are dropped."""
    colours = [m.external_name for m in mappings.colours(product, "etsy")]
    candidates = [
        *(str(tag) for tag in product.attributes.get("etsy_tags") or []),
        product.brand,
        category.name if (category := mappings.category_of(product)) else "",
        *colours,
        product.material,
        f"size {product.size}" if product.size else "",
    ]
    cleaned = (text.fit(_TAG_REFUSED.sub("", tag), TAG_LENGTH_MAX) for tag in candidates)
    return text.unique_words(cleaned)[:TAGS_MAX]


def materials(product: Product) -> list[str]:
    given = product.attributes.get("etsy_materials") or (
        [product.material] if product.material else []
    )
    cleaned = (text.fit(_TAG_REFUSED.sub("", str(m)), MATERIAL_LENGTH_MAX) for m in given)
    return text.unique_words(cleaned)[:MATERIALS_MAX]


def taxonomy_id(product: ProductLike, mappings: Mappings) -> str | None:
    if override := product.attributes.get("etsy_taxonomy_id"):
        return str(override)
    mapping = mappings.category(product, "etsy")
    return mapping.external_id if mapping else None


def missing(product: ProductLike, mappings: Mappings, *, has_images: bool) -> list[Reason]:
    """What Etsy would refuse about this product (createDraftListing, activation)."""
    reasons: list[Reason] = []
    if product.category_id is None and not product.attributes.get("etsy_taxonomy_id"):
        reasons.append(Reason("no_category", "The product has no category.", "category"))
    elif taxonomy_id(product, mappings) is None:
        reasons.append(
            Reason(
                "category_not_mapped",
                f"Category {mappings.category_of(product)} has no Etsy taxonomy node.",
                "category",
            )
        )
    if not has_images:
        reasons.append(
            Reason("no_images", "Etsy needs at least one image to activate a listing.", "images")
        )
    if reason := text.price_reason(product.price, low=PRICE_MIN, high=PRICE_MAX, name="Etsy"):
        reasons.append(reason)
    return reasons


def _joined(values: list[str]) -> str:
    # Form bodies carry Etsy's array parameters as comma-separated strings.
    return ",".join(values)


def draft_listing(product: Product, mappings: Mappings, setup: dict[str, Any]) -> dict[str, str]:
    """The createDraftListing form body, with the shop's shipping profile, processing profile
    (readiness state) and return policy: Etsy will not activate a physical listing without
    the first two.

    `sku` is not an Etsy listing field (SKUs live in the inventory); the sandbox records it at
    creation so that a lost create can be found again by SKU, and Etsy ignores it.
    """
    attributes = product.attributes
    body = {
        "quantity": str(product.quantity),
        "title": title(product),
        "description": (product.description or product.title).strip(),
        "price": price_text(product.price),
        "who_made": str(attributes.get("etsy_who_made", DEFAULT_WHO_MADE)),
        "when_made": str(attributes.get("etsy_when_made", DEFAULT_WHEN_MADE)),
        "taxonomy_id": str(taxonomy_id(product, mappings)),
        "is_supply": "false",
        "type": "physical",
        "sku": product.sku,
    }
    for key in (*SETUP_KEYS, *OPTIONAL_SETUP_KEYS):
        if setup.get(key):
            body[key] = str(setup[key])
    if found := tags(product, mappings):
        body["tags"] = _joined(found)
    if found := materials(product):
        body["materials"] = _joined(found)
    return body


def listing_update(product: Product, mappings: Mappings) -> dict[str, str]:
    """The updateListing form body: the fields a product edit can change. Price and quantity
    are not listing fields on Etsy; they change through the inventory."""
    body = {"title": title(product), "description": (product.description or product.title).strip()}
    if found := tags(product, mappings):
        body["tags"] = _joined(found)
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
                        "price": float(text.price(product.price)),
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
