"""The shop's canonical vocabulary and its translation into each marketplace's ids.

A product names a canonical category, condition, size, colours and brand; these tables say what
each one is on eBay, Etsy and Vinted. They live in the tenant's schema, so a shop can correct or
extend them (API and admin) without touching anyone else's. The reference data seeded at
provisioning (marketplace.reference_data) is a starting point, not a rule."""

from django.db import models

from core.models import TimeStampedModel
from marketplace.states import Marketplace


class Category(TimeStampedModel):
    """A canonical category, e.g. `mens-coats-jackets`."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    group = models.CharField(
        max_length=32, blank=True, help_text="clothing, shoes, bags or accessories."
    )

    class Meta:
        ordering = ("code",)
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.code


class CategoryMapping(TimeStampedModel):
    """What a category is on one marketplace.

    eBay: the leaf category id, the item specifics (aspects) the category requires, and fixed
    aspect values (`properties`, e.g. {"Department": ["Men"]}). Etsy: the seller taxonomy id and
    listing properties. Vinted: the catalog id."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="mappings")
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    external_id = models.CharField(max_length=32)
    external_name = models.CharField(max_length=200, blank=True)
    required_aspects = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("category", "marketplace")
        constraints = [
            models.UniqueConstraint(
                fields=("category", "marketplace"), name="category_mapping_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category_id}@{self.marketplace}={self.external_id}"


class AttributeKind(models.TextChoices):
    CONDITION = "condition", "Condition"
    SIZE = "size", "Size"
    COLOUR = "colour", "Colour"
    BRAND = "brand", "Brand"


class ValueMapping(TimeStampedModel):
    """What a canonical condition, size, colour or brand is on one marketplace: an id
    (Vinted's status_id, color id, brand id, size id; Etsy's property value id; eBay's
    ConditionEnum) and, where the marketplace takes text (eBay aspects), its name."""

    kind = models.CharField(max_length=16, choices=AttributeKind.choices)
    value = models.CharField(max_length=64, help_text="The canonical value, e.g. `blue`, `M`.")
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    external_id = models.CharField(max_length=64, blank=True)
    external_name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ("kind", "value", "marketplace")
        constraints = [
            models.UniqueConstraint(
                fields=("kind", "value", "marketplace"), name="value_mapping_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}@{self.marketplace}"
