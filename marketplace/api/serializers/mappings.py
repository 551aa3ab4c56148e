from rest_framework import serializers

from marketplace.models import Category, CategoryMapping, ValueMapping


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ("id", "code", "name", "group", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class CategoryMappingSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), help_text="The category's code."
    )
    required_aspects = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        help_text="eBay: the item specifics this category requires (readiness checks them).",
    )
    properties = serializers.DictField(
        required=False,
        help_text=(
            "eBay: fixed aspect values, name → list of values (e.g. Department: [Men]); "
            "Etsy: listing property values by property id."
        ),
    )

    class Meta:
        model = CategoryMapping
        fields = (
            "id",
            "category",
            "marketplace",
            "external_id",
            "external_name",
            "required_aspects",
            "properties",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        extra_kwargs = {
            "external_id": {"help_text": "eBay category id, Etsy taxonomy id or Vinted catalog id."}
        }


class ValueMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = ValueMapping
        fields = (
            "id",
            "kind",
            "value",
            "marketplace",
            "external_id",
            "external_name",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        extra_kwargs = {
            "external_id": {
                "help_text": (
                    "The marketplace's id: eBay ConditionEnum, Etsy property value id, Vinted "
                    "status / color / size / brand id."
                )
            },
            "external_name": {"help_text": "The marketplace's text (eBay aspect values)."},
        }
