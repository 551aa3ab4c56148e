"""Hand-over: a thread that finishes one of a tenant's jobs while others are held back by the
tenant's trigger window runs the next one itself, with the worker slot it holds, for at most
RELIST_ENGINE_HAND_OVER_S per message; the jobs' rows, the window and the slots end exactly as
if every trigger had gone through the broker. Real database and Redis, a scripted handler,
messages recorded (no_broker)."""

import time
from typing import Any, ClassVar

import pytest
from django.db import OperationalError

from core.errors import TransientMarketplaceError
from marketplace import tasks
from marketplace.engine import dispatch, runner
from marketplace.handlers.base import JobContext, StepInput, StepPlan
from marketplace.models import MarketplaceJob
from marketplace.services import ratelimit
from marketplace.services.jobs import job_cancel
from marketplace.states import EventActor, JobStatus
from tests.factories.marketplace import make_job


class QuickHandler:
    """Two steps that succeed; `errors` maps a job id to what its first step raises once."""

    marketplace: ClassVar[str] = "ebay"
    action: ClassVar[str] = "publish"
    errors: ClassVar[dict[int, BaseException]] = {}
    ran: ClassVar[list[int]] = []

    def plan(self, ctx: JobContext) -> list[StepPlan]:
        return [StepPlan(name="one", description="1"), StepPlan(name="two", description="2")]

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        if step.name == "one":
            self.ran.append(ctx.job.pk)
            if (error := self.errors.pop(ctx.job.pk, None)) is not None:
                raise error
        return {"done": step.name}

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {}


@pytest.fixture
def window_of_one(live_tenant, no_broker, monkeypatch, settings):
    """A window of one trigger and one slot per tenant on eBay, both empty; QuickHandler."""
    settings.RELIST_TENANT_TRIGGER_WINDOW = 1
    settings.RELIST_TENANT_SLOTS_PER_MARKETPLACE = 1
    tenant = live_tenant.schema_name
    client = ratelimit.redis_client()
    client.delete(*ratelimit._window_keys(tenant, "ebay"), ratelimit._taken_key(tenant, "ebay"))
    client.delete(ratelimit.tenant_slot_key(tenant=tenant, marketplace="ebay"))
    QuickHandler.errors, QuickHandler.ran = {}, []
    monkeypatch.setattr(runner, "handler_get", lambda **_: QuickHandler())
    broker = dispatch._broker_client()
    queues = dispatch._band_lists("ebay")
    broker.delete(*queues)  # what earlier tests left on the broker is nobody's here
    yield no_broker
    broker.delete(*queues)
    client.delete(*ratelimit._window_keys(tenant, "ebay"), ratelimit._taken_key(tenant, "ebay"))
    client.delete(ratelimit.tenant_slot_key(tenant=tenant, marketplace="ebay"))


def _run_message(job_id: int, schema: str) -> Any:
    return tasks.run_job_task.apply(args=(job_id,), headers={"_schema_name": schema})


def _statuses(jobs: list[MarketplaceJob]) -> list[str]:
    return [MarketplaceJob.objects.get(pk=job.pk).status for job in jobs]


def _held(schema: str) -> int:
    return ratelimit.tenant_slots_held(tenant=schema, marketplace="ebay")


def _window(schema: str) -> list[bytes]:
    return ratelimit.redis_client().zrange(ratelimit._window_keys(schema, "ebay")[0], 0, -1)


def test_one_message_runs_the_held_back_jobs_in_order_and_sends_nothing_more(
    window_of_one, live_tenant
):
    # given three jobs of a tenant whose window holds one trigger: one message was sent
    jobs = [make_job() for _ in range(3)]
    assert window_of_one == [("marketplace.run_job", (jobs[0].pk,))]

    # when a worker runs that message
    result = _run_message(jobs[0].pk, live_tenant.schema_name)

    # then its thread ran all three, oldest first, each once, and no trigger was published
    assert result.get() == JobStatus.COMPLETED
    assert QuickHandler.ran == [job.pk for job in jobs]
    assert _statuses(jobs) == [JobStatus.COMPLETED] * 3
    assert len(window_of_one) == 1
    # and the slot and the window are empty again, as after three separate messages
    assert _held(live_tenant.schema_name) == 0
    assert _window(live_tenant.schema_name) == []


def test_with_hand_over_off_the_next_trigger_goes_through_the_broker(
    window_of_one, live_tenant, settings
):
    # given hand-over turned off
    settings.RELIST_ENGINE_HAND_OVER_S = 0
    jobs = [make_job() for _ in range(2)]

    # when the first message runs
    _run_message(jobs[0].pk, live_tenant.schema_name)

    # then only its job ran; the second's trigger was published
    assert _statuses(jobs) == [JobStatus.COMPLETED, JobStatus.PENDING]
    assert window_of_one == [("marketplace.run_job", (job.pk,)) for job in jobs]
    assert _held(live_tenant.schema_name) == 0


