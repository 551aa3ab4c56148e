"""Batch counters move in the same transaction as the job transitions that cause them, with
atomic increments, so they always equal a recount (DESIGN §2).

One prewritten UPDATE (`BATCH_COUNTERS_UPDATE`) moves the counters and re-derives the status and
finish time from the new values; the engine's completion statement embeds the same text as a
CTE. Built once as SQL because building the equivalent ORM expression tree on every transition
cost a fifth of a job's CPU. `batches.states.derive_batch_status` is the rule in Python; a
property test keeps the two equal.

Lock order: callers update job rows first and this batch row last, in every path (transitions,
batch cancel, the hot-path statements), so a job's transition and a batch's cancel never wait
on each other in a cycle."""

from datetime import datetime

from django.db import connection

from batches.models import BatchJob
from marketplace.states import JobStatus

COUNTER_OF_STATUS = {
    JobStatus.COMPLETED: "completed_count",
    JobStatus.FAILED: "failed_count",
    JobStatus.CANCELLED: "cancelled_count",
    JobStatus.EXPIRED: "expired_count",
}
_COUNTERS = ("completed_count", "failed_count", "cancelled_count", "expired_count")


def _new(field: str) -> str:
    return f"(b.{field} + %(d_{field})s)"


_PROCESSED = " + ".join(_new(field) for field in _COUNTERS)
# SQL twin of batches.states.derive_batch_status over the *new* counter values. `%(batch)s`
# may be a literal id or a sub-select (the hot path's `(SELECT batch_id FROM job)`).
BATCH_COUNTERS_SET = f"""
    completed_count = {_new("completed_count")},
    failed_count = {_new("failed_count")},
    cancelled_count = {_new("cancelled_count")},
    expired_count = {_new("expired_count")},
    status = CASE
        WHEN b.status = 'cancelled' THEN 'cancelled'
        WHEN {_PROCESSED} >= b.total_count THEN CASE
            WHEN {_new("completed_count")} = b.total_count THEN 'completed'
            WHEN {_new("completed_count")} = 0 THEN 'failed'
            ELSE 'partially_failed' END
        WHEN b.started_at IS NOT NULL OR %(started)s THEN 'running'
        ELSE 'pending' END,
    finished_at = CASE WHEN {_PROCESSED} >= b.total_count
        THEN COALESCE(b.finished_at, %(now)s) ELSE NULL END,
    started_at = CASE WHEN %(started)s THEN COALESCE(b.started_at, %(now)s) ELSE b.started_at END,
    updated_at = %(now)s"""


def batch_counters_sql(*, batch_ref: str) -> str:
    table = connection.ops.quote_name(BatchJob._meta.db_table)
    return f"UPDATE {table} AS b SET {BATCH_COUNTERS_SET} WHERE b.id = {batch_ref}"


def counters_params(deltas: dict[str, int], *, started: bool, now: datetime) -> dict[str, object]:
    params: dict[str, object] = {f"d_{field}": deltas.get(field, 0) for field in _COUNTERS}
    params.update(started=started, now=now)
    return params


def transition_deltas(*, from_status: str, to_status: str, count: int = 1) -> dict[str, int]:
    deltas: dict[str, int] = {}
    if field := COUNTER_OF_STATUS.get(JobStatus(from_status)):
        deltas[field] = deltas.get(field, 0) - count
    if field := COUNTER_OF_STATUS.get(JobStatus(to_status)):
        deltas[field] = deltas.get(field, 0) + count
    return {field: delta for field, delta in deltas.items() if delta}


_STARTED = """UPDATE {table} SET started_at = %s, updated_at = %s,
    status = CASE WHEN status = 'pending' THEN 'running' ELSE status END
    WHERE id = %s AND started_at IS NULL"""


def batch_counters_apply(
    *, batch_id: int, deltas: dict[str, int], started: bool, now: datetime
) -> None:
    """One UPDATE: counters, derived status and finish time from the new values. Call it after
    the job rows are written (the lock order above)."""
    if not deltas and not started:
        return
    table = connection.ops.quote_name(BatchJob._meta.db_table)
    with connection.cursor() as cursor:
        if not deltas:
            # A claim: only the first one of the batch changes anything.
            cursor.execute(_STARTED.format(table=table), [now, now, batch_id])
            return
        params = counters_params(deltas, started=started, now=now)
        params["batch_id"] = batch_id
        cursor.execute(batch_counters_sql(batch_ref="%(batch_id)s"), params)  # type: ignore[arg-type]
