"""Hand jobs to Celery: the only module that sends job triggers.

Messages are only triggers: job state lives in PostgreSQL, so a message for a job that is no
longer pending is dropped by the worker, and the sweep re-sends lost ones (`dispatched_at`).

Seam for per-tenant fair dispatch: every trigger goes through `jobs_enqueue`, and the queue a job
goes to is decided by `job_route` alone. A fair dispatcher (caps per tenant and marketplace,
deferral instead of sleeping on a rate budget) replaces those two, nothing else.

Messages are sent by task name (no import of tasks.py); tenant-schemas-celery's `send_task`
stamps the connection's current schema into the message headers."""

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from config.celery import app
from core.queues import queue_for_job
from marketplace.models import MarketplaceJob

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


def jobs_enqueue(jobs: Iterable[MarketplaceJob]) -> int:
    """Publish on one producer (one broker connection) for the whole group: acquiring one per
    message made a 10,000-job batch crawl."""
    sent = 0
    now = timezone.now()
    with app.producer_or_acquire() as producer:
        for job in jobs:
            due = job.next_attempt_at
            job_enqueue(
                job_id=job.pk,
                marketplace=job.marketplace,
                priority=job.priority,
                eta=due if due is not None and due > now else None,
                producer=producer,
            )
            sent += 1
    return sent


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
