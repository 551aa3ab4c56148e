"""Run one job: claim it, plan its steps once, run them in order skipping succeeded ones, and
record the outcome. Called by the `marketplace.run_job` Celery task.

Commit budget (the orchestration overhead target of DESIGN §6): the claim, the step plan and the
first step's start share one transaction; then each marketplace call is followed by exactly one
transaction that records the step's result, writes the heartbeat, honours pause/cancel and starts
the next step; the last one also completes the job. So a job of N calls costs N + 1 commits."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core import metrics
from core.errors import (
    ApplicationError,
    InvalidTransition,
    JobDeferred,
    MarketplaceError,
    TransientMarketplaceError,
)
from marketplace.handlers.base import Handler, JobContext, StepInput
from marketplace.handlers.registry import handler_get
from marketplace.models import Listing, MarketplaceJob, MarketplaceTask, Product
from marketplace.services import execution, steps
from marketplace.services.transitions import job_transition
from marketplace.states import EventActor, JobStatus, TaskStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # the job's status after this run, or "dropped" for a stale message
    retry_at: datetime | None = None


DROPPED = RunOutcome("dropped")


def job_run(*, job_id: int) -> RunOutcome:
    job = (
        MarketplaceJob.objects.select_related("action_type")
        .filter(pk=job_id, status=JobStatus.PENDING)
        .first()
    )
    if job is None:
        return DROPPED
    ctx = _context(job)
    handler = handler_get(marketplace=job.marketplace, action=job.action_type.code)
    existing = steps.steps_load(job_id=job.pk)
    try:
        planned = existing or steps.steps_build(job=job, plan=handler.plan(ctx))
    except MarketplaceError as error:  # e.g. the product was deleted
        return _fail_before_start(job_id=job_id, error=error)
    claimed = _claim_and_start(job_id=job_id, loaded=job, planned=planned, is_new_plan=not existing)
    if claimed is None:
        return DROPPED
    ctx.job = claimed
    return _run_steps(ctx, handler, planned)


def _context(job: MarketplaceJob) -> JobContext:
    ctx = JobContext(job=job, tenant_schema=connection.schema_name)
    if job.product_id is not None:
        ctx.product = Product.objects.filter(pk=job.product_id).first()
        if ctx.product is not None:
            ctx.image_urls = list(
                ctx.product.images.order_by("position").values_list("url", flat=True)
            )
            ctx.listing = Listing.objects.filter(
                product_id=job.product_id, marketplace=job.marketplace
            ).first()
    return ctx


def _claim_and_start(
    *,
    job_id: int,
    loaded: MarketplaceJob,
    planned: list[MarketplaceTask],
    is_new_plan: bool,
) -> MarketplaceJob | None:
    now = timezone.now()
    with transaction.atomic():
        job = execution.job_claim(job_id=job_id, now=now, loaded=loaded)
        if job is None:
            return None
        if is_new_plan:
            for step in planned:
                step.job = job
            MarketplaceTask.objects.bulk_create(planned)
        first = _next_step(planned)
        if first is not None:
            steps.step_start(step=first, now=now)
    return job


def _next_step(planned: list[MarketplaceTask]) -> MarketplaceTask | None:
    return next((step for step in planned if step.status != TaskStatus.SUCCESS), None)


def _run_steps(ctx: JobContext, handler: Handler, planned: list[MarketplaceTask]) -> RunOutcome:
    results: dict[str, dict[str, Any]] = {
        step.name: step.result for step in planned if step.status == TaskStatus.SUCCESS
    }
    step = _next_step(planned)
    while step is not None:
        try:
            result = handler.run_step(
                ctx,
                StepInput(
                    name=step.name,
                    position=step.position,
                    payload=step.payload,
                    attempts=step.attempts,
                    previous=dict(results),
                ),
            )
        except JobDeferred as deferral:
            return _defer(ctx.job, step, deferral)
        except TransientMarketplaceError as error:
            return _retry_or_fail(ctx.job, step, error)
        except ApplicationError as error:
            return _fail(ctx.job, step, error)
        results[step.name] = result
        following = _next_step(planned[planned.index(step) + 1 :])
        if following is None:
            return _complete(ctx, handler, step, result, results)
        if _boundary(ctx.job, done=step, result=result, following=following):
            return RunOutcome(ctx.job.status)
        step = following
    return _complete(ctx, handler, None, {}, results)


def _boundary(
    job: MarketplaceJob,
    *,
    done: MarketplaceTask,
    result: dict[str, Any],
    following: MarketplaceTask,
) -> bool:
    """Between two steps: record the step, heartbeat, honour cancel/pause, start the next.
    Returns True when the job stopped here."""
    now = timezone.now()
    with transaction.atomic():
        steps.step_succeed(step=done, result=result, now=now)
        if steps.job_stop_if_requested(job=job, now=now, where=f"after step {done.position}"):
            return True
        steps.step_start(step=following, now=now)
    return False


def _complete(
    ctx: JobContext,
    handler: Handler,
    last: MarketplaceTask | None,
    result: dict[str, Any],
    results: dict[str, dict[str, Any]],
) -> RunOutcome:
    now = timezone.now()
    with transaction.atomic():
        if last is not None:
            steps.step_succeed(step=last, result=result, now=now)
        job_result = handler.finish(ctx, results)
        job_transition(
            job=ctx.job, name="complete", actor=EventActor.WORKER, now=now, result=job_result
        )
    logger.info("job.completed", extra={"job": ctx.job.pk, "marketplace": ctx.job.marketplace})
    return RunOutcome(JobStatus.COMPLETED)


def _defer(job: MarketplaceJob, step: MarketplaceTask, deferral: JobDeferred) -> RunOutcome:
    with transaction.atomic():
        steps.step_unstart(step=step)
        execution.job_defer(job=job, reason=deferral.reason, delay_s=deferral.delay_s)
    return RunOutcome(job.status, retry_at=job.next_attempt_at)


def _retry_or_fail(
    job: MarketplaceJob, step: MarketplaceTask, error: TransientMarketplaceError
) -> RunOutcome:
    now = timezone.now()
    status = TaskStatus.TIMEOUT if error.status is None else TaskStatus.FAILED
    with transaction.atomic():
        steps.step_fail(step=step, status=status, error=error.message, now=now)
        execution.job_retry_or_fail(
            job=job,
            error_code=str(error.code),
            message=error.message,
            retry_after=error.retry_after,
        )
    metrics.record_transient_error(job=job, error=error)
    logger.info(
        "job.transient_error",
        extra={"job": job.pk, "status": job.status, "error": error.message},
    )
    return RunOutcome(job.status, retry_at=job.next_attempt_at)


def _fail(job: MarketplaceJob, step: MarketplaceTask, error: ApplicationError) -> RunOutcome:
    now = timezone.now()
    with transaction.atomic():
        steps.step_fail(step=step, status=TaskStatus.FAILED, error=error.message, now=now)
        execution.job_fail(job=job, error_code=str(error.code), message=error.message)
    logger.info("job.failed", extra={"job": job.pk, "error": error.message})
    return RunOutcome(JobStatus.FAILED)


def _fail_before_start(*, job_id: int, error: MarketplaceError) -> RunOutcome:
    with transaction.atomic():
        job = execution.job_claim(job_id=job_id)
        if job is None:
            return DROPPED
        try:
            execution.job_fail(job=job, error_code=str(error.code), message=error.message)
        except InvalidTransition:
            return DROPPED
    return RunOutcome(JobStatus.FAILED)
