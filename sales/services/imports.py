"""Onboarding and listing reconciliation: what a shop already has on each marketplace.

A listing sync hands over every live item of one marketplace. Each is matched, in order, to:
the listing already recorded (its external id), a product by SKU or by the `[ref:SKU]` marker,
or, when importing, one product with the same normalised title and price that has no listing
there yet (linked, but queued as a LinkReview for a person to confirm or split). Anything else
is imported as a new product. Recorded listings the marketplace no longer shows as live were
ended there (sold or removed outside Relist) and are marked so. Re-running changes nothing.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidTransition, NotFound
from marketplace.models import Listing, Product, ProductImage
from marketplace.states import ListingStatus
from sales.models import LinkReview

# The `[ref:SKU]` marker Relist writes into the descriptions it publishes (Product.marker).
MARKER = re.compile(r"\[ref:([^\]\s]{1,64})\]")
_SPACES = re.compile(r"\s+")
# Products at one price compared by title per imported item; a shop rarely has more.
MAX_MATCH_CANDIDATES = 500


@dataclass(frozen=True, slots=True)
class ImportedItem:
    external_id: str
    title: str
    sku: str = ""
    description: str = ""
    price: Decimal | None = None
    currency: str = "EUR"
    quantity: int = 1
    image_urls: tuple[str, ...] = field(default=())
    url: str = ""

    @property
    def marker_sku(self) -> str:
        found = MARKER.search(self.description) or MARKER.search(self.title)
        return found.group(1) if found else ""

    def as_json(self) -> dict[str, Any]:
        """For a step's result (JSON): the price as a string."""
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "price": str(self.price) if self.price is not None else None,
            "image_urls": list(self.image_urls),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ImportedItem":
        price = data.get("price")
        return cls(
            **{
                **data,
                "price": Decimal(str(price)) if price is not None else None,
                "image_urls": tuple(data.get("image_urls") or ()),
            }
        )

    def summary(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "sku": self.sku,
            "title": self.title,
            "price": str(self.price) if self.price is not None else None,
            "url": self.url,
        }


@dataclass(frozen=True, slots=True)
class Reconciled:
    items: int
    linked_products: int
    imported: int
    to_review: int
    ended: int


def _title_key(title: str) -> str:
    return _SPACES.sub(" ", MARKER.sub("", title)).strip().casefold()


def listings_reconcile(
    *, marketplace: str, items: list[ImportedItem], import_unknown: bool = False
) -> Reconciled:
    """Link every live item to its product (importing unknown ones when asked) and end the
    recorded listings the marketplace no longer shows."""
    with transaction.atomic():
        known = {
            listing.external_id: listing
            for listing in Listing.objects.filter(
                marketplace=marketplace, external_id__in=[i.external_id for i in items]
            )
        }
        skus = {i.sku for i in items if i.sku} | {i.marker_sku for i in items if i.marker_sku}
        by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        seen: set[int] = set()
        linked = imported = to_review = 0
        for item in items:
            listing = known.get(item.external_id)
            product = by_sku.get(item.sku) or by_sku.get(item.marker_sku)
            if listing is not None:
                seen.add(listing.product_id)
                _touch(listing, item)
            elif product is not None:
                seen.add(product.pk)
                _link(product, marketplace, item)
                linked += 1
            elif import_unknown:
                match = _title_price_match(marketplace, item)
                if match is not None:
                    listing = _link(match, marketplace, item)
                    LinkReview.objects.create(
                        listing=listing, product=match, imported=item.summary()
                    )
                    seen.add(match.pk)
                    to_review += 1
                else:
                    seen.add(_import(marketplace, item).pk)
                    imported += 1
        ended = (
            Listing.objects.filter(marketplace=marketplace, status=ListingStatus.ACTIVE)
            .exclude(product_id__in=seen)
            .update(status=ListingStatus.ENDED, updated_at=timezone.now())
        )
    return Reconciled(len(items), linked + len(known), imported, to_review, ended)


def _touch(listing: Listing, item: ImportedItem) -> None:
    if listing.status != ListingStatus.ACTIVE:
        listing.status = ListingStatus.ACTIVE
        listing.save(update_fields=["status", "updated_at"])


def _link(product: Product, marketplace: str, item: ImportedItem) -> Listing:
    listing, _ = Listing.objects.update_or_create(
        product=product,
        marketplace=marketplace,
        defaults={"external_id": item.external_id, "url": item.url, "status": ListingStatus.ACTIVE},
    )
    return listing


def _title_price_match(marketplace: str, item: ImportedItem) -> Product | None:
    """One product, not yet on this marketplace, with the same title and price; else None."""
    if item.price is None:
        return None
    key = _title_key(item.title)
    same_price = (
        Product.objects.filter(price=item.price)
        .exclude(listings__marketplace=marketplace)
        .only("pk", "title")[:MAX_MATCH_CANDIDATES]
    )
    candidates = [product for product in same_price if _title_key(product.title) == key]
    return candidates[0] if len(candidates) == 1 else None


def _new_product(marketplace: str, item: ImportedItem) -> Product:
    sku = item.sku or item.marker_sku or f"{marketplace.upper()}-{item.external_id}"[:64]
    product, created = Product.objects.get_or_create(
        sku=sku,
        defaults={
            "title": item.title[:200],
            "description": item.description,
            "price": item.price if item.price is not None else Decimal(0),
            "currency": item.currency or "EUR",
            "quantity": max(item.quantity, 0),
        },
    )
    if created:
        ProductImage.objects.bulk_create(
            ProductImage(product=product, url=url[:500], position=n)
            for n, url in enumerate(item.image_urls[:20])
        )
    return product


def _import(marketplace: str, item: ImportedItem) -> Product:
    product = _new_product(marketplace, item)
    _link(product, marketplace, item)
    return product


def _pending_review(review_id: int) -> LinkReview:
    review = (
        LinkReview.objects.select_for_update()
        .select_related("listing")
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise NotFound("This link review does not exist.")
    if review.status != LinkReview.Status.PENDING:
        raise InvalidTransition(
            f"This link was {review.status} already.", details={"status": review.status}
        )
    return review


def link_review_confirm(*, review_id: int) -> LinkReview:
    with transaction.atomic():
        review = _pending_review(review_id)
        review.status, review.decided_at = LinkReview.Status.CONFIRMED, timezone.now()
        review.save(update_fields=["status", "decided_at", "updated_at"])
    return review


def link_review_split(*, review_id: int) -> LinkReview:
    """Not the same item: it becomes a product of its own, and the listing moves to it."""
    with transaction.atomic():
        review = _pending_review(review_id)
        data = review.imported
        item = ImportedItem(
            external_id=str(data["external_id"]),
            title=str(data["title"]),
            sku=str(data.get("sku") or ""),
            price=Decimal(data["price"]) if data.get("price") else None,
            url=str(data.get("url") or ""),
        )
        listing = review.listing
        listing.product = _new_product(listing.marketplace, item)
        listing.save(update_fields=["product", "updated_at"])
        review.status, review.decided_at = LinkReview.Status.SPLIT, timezone.now()
        review.product = listing.product
        review.save(update_fields=["status", "decided_at", "product", "updated_at"])
    return review
