"""Batch status is derived from its jobs' counters (DESIGN §2); only `cancelled` is set by hand.

`derive_batch_status` is the rule; `batch_status_expression` is the same rule as SQL, used in the
single UPDATE that moves counters, so the stored status never drifts from the counters.
"""

from django.db import models
from django.db.models import Case, F, Value, When
from django.db.models.expressions import CombinedExpression
from django.db.models.lookups import Exact, GreaterThanOrEqual


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_BATCH_STATUSES = frozenset(
    {
        BatchStatus.COMPLETED,
        BatchStatus.FAILED,
        BatchStatus.PARTIALLY_FAILED,
        BatchStatus.CANCELLED,
    }
)

COUNTER_FIELDS = ("completed_count", "failed_count", "cancelled_count", "expired_count")


def derive_batch_status(
    *,
    total: int,
    completed: int,
    processed: int,
    started: bool,
    cancelled: bool,
) -> BatchStatus:
    if cancelled:
        return BatchStatus.CANCELLED
    if total and processed >= total:
        if completed == total:
            return BatchStatus.COMPLETED
        if completed == 0:
            return BatchStatus.FAILED
        return BatchStatus.PARTIALLY_FAILED
    return BatchStatus.RUNNING if started else BatchStatus.PENDING


def batch_status_expression(
    *,
    completed: CombinedExpression | F,
    processed: CombinedExpression | F,
    started: bool,
) -> Case:
    """SQL twin of derive_batch_status over the *new* counter values."""
    return Case(
        When(status=BatchStatus.CANCELLED, then=Value(BatchStatus.CANCELLED.value)),
        When(
            GreaterThanOrEqual(processed, F("total_count")),
            then=Case(
                When(Exact(completed, F("total_count")), then=Value(BatchStatus.COMPLETED.value)),
                When(Exact(completed, 0), then=Value(BatchStatus.FAILED.value)),
                default=Value(BatchStatus.PARTIALLY_FAILED.value),
            ),
        ),
        When(started_at__isnull=False, then=Value(BatchStatus.RUNNING.value)),
        default=Value((BatchStatus.RUNNING if started else BatchStatus.PENDING).value),
        output_field=models.CharField(),
    )
