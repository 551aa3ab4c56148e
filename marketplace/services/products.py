"""Product services: the tenant's inventory, with its images as an ordered list of URLs (the
marketplaces and the Vinted extension fetch photos by URL, DESIGN §4)."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import Conflict, ValidationFailed
from marketplace.models import Category, Listing, MarketplaceJob, Product, ProductImage
from marketplace.states import JobStatus

MAX_IMAGES = 24  # eBay's limit, the highest; each marketplace's payload takes its own first N
MAX_COLOURS = 5
# Every field a client may set; the rest (ids, timestamps) belong to the database.
PRODUCT_FIELDS = frozenset(
    {
        "sku",
        "title",
        "description",
        "price",
        "currency",
        "quantity",
        "condition",
        "brand",
        "size",
        "category",
        "colours",
        "material",
        "length_cm",
        "width_cm",
        "height_cm",
        "weight_g",
        "attributes",
    }
)
_ACTIVE_JOB_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)


def product_create(
    *,
    sku: str,
    title: str,
    price: Decimal,
    description: str = "",
    currency: str = "EUR",
    quantity: int = 1,
    condition: str = "used_good",
    brand: str = "",
    size: str = "",
    category: Category | None = None,
    colours: Sequence[str] = (),
    material: str = "",
    length_cm: Decimal | None = None,
    width_cm: Decimal | None = None,
    height_cm: Decimal | None = None,
    weight_g: int | None = None,
    attributes: dict[str, Any] | None = None,
    image_urls: Sequence[str] = (),
) -> Product:
    """Create a canonical product and its images (in the given order). Its marketplace ids
    come from the shop's mappings; `attributes` only overrides them."""
    _check_images(image_urls)
    product = Product(
        category=category,
        colours=_checked_colours(colours),
        material=material,
        length_cm=length_cm,
        width_cm=width_cm,
        height_cm=height_cm,
        weight_g=weight_g,
        sku=sku,
        title=title,
        description=description,
        price=price,
        currency=currency,
        quantity=quantity,
        condition=condition,
        brand=brand,
        size=size,
        attributes=attributes or {},
    )
    with transaction.atomic():
        _save_unique_sku(product)
        _images_replace(product, image_urls)
    return product


def product_update(
    *, product: Product, data: dict[str, Any], image_urls: Sequence[str] | None = None
) -> Product:
    """Change the given fields; `image_urls`, when given, replaces the images in that order.

    The SKU is how eBay items and marketplace markers find the product again, so it is frozen
    once the product is listed anywhere."""
    if unknown := set(data) - PRODUCT_FIELDS:
        raise ValidationFailed("Unknown product fields.", details={"fields": sorted(unknown)})
    if image_urls is not None:
        _check_images(image_urls)
    if "colours" in data:
        data = {**data, "colours": _checked_colours(data["colours"])}
    new_sku = data.get("sku", product.sku)
    if new_sku != product.sku and Listing.objects.filter(product=product).exists():
        raise Conflict(
            "The SKU of a listed product cannot change.",
            details={"product_id": product.pk, "sku": product.sku},
        )
    for field, value in data.items():
        setattr(product, field, value)
    with transaction.atomic():
        _save_unique_sku(product, update_fields=[*data, "updated_at"])
        if image_urls is not None:
            _images_replace(product, image_urls)
    return product


def product_delete(*, product: Product) -> None:
    """Delete a product, its images and listing records. Refused while a job for it may still
    run: the job would fail for want of its product."""
    active = list(
        MarketplaceJob.objects.filter(product=product, status__in=_ACTIVE_JOB_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)[:50]
    )
    if active:
        raise Conflict(
            "The product has jobs that have not finished; cancel them first.",
            details={"product_id": product.pk, "active_job_ids": active},
        )
    product.delete()


def _checked_colours(colours: Sequence[str]) -> list[str]:
    """Canonical colour codes, lower case, without repeats, in the seller's order (the first
    is the main colour: Vinted takes two, eBay and Etsy list them in order)."""
    cleaned = list(dict.fromkeys(c.strip().lower() for c in colours if c.strip()))
    if len(cleaned) > MAX_COLOURS:
        raise ValidationFailed(
            f"A product has at most {MAX_COLOURS} colours.", details={"colours": cleaned}
        )
    return cleaned


def _check_images(image_urls: Sequence[str]) -> None:
    if len(image_urls) > MAX_IMAGES:
        raise ValidationFailed(
            f"A product has at most {MAX_IMAGES} images.", details={"images": len(image_urls)}
        )
    if len(set(image_urls)) != len(image_urls):
        raise ValidationFailed("The same image is listed twice.", details={"images": "duplicate"})


def _save_unique_sku(product: Product, update_fields: list[str] | None = None) -> None:
    if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
        raise ValidationFailed("A product with this SKU exists.", details={"sku": product.sku})
    try:
        with transaction.atomic():
            product.save(update_fields=update_fields)
    except IntegrityError:  # a concurrent create took the SKU between the check and the save
        raise ValidationFailed(
            "A product with this SKU exists.", details={"sku": product.sku}
        ) from None


def _images_replace(product: Product, image_urls: Sequence[str]) -> None:
    ProductImage.objects.filter(product=product).delete()
    ProductImage.objects.bulk_create(
        ProductImage(product=product, url=url, position=position)
        for position, url in enumerate(image_urls)
    )
