from rest_framework import serializers

from marketplace.api.serializers.fields import JSONObjectField, id_field
from marketplace.models import JobEvent, MarketplaceJob, MarketplaceTask
from marketplace.states import ActionCode, JobPriority, Marketplace


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = MarketplaceTask
        fields = (
            "id",
            "position",
            "name",
            "task_type",
            "description",
            "status",
            "attempts",
            "http_method",
            "http_path",
            "result",
            "error",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ("id", "from_status", "to_status", "at", "actor", "actor_user", "reason")
        read_only_fields = fields


class JobSerializer(serializers.ModelSerializer):
    action = serializers.CharField(source="action_type.code", read_only=True)
    batch_id = serializers.CharField(
        source="batch.batch_id", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = MarketplaceJob
        fields = (
            "id",
            "marketplace",
            "action",
            "product",
            "batch_id",
            "status",
            "status_reason",
            "priority",
            "attempts",
            "max_retries",
            "next_attempt_at",
            "expires_at",
            "idempotency_key",
            "input_data",
            "result_data",
            "error_code",
            "error_message",
            "pause_requested",
            "cancel_requested",
            "heartbeat_at",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    tasks = TaskSerializer(many=True, read_only=True)
    events = EventSerializer(many=True, read_only=True)
    allowed_actions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, "allowed_actions", "tasks", "events")
        read_only_fields = fields


class JobCreateSerializer(serializers.Serializer):
    marketplace = serializers.ChoiceField(choices=Marketplace.choices)
    action = serializers.ChoiceField(choices=ActionCode.choices)
    product_id = id_field(
        required=False, allow_null=True, help_text="Required for publish, update and delete."
    )
    input_data = JSONObjectField(required=False, help_text="Handler-specific options.")
    priority = serializers.ChoiceField(
        choices=JobPriority.choices,
        required=False,
        allow_null=True,
        help_text="1 critical … 4 low; the action's default when omitted.",
    )