def test_past_its_deadline_a_run_publishes_instead_of_handing_over(window_of_one, live_tenant):
    # given two jobs, the first admitted
    jobs = [make_job() for _ in range(2)]

    # when the first runs with its hand-over deadline already passed
    outcome = runner.job_run(job_id=jobs[0].pk, chain_until=time.monotonic() - 1)

    # then nothing is handed over: the second's trigger is published, the slot given back
    assert outcome.then is None
    assert window_of_one[-1] == ("marketplace.run_job", (jobs[1].pk,))
    assert _held(live_tenant.schema_name) == 0


def test_a_handed_over_job_that_must_retry_is_retried_by_its_own_id(
    window_of_one, live_tenant, monkeypatch
):
    # given the second of two jobs fails transiently in its first step
    jobs = [make_job() for _ in range(2)]
    QuickHandler.errors[jobs[1].pk] = TransientMarketplaceError("eBay 503")
    retried: list[tuple[Any, Any]] = []

    def retry(*, args: Any = None, kwargs: Any = None, countdown: Any = None, **_: Any) -> Any:
        retried.append((args, kwargs))
        return RuntimeError("retried")

    monkeypatch.setattr(tasks.run_job_task, "retry", retry)

    # when the first message runs (the second is handed over and fails)
    with pytest.raises(RuntimeError, match="retried"):
        _run_message(jobs[0].pk, live_tenant.schema_name).get()

    # then the message retried is the second job's, and the slot was given back
    assert retried == [((jobs[1].pk,), {})]
    assert _statuses(jobs) == [JobStatus.COMPLETED, JobStatus.PENDING]
    assert _held(live_tenant.schema_name) == 0
    # and its trigger keeps its place in the window until it comes back
    assert _window(live_tenant.schema_name) == [str(jobs[1].pk).encode()]


def test_a_database_error_before_a_handed_over_claim_retries_that_job(
    window_of_one, live_tenant, monkeypatch
):
    # given the load of the second job meets a refused connection
    jobs = [make_job() for _ in range(2)]
    load = runner._load

    def refusing(job_id: int) -> Any:
        if job_id == jobs[1].pk:
            raise OperationalError("connection refused")
        return load(job_id)

    monkeypatch.setattr(runner, "_load", refusing)
    retried: list[Any] = []

    def retry(*, args: Any = None, kwargs: Any = None, countdown: Any = None, **_: Any) -> Any:
        retried.append(args)
        return RuntimeError("retried")

    monkeypatch.setattr(tasks.run_job_task, "retry", retry)

    # when the first message runs
    with pytest.raises(RuntimeError, match="retried"):
        _run_message(jobs[0].pk, live_tenant.schema_name).get()

    # then the second job's trigger is retried (not the first's), and the slot is free
    assert retried == [(jobs[1].pk,)]
    assert _statuses(jobs) == [JobStatus.COMPLETED, JobStatus.PENDING]
    assert _held(live_tenant.schema_name) == 0


def test_a_backlog_left_at_the_deadline_goes_out_through_the_window(window_of_one, live_tenant):
    # given four jobs; the first run takes the next three (one to run, two in its backlog)
    jobs = [make_job() for _ in range(4)]
    first = runner.job_run(job_id=jobs[0].pk, chain_until=time.monotonic() + 60)
    assert first.then is not None
    assert (first.then.job_id, [row.pk for row in first.then.backlog]) == (
        jobs[1].pk,
        [jobs[2].pk, jobs[3].pk],
    )

    # when the second runs after the chain's deadline
    second = runner.job_run(job_id=jobs[1].pk, handed=first.then, chain_until=0)

    # then nothing more is handed over: the backlog's oldest is published into the window,
    # the other held back for a later top-up, and the slot is free
    assert second.then is None
    assert window_of_one[-1] == ("marketplace.run_job", (jobs[2].pk,))
    assert _window(live_tenant.schema_name) == [str(jobs[2].pk).encode()]
    assert _statuses(jobs) == [JobStatus.COMPLETED] * 2 + [JobStatus.PENDING] * 2
    assert _held(live_tenant.schema_name) == 0

    # and the next run of the tenant's job tops up the one held back
    _run_message(jobs[2].pk, live_tenant.schema_name)
    assert _statuses(jobs) == [JobStatus.COMPLETED] * 4


