"""Beat's periodic work (DESIGN §3), per tenant with due work: expire overdue jobs, recover
running jobs whose worker died, re-send due retries and lost triggers.

Which tenants to visit comes from PostgreSQL (`duework`), never from Redis and never by visiting
every schema. The intervals derive from one setting, RELIST_SWEEP_INTERVAL_S: a lost trigger is
re-sent within two sweep intervals (`lost_after` = one interval once its queue has drained), a
healthy backlog is never duplicated (a job whose queue still holds messages waits for the long
RELIST_BACKLOG_LOST_AFTER_S)."""

import logging
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import TenantUnavailable
from marketplace.engine import dispatch, duework, lifecycle, liveness
from marketplace.engine.transitions import jobs_bulk_transition
from marketplace.handlers.base import WAITING_FOR_EXTENSION
from marketplace.models import MarketplaceJob
from marketplace.services import presence
from marketplace.states import EventActor, JobStatus
from tenants.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def sweep_interval() -> timedelta:
    return timedelta(seconds=float(settings.RELIST_SWEEP_INTERVAL_S))


def lost_after() -> timedelta:
    """A trigger older than this, for a pending job whose queue is empty, was lost."""
    return sweep_interval()


def jobs_expire_overdue(*, now: datetime | None = None) -> int:
    """Every pending job past its expiry becomes expired (counted in its batch)."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = jobs_bulk_transition(
            queryset=MarketplaceJob.objects.filter(expires_at__lt=now),
            name="expire",
            actor=EventActor.BEAT,
            now=now,
            reason="expired before it could run",
            updates={"finished_at": now, **lifecycle.EXPIRED_UPDATES},
        )
    return len(ids)


def jobs_recover_stale(*, stale_after: timedelta, now: datetime | None = None) -> int:
    """Running jobs whose heartbeat is older than `stale_after` lost their worker (long steps
    heartbeat from inside, so a live job never looks stale). A pause or cancel asked meanwhile
    is honoured; otherwise the job goes back to pending with the attempt counted (or fails when
    none are left) and is re-sent."""
    now = now or timezone.now()
    return _recover(Q(heartbeat_at__lt=now - stale_after), now=now)


def jobs_recover_dead_workers(*, now: datetime | None = None) -> int:
    """Running jobs whose worker process is known dead (its keep-alive key expired,
    engine.liveness): recovered within seconds of the death, whatever the stale threshold."""
    now = now or timezone.now()
    quiet = Q(heartbeat_at__lt=now - timedelta(seconds=liveness.ttl_s()))
    claimers = set(
        MarketplaceJob.objects.filter(quiet, status=JobStatus.RUNNING)
        .exclude(claimed_by="")
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    dead = liveness.dead_claimers(claimers)
    if not dead:
        return 0
    logger.warning("sweep.dead_workers", extra={"workers": sorted(dead)})
    return _recover(quiet & Q(claimed_by__in=dead), now=now)


def _recover(lost: Q, *, now: datetime) -> int:
    recovered = 0
    candidates = MarketplaceJob.objects.filter(lost, status=JobStatus.RUNNING)
    for job in candidates.only("pk").iterator(chunk_size=200):
        with transaction.atomic():
            locked = (
                MarketplaceJob.objects.locked()
                .filter(lost, pk=job.pk, status=JobStatus.RUNNING)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("action_type")
                .first()
            )
            if locked is None:
                continue
            lifecycle.job_put_back(
                job=locked,
                now=now,
                where="after its worker was lost",
                error_code="worker_lost",
                message="The worker running this job stopped responding.",
                actor=EventActor.BEAT,
            )
            if locked.status == JobStatus.PENDING:
                dispatch.jobs_enqueue_on_commit([locked])
            recovered += 1
    return recovered


def jobs_dispatch_due(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Re-send pending jobs whose trigger is due and lost, within two sweep intervals of the
    loss: due (a retry's time passed by a sweep interval), last dispatched over a sweep
    interval ago (or never: held back by the tenant's window), and not waiting in the queue
    (read from the queued messages, so a healthy backlog is never duplicated, while a trigger
    lost with a Redis restart or taken by a SIGKILLed worker is seen at once). Where the queue
    is too long to read, and for jobs parked for the Vinted extension (its connection wakes
    them), the long RELIST_BACKLOG_LOST_AFTER_S applies. The tenant's window decides how many
    are sent (`dispatch.jobs_resend`); only those are stamped."""
    now = now or timezone.now()
    fast = now - lost_after()
    slow = now - timedelta(seconds=float(settings.RELIST_BACKLOG_LOST_AFTER_S))
    candidates = list(
        MarketplaceJob.objects.filter(status=JobStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now - sweep_interval()))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=fast))
        .only(
            "pk",
            "status",
            "marketplace",
            "priority",
            "next_attempt_at",
            "dispatched_at",
            "status_reason",
            "updated_at",
        )
        .order_by("priority", "pk")[:limit]
    )
    if not candidates:
        return 0
    queued = {
        marketplace: dispatch.queued_job_ids(marketplace=marketplace, schema=connection.schema_name)
        for marketplace in {job.marketplace for job in candidates}
    }

    def lost(job: MarketplaceJob) -> bool:
        in_queue = queued[job.marketplace]
        if job.status_reason == WAITING_FOR_EXTENSION or in_queue is None:
            # A job parked without a trigger counts from its parking.
            return (job.dispatched_at or job.updated_at) <= slow
        return job.pk not in in_queue

    due = [job for job in candidates if lost(job)]
    for job in due:
        job.next_attempt_at = None  # due now: no eta
    sent = dispatch.jobs_resend(due) if due else 0
    if sent:
        logger.info("sweep.redispatched", extra={"count": sent})
    return sent


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
    now = timezone.now()
    with transaction.atomic():
        MarketplaceJob.objects.filter(pk__in=[job.pk for job in waiting]).update(
            next_attempt_at=None, dispatched_at=now
        )
        for job in waiting:
            job.next_attempt_at = None
        dispatch.jobs_enqueue_on_commit(waiting)
    return len(waiting)


