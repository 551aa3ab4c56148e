from decimal import Decimal
from typing import Any

from rest_framework import serializers

from marketplace.api.serializers.fields import JSONObjectField, MoneyField
from marketplace.models import Category, Product
from marketplace.services.products import MAX_COLOURS, MAX_IMAGES


class ImageUrlsField(serializers.ListField):
    """The product's images as URLs, in order (a list of strings, not objects)."""

    child = serializers.URLField(max_length=500)

    def to_representation(self, data: Any) -> list[str]:
        return [image.url for image in data.all()]


class ProductSerializer(serializers.ModelSerializer):
    """A canonical product. Its marketplace ids (eBay category and aspects, Etsy taxonomy,
    Vinted catalog, condition, size, colour and brand ids) come from the shop's mappings
    (/api/category-mappings/, /api/value-mappings/); `attributes` only overrides them."""

    price = MoneyField(min_value=Decimal("0"))
    images = ImageUrlsField(
        required=False, max_length=MAX_IMAGES, help_text="Photo URLs, first is the cover."
    )
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.all(),
        required=False,
        allow_null=True,
        help_text="A canonical category code (/api/categories/), e.g. mens-coats-jackets.",
    )
    colours = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        max_length=MAX_COLOURS,
        help_text="Canonical colour codes (value mappings of kind colour), main colour first.",
    )
    attributes = JSONObjectField(
        required=False,
        help_text=(
            "Overrides of what the mappings give, per marketplace: ebay_category_id, "
            "ebay_aspects, ebay_condition, etsy_taxonomy_id, etsy_tags, etsy_who_made, "
            "etsy_when_made, etsy_materials, vinted_catalog_id, vinted_status_id, "
            "vinted_brand_id, vinted_size_id, vinted_color_ids, vinted_package_size_id."
        ),
    )

    class Meta:
        model = Product
        fields = (
            "id",
            "sku",
            "title",
            "description",
            "price",
            "currency",
            "quantity",
            "category",
            "condition",
            "brand",
            "size",
            "colours",
            "material",
            "length_cm",
            "width_cm",
            "height_cm",
            "weight_g",
            "attributes",
            "images",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        extra_kwargs = {
            "currency": {"min_length": 3},
            "length_cm": {"min_value": Decimal("0")},
            "width_cm": {"min_value": Decimal("0")},
            "height_cm": {"min_value": Decimal("0")},
        }
