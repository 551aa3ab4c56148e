"""Hand jobs to Celery: the only module that sends job triggers.

Messages are only triggers: job state lives in PostgreSQL, so a message for a job that is no
longer pending is dropped by the worker, and the sweep re-sends lost ones (`dispatched_at`).

Fairness (docs/engine.md "Fairness"): every trigger goes through `jobs_enqueue`, which caps the
`.high` band per tenant: only a tenant's RELIST_TENANT_HIGH_MAX oldest open priority 1-2 jobs of a
marketplace go there, the rest to the normal band, so the band stays for what a person waits on.
The per-tenant worker slots are taken at claim time (runner._slot_take).

Messages are sent by task name (no import of tasks.py); tenant-schemas-celery's `send_task`
stamps the connection's current schema into the message headers."""

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.celery import app
from core.queues import HIGH_PRIORITY_MAX, queue_for_job
from marketplace.engine import sql
from marketplace.models import MarketplaceJob
from marketplace.services import ratelimit
from marketplace.states import JobStatus

RUN_JOB_TASK = "marketplace.run_job"
# kombu's Redis transport keeps messages of priority p > 0 in "<queue>\x06\x16<p>" lists.
_PRIORITY_STEPS = (3, 6, 9)


def job_route(*, marketplace: str, priority: int) -> str:
    return queue_for_job(marketplace=marketplace, priority=priority).value


def job_enqueue(
    *,
    job_id: int,
    marketplace: str,
    priority: int,
    eta: datetime | None = None,
    producer: Any = None,
) -> None:
    app.send_task(
        RUN_JOB_TASK,
        args=(job_id,),
        queue=job_route(marketplace=marketplace, priority=priority),
        eta=eta,
        producer=producer,
    )