def jobs_wake_if_extension_present() -> int:
    """Jobs parked for the extension while one is connected: parked just after its connect woke
    the waiting ones (a race of milliseconds, seen after a Redis restart), they would wait for
    the 5-minute recheck. Woken here within one sweep interval instead."""
    parked = MarketplaceJob.objects.filter(
        marketplace="vinted", status=JobStatus.PENDING, status_reason=WAITING_FOR_EXTENSION
    )
    if not parked.exists() or not presence.presence_list(schema=connection.schema_name):
        return 0
    return jobs_wake_waiting(marketplace="vinted")


def tenant_sweep(*, stale_after: timedelta | None = None) -> dict[str, int]:
    """Inside one tenant: expire, recover dead workers' jobs, re-send due and lost triggers."""
    stale_after = stale_after or timedelta(seconds=float(settings.RELIST_STALE_HEARTBEAT_S))
    return {
        "expired": jobs_expire_overdue(),
        "recovered": jobs_recover_dead_workers() + jobs_recover_stale(stale_after=stale_after),
        "dispatched": jobs_dispatch_due() + jobs_wake_if_extension_present(),
    }


def sweep_all(*, full: bool = False) -> dict[str, dict[str, int]]:
    """Visit the tenants whose due-work row is due (`full`: every tenant, an operator's repair
    of the index itself). After each visit the row is settled: rescheduled one interval ahead
    while the tenant has non-terminal jobs, deleted otherwise."""
    now = timezone.now()
    schemas = (
        list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
        if full
        else duework.duework_due(now=now)
    )
    reports: dict[str, dict[str, int]] = {}
    # The broker's queues are read once for the whole pass (dispatch.queued_job_ids).
    with dispatch.queue_snapshot():
        for schema in schemas:
            try:
                with tenant_context(schema):
                    report = tenant_sweep()
                    with transaction.atomic():
                        report["active"] = int(
                            duework.duework_settle(schema=schema, next_wake=now + sweep_interval())
                        )
            except SoftTimeLimitExceeded:
                raise  # the sweep ran out of time: say so, never swallow it as one tenant's error
            except TenantUnavailable:
                # Moving between databases (tenant_move): visited on its new database afterwards.
                logger.info("sweep.tenant_moving", extra={"tenant": schema})
                continue
            except Exception:
                # One broken tenant must not stop the others; the error is logged with its trace.
                logger.exception("sweep.tenant_failed", extra={"tenant": schema})
                continue
            reports[schema] = report
    logger.info("sweep.done", extra={"tenants": len(schemas), "full": full})
    return reports
