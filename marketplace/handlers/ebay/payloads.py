"""Product → eBay request bodies (pure functions)."""

from typing import Any

from django.conf import settings

from marketplace.models import Product

# https://developer.ebay.com/api-docs/sell/inventory/types/slr:ConditionEnum
CONDITIONS = {
    "new": "NEW",
    "new_with_tags": "NEW",
    "new_without_tags": "NEW_OTHER",
    "used_excellent": "USED_EXCELLENT",
    "used_very_good": "USED_VERY_GOOD",
    "used_good": "USED_GOOD",
    "used_acceptable": "USED_ACCEPTABLE",
}
DEFAULT_CATEGORY_ID = "57988"  # Clothing, Shoes & Accessories > Men > Coats & Jackets


def inventory_item(product: Product, image_urls: list[str]) -> dict[str, Any]:
    aspects = {
        name: [value] for name, value in (("Brand", product.brand), ("Size", product.size)) if value
    }
    return {
        "availability": {"shipToLocationAvailability": {"quantity": product.quantity}},
        "condition": CONDITIONS.get(product.condition, "USED_GOOD"),
        "product": {
            "title": product.title[:80],
            "description": product.description or product.title,
            "imageUrls": image_urls,
            "aspects": aspects,
        },
    }


def offer(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "marketplaceId": settings.EBAY_MARKETPLACE_ID,
        "format": "FIXED_PRICE",
        "availableQuantity": product.quantity,
        "categoryId": str(product.attributes.get("ebay_category_id", DEFAULT_CATEGORY_ID)),
        "listingDescription": product.description or product.title,
        "pricingSummary": {
            "price": {"value": f"{product.price:.2f}", "currency": product.currency}
        },
    }
