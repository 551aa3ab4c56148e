"""What the marketplaces hold for this tenant: listings and orders, recorded by handlers inside
the completion transaction of their job."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from marketplace.models import Listing, Order, Product
from marketplace.states import ListingStatus


def listing_record(
    *,
    product: Product,
    marketplace: str,
    status: ListingStatus,
    external_id: str | None = None,
    url: str | None = None,
    data: dict[str, Any] | None = None,
) -> Listing:
    listing, _ = Listing.objects.get_or_create(product=product, marketplace=marketplace)
    listing.status = status
    fields = ["status", "updated_at"]
    if external_id is not None:
        listing.external_id = external_id
        fields.append("external_id")
    if url is not None:
        listing.url = url
        fields.append("url")
    if data:
        listing.data = {**listing.data, **data}
        fields.append("data")
    listing.save(update_fields=fields)
    return listing


@dataclass(frozen=True, slots=True)
class OrderData:
    external_id: str
    status: str
    total: Decimal | None
    currency: str
    ordered_at: datetime | None
    buyer: str
    data: dict[str, Any]


def orders_upsert(*, marketplace: str, orders: list[OrderData]) -> int:
    """Insert new orders and refresh known ones, in one statement per 500."""
    rows = [
        Order(
            marketplace=marketplace,
            external_id=order.external_id,
            status=order.status,
            total=order.total,
            currency=order.currency,
            ordered_at=order.ordered_at,
            buyer=order.buyer,
            data=order.data,
        )
        for order in orders
    ]
    Order.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["marketplace", "external_id"],
        update_fields=["status", "total", "currency", "ordered_at", "buyer", "data", "updated_at"],
    )
    return len(rows)


def listings_mark_seen(*, marketplace: str, external_ids_by_sku: dict[str, str]) -> int:
    """Sync: link the tenant's products to the items found on the marketplace, by SKU."""
    products = Product.objects.filter(sku__in=list(external_ids_by_sku)).only("pk", "sku")
    for product in products:
        listing_record(
            product=product,
            marketplace=marketplace,
            status=ListingStatus.ACTIVE,
            external_id=external_ids_by_sku[product.sku] or None,
        )
    return len(products)