def high_band_ids(*, marketplace: str) -> set[int]:
    """The current tenant's jobs allowed in the marketplace's `.high` band: its
    RELIST_TENANT_HIGH_MAX oldest open (pending or running) priority 1-2 jobs."""
    return set(
        MarketplaceJob.objects.filter(
            marketplace=marketplace,
            priority__lte=HIGH_PRIORITY_MAX,
            status__in=(JobStatus.PENDING, JobStatus.RUNNING),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[: int(settings.RELIST_TENANT_HIGH_MAX)]
    )


def _band_priority(job: MarketplaceJob, allowed: dict[str, set[int]]) -> int:
    """The priority the route is chosen by: a high job beyond the tenant's cap goes normal."""
    if job.priority > HIGH_PRIORITY_MAX:
        return job.priority
    if job.marketplace not in allowed:
        allowed[job.marketplace] = high_band_ids(marketplace=job.marketplace)
    return job.priority if job.pk in allowed[job.marketplace] else HIGH_PRIORITY_MAX + 1


def _window_lost_after_s() -> float:
    """A window entry lapses when its trigger would count as lost (two sweep intervals)."""
    return 2 * float(settings.RELIST_SWEEP_INTERVAL_S)


def _admitted(jobs: list[MarketplaceJob], *, resend: bool, now: datetime) -> list[MarketplaceJob]:
    """The jobs of the group whose trigger fits the tenant's window, per marketplace."""
    admitted: set[int] = set()
    for marketplace in {job.marketplace for job in jobs}:
        group = [job for job in jobs if job.marketplace == marketplace]
        latest = max((job.next_attempt_at or now for job in group), default=now)
        admitted |= ratelimit.trigger_window_admit(
            tenant=connection.schema_name,
            marketplace=marketplace,
            job_ids=[job.pk for job in group],
            lost_after_s=_window_lost_after_s() + max((latest - now).total_seconds(), 0.0),
            resend=resend,
        )
    return [job for job in jobs if job.pk in admitted]


def jobs_enqueue(jobs: Iterable[MarketplaceJob], *, resend: bool = True) -> int:
    """Publish on one producer (one broker connection) for the whole group: acquiring one per
    message made a 10,000-job batch crawl. Only the jobs that fit the tenant's trigger window
    are sent; the others stay pending in PostgreSQL and are released by `jobs_top_up` as the
    tenant's jobs finish (or by the sweep)."""
    sent = 0
    now = timezone.now()
    allowed: dict[str, set[int]] = {}
    admitted = _admitted(list(jobs), resend=resend, now=now)
    with app.producer_or_acquire() as producer:
        for job in admitted:
            due = job.next_attempt_at
            job_enqueue(
                job_id=job.pk,
                marketplace=job.marketplace,
                priority=_band_priority(job, allowed),
                eta=due if due is not None and due > now else None,
                producer=producer,
            )
            sent += 1
    return sent


def jobs_top_up(
    *, job_id: int, marketplace: str, retry_at: datetime | None, slot_holder: str | None = None
) -> int:
    """After a run of `job_id` (in its tenant's schema): a trigger that comes back later (a
    deferral, a retry, the slot cap) stays in the window; otherwise it leaves it, and when
    some of the tenant's jobs were held back, the oldest due ones (priority first) fill the
    free places. The run's worker slot (`slot_holder`) is given back in the same Redis round
    trip. Returns the triggers sent."""
    tenant = connection.schema_name
    if retry_at is not None:
        until = retry_at.timestamp() + _window_lost_after_s()
        ratelimit.trigger_window_keep(
            tenant=tenant,
            marketplace=marketplace,
            job_id=job_id,
            until_s=until,
            slot_holder=slot_holder,
        )
        return 0
    members, mark = ratelimit.trigger_window_leave(
        tenant=tenant, marketplace=marketplace, job_id=job_id, slot_holder=slot_holder
    )
    free = int(settings.RELIST_TENANT_TRIGGER_WINDOW) - len(members)
    if mark is None or free <= 0:  # nothing held back, or the window is full: the mark stays
        return 0
    due = _due_stamped(marketplace=marketplace, exclude=[*members, job_id], free=free)
    if len(due) < free:  # every held-back job fits: nothing is held back any more
        ratelimit.trigger_window_clear_held(tenant=tenant, marketplace=marketplace, mark=mark)
    if not due:
        return 0
    return jobs_enqueue(due, resend=False)


def _due_stamped(*, marketplace: str, exclude: list[int], free: int) -> list[MarketplaceJob]:
    """sql.TOP_UP: the next due jobs, stamped `dispatched_at`, in the order they are sent."""
    params = {
        "now": timezone.now(),
        "marketplace": marketplace,
        "pending": JobStatus.PENDING.value,
        "exclude": exclude,
        "free": free,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.TOP_UP, params)  # type: ignore[arg-type]
        rows = cursor.fetchall()
    jobs = [
        MarketplaceJob(pk=pk, marketplace=mk, priority=priority, next_attempt_at=due)
        for pk, mk, priority, due in rows
    ]
    return sorted(jobs, key=lambda job: (job.priority, job.pk))


def jobs_enqueue_on_commit(jobs: Iterable[MarketplaceJob]) -> None:
    """Enqueue once the surrounding transaction commits (never for a rolled-back job)."""
    snapshot = [
        MarketplaceJob(
            pk=job.pk,
            marketplace=job.marketplace,
            priority=job.priority,
            next_attempt_at=job.next_attempt_at,
        )
        for job in jobs
    ]
    transaction.on_commit(partial(_enqueue_in_schema, connection.schema_name, snapshot))


def _enqueue_in_schema(schema: str, jobs: list[MarketplaceJob]) -> None:
    # The schema header is read from the connection at publish time: make sure it is the
    # job's schema even if the caller switched schemas after its transaction.
    if connection.schema_name == schema:
        jobs_enqueue(jobs)
        return
    from tenants.context import tenant_context  # noqa: PLC0415 - rare path

    with tenant_context(schema):
        jobs_enqueue(jobs)


def queue_backlog(queue: str) -> int:
    """Messages waiting in a queue (not yet taken by a worker). Used by the sweep: a pending job
    whose trigger is older than a sweep interval while its queue is empty lost its trigger."""
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        names = [queue, *(f"{queue}\x06\x16{step}" for step in _PRIORITY_STEPS)]
        pipe = client.pipeline()
        for name in names:
            pipe.llen(name)
        return sum(int(n) for n in pipe.execute())
