from datetime import datetime
from typing import Any

from rest_framework import serializers

from marketplace.api.serializers.fields import JSONObjectField, id_field
from marketplace.models import JobEvent, MarketplaceJob, MarketplaceTask
from marketplace.states import ActionCode, JobPriority, Marketplace


class TaskSerializer(serializers.ModelSerializer):
    """One step of a job. A step's status is not a job's: a step is `processing` while its
    marketplace call runs (the job is then `running`), and ends `success`, `failed`,
    `timeout` or `cancelled`; a job ends `completed`, `failed`, `cancelled` or `expired`."""

    status = serializers.CharField(
        read_only=True,
        help_text=(
            "Step status: pending → processing → success | failed | timeout | cancelled. "
            "Not the job's status (pending, running, paused, completed, failed, cancelled, "
            "expired): a step is `processing` while its job is `running`."
        ),
    )

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
    """A job. Names are the same in input, output and filters: `product_id` (created with it,
    shown as it, filtered by `?product_id=`), `batch_id` (the batch's public id, filtered by
    `?batch_id=`), `marketplace`, `action`, `status`."""

    action = serializers.CharField(source="action_type.code", read_only=True)
    product_id = serializers.IntegerField(read_only=True, allow_null=True)
    batch_id = serializers.CharField(
        source="batch.batch_id",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The batch's public id (as in /api/batches/{batch_id}/), or null.",
    )
    status = serializers.CharField(
        read_only=True,
        help_text=(
            "Job status: pending, running, paused, completed, failed, cancelled, expired. "
            "Its steps have their own statuses (see the tasks)."
        ),
    )

    class Meta:
        model = MarketplaceJob
        fields: tuple[str, ...] = (
            "id",
            "marketplace",
            "action",
            "product_id",
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

    def to_representation(self, instance: MarketplaceJob) -> dict[str, Any]:
        """The hot path of the job list (50 rows a page): the same output as ModelSerializer's
        field-by-field resolution, built directly, which took most of a page's time."""
        job = instance
        return {
            "id": job.pk,
            "marketplace": job.marketplace,
            "action": job.action_type.code,
            "product_id": job.product_id,
            "batch_id": job.batch.batch_id if job.batch_id else None,  # type: ignore[union-attr]
            "status": job.status,
            "status_reason": job.status_reason,
            "priority": job.priority,
            "attempts": job.attempts,
            "max_retries": job.max_retries,
            "next_attempt_at": _when(job.next_attempt_at),
            "expires_at": _when(job.expires_at),
            "idempotency_key": job.idempotency_key,
            "input_data": job.input_data,
            "result_data": job.result_data,
            "error_code": job.error_code,
            "error_message": job.error_message,
            "pause_requested": job.pause_requested,
            "cancel_requested": job.cancel_requested,
            "heartbeat_at": _when(job.heartbeat_at),
            "created_at": _when(job.created_at),
            "started_at": _when(job.started_at),
            "finished_at": _when(job.finished_at),
        }


_DATETIME = serializers.DateTimeField()


def _when(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


class JobDetailSerializer(JobSerializer):
    tasks = TaskSerializer(many=True, read_only=True)
    events = EventSerializer(many=True, read_only=True)
    allowed_actions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, "allowed_actions", "tasks", "events")
        read_only_fields = fields

    def to_representation(self, instance: MarketplaceJob) -> dict[str, Any]:
        return {
            **super().to_representation(instance),
            "allowed_actions": instance.allowed_actions(),
            "tasks": TaskSerializer(instance.tasks.all(), many=True).data,
            "events": EventSerializer(instance.events.all(), many=True).data,
        }


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
