"""Batch counters move in the same transaction as the job transitions that cause them, with
atomic increments, so they always equal a recount (DESIGN §2)."""

from datetime import datetime

from django.db.models import Case, Expression, F, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual

from batches.models import BatchJob
from batches.states import COUNTER_FIELDS, batch_status_expression
from marketplace.states import JobStatus

COUNTER_OF_STATUS = {
    JobStatus.COMPLETED: "completed_count",
    JobStatus.FAILED: "failed_count",
    JobStatus.CANCELLED: "cancelled_count",
    JobStatus.EXPIRED: "expired_count",
}


def transition_deltas(*, from_status: str, to_status: str, count: int = 1) -> dict[str, int]:
    deltas: dict[str, int] = {}
    if field := COUNTER_OF_STATUS.get(JobStatus(from_status)):
        deltas[field] = deltas.get(field, 0) - count
    if field := COUNTER_OF_STATUS.get(JobStatus(to_status)):
        deltas[field] = deltas.get(field, 0) + count
    return {field: delta for field, delta in deltas.items() if delta}


def batch_counters_apply(
    *, batch_id: int, deltas: dict[str, int], started: bool, now: datetime
) -> None:
    """One UPDATE: counters, derived status and finish time from the new values."""
    if not deltas and not started:
        return
    queryset = BatchJob.objects.filter(pk=batch_id)
    if not deltas:
        # A claim: only the first one of the batch changes anything.
        queryset.filter(started_at__isnull=True).update(
            started_at=now,
            status=Case(When(status="pending", then=Value("running")), default=F("status")),
            updated_at=now,
        )
        return
    new = {field: F(field) + deltas.get(field, 0) for field in COUNTER_FIELDS}
    processed = new["completed_count"] + new["failed_count"]
    processed = processed + new["cancelled_count"] + new["expired_count"]
    done = GreaterThanOrEqual(processed, F("total_count"))
    updates: dict[str, Expression] = {field: new[field] for field in deltas}
    updates["status"] = batch_status_expression(
        completed=new["completed_count"], processed=processed, started=started
    )
    updates["finished_at"] = Case(
        When(done, then=Coalesce(F("finished_at"), Value(now))), default=Value(None)
    )
    updates["updated_at"] = Value(now)
    if started:
        updates["started_at"] = Coalesce(F("started_at"), Value(now))
    queryset.update(**updates)
