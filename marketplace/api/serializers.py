from rest_framework import serializers

from marketplace.models import JobEvent, MarketplaceJob, MarketplaceTask


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


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ("id", "from_status", "to_status", "at", "actor", "actor_user", "reason")


class JobSerializer(serializers.ModelSerializer):
    action = serializers.CharField(source="action_type.code", read_only=True)
    batch_id = serializers.CharField(source="batch.batch_id", read_only=True, default=None)

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