def test_a_job_cancelled_in_the_backlog_is_skipped_and_the_chain_goes_on(
    window_of_one, live_tenant
):
    # given three jobs, the third cancelled once the first run took it into its backlog
    jobs = [make_job() for _ in range(3)]
    first = runner.job_run(job_id=jobs[0].pk, chain_until=time.monotonic() + 60)
    assert first.then is not None
    assert [row.pk for row in first.then.backlog] == [jobs[2].pk]
    job_cancel(job_id=jobs[2].pk, actor=EventActor.USER)

    # when the chain goes on
    second = runner.job_run(job_id=jobs[1].pk, handed=first.then, chain_until=time.monotonic() + 60)
    assert second.then is not None
    third = runner.job_run(job_id=jobs[2].pk, handed=second.then, chain_until=time.monotonic() + 60)

    # then the cancelled job was not run, and the chain ended with everything given back
    assert third.status == "dropped"
    assert third.then is None
    assert QuickHandler.ran == [jobs[0].pk, jobs[1].pk]
    assert _statuses(jobs) == [JobStatus.COMPLETED, JobStatus.COMPLETED, JobStatus.CANCELLED]
    assert _held(live_tenant.schema_name) == 0
    assert _window(live_tenant.schema_name) == []


def test_another_threads_hand_over_leaves_a_backlog_alone(window_of_one, live_tenant, settings):
    # given a window of two and six jobs: two triggers sent; the first run takes the next job
    # and the three after it into its backlog
    settings.RELIST_TENANT_TRIGGER_WINDOW = settings.RELIST_TENANT_SLOTS_PER_MARKETPLACE = 2
    jobs = [make_job() for _ in range(6)]
    assert window_of_one == [("marketplace.run_job", (job.pk,)) for job in jobs[:2]]
    first = runner.job_run(job_id=jobs[0].pk, chain_until=time.monotonic() + 60)
    assert first.then is not None
    assert first.then.job_id == jobs[2].pk
    assert [row.pk for row in first.then.backlog] == [job.pk for job in jobs[3:]]

    # when the second trigger's run ends on another thread
    second = runner.job_run(job_id=jobs[1].pk, chain_until=time.monotonic() + 60)

    # then it takes nothing: every other job is in the first thread's hands
    assert second.then is None
    assert QuickHandler.ran == [jobs[0].pk, jobs[1].pk]
    assert len(window_of_one) == 2

    # and the first thread's chain runs them all, each once
    outcome = first
    while outcome.then is not None:
        outcome = runner.job_run(
            job_id=outcome.then.job_id, handed=outcome.then, chain_until=time.monotonic() + 60
        )
    assert QuickHandler.ran == [job.pk for job in jobs]
    assert _statuses(jobs) == [JobStatus.COMPLETED] * 6
    assert _held(live_tenant.schema_name) == 0


def _others_queued(count: int) -> None:
    """`count` messages of other tenants waiting in the eBay queue."""
    dispatch._broker_client().lpush(dispatch._band_lists("ebay")[0], *["other"] * count)


def test_a_chain_gives_way_when_other_tenants_triggers_wait(window_of_one, live_tenant):
    # given three jobs of a tenant whose window holds one trigger, and two triggers of other
    # tenants waiting for a thread
    jobs = [make_job() for _ in range(3)]
    _others_queued(2)

    # when the first message runs
    outcome = runner.job_run(job_id=jobs[0].pk, chain_until=time.monotonic() + 60)

    # then nothing is handed over: the next job's trigger joins the queue behind the others
    assert outcome.then is None
    assert QuickHandler.ran == [jobs[0].pk]
    assert window_of_one[-1] == ("marketplace.run_job", (jobs[1].pk,))
    assert _held(live_tenant.schema_name) == 0


def test_a_backlog_chain_gives_way_too_and_publishes_what_it_held(window_of_one, live_tenant):
    # given a chain holding the tenant's next job and one more in its backlog
    jobs = [make_job() for _ in range(3)]
    first = runner.job_run(job_id=jobs[0].pk, chain_until=time.monotonic() + 60)
    assert first.then is not None
    assert [row.pk for row in first.then.backlog] == [jobs[2].pk]

    # when other tenants' triggers start waiting while it runs the second
    _others_queued(3)
    second = runner.job_run(job_id=jobs[1].pk, handed=first.then, chain_until=time.monotonic() + 60)

    # then the third is published instead of run here, the slot is free, nothing stays taken
    assert second.then is None
    assert QuickHandler.ran == [jobs[0].pk, jobs[1].pk]
    assert window_of_one[-1] == ("marketplace.run_job", (jobs[2].pk,))
    assert _window(live_tenant.schema_name) == [str(jobs[2].pk).encode()]
    assert _held(live_tenant.schema_name) == 0
    taken = ratelimit._taken_key(live_tenant.schema_name, "ebay")
    assert ratelimit.redis_client().zcard(taken) == 0
