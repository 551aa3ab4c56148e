"""Property: whatever users, workers and beat do to a batch's jobs, in any order, the batch's
counters equal a recount from its jobs, and its stored status is the one derive_batch_status
gives for that recount (docs/state-machine.md: counters move in the transition's transaction)."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batches.models import BatchJob
from batches.services import batch_cancel
from batches.states import derive_batch_status
from marketplace.engine import lifecycle
from marketplace.engine.sweep import jobs_expire_overdue
from marketplace.models import MarketplaceJob
from marketplace.services.jobs import (
    job_cancel,
    job_pause,
    job_resume,
    job_retry,
)
from marketplace.states import EventActor, JobStatus
from tests.factories.marketplace import make_batch

S = JobStatus
USER = EventActor.USER
# Past any backoff (capped at 10 min) and well before any expiry (1 h).
LATER = timedelta(minutes=11)


@dataclass
class World:
    """The batch under test and its jobs as last read, and whether the user cancelled it."""

    batch_pk: int
    cancelled: bool = False
    batch: BatchJob = field(init=False)
    jobs: list[MarketplaceJob] = field(init=False)

    def __post_init__(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Read the batch and its jobs as stored now, in one query."""
        self.jobs = list(
            MarketplaceJob.objects.filter(batch_id=self.batch_pk)
            .select_related("batch")
            .order_by("pk")
        )
        self.batch = self.jobs[0].batch


@dataclass(frozen=True)
class Operation:
    """Something a user, worker or beat does to one job, allowed when the job (or, for
    batch_cancel, the batch) is in one of `sources`."""

    sources: frozenset[str]
    run: Callable[[MarketplaceJob, World], object]
    on_batch: bool = False


def _batch_cancel(job: MarketplaceJob, world: World) -> None:
    batch_cancel(batch_pk=world.batch_pk, actor=USER)
    world.cancelled = True


OPERATIONS: dict[str, Operation] = {
    "claim": Operation(
        frozenset({S.PENDING}),
        lambda job, _: lifecycle.job_claim(job_id=job.pk, now=timezone.now() + LATER),
    ),
    "complete": Operation(
        frozenset({S.RUNNING}), lambda job, _: lifecycle.job_complete(job=job, result={})
    ),
    "fail": Operation(
        frozenset({S.RUNNING}),
        lambda job, _: lifecycle.job_fail(job=job, error_code="http_400", message="Bad"),
    ),
    "retry_or_fail": Operation(
        frozenset({S.RUNNING}),
        lambda job, _: lifecycle.job_retry_or_fail(
            job=job, error_code="http_503", message="Unavailable"
        ),
    ),
    "defer": Operation(
        frozenset({S.RUNNING}), lambda job, _: lifecycle.job_defer(job=job, reason="offline")
    ),
    "step_boundary": Operation(
        frozenset({S.RUNNING}), lambda job, _: lifecycle.job_stop_if_requested(job=job)
    ),
    "pause": Operation(
        frozenset({S.PENDING, S.RUNNING}), lambda job, _: job_pause(job_id=job.pk, actor=USER)
    ),
    "resume": Operation(
        frozenset({S.PAUSED}), lambda job, _: job_resume(job_id=job.pk, actor=USER)
    ),
    "cancel": Operation(
        frozenset({S.PENDING, S.RUNNING, S.PAUSED}),
        lambda job, _: job_cancel(job_id=job.pk, actor=USER),
    ),
    # Jobs of a batch share their deadline: this expires every pending job of the batch.
    "expire_overdue": Operation(
        frozenset({S.PENDING}),
        lambda job, _: jobs_expire_overdue(now=job.expires_at + timedelta(seconds=1)),
    ),
    "retry": Operation(
        frozenset({S.FAILED, S.EXPIRED}), lambda job, _: job_retry(job_id=job.pk, actor=USER)
    ),
    "batch_cancel": Operation(frozenset({"pending", "running"}), _batch_cancel, on_batch=True),
}
TERMINAL = (S.COMPLETED, S.FAILED, S.CANCELLED, S.EXPIRED)
# Workers act far more often than users and beat: weight the draw (names repeated) so that
# generated sequences reach running jobs and finished batches, not only the first steps.
WEIGHTS = {"claim": 4, "complete": 4, "fail": 2, "retry_or_fail": 2, "retry": 2}
DRAWN_OPERATIONS = [name for name in sorted(OPERATIONS) for _ in range(WEIGHTS.get(name, 1))]


def _apply(name: str, offset: int, world: World) -> None:
    """Run operation `name` on the first job, counting from `offset`, that it may act on; skip
    it when there is none (or, for batch_cancel, when the batch is past cancelling)."""
    operation = OPERATIONS[name]
    start = offset % len(world.jobs)
    allowed = [
        job
        for job in world.jobs[start:] + world.jobs[:start]
        if (world.batch.status if operation.on_batch else job.status) in operation.sources
    ]
    for job in allowed[:1]:
        operation.run(job, world)
    world.reload()


def _assert_batch_matches_recount(world: World) -> None:
    batch, jobs = world.batch, world.jobs
    counts = Counter(job.status for job in jobs)
    processed = sum(counts[status] for status in TERMINAL)
    assert (
        batch.total_count,
        batch.completed_count,
        batch.failed_count,
        batch.cancelled_count,
        batch.expired_count,
    ) == (len(jobs), counts[S.COMPLETED], counts[S.FAILED], counts[S.CANCELLED], counts[S.EXPIRED])
    assert batch.status == derive_batch_status(
        total=len(jobs),
        completed=counts[S.COMPLETED],
        processed=processed,
        started=any(job.started_at is not None for job in jobs),
        cancelled=world.cancelled,
    )
    assert (batch.finished_at is not None) == (processed == len(jobs))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    size=st.integers(min_value=3, max_value=6),
    steps=st.lists(
        st.tuples(st.sampled_from(DRAWN_OPERATIONS), st.integers(min_value=0, max_value=5)),
        min_size=8,
        max_size=16,
    ),
)
def test_batch_counters_always_equal_a_recount(tenant, size, steps):
    # each example runs in a savepoint that is rolled back, so examples never accumulate
    with transaction.atomic():
        # given a batch of `size` pending jobs
        world = World(batch_pk=make_batch(products=size).pk)
        _assert_batch_matches_recount(world)

        # when the operations run one after the other (those not allowed now are skipped)
        for name, offset in steps:
            _apply(name, offset, world)

            # then after each one, the batch agrees with its jobs
            _assert_batch_matches_recount(world)

        transaction.set_rollback(True)
