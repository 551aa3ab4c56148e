"""What the marketplaces hold for this tenant's listings, recorded by handlers inside the
completion transaction of their job. Orders are the sales domain's (`sales.services.orders`)."""

from typing import Any

from marketplace.models import Listing, Product
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
