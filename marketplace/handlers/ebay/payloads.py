"""Canonical product → eBay Inventory API bodies (pure functions), through the shop's mappings.

Inventory item: https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/createOrReplaceInventoryItem
Offer: https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/createOffer
"""

from decimal import Decimal
from typing import Any

from django.conf import settings

from marketplace.models import AttributeKind, Product
from marketplace.rendering import text
from marketplace.rendering.mappings import Mappings, ProductLike
from marketplace.rendering.text import Reason

TITLE_MAX = 80
IMAGES_MAX = 24
# eBay's fixed-price floor on its main sites; the ceiling is far above anything resold here.
PRICE_MIN, PRICE_MAX = Decimal("0.99"), Decimal("99999999.00")
# The account setup an offer needs before it can be published (listingPolicies and
# merchantLocationKey): marketplace.services.account_setup reads and stores them.
SETUP_KEYS = ("fulfillment_policy_id", "payment_policy_id", "return_policy_id")
LOCATION_KEY = "merchant_location_key"


def title(product: Product) -> str:
    return text.fit(product.title, TITLE_MAX)


def description(product: Product) -> str:
    return (product.description or product.title).strip()


def category_id(product: ProductLike, mappings: Mappings) -> str | None:
    if override := product.attributes.get("ebay_category_id"):
        return str(override)
    mapping = mappings.category(product, "ebay")
    return mapping.external_id if mapping else None


def condition(product: ProductLike, mappings: Mappings) -> str | None:
    if override := product.attributes.get("ebay_condition"):
        return str(override)
    mapping = mappings.condition(product, "ebay")
    return mapping.external_id if mapping else None


def aspects(product: ProductLike, mappings: Mappings) -> dict[str, list[str]]:
    """Item specifics: the category's fixed values, then what the product says (mapped to
    eBay's names where a mapping exists), then the product's own overrides."""
    found: dict[str, list[str]] = {}
    mapping = mappings.category(product, "ebay")
    if mapping is not None:
        found.update({name: list(values) for name, values in mapping.properties.items()})
    if product.brand:
        brand = mappings.value(AttributeKind.BRAND, product.brand, "ebay")
        found["Brand"] = [brand.external_name if brand else product.brand]
    if product.size:
        size = mappings.value(AttributeKind.SIZE, product.size, "ebay")
        category = mappings.category_of(product)
        name = "US Shoe Size" if category is not None and category.group == "shoes" else "Size"
        found[name] = [size.external_name if size else product.size]
    if colours := text.unique_words(m.external_name for m in mappings.colours(product, "ebay")):
        found["Colour"] = colours
    if product.material:
        found["Material"] = [product.material]
    found.update(
        {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
         for k, vs in (product.attributes.get("ebay_aspects") or {}).items()}
    )  # fmt: skip
    return found


def missing(product: ProductLike, mappings: Mappings, *, has_images: bool) -> list[Reason]:
    """What eBay would refuse about this product (publishOffer's checks, MARKETPLACES §6)."""
    reasons: list[Reason] = []
    if product.category_id is None and not product.attributes.get("ebay_category_id"):
        reasons.append(Reason("no_category", "The product has no category.", "category"))
    elif category_id(product, mappings) is None:
        reasons.append(
            Reason(
                "category_not_mapped",
                f"Category {mappings.category_of(product)} has no eBay category.",
                "category",
            )
        )
    if condition(product, mappings) is None:
        reasons.append(
            Reason(
                "condition_not_mapped",
                f"Condition {product.condition} has no eBay condition.",
                "condition",
            )
        )
    if not has_images:
        reasons.append(Reason("no_images", "eBay needs at least one image.", "images"))
    mapping = mappings.category(product, "ebay")
    have = aspects(product, mappings)
    for name in mapping.required_aspects if mapping else ():
        if not have.get(name):
            reasons.append(
                Reason("aspect_missing", f"eBay's category requires the aspect {name}.", name)
            )
    if reason := text.price_reason(product.price, low=PRICE_MIN, high=PRICE_MAX, name="eBay"):
        reasons.append(reason)
    return reasons


def _package(product: Product) -> dict[str, Any] | None:
    package: dict[str, Any] = {}
    dims = (product.length_cm, product.width_cm, product.height_cm)
    if all(d is not None for d in dims):
        length, width, height = (float(d) for d in dims)  # type: ignore[arg-type]
        package["dimensions"] = {
            "length": length,
            "width": width,
            "height": height,
            "unit": "CENTIMETER",
        }
    if product.weight_g is not None:
        package["weight"] = {"value": product.weight_g, "unit": "GRAM"}
    return package or None


def inventory_item(product: Product, image_urls: list[str], mappings: Mappings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "availability": {"shipToLocationAvailability": {"quantity": product.quantity}},
        "condition": condition(product, mappings),
        "product": {
            "title": title(product),
            "description": description(product),
            "imageUrls": text.images(image_urls, IMAGES_MAX),
            "aspects": aspects(product, mappings),
        },
    }
    if (package := _package(product)) is not None:
        body["packageWeightAndSize"] = package
    return body


def offer(product: Product, mappings: Mappings, setup: dict[str, Any]) -> dict[str, Any]:
    """The offer, with the connection's business policies and inventory location: eBay will
    not publish an offer without them."""
    body: dict[str, Any] = {
        "sku": product.sku,
        "marketplaceId": settings.EBAY_MARKETPLACE_ID,
        "format": "FIXED_PRICE",
        "availableQuantity": product.quantity,
        "categoryId": category_id(product, mappings),
        "listingDescription": description(product),
        "pricingSummary": {
            "price": {"value": f"{text.price(product.price)}", "currency": product.currency}
        },
        "listingPolicies": {
            "fulfillmentPolicyId": setup.get("fulfillment_policy_id"),
            "paymentPolicyId": setup.get("payment_policy_id"),
            "returnPolicyId": setup.get("return_policy_id"),
        },
        "merchantLocationKey": setup.get(LOCATION_KEY),
    }
    return body
