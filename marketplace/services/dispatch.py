"""Hand jobs to Celery. Messages are only triggers: job state lives in PostgreSQL, so a message
for a job that is no longer pending is dropped by the worker, and beat re-sends lost ones.

Messages are sent by task name (no import of tasks.py from services); tenant-schemas-celery's
`send_task` stamps the connection's current schema into the message headers."""

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
        queue=queue_for_job(marketplace=marketplace, priority=priority).value,
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
    if sent:
        # Lets beat visit only the tenants that have work.
        from marketplace.services.sweep import tenant_mark_active  # noqa: PLC0415 - cycle

        tenant_mark_active(connection.schema_name)
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
