"""A job's outcomes through the ORM: the rare paths (retryable and permanent failures,
deferrals, stops on request, expiry at claim) and the reference implementation of the hot path's
statements (claim, complete), which tests compare with `sql`.

The retry rules come from `policy`; every outcome first honours a pause or cancel asked while
the step ran (DESIGN §2: a running job stops at its next step boundary, whatever the step's
outcome), so a cancelled job is never retried, deferred or failed instead."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core import metrics
from core.errors import InvalidTransition
from marketplace.engine import liveness, policy
from marketplace.engine.transitions import job_transition, jobs_bulk_transition
from marketplace.models import MarketplaceJob, MarketplaceTask
from marketplace.states import EventActor, JobStatus, TaskStatus

logger = logging.getLogger(__name__)

EXPIRED_UPDATES = {"error_code": "expired", "error_message": "The job expired before it could run."}


def job_expire_now(*, job_id: int, now: datetime, actor: EventActor) -> list[int]:
    """Expire one pending job past its expiry (the claim found it overdue)."""
    return jobs_bulk_transition(
        queryset=MarketplaceJob.objects.filter(pk=job_id, expires_at__lte=now),
        name="expire",
        actor=actor,
        now=now,
        reason="expired before it could run",
        updates={"finished_at": now, **EXPIRED_UPDATES},
    )


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
            job_expire_now(job_id=job.pk, now=now, actor=EventActor.WORKER)
            return None
        try:
            job_transition(
                job=job,
                name="claim",
                actor=EventActor.WORKER,
                now=now,
                claimer=liveness.liveness_ensure_started(),
            )
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
    step_attempts: int | None = None,
) -> MarketplaceJob:
    """A retryable failure: back to pending with backoff while the step's and the job's budgets
    (policy.Budget) allow, else failed with "Max retries (N) exceeded: …". `step_attempts` is
    how often the failing step was started (the job's attempts when no step is known)."""
    now = timezone.now()
    budget = policy.Budget(max_retries=job.max_retries)
    spent = job.attempts if step_attempts is None else step_attempts
    with transaction.atomic():
        if budget.exhausted(step_attempts=spent, job_attempts=job.attempts):
            final = policy.exhausted_message(max_retries=job.max_retries, message=message)
            return job_transition(
                job=job,
                name="fail",
                actor=actor,
                now=now,
                reason=final,
                error_code=error_code,
                message=final,
            )
        delay = policy.backoff_delay(attempts=spent, retry_after=retry_after)
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
    Without a delay the job waits for an event (an extension connecting) or the sweep."""
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


_REQUESTS = """UPDATE {table} SET heartbeat_at = %s WHERE id = %s AND status = %s
RETURNING cancel_requested, pause_requested"""


def job_requests_read(*, job_id: int, now: datetime) -> tuple[bool, bool] | None:
    """Write the heartbeat and read the pause/cancel requests in one round trip; the UPDATE
    locks the row, so a request cannot slip in between this read and the caller's transition.
    None when the job is no longer running."""
    table = connection.ops.quote_name(MarketplaceJob._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_REQUESTS.format(table=table), [now, job_id, JobStatus.RUNNING.value])
        row = cursor.fetchone()
    return (bool(row[0]), bool(row[1])) if row else None


def steps_cancel_remaining(*, job_id: int) -> None:
    MarketplaceTask.objects.filter(
        job_id=job_id, status__in=(TaskStatus.PENDING, TaskStatus.PROCESSING)
    ).update(status=TaskStatus.CANCELLED)


def job_stop_if_requested(
    *,
    job: MarketplaceJob,
    now: datetime | None = None,
    where: str = "at a step boundary",
    actor: EventActor = EventActor.WORKER,
    requests: tuple[bool, bool] | None = None,
) -> bool:
    """Honour cancel (remaining steps cancelled) before pause. True when the job stopped (or is
    no longer running, so the caller must not move it). `requests` is (cancel, pause) when the
    caller already read them under the row lock."""
    now = now or timezone.now()
    with transaction.atomic():
        if requests is None:
            requests = job_requests_read(job_id=job.pk, now=now)
            if requests is None:
                return True
        cancel, pause = requests
        if not (cancel or pause):
            return False
        name = "cancel" if cancel else "pause"
        job_transition(
            job=job, name=name, actor=actor, now=now, reason=f"{name} requested; stopped {where}"
        )
        if cancel:
            steps_cancel_remaining(job_id=job.pk)
    logger.info("job.stopped_on_request", extra={"job": job.pk, "request": name, "where": where})
    return True


def job_put_back(
    *,
    job: MarketplaceJob,
    now: datetime,
    where: str,
    error_code: str,
    message: str,
    actor: EventActor = EventActor.WORKER,
) -> MarketplaceJob:
    """A running job nobody runs any more (its worker died, or its run was abandoned when the
    database went away): a pause or cancel asked meanwhile is honoured; otherwise it goes back
    to pending with the attempt counted (failed when none are left). `job` is locked by the
    caller, inside its transaction."""
    requests = (job.cancel_requested, job.pause_requested)
    if not job_stop_if_requested(job=job, now=now, where=where, actor=actor, requests=requests):
        job_retry_or_fail(job=job, error_code=error_code, message=message, actor=actor)
        metrics.record_retry(
            marketplace=job.marketplace,
            reason=error_code,
            exhausted=job.status == JobStatus.FAILED,
        )
    return job
