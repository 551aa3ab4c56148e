"""A run that meets an error nobody classified never leaves its job running: Redis refusing the
rate limiter (a restart) or a bug in a step retries the job at once within its budget, and a
run that lost the database is put back by whichever worker gets the retried message (the
`abandoned` mark), not after the stale-heartbeat limit. Real database, a scripted handler."""

from typing import Any, ClassVar

import pytest
import redis
from django.db import OperationalError

from marketplace.engine import liveness, runner
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.models import MarketplaceJob
from marketplace.states import JobStatus, TaskStatus
from tests.factories.marketplace import make_job


class ScriptedHandler:
    """Two steps; `errors` holds what each run of step "one" raises (None: succeed)."""

    marketplace: ClassVar[str] = "ebay"
    action: ClassVar[str] = "publish"
    errors: ClassVar[list[BaseException | None]] = []

    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [StepPlan(name="one", description="first"), StepPlan(name="two", description="2")]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        if step.name == "one" and self.errors and (error := self.errors.pop(0)) is not None:
            raise error
        return {"done": step.name}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"steps": sorted(results)}


@pytest.fixture
def scripted(monkeypatch):
    ScriptedHandler.errors = []
    monkeypatch.setattr(runner, "handler_get", lambda **_: ScriptedHandler())
    return ScriptedHandler


def _step_statuses(job_id: int) -> dict[str, str]:
    return dict(
        MarketplaceJob.objects.get(pk=job_id).tasks.values_list("name", "status").order_by("name")
    )


@pytest.mark.parametrize(
    "error",
    [redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."), KeyError("a bug")],
    ids=["redis-down", "bug"],
)
def test_an_unclassified_step_error_retries_the_job_instead_of_leaving_it_running(
    live_tenant, no_broker, scripted, error
):
    # given a job whose first step meets an error no client classified
    job = make_job()
    scripted.errors.append(error)
    # when it runs
    outcome = runner.job_run(job_id=job.pk)
    # then it is pending again with a retry time, its step failed and an attempt counted
    row = MarketplaceJob.objects.get(pk=job.pk)
    assert (outcome.status, row.status, row.attempts) == (JobStatus.PENDING, JobStatus.PENDING, 1)
    assert outcome.retry_at is not None
    assert row.next_attempt_at == outcome.retry_at
    assert "internal error" in row.error_message
    assert _step_statuses(job.pk)["one"] in (TaskStatus.FAILED, TaskStatus.TIMEOUT)


def test_a_run_that_lost_the_database_is_put_back_by_its_retried_message(
    live_tenant, no_broker, scripted
):
    # given a job whose first step loses the database connection
    job = make_job()
    scripted.errors.append(OperationalError("server closed the connection unexpectedly"))
    # when it runs, the run is abandoned with its mark, the job left running
    with pytest.raises(runner.RunAbandoned) as abandoned:
        runner.job_run(job_id=job.pk)
    assert abandoned.value.mark == {
        "abandoned_attempt": 1,
        "abandoned_by": liveness.process_ident(),
    }
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    # when the retried message carrying the mark runs (on any worker)
    outcome = runner.job_run(job_id=job.pk, **abandoned.value.mark)
    # then that run is put back: pending, the attempt counted, retried soon
    row = MarketplaceJob.objects.get(pk=job.pk)
    assert (outcome.status, row.status, row.error_code) == (
        JobStatus.PENDING,
        JobStatus.PENDING,
        "interrupted",
    )
    assert outcome.retry_at is not None
    # and once due, the job completes, re-running only the step that did not succeed
    MarketplaceJob.objects.filter(pk=job.pk).update(next_attempt_at=None)
    assert runner.job_run(job_id=job.pk).status == JobStatus.COMPLETED
    assert _step_statuses(job.pk) == {"one": TaskStatus.SUCCESS, "two": TaskStatus.SUCCESS}


def test_a_mark_for_another_run_puts_nothing_back(live_tenant, no_broker, scripted):
    # given a job running its second attempt (the mark names the first)
    job = make_job()
    scripted.errors.append(OperationalError("gone"))
    with pytest.raises(runner.RunAbandoned) as abandoned:
        runner.job_run(job_id=job.pk)
    MarketplaceJob.objects.filter(pk=job.pk).update(attempts=2)
    # when the stale mark arrives
    outcome = runner.job_run(job_id=job.pk, **abandoned.value.mark)
    # then the live run is left alone (the message is dropped)
    assert outcome == runner.DROPPED
    assert MarketplaceJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
