"""The tenant's inventory and what it became on each marketplace."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from core.models import TimeStampedModel
from marketplace.models.mappings import Category
from marketplace.states import ListingStatus, Marketplace


class ProductCondition(models.TextChoices):
    """The canonical conditions; each marketplace's own ids come from the condition mappings."""

    NEW_WITH_TAGS = "new_with_tags", "New with tags"
    NEW_WITHOUT_TAGS = "new_without_tags", "New without tags"
    USED_EXCELLENT = "used_excellent", "Used, excellent"
    USED_VERY_GOOD = "used_very_good", "Used, very good"
    USED_GOOD = "used_good", "Used, good"
    USED_ACCEPTABLE = "used_acceptable", "Used, acceptable"


class Product(TimeStampedModel):
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    quantity = models.PositiveIntegerField(default=1)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    condition = models.CharField(
        max_length=32, choices=ProductCondition.choices, default=ProductCondition.USED_GOOD
    )
    brand = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=50, blank=True)
    colours = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    material = models.CharField(max_length=100, blank=True)
    # Parcel dimensions and weight: eBay's shipping and Vinted's package size need them.
    length_cm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    width_cm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    weight_g = models.PositiveIntegerField(null=True, blank=True)
    # Overrides only: a key here wins over what the mappings give (marketplace.rendering).
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"

    @property
    def marker(self) -> str:
        """A tag placed in marketplace descriptions to find the product's item again."""
        return f"[ref:{self.sku}]"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    url = models.URLField(max_length=500)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("product", "position")
        constraints = [
            models.UniqueConstraint(fields=("product", "position"), name="image_unique_position")
        ]

    def __str__(self) -> str:
        return self.url


class Listing(TimeStampedModel):
    """A product as published on one marketplace."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="listings")
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    external_id = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=ListingStatus.choices, default=ListingStatus.DRAFT
    )
    # Marketplace-side identifiers needed later (eBay offerId, Vinted photo ids …).
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("product", "marketplace"), name="listing_unique_product_marketplace"
            )
        ]
        indexes = [models.Index(fields=("marketplace", "external_id"))]

    def __str__(self) -> str:
        return f"{self.marketplace}:{self.external_id or '-'}"


class Order(TimeStampedModel):
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    external_id = models.CharField(max_length=64)
    status = models.CharField(max_length=32, blank=True)
    total = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    currency = models.CharField(max_length=3, blank=True)
    ordered_at = models.DateTimeField(null=True)
    buyer = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("marketplace", "external_id"), name="order_unique_marketplace_external"
            )
        ]
        ordering = ("-ordered_at",)

    def __str__(self) -> str:
        return f"{self.marketplace}:{self.external_id}"
