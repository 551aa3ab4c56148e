"""Step bookkeeping for the rare paths (a failed or deferred step); the hot path's step writes
are part of the statements in `sql`. Each function is one statement meant to share the caller's
transaction."""

from datetime import datetime
from typing import Any

from django.db.models import F

from marketplace.handlers.base import StepPlan
from marketplace.models import MarketplaceTask
from marketplace.states import TaskStatus


def plan_rows(plan: list[StepPlan]) -> list[dict[str, Any]]:
    """A handler's plan as the rows the claim statement inserts (positions from 1)."""
    names = [step.name for step in plan]
    if len(set(names)) != len(names):
        raise ValueError(f"Step names must be unique within a job: {names}")
    return [
        {
            "position": position,
            "task_type": str(step.task_type),
            "name": step.name,
            "description": step.description,
            "payload": step.payload,
            "http_method": step.http_method,
            "http_path": step.http_path,
        }
        for position, step in enumerate(plan, start=1)
    ]


def step_fail(*, step_id: int, status: TaskStatus, error: str, now: datetime) -> None:
    MarketplaceTask.objects.filter(pk=step_id).update(
        status=status, error=error[:2000], finished_at=now
    )


def step_unstart(*, step_id: int) -> None:
    """The step never reached the marketplace (deferred before sending): undo its start."""
    MarketplaceTask.objects.filter(pk=step_id).update(
        status=TaskStatus.PENDING, attempts=F("attempts") - 1, started_at=None
    )
