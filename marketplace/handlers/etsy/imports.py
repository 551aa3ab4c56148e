"""Etsy active listings as items to reconcile or import.
https://developers.etsy.com/documentation/reference#operation/getListingsByShop"""

from typing import Any

from marketplace.handlers.etsy.payloads import money
from sales.services.imports import ImportedItem


def imported_item(listing: dict[str, Any]) -> ImportedItem:
    skus = [str(sku) for sku in listing.get("skus") or [] if sku]
    return ImportedItem(
        external_id=str(listing["listing_id"]),
        sku=skus[0] if skus else "",
        title=str(listing.get("title") or ""),
        description=str(listing.get("description") or ""),
        price=money(listing.get("price")),
        currency=str((listing.get("price") or {}).get("currency_code") or "USD"),
        quantity=int(listing.get("quantity") or 1),
        url=str(listing.get("url") or ""),
    )
