from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batches.models import BatchJob
from batches.services import MAX_BATCH_JOBS, NotReadyMode
from batches.states import TERMINAL_BATCH_STATUSES
from marketplace.api.serializers.fields import IdListField
from marketplace.api.serializers.readiness import ReadinessSerializer
from marketplace.states import ActionCode, JobPriority, Marketplace


class BatchSerializer(serializers.ModelSerializer):
    processed_count = serializers.IntegerField(read_only=True)
    pending_count = serializers.IntegerField(read_only=True)
    progress_percent = serializers.FloatField(
        read_only=True, help_text="(completed + failed + cancelled + expired) / total × 100"
    )
    is_terminal = serializers.BooleanField(read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = BatchJob
        fields = (
            "batch_id",
            "marketplaces",
            "action",
            "priority",
            "status",
            "total_count",
            "completed_count",
            "failed_count",
            "cancelled_count",
            "expired_count",
            "processed_count",
            "pending_count",
            "progress_percent",
            "is_terminal",
            "allowed_actions",
            "created_at",
            "started_at",
            "finished_at",
            "enqueued_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, batch: BatchJob) -> list[str]:
        return [] if batch.status in TERMINAL_BATCH_STATUSES else ["cancel"]


class BatchCreateSerializer(serializers.Serializer):
    product_ids = IdListField(min_length=1, max_length=MAX_BATCH_JOBS)
    marketplaces = serializers.ListField(
        child=serializers.ChoiceField(choices=Marketplace.choices),
        min_length=1,
        max_length=len(Marketplace.values),
    )
    action = serializers.ChoiceField(choices=ActionCode.choices)
    priority = serializers.ChoiceField(
        choices=JobPriority.choices,
        required=False,
        allow_null=True,
        help_text="1 critical … 4 low; the action's default when omitted.",
    )
    not_ready = serializers.ChoiceField(
        choices=[(m.value, m.value) for m in NotReadyMode],
        default=NotReadyMode.REFUSE.value,
        help_text=(
            "What to do with product × marketplace pairs that are not ready (see "
            "POST /api/readiness/): `refuse` the whole batch (422 listing every pair's reasons; "
            "the default) or `skip` them (the response lists them under `skipped`; no job, "
            "nothing queued)."
        ),
    )


class BatchCreatedSerializer(BatchSerializer):
    """The answer to a batch creation: the batch, and the pairs left out as not ready."""

    skipped = ReadinessSerializer(
        many=True,
        read_only=True,
        help_text="Pairs left out (not_ready=skip), each with its reasons; empty otherwise.",
    )

    class Meta(BatchSerializer.Meta):
        fields = (*BatchSerializer.Meta.fields, "skipped")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]
