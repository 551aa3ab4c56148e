"""Step bookkeeping for the runner. Each function is one or two statements meant to share the
caller's transaction, so a job costs one commit per marketplace call."""

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from marketplace.handlers.base import StepPlan
from marketplace.models import MarketplaceJob, MarketplaceTask
from marketplace.services.transitions import job_transition
from marketplace.states import EventActor, TaskStatus


def steps_load(*, job_id: int) -> list[MarketplaceTask]:
    return list(MarketplaceTask.objects.filter(job_id=job_id).order_by("position"))


def steps_build(*, job: MarketplaceJob, plan: list[StepPlan]) -> list[MarketplaceTask]:
    names = [step.name for step in plan]
    if len(set(names)) != len(names):
        raise ValueError(f"Step names must be unique within a job: {names}")
    return [
        MarketplaceTask(
            job=job,
            position=position,
            name=step.name,
            task_type=step.task_type,
            description=step.description,
            payload=step.payload,
            http_method=step.http_method,
            http_path=step.http_path,
        )
        for position, step in enumerate(plan, start=1)
    ]


def step_start(*, step: MarketplaceTask, now: datetime) -> None:
    MarketplaceTask.objects.filter(pk=step.pk).update(
        status=TaskStatus.PROCESSING, attempts=F("attempts") + 1, started_at=now, error=""
    )
    step.status = TaskStatus.PROCESSING
    step.attempts += 1
    step.started_at = now


def step_succeed(*, step: MarketplaceTask, result: dict[str, Any], now: datetime) -> None:
    MarketplaceTask.objects.filter(pk=step.pk).update(
        status=TaskStatus.SUCCESS, result=result, finished_at=now
    )
    step.status = TaskStatus.SUCCESS
    step.result = result
    metrics.observe_step(step=step, outcome="success", now=now)


def step_fail(*, step: MarketplaceTask, status: TaskStatus, error: str, now: datetime) -> None:
    MarketplaceTask.objects.filter(pk=step.pk).update(
        status=status, error=error[:2000], finished_at=now
    )
    metrics.observe_step(step=step, outcome=str(status), now=now)


def step_unstart(*, step: MarketplaceTask) -> None:
    """The step never reached the marketplace (deferred before sending): undo its start."""
    MarketplaceTask.objects.filter(pk=step.pk).update(
        status=TaskStatus.PENDING, attempts=F("attempts") - 1, started_at=None
    )


def steps_cancel_remaining(*, job_id: int) -> None:
    MarketplaceTask.objects.filter(
        job_id=job_id, status__in=(TaskStatus.PENDING, TaskStatus.PROCESSING)
    ).update(status=TaskStatus.CANCELLED)


def job_heartbeat(*, job_id: int, now: datetime) -> tuple[bool, bool]:
    """Write the heartbeat and read the pause/cancel requests in one round trip."""
    table = connection.ops.quote_name(MarketplaceJob._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET heartbeat_at = %s WHERE id = %s "
            "RETURNING cancel_requested, pause_requested",
            [now, job_id],
        )
        row = cursor.fetchone()
    return (bool(row[0]), bool(row[1])) if row else (True, False)


def job_stop_if_requested(
    *, job: MarketplaceJob, now: datetime | None = None, where: str = "at a step boundary"
) -> bool:
    """At a step boundary: write the heartbeat and read the requests in one round trip, then
    honour cancel (remaining steps cancelled) before pause. True when the job stopped. The
    caller may hold a transaction (the runner records the finished step in the same one)."""
    now = now or timezone.now()
    with transaction.atomic():
        cancel, pause = job_heartbeat(job_id=job.pk, now=now)
        if not (cancel or pause):
            return False
        name = "cancel" if cancel else "pause"
        job_transition(
            job=job,
            name=name,
            actor=EventActor.WORKER,
            now=now,
            reason=f"{name} requested; stopped {where}",
        )
        if cancel:
            steps_cancel_remaining(job_id=job.pk)
    return True
