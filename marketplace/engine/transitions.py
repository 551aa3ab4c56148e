"""The ORM path by which a job changes state: transition → save(update_fields) → JobEvent →
batch counters, in the caller's transaction (job row first, batch row last: the one lock
order). Bulk variants run one conditional UPDATE whose `status IN (…)` is read from the
transition's declared sources. The hot path's statements (`sql`) are checked against these."""

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import QuerySet
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from batches.counters import batch_counters_apply, transition_deltas
from core import metrics
from core.errors import InvalidTransition
from marketplace.engine.fsm import transition_sources, transition_target
from marketplace.models import JobEvent, MarketplaceJob
from marketplace.models.jobs import TRANSITION_UPDATE_FIELDS
from marketplace.services.live import live_batch_changed, live_job_changed
from marketplace.states import EventActor, JobStatus

logger = logging.getLogger(__name__)

# Transitions that keep the event's reason on the job, as the visible status_reason.
_REASON_IS_STATUS_REASON = frozenset({"defer"})


def invalid_transition(job: MarketplaceJob, action: str) -> InvalidTransition:
    return InvalidTransition(
        f"Cannot {action} a job that is {job.status}.",
        details={
            "job_id": job.pk,
            "current_status": job.status,
            "allowed_actions": job.allowed_actions(),
        },
    )


def job_transition(
    *,
    job: MarketplaceJob,
    name: str,
    actor: EventActor,
    now: datetime,
    user: User | None = None,
    reason: str = "",
    **kwargs: Any,
) -> MarketplaceJob:
    """Apply transition `name`; the caller owns the transaction."""
    from_status = job.status
    if name in _REASON_IS_STATUS_REASON:
        kwargs["reason"] = reason
    try:
        getattr(job, name)(now=now, **kwargs)
    except TransitionNotAllowed:
        raise invalid_transition(job, name) from None
    already_doomed = connection.needs_rollback
    try:
        job.save(update_fields=TRANSITION_UPDATE_FIELDS[name])
    except ConcurrentTransition:
        # The compare-and-set matched no row, so nothing was written; Django still marks the
        # caller's atomic block for rollback because an exception crossed save(). Lift that
        # mark (when it is ours) so the current status can be read and the caller can go on.
        if connection.in_atomic_block and not already_doomed:
            transaction.set_rollback(False)
        job.refresh_from_db()
        raise invalid_transition(job, name) from None
    JobEvent.objects.create(
        job=job,
        from_status=from_status,
        to_status=job.status,
        at=now,
        actor=actor,
        actor_user=user,
        reason=reason,
    )
    if job.batch_id:
        batch_counters_apply(
            batch_id=job.batch_id,
            deltas=transition_deltas(from_status=from_status, to_status=job.status),
            started=job.status == JobStatus.RUNNING,
            now=now,
        )
    live_job_changed(job)
    logger.info(
        "job.transition",
        extra={"job": job.pk, "from": from_status, "to": job.status, "actor": actor},
    )
    metrics.job_transitioned(job, from_status=from_status, now=now)
    return job


def jobs_bulk_transition(
    *,
    queryset: QuerySet[MarketplaceJob],
    name: str,
    actor: EventActor,
    now: datetime,
    reason: str,
    user: User | None = None,
    updates: dict[str, Any] | None = None,
    sources: Iterable[str] | None = None,
) -> list[int]:
    """Move every row of `queryset` that may take transition `name`; returns the moved ids.

    Rows locked by someone else are skipped (they are being changed right now); a later sweep
    picks them up. Must be called inside atomic(). Rows are locked in id order and the batch
    rows after them (the one lock order).
    """
    allowed = list(sources) if sources is not None else transition_sources(name)
    target = transition_target(name)
    rows = list(
        queryset.filter(status__in=allowed)
        .order_by("pk")
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk", "status", "batch_id")
    )
    if not rows:
        return []
    ids = [pk for pk, _, _ in rows]
    MarketplaceJob.objects.filter(pk__in=ids).update(
        status=target, updated_at=now, **(updates or {})
    )
    JobEvent.objects.bulk_create(
        [
            JobEvent(
                job_id=pk,
                from_status=status,
                to_status=target,
                at=now,
                actor=actor,
                actor_user=user,
                reason=reason,
            )
            for pk, status, _ in rows
        ],
        batch_size=2000,
    )
    per_batch: dict[int, Counter[str]] = defaultdict(Counter)
    for _, status, batch_id in rows:
        if batch_id:
            per_batch[batch_id].update(transition_deltas(from_status=status, to_status=target))
    for batch_id, deltas in sorted(per_batch.items()):  # batch rows in id order, after jobs
        batch_counters_apply(batch_id=batch_id, deltas=dict(deltas), started=False, now=now)
        live_batch_changed(batch_id)
    logger.info("jobs.bulk_transition", extra={"transition": name, "count": len(ids)})
    metrics.record_bulk_transition(
        from_statuses=[status for _, status, _ in rows], to_status=target
    )
    return ids
