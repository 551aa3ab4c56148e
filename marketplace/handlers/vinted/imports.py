"""Vinted wardrobe items (through the extension) as items to reconcile or import. Vinted has
no SKU: the `[ref:SKU]` marker in the description links items Relist published."""

from decimal import Decimal
from typing import Any

from sales.services.imports import ImportedItem


def imported_item(item: dict[str, Any]) -> ImportedItem | None:
    """A live item; None for a closed (sold, hidden) or draft one."""
    if item.get("is_closed") or item.get("is_draft"):
        return None
    price = item.get("price") or {}
    return ImportedItem(
        external_id=str(item["id"]),
        title=str(item.get("title") or ""),
        description=str(item.get("description") or ""),
        price=Decimal(str(price["amount"])) if "amount" in price else None,
        currency=str(price.get("currency_code") or item.get("currency") or "EUR"),
        image_urls=tuple(str(p["url"]) for p in item.get("photos") or [] if p.get("url")),
        url=str(item.get("url") or ""),
    )
