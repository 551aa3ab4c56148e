"""Canonical product → Vinted item bodies (pure functions), as Vinted's own web app sends them,
through the shop's mappings (catalog, status, brand, size and colour ids)."""

import re
import uuid
from decimal import Decimal
from typing import Any

from marketplace.models import AttributeKind, Product
from marketplace.rendering import text
from marketplace.rendering.mappings import Mappings, ProductLike
from marketplace.rendering.text import Reason

# Vinted's upload form (no public API; as its web app enforces, MARKETPLACES §6).
TITLE_MAX = 100
DESCRIPTION_MAX = 2000
COLOURS_MAX = 2
IMAGES_MAX = 20
PRICE_MIN, PRICE_MAX = Decimal("1.00"), Decimal("100000.00")
# package_size_id: small, medium, large parcels by weight (grams), medium when unknown.
PACKAGE_SMALL, PACKAGE_MEDIUM, PACKAGE_LARGE = 1, 2, 3
MARKER_RE = re.compile(r"\[ref:([^\]]+)\]")


def title(product: Product) -> str:
    return text.fit(product.title, TITLE_MAX)


def description(product: Product) -> str:
    """The product's text plus its marker, so the item can be found again after a lost
    answer: the text is shortened, never the marker."""
    marker = f"\n\n{product.marker}"
    body = text.fit_block(product.description or product.title, DESCRIPTION_MAX - len(marker))
    return f"{body}{marker}"


def catalog_id(product: ProductLike, mappings: Mappings) -> int | None:
    if override := product.attributes.get("vinted_catalog_id"):
        return int(override)
    mapping = mappings.category(product, "vinted")
    return int(mapping.external_id) if mapping else None


def status_id(product: ProductLike, mappings: Mappings) -> int | None:
    if override := product.attributes.get("vinted_status_id"):
        return int(override)
    mapping = mappings.condition(product, "vinted")
    return int(mapping.external_id) if mapping else None


def color_ids(product: Product, mappings: Mappings) -> list[int]:
    if override := product.attributes.get("vinted_color_ids"):
        return [int(c) for c in override][:COLOURS_MAX]
    ids = dict.fromkeys(int(m.external_id) for m in mappings.colours(product, "vinted"))
    return list(ids)[:COLOURS_MAX]


def package_size_id(product: Product) -> int:
    if override := product.attributes.get("vinted_package_size_id"):
        return int(override)
    if product.weight_g is None:
        return PACKAGE_MEDIUM
    if product.weight_g <= 1000:
        return PACKAGE_SMALL
    return PACKAGE_MEDIUM if product.weight_g <= 5000 else PACKAGE_LARGE


def missing(product: ProductLike, mappings: Mappings, *, has_images: bool) -> list[Reason]:
    """What Vinted's upload form would refuse about this product."""
    reasons: list[Reason] = []
    if product.category_id is None and not product.attributes.get("vinted_catalog_id"):
        reasons.append(Reason("no_category", "The product has no category.", "category"))
    elif catalog_id(product, mappings) is None:
        reasons.append(
            Reason(
                "category_not_mapped",
                f"Category {mappings.category_of(product)} has no Vinted catalog.",
                "category",
            )
        )
    if status_id(product, mappings) is None:
        reasons.append(
            Reason(
                "condition_not_mapped",
                f"Condition {product.condition} has no Vinted status.",
                "condition",
            )
        )
    unmapped = mappings.unmapped_colours(product, "vinted")
    if unmapped and not product.attributes.get("vinted_color_ids"):
        reasons.append(
            Reason(
                "colour_not_mapped",
                f"Colour(s) {', '.join(unmapped)} have no Vinted colour id.",
                "colours",
            )
        )
    if not has_images:
        reasons.append(Reason("no_images", "Vinted needs at least one photo.", "images"))
    if reason := text.price_reason(product.price, low=PRICE_MIN, high=PRICE_MAX, name="Vinted"):
        reasons.append(reason)
    return reasons


def item_fields(product: Product, mappings: Mappings) -> dict[str, Any]:
    attributes = product.attributes
    fields: dict[str, Any] = {
        "title": title(product),
        "description": description(product),
        "price": f"{text.price(product.price)}",
        "currency": product.currency,
        "catalog_id": catalog_id(product, mappings),
        "status_id": status_id(product, mappings),
        "package_size_id": package_size_id(product),
        "color_ids": color_ids(product, mappings),
    }
    brand = mappings.value(AttributeKind.BRAND, product.brand, "vinted")
    if brand_id := attributes.get("vinted_brand_id") or (brand.external_id if brand else None):
        fields["brand_id"] = int(brand_id)
    elif product.brand:
        fields["brand"] = product.brand  # Vinted takes a free-text brand it does not know
    size = mappings.value(AttributeKind.SIZE, product.size, "vinted")
    if size_id := attributes.get("vinted_size_id") or (size.external_id if size else None):
        fields["size_id"] = int(size_id)
    return fields


def item_upload(product: Product, photo_ids: list[int], mappings: Mappings) -> dict[str, Any]:
    return {
        "item": {
            **item_fields(product, mappings),
            "assigned_photos": [{"id": pid, "orientation": 0} for pid in photo_ids],
        },
        "feedback_id": None,
        "upload_session_id": str(uuid.uuid4()),
    }


def sku_of(item: dict[str, Any]) -> str | None:
    match = MARKER_RE.search(str(item.get("description", "")))
    return match.group(1) if match else None


def images(urls: list[str]) -> list[str]:
    return text.images(urls, IMAGES_MAX)
