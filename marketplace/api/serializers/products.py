from decimal import Decimal
from typing import Any

from rest_framework import serializers

from marketplace.api.serializers.fields import JSONObjectField, MoneyField
from marketplace.models import Product
from marketplace.services.products import MAX_IMAGES


class ImageUrlsField(serializers.ListField):
    """The product's images as URLs, in order (a list of strings, not objects)."""

    child = serializers.URLField(max_length=500)

    def to_representation(self, data: Any) -> list[str]:
        return [image.url for image in data.all()]


class ProductSerializer(serializers.ModelSerializer):
    price = MoneyField(min_value=Decimal("0"))
    images = ImageUrlsField(
        required=False, max_length=MAX_IMAGES, help_text="Photo URLs, first is the cover."
    )
    attributes = JSONObjectField(
        required=False, help_text="Marketplace ids (category, catalog, taxonomy …)."
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
            "condition",
            "brand",
            "size",
            "attributes",
            "images",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        extra_kwargs = {
            "currency": {"min_length": 3},
        }
