"""eBay inventory items with their published offers, as items to reconcile or import.
https://developer.ebay.com/api-docs/sell/inventory/resources/inventory_item/methods/getInventoryItems
https://developer.ebay.com/api-docs/sell/inventory/resources/offer/methods/getOffers"""

from decimal import Decimal
from typing import Any

from sales.services.imports import ImportedItem

LISTING_URL = "https://www.ebay.com/itm/{listing_id}"


def imported_item(item: dict[str, Any], offer: dict[str, Any]) -> ImportedItem | None:
    """A live listing: an inventory item whose offer is published; None otherwise."""
    listing_id = str((offer.get("listing") or {}).get("listingId") or "")
    if offer.get("status") != "PUBLISHED" or not listing_id:
        return None
    product = item.get("product") or {}
    price = ((offer.get("pricingSummary") or {}).get("price")) or {}
    availability = (item.get("availability") or {}).get("shipToLocationAvailability") or {}
    return ImportedItem(
        external_id=listing_id,
        sku=str(item["sku"]),
        title=str(product.get("title") or item["sku"]),
        description=str(product.get("description") or offer.get("listingDescription") or ""),
        price=Decimal(str(price["value"])) if "value" in price else None,
        currency=str(price.get("currency") or "USD"),
        quantity=int(offer.get("availableQuantity") or availability.get("quantity") or 1),
        image_urls=tuple(str(url) for url in product.get("imageUrls") or ()),
        url=LISTING_URL.format(listing_id=listing_id),
    )
