from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from marketplace.api.serializers.fields import JSONObjectField, id_field
from marketplace.models import JobEvent, MarketplaceJob, MarketplaceTask
from marketplace.selectors import JOB_ROW_COLUMNS
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
        """The same output as ModelSerializer's field-by-field resolution, built directly (and
        built from plain rows by job_rows_representation for the list)."""
        job = instance
        return job_row_representation(
            {
                **{column: getattr(job, column) for column in JOB_ROW_COLUMNS},
                "action": job.action_type.code,
                "batch_public_id": job.batch.batch_id if job.batch_id else None,  # type: ignore[union-attr]
            },
            timezone.get_current_timezone(),
        )


def job_rows_representation(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The job list's page (rows of selectors.job_row_list) as JobSerializer renders jobs."""
    tz = timezone.get_current_timezone()
    return [job_row_representation(row, tz) for row in rows]


def job_row_representation(row: Mapping[str, Any], tz: tzinfo) -> dict[str, Any]:
    return {
        "id": row["id"],
        "marketplace": row["marketplace"],
        "action": row["action"],
        "product_id": row["product_id"],
        "batch_id": row["batch_public_id"],
        "status": row["status"],
        "status_reason": row["status_reason"],
        "priority": row["priority"],
        "attempts": row["attempts"],
        "max_retries": row["max_retries"],
        "next_attempt_at": _when(row["next_attempt_at"], tz),
        "expires_at": _when(row["expires_at"], tz),
        "idempotency_key": row["idempotency_key"],
        "input_data": row["input_data"],
        "result_data": row["result_data"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "pause_requested": row["pause_requested"],
        "cancel_requested": row["cancel_requested"],
        "heartbeat_at": _when(row["heartbeat_at"], tz),
        "created_at": _when(row["created_at"], tz),
        "started_at": _when(row["started_at"], tz),
        "finished_at": _when(row["finished_at"], tz),
    }


def _when(value: datetime | None, tz: tzinfo) -> str | None:
    """DRF's DateTimeField output (ISO 8601 in the current time zone, UTC as `Z`) without its
    per-value settings and time-zone lookups."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


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
