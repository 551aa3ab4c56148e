"""Worker-side services: claim a job, record its outcome, and the beat sweeps.

The retry policy lives here, not in Celery: the job's attempts and next_attempt_at are the truth
in PostgreSQL; Celery's retry only re-sends the trigger at the computed time."""

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import metrics
from core.errors import InvalidTransition
from marketplace.models import MarketplaceJob
from marketplace.services.dispatch import jobs_enqueue_on_commit
from marketplace.services.transitions import job_transition, jobs_bulk_transition
from marketplace.states import EventActor, JobStatus

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0


def backoff_delay(*, attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, capped; a server's Retry-After is a floor."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S ** max(attempts, 1))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, BACKOFF_CAP_S)


def job_claim(
    *, job_id: int, now: datetime | None = None, loaded: MarketplaceJob | None = None
) -> MarketplaceJob | None:
    """Compare-and-set pending → running. None when the message is stale (the job is not
    pending, not yet due, or another worker won); an overdue job is expired instead.
    `loaded` is the row as the caller just read it, to save a query."""
    now = now or timezone.now()
    job = loaded or (
        MarketplaceJob.objects.select_related("action_type")
        .filter(pk=job_id, status=JobStatus.PENDING)
        .first()
    )
    if job is None or (job.next_attempt_at and job.next_attempt_at > now):
        return None
    with transaction.atomic():
        if job.expires_at <= now:
            jobs_bulk_transition(
                queryset=MarketplaceJob.objects.filter(pk=job.pk),
                name="expire",
                actor=EventActor.WORKER,
                now=now,
                reason="expired before it could run",
                updates={
                    "finished_at": now,
                    "error_code": "expired",
                    "error_message": "The job expired before it could run.",
                },
            )
            return None
        try:
            job_transition(job=job, name="claim", actor=EventActor.WORKER, now=now)
        except InvalidTransition:
            return None  # another worker claimed it first
    return job


def job_complete(*, job: MarketplaceJob, result: dict[str, Any]) -> MarketplaceJob:
    now = timezone.now()
    with transaction.atomic():
        return job_transition(
            job=job, name="complete", actor=EventActor.WORKER, now=now, result=result
        )


def job_fail(*, job: MarketplaceJob, error_code: str, message: str) -> MarketplaceJob:
    """A permanent failure: failed at once, the marketplace's own message kept."""
    now = timezone.now()
    with transaction.atomic():
        return job_transition(
            job=job,
            name="fail",
            actor=EventActor.WORKER,
            now=now,
            reason=message,
            error_code=error_code,
            message=message,
        )


def job_retry_or_fail(
    *,
    job: MarketplaceJob,
    error_code: str,
    message: str,
    retry_after: float | None = None,
    actor: EventActor = EventActor.WORKER,
) -> MarketplaceJob:
    """A retryable failure: back to pending with backoff while attempts are left, else failed
    with "Max retries (N) exceeded: …". Returns the job; `next_attempt_at` tells when."""
    now = timezone.now()
    with transaction.atomic():
        if job.attempts > job.max_retries:
            final = f"Max retries ({job.max_retries}) exceeded: {message}"
            return job_transition(
                job=job,
                name="fail",
                actor=actor,
                now=now,
                reason=final,
                error_code=error_code,
                message=final,
            )
        delay = backoff_delay(attempts=job.attempts, retry_after=retry_after)
        return job_transition(
            job=job,
            name="defer_retry",
            actor=actor,
            now=now,
            reason=f"retry in {delay:.1f}s: {message}",
            next_attempt_at=now + timedelta(seconds=delay),
            error_code=error_code,
            message=message,
        )


def job_defer(*, job: MarketplaceJob, reason: str, delay_s: float | None = None) -> MarketplaceJob:
    """Not a failure (offline extension, own rate limit): pending again, attempt given back.
    Without a delay the job waits for an event (an extension connecting) or beat."""
    now = timezone.now()
    next_attempt_at = now + timedelta(seconds=delay_s) if delay_s is not None else None
    metrics.record_deferral(marketplace=job.marketplace, reason=reason)
    with transaction.atomic():
        return job_transition(
            job=job,
            name="defer",
            actor=EventActor.WORKER,
            now=now,
            reason=reason,
            next_attempt_at=next_attempt_at,
        )


def jobs_recover_stale(*, stale_after: timedelta, now: datetime | None = None) -> int:
    """Beat: running jobs whose heartbeat is older than `stale_after` lost their worker. They go
    back to pending with the attempt counted (or fail when none are left) and are re-sent."""
    now = now or timezone.now()
    recovered = 0
    stale = MarketplaceJob.objects.filter(
        status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after
    ).select_related("action_type")
    for job in stale.iterator(chunk_size=200):
        with transaction.atomic():
            locked = (
                MarketplaceJob.objects.locked()
                .filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after)
                .select_for_update(skip_locked=True, of=("self",))
                .first()
            )
            if locked is None:
                continue
            job_retry_or_fail(
                job=locked,
                error_code="worker_lost",
                message="The worker running this job stopped responding.",
                actor=EventActor.BEAT,
            )
            metrics.record_retry(
                marketplace=locked.marketplace,
                reason="worker_lost",
                exhausted=locked.status == JobStatus.FAILED,
            )
            if locked.status == JobStatus.PENDING:
                jobs_enqueue_on_commit([locked])
            recovered += 1
    return recovered


def jobs_dispatch_due(
    *,
    grace: timedelta = timedelta(seconds=60),
    lost_after: timedelta = timedelta(minutes=15),
    now: datetime | None = None,
    limit: int = 5000,
) -> int:
    """Beat: re-send pending jobs whose trigger looks lost: a retry `grace` past its time, or a
    job never retried that has not moved for `lost_after`. Duplicates are harmless (the claim lets
    one through); `next_attempt_at` is stamped so one job is re-sent at most once per `grace`."""
    now = now or timezone.now()
    due = list(
        MarketplaceJob.objects.filter(status=JobStatus.PENDING)
        .filter(
            Q(next_attempt_at__lte=now - grace)
            | Q(next_attempt_at__isnull=True, updated_at__lte=now - lost_after)
        )
        .only("pk", "status", "marketplace", "priority", "next_attempt_at")
        .order_by("priority", "pk")[:limit]
    )
    if not due:
        return 0
    with transaction.atomic():
        MarketplaceJob.objects.filter(pk__in=[job.pk for job in due]).update(next_attempt_at=now)
        jobs_enqueue_on_commit(due)
    return len(due)


WAITING_FOR_EXTENSION = "Waiting for the Vinted extension to connect."


def jobs_wake_waiting(*, marketplace: str) -> int:
    """An extension connected: send the jobs that were waiting for it, now."""
    waiting = list(
        MarketplaceJob.objects.filter(
            marketplace=marketplace,
            status=JobStatus.PENDING,
            status_reason=WAITING_FOR_EXTENSION,
        ).only("pk", "status", "marketplace", "priority", "next_attempt_at")
    )
    if not waiting:
        return 0
    with transaction.atomic():
        MarketplaceJob.objects.filter(pk__in=[job.pk for job in waiting]).update(
            next_attempt_at=None
        )
        for job in waiting:
            job.next_attempt_at = None
        jobs_enqueue_on_commit(waiting)
    return len(waiting)
