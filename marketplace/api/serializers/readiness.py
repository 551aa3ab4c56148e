"""Readiness: which products can be listed on which marketplaces, and what is missing."""

from rest_framework import serializers

from marketplace.api.serializers.fields import IdListField
from marketplace.states import ActionCode, Marketplace

MAX_READINESS_PRODUCTS = 1_000


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text=(
            "not_connected, needs_reauth, setup_missing, no_product, no_images, no_category, "
            "category_not_mapped, condition_not_mapped, colour_not_mapped, aspect_missing, "
            "price_out_of_bounds"
        )
    )
    field = serializers.CharField(help_text="The product field or setup key at fault.")
    message = serializers.CharField()


class ReadinessSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    marketplace = serializers.ChoiceField(choices=Marketplace.choices)
    ready = serializers.BooleanField()
    reasons = ReasonSerializer(many=True)


class ReadinessRequestSerializer(serializers.Serializer):
    product_ids = IdListField(min_length=1, max_length=MAX_READINESS_PRODUCTS)
    marketplaces = serializers.ListField(
        child=serializers.ChoiceField(choices=Marketplace.choices),
        min_length=1,
        max_length=len(Marketplace.values),
    )
    action = serializers.ChoiceField(choices=ActionCode.choices, default=ActionCode.PUBLISH)


class ReadinessAnswerSerializer(serializers.Serializer):
    ready = serializers.BooleanField(help_text="True when every pair is ready.")
    results = ReadinessSerializer(many=True)
