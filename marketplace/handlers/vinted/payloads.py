"""Product → Vinted item bodies (pure functions), as Vinted's own web app sends them."""

import re
import uuid
from typing import Any

from marketplace.models import Product

# Vinted's item condition ids (status_id).
CONDITIONS = {
    "new_with_tags": 6,
    "new": 6,
    "new_without_tags": 1,
    "used_excellent": 2,
    "used_very_good": 2,
    "used_good": 3,
    "used_acceptable": 4,
}
DEFAULT_CATALOG_ID = 1206  # Men > Clothing > Outerwear > Jackets
MARKER_RE = re.compile(r"\[ref:([^\]]+)\]")


def description(product: Product) -> str:
    """The product's text plus its marker, so the item can be found again after a lost answer."""
    text = (product.description or product.title).strip()
    return f"{text}\n\n{product.marker}"


def item_fields(product: Product) -> dict[str, Any]:
    attributes = product.attributes
    fields: dict[str, Any] = {
        "title": product.title[:100],
        "description": description(product),
        "price": f"{product.price:.2f}",
        "currency": product.currency,
        "catalog_id": int(attributes.get("vinted_catalog_id", DEFAULT_CATALOG_ID)),
        "status_id": CONDITIONS.get(product.condition, 3),
        "package_size_id": int(attributes.get("vinted_package_size_id", 2)),
    }
    for key in ("brand_id", "size_id"):
        if (value := attributes.get(f"vinted_{key}")) is not None:
            fields[key] = int(value)
    return fields


def item_upload(product: Product, photo_ids: list[int]) -> dict[str, Any]:
    return {
        "item": {
            **item_fields(product),
            "assigned_photos": [{"id": pid, "orientation": 0} for pid in photo_ids],
        },
        "feedback_id": None,
        "upload_session_id": str(uuid.uuid4()),
    }


def sku_of(item: dict[str, Any]) -> str | None:
    match = MARKER_RE.search(str(item.get("description", "")))
    return match.group(1) if match else None
