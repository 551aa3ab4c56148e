"""Celery entrypoints only: parse ids, call one service. The tenant schema travels in the
message headers (tenant-schemas-celery).

A failure before the claim (the database refused the connection, the schema switch failed in
tenant-schemas-celery's task_prerun, any OperationalError) must not acknowledge the message: the
job would sit pending with no trigger. The task retries the message with backoff instead, and
rejects (with a log line) a message whose tenant does not exist."""

import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

logger = logging.getLogger(__name__)

# Celery's countdown stays well under the broker's visibility timeout (Redis redelivers older
# unacknowledged messages); longer waits are left to the sweep's dispatch of due jobs.
MAX_COUNTDOWN_S = 900
# Backoff of a message retried because the database or the schema switch failed.
INFRA_RETRY_BASE_S = 1.0
INFRA_RETRY_CAP_S = 30.0


def _header_schema(request) -> str | None:
    headers = getattr(request, "headers", None) or {}
    return headers.get("_schema_name") or getattr(request, "_schema_name", None)


def _infra_countdown(retries: int) -> float:
    return min(INFRA_RETRY_CAP_S, INFRA_RETRY_BASE_S * 2**retries)


@shared_task(
    name="marketplace.run_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
    soft_time_limit=600,
    time_limit=660,
)
def run_job_task(
    self, job_id: int, abandoned_attempt: int | None = None, abandoned_by: str | None = None
) -> str:
    from marketplace.engine.runner import RunAbandoned, job_run  # noqa: PLC0415
    from marketplace.engine.tenancy import TenantGone, schema_check  # noqa: PLC0415

    first_job = job_id
    hand_over_s = float(settings.RELIST_ENGINE_HAND_OVER_S)
    chain_until = time.monotonic() + hand_over_s if hand_over_s > 0 else None
    try:
        schema_check(expected=_header_schema(self.request))
        outcome = job_run(
            job_id=job_id,
            abandoned_attempt=abandoned_attempt,
            abandoned_by=abandoned_by,
            chain_until=chain_until,
        )
        # Jobs handed over by the run before (runner.HandOver): same tenant, same marketplace.
        while outcome.then is not None:
            job_id = outcome.then.job_id
            outcome = job_run(job_id=job_id, handed=outcome.then, chain_until=chain_until)
    except TenantGone as gone:
        logger.warning(
            "job.message_rejected",
            extra={"job": job_id, "schema": gone.schema, "reason": gone.reason},
        )
        return "rejected"
    except RunAbandoned as abandoned:
        # Mid-run: the retried message carries which run to put back (runner.RunAbandoned).
        countdown = _infra_countdown(self.request.retries)
        logger.warning(
            "job.infra_retry",
            extra={"job": job_id, "error": repr(abandoned.__cause__), "countdown": countdown},
        )
        raise self.retry(args=(job_id,), countdown=countdown, kwargs=abandoned.mark) from abandoned
    except (OperationalError, InterfaceError) as error:
        # Before or during the claim: the job is still pending (or will be recovered); retry
        # the trigger rather than acknowledge it. The broken connection is dropped by the
        # task_postrun hook (config/celery.py), so the next try opens a fresh one.
        countdown = _infra_countdown(self.request.retries)
        logger.warning(
            "job.infra_retry",
            extra={"job": job_id, "error": repr(error), "countdown": countdown},
        )
        if job_id == first_job:  # the message's own job: as sent (with its mark, if any)
            raise self.retry(countdown=countdown) from error
        raise self.retry(args=(job_id,), kwargs={}, countdown=countdown) from error
    if outcome.retry_at is not None:
        countdown = max((outcome.retry_at - timezone.now()).total_seconds(), 0.0)
        if countdown <= MAX_COUNTDOWN_S:
            raise self.retry(args=(job_id,), countdown=countdown, kwargs={})
    return outcome.status


@shared_task(name="marketplace.sweep", ignore_result=True, soft_time_limit=50, time_limit=55)
def sweep_task(full: bool = False) -> int:
    """Each database keeps the due-work index of its own tenants (written in the transaction
    of their jobs), so the sweep reads every database's; visiting a tenant switches to its
    database (`tenant_context`). A full pass lists every tenant from the primary once."""
    from marketplace.engine.sweep import sweep_all  # noqa: PLC0415
    from tenants.databases import database_use, tenant_database_aliases  # noqa: PLC0415

    if full:
        return len(sweep_all(full=True))
    visited = 0
    for alias in tenant_database_aliases():
        try:
            with database_use(alias):
                visited += len(sweep_all())
        except DatabaseError:
            # One database down must not stop the sweep of the others.
            logger.exception("sweep.database_failed", extra={"db": alias})
    return visited
