from typing import Any

from rest_framework import serializers

from marketplace.models import Listing, Order
from sales.models import LinkReview, OrderLine, OversellAlert, Sale, SaleAction
from sales.services.fanout import sale_action_outcome
from sales.states import DelistMode


class OrderLineSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(allow_null=True, read_only=True)
    listing_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = OrderLine
        fields = (
            "id",
            "line_id",
            "sku",
            "external_listing_id",
            "title",
            "quantity",
            "product_id",
            "listing_id",
            "stock_taken_at",
            "stock_restored_at",
        )
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = (
            "id",
            "marketplace",
            "external_id",
            "status",
            "total",
            "currency",
            "ordered_at",
            "buyer",
            "lines",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class ListingSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    last_synced_at = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Listing
        fields = (
            "id",
            "product_id",
            "marketplace",
            "status",
            "external_id",
            "url",
            "last_synced_at",
            "created_at",
        )
        read_only_fields = fields


class SaleActionSerializer(serializers.ModelSerializer):
    """One row of the sale tracker: what the sale did on one other marketplace."""

    outcome = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    job_id = serializers.IntegerField(allow_null=True, read_only=True)
    sale_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = SaleAction
        fields = (
            "id",
            "sale_id",
            "marketplace",
            "kind",
            "outcome",
            "reason",
            "job_id",
            "expires_at",
            "decided_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_outcome(self, action: SaleAction) -> str:
        return sale_action_outcome(action)[0]

    def get_reason(self, action: SaleAction) -> str:
        return sale_action_outcome(action)[1]


class SaleSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    order_id = serializers.IntegerField(source="line.order_id", read_only=True)
    order_external_id = serializers.CharField(source="line.order.external_id", read_only=True)
    actions = SaleActionSerializer(many=True, read_only=True)

    class Meta:
        model = Sale
        fields = (
            "id",
            "product_id",
            "marketplace",
            "quantity",
            "quantity_after",
            "order_id",
            "order_external_id",
            "detected_at",
            "actions",
        )
        read_only_fields = fields


class _AlertLineSerializer(serializers.Serializer):
    marketplace = serializers.CharField(source="order.marketplace")
    order_id = serializers.IntegerField()
    order_external_id = serializers.CharField(source="order.external_id")
    line_id = serializers.CharField()


class OversellAlertSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    line = _AlertLineSerializer(read_only=True)
    earlier_line = _AlertLineSerializer(read_only=True, allow_null=True)

    class Meta:
        model = OversellAlert
        fields = ("id", "product_id", "line", "earlier_line", "created_at", "resolved_at")
        read_only_fields = fields


class DelistPolicySerializer(serializers.Serializer):
    marketplace = serializers.CharField(read_only=True)
    mode = serializers.ChoiceField(choices=DelistMode.choices)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        marketplace, mode = instance
        return {"marketplace": marketplace, "mode": mode}


class LinkReviewSerializer(serializers.ModelSerializer):
    listing_id = serializers.IntegerField(read_only=True)
    product_id = serializers.IntegerField(read_only=True)
    marketplace = serializers.CharField(source="listing.marketplace", read_only=True)

    class Meta:
        model = LinkReview
        fields = (
            "id",
            "listing_id",
            "product_id",
            "marketplace",
            "imported",
            "status",
            "created_at",
            "decided_at",
        )
        read_only_fields = fields
