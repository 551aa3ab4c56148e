"""Batches: bulk creation, derived status and progress, cancellation, recount."""

import re

import pytest
from django.db.models import F

from batches.models import BatchJob
from batches.services import batch_cancel, batch_create, batch_recount
from core.errors import IdempotencyConflict, InvalidTransition, ValidationFailed
from marketplace.engine import lifecycle
from marketplace.models import JobEvent, MarketplaceJob
from marketplace.services.jobs import job_cancel, job_retry
from marketplace.states import EventActor, JobStatus
from tests.factories.marketplace import job_walk_to, make_batch, ready_product

S = JobStatus


def _jobs(batch: BatchJob) -> list[MarketplaceJob]:
    return list(MarketplaceJob.objects.filter(batch=batch).order_by("pk"))


def _fresh(job: MarketplaceJob) -> MarketplaceJob:
    return MarketplaceJob.objects.get(pk=job.pk)


# What a worker does to take a job from pending to each outcome.
_WORKER_STEPS = {
    S.PENDING: (),
    S.RUNNING: (lambda job: lifecycle.job_claim(job_id=job.pk),),
    S.COMPLETED: (
        lambda job: lifecycle.job_claim(job_id=job.pk),
        lambda job: lifecycle.job_complete(job=_fresh(job), result={"listing_id": "L-1"}),
    ),
    S.FAILED: (
        lambda job: lifecycle.job_claim(job_id=job.pk),
        lambda job: lifecycle.job_fail(job=_fresh(job), error_code="http_400", message="Bad"),
    ),
}


def _run_to(job: MarketplaceJob, outcome: str) -> None:
    for step in _WORKER_STEPS[outcome]:
        step(job)


# --- creation -----------------------------------------------------------------------------


def test_batch_create_makes_one_job_per_product_and_marketplace(
    tenant, member, no_broker, django_capture_on_commit_callbacks
):
    # given three products
    products = [ready_product() for _ in range(3)]

    # when a publish batch is created for two marketplaces, and its transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(
            product_ids=[p.pk for p in products],
            marketplaces=["ebay", "etsy"],
            action="publish",
            created_by=member,
        )

    # then it holds 3 × 2 pending jobs, linked to it, with filled idempotency keys
    batch.refresh_from_db()
    assert re.fullmatch(r"publish_\d{8}_\d{6}_[0-9a-f]{8}", batch.batch_id)
    assert (batch.status, batch.total_count, batch.pending_count) == ("pending", 6, 6)
    assert (batch.progress_percent, batch.is_terminal) == (0.0, False)
    assert batch.marketplaces == ["ebay", "etsy"]
    assert sorted(
        MarketplaceJob.objects.filter(batch=batch).values_list(
            "marketplace", "product_id", "status", "idempotency_key"
        )
    ) == sorted(
        (m, p.pk, S.PENDING, f"{batch.batch_id}:{m}:{p.pk}")
        for m in ("ebay", "etsy")
        for p in products
    )
    assert set(
        MarketplaceJob.objects.filter(batch=batch).values_list("created_by_id", flat=True)
    ) == {member.pk}
    assert MarketplaceJob.objects.count() == 6
    # and one task enqueues its jobs in chunks, after the commit
    assert no_broker == [("batches.enqueue_batch", (batch.pk,))]


def test_duplicate_product_ids_are_counted_once(tenant):
    # given two products, one listed three times
    first, second = ready_product(), ready_product()

    # when the batch is created
    batch = batch_create(
        product_ids=[first.pk, second.pk, first.pk, first.pk],
        marketplaces=["vinted", "vinted"],
        action="publish",
    )

    # then each product × marketplace appears once
    assert batch.total_count == 2
    assert sorted(MarketplaceJob.objects.values_list("product_id", flat=True)) == [
        first.pk,
        second.pk,
    ]


def test_missing_products_are_listed_and_nothing_is_created(tenant):
    # given one product that exists and two ids that do not
    product = ready_product()

    # when a batch names them all
    with pytest.raises(ValidationFailed) as raised:
        batch_create(
            product_ids=[product.pk, 987_654_321, 987_654_322],
            marketplaces=["ebay"],
            action="publish",
        )

    # then the missing ones are named, and no batch nor job exists
    assert raised.value.message == "Some products do not exist."
    assert raised.value.details == {"missing_product_ids": [987_654_321, 987_654_322]}
    assert (BatchJob.objects.count(), MarketplaceJob.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"product_ids": [], "marketplaces": ["ebay"]}, "A batch needs at least one product."),
        ({"marketplaces": ["amazon"]}, "Marketplaces are one or more of vinted, ebay, etsy."),
        ({"marketplaces": []}, "Marketplaces are one or more of vinted, ebay, etsy."),
        ({"marketplaces": ["ebay"], "priority": 9}, "Priority is 1 (critical) to 4 (low)."),
        ({"marketplaces": ["ebay"], "action": "teleport"}, "ebay has no action 'teleport'."),
    ],
    ids=["no-products", "unknown-marketplace", "no-marketplace", "bad-priority", "bad-action"],
)
def test_invalid_batch_is_refused_and_nothing_is_created(tenant, kwargs, message):
    # given a product
    product = ready_product()
    request = {"product_ids": [product.pk], "action": "publish", **kwargs}

    # when an invalid batch is asked for / then it is refused
    with pytest.raises(ValidationFailed, match=f"^{re.escape(message)}$"):
        batch_create(**request)
    assert (BatchJob.objects.count(), MarketplaceJob.objects.count()) == (0, 0)


def test_batch_idempotency_key_returns_the_first_batch(tenant):
    # given a batch created with a key
    products = [ready_product().pk for _ in range(2)]
    first = batch_create(
        product_ids=products, marketplaces=["ebay"], action="publish", idempotency_key="b-1"
    )

    # when the same request is repeated, then reused for another action
    again = batch_create(
        product_ids=products, marketplaces=["ebay"], action="publish", idempotency_key="b-1"
    )
    with pytest.raises(IdempotencyConflict):
        batch_create(
            product_ids=products, marketplaces=["ebay"], action="delete", idempotency_key="b-1"
        )

    # then there is one batch and its jobs only
    assert again.pk == first.pk
    assert (BatchJob.objects.count(), MarketplaceJob.objects.count()) == (1, 2)


def test_batch_create_of_200_products_uses_few_queries(tenant, django_assert_max_num_queries):
    # given 200 products
    product_ids = [ready_product().pk for _ in range(200)]

    # when they are published on three marketplaces (600 jobs)
    with django_assert_max_num_queries(15):
        batch = batch_create(
            product_ids=product_ids, marketplaces=["ebay", "etsy", "vinted"], action="publish"
        )

    # then every job exists
    assert batch.total_count == 600
    assert MarketplaceJob.objects.filter(batch=batch).count() == 600


# --- derived status and progress ------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "status", "percent"),
    [
        ((S.PENDING, S.PENDING, S.PENDING), "pending", 0.0),
        ((S.RUNNING, S.PENDING, S.PENDING), "running", 0.0),
        ((S.COMPLETED, S.PENDING, S.PENDING), "running", 33.33),
        ((S.COMPLETED, S.FAILED, S.RUNNING), "running", 66.67),
        ((S.COMPLETED, S.COMPLETED, S.COMPLETED), "completed", 100.0),
        ((S.FAILED, S.FAILED, S.FAILED), "failed", 100.0),
        ((S.COMPLETED, S.FAILED, S.FAILED), "partially_failed", 100.0),
        ((S.COMPLETED, S.COMPLETED, S.FAILED), "partially_failed", 100.0),
    ],
    ids=[
        "none-started",
        "one-running",
        "1-of-3-done",
        "2-of-3-done-1-running",
        "all-completed",
        "all-failed",
        "1-completed-2-failed",
        "2-completed-1-failed",
    ],
)
def test_batch_status_and_progress_follow_its_jobs(tenant, outcomes, status, percent):
    # given a batch of three jobs
    batch = make_batch(products=3)

    # when workers take each job to its outcome (pending ones are left alone)
    for job, outcome in zip(_jobs(batch), outcomes, strict=True):
        _run_to(job, outcome)

    # then the stored status and the progress are derived from the jobs
    batch.refresh_from_db()
    assert (batch.status, batch.progress_percent) == (status, percent)
    assert batch.completed_count == outcomes.count(S.COMPLETED)
    assert batch.failed_count == outcomes.count(S.FAILED)
    assert (batch.finished_at is not None) == (percent == 100.0)
    assert (batch.started_at is not None) == (status != "pending")


def test_expired_and_cancelled_jobs_finish_a_batch(tenant):
    # given a batch of three jobs
    batch = make_batch(products=3)
    done, expired, cancelled = _jobs(batch)

    # when one completes, one expires before it ran and one is cancelled
    _run_to(done, S.COMPLETED)
    job_walk_to(expired, S.EXPIRED)
    job_walk_to(cancelled, S.CANCELLED)

    # then the batch is finished, partially failed, every job counted
    batch.refresh_from_db()
    assert (
        batch.completed_count,
        batch.failed_count,
        batch.expired_count,
        batch.cancelled_count,
    ) == (1, 0, 1, 1)
    assert (batch.status, batch.progress_percent, batch.is_terminal) == (
        "partially_failed",
        100.0,
        True,
    )


def test_retrying_a_failed_job_reopens_its_batch(tenant):
    # given a batch whose only job failed
    batch = make_batch(products=1)
    (job,) = _jobs(batch)
    _run_to(job, S.FAILED)

    # when the user retries the job
    job_retry(job_id=job.pk, actor=EventActor.USER)

    # then the batch is running again, unfinished
    batch.refresh_from_db()
    assert (batch.status, batch.failed_count, batch.finished_at) == ("running", 0, None)


# --- cancel ---------------------------------------------------------------------------------


def test_batch_cancel_cancels_resting_jobs_and_asks_running_ones(tenant, member):
    # given a batch with a pending, a paused, a running and a completed job
    batch = make_batch(products=4)
    pending, paused, running, completed = _jobs(batch)
    job_walk_to(paused, S.PAUSED)
    _run_to(running, S.RUNNING)
    _run_to(completed, S.COMPLETED)
    events_before = JobEvent.objects.count()

    # when the user cancels the batch
    cancelled = batch_cancel(batch_pk=batch.pk, actor=EventActor.USER, user=member)

    # then pending and paused jobs are cancelled now, with events naming the user
    statuses = dict(MarketplaceJob.objects.values_list("pk", "status"))
    assert statuses == {
        pending.pk: S.CANCELLED,
        paused.pk: S.CANCELLED,
        running.pk: S.RUNNING,
        completed.pk: S.COMPLETED,
    }
    assert JobEvent.objects.count() == events_before + 3
    assert list(
        JobEvent.objects.filter(job=running, to_status=S.RUNNING, actor="user").values_list(
            "from_status", "actor_user_id", "reason"
        )
    ) == [
        (
            S.RUNNING,
            member.pk,
            "cancel requested (batch cancelled); takes effect at the next step boundary",
        )
    ]
    assert sorted(
        JobEvent.objects.filter(to_status=S.CANCELLED).values_list(
            "job_id", "from_status", "actor", "actor_user_id", "reason"
        )
    ) == [
        (pending.pk, S.PENDING, "user", member.pk, "batch cancelled by user"),
        (paused.pk, S.PAUSED, "user", member.pk, "batch cancelled by user"),
    ]
    # and the running job is asked to stop at its next step boundary
    assert _fresh(running).cancel_requested is True
    assert (cancelled.status, cancelled.cancelled_count, cancelled.completed_count) == (
        "cancelled",
        2,
        1,
    )
    assert (cancelled.finished_at, cancelled.progress_percent) == (None, 75.0)

    # when the running job reaches its boundary
    lifecycle.job_stop_if_requested(job=_fresh(running))

    # then it is cancelled too, and the batch is finished, still cancelled
    batch.refresh_from_db()
    assert (batch.status, batch.cancelled_count, batch.progress_percent) == (
        "cancelled",
        3,
        100.0,
    )
    assert batch.finished_at is not None


def test_cancelling_a_cancelled_batch_is_refused(tenant):
    # given a cancelled batch
    batch = make_batch(products=2)
    batch_cancel(batch_pk=batch.pk, actor=EventActor.USER)
    events_before = JobEvent.objects.count()

    # when it is cancelled again
    with pytest.raises(InvalidTransition) as raised:
        batch_cancel(batch_pk=batch.pk, actor=EventActor.USER)

    # then it is refused (409) with its status and no action left, and nothing is written
    assert raised.value.http_status == 409
    assert raised.value.details == {"current_status": "cancelled", "allowed_actions": []}
    assert JobEvent.objects.count() == events_before
    batch.refresh_from_db()
    assert batch.cancelled_count == 2


def test_cancelling_a_finished_batch_is_refused(tenant):
    # given a batch whose jobs all completed
    batch = make_batch(products=2)
    for job in _jobs(batch):
        _run_to(job, S.COMPLETED)

    # when the user cancels it / then it is refused and stays completed
    with pytest.raises(InvalidTransition):
        batch_cancel(batch_pk=batch.pk, actor=EventActor.USER)
    batch.refresh_from_db()
    assert (batch.status, batch.cancelled_count) == ("completed", 0)


def test_cancelling_one_job_counts_it_in_its_batch(tenant):
    # given a batch of two pending jobs
    batch = make_batch(products=2)
    first, _ = _jobs(batch)

    # when the user cancels one job
    job_cancel(job_id=first.pk, actor=EventActor.USER)

    # then the batch counts it, half done, not cancelled itself
    batch.refresh_from_db()
    assert (batch.status, batch.cancelled_count, batch.progress_percent) == ("pending", 1, 50.0)


# --- recount --------------------------------------------------------------------------------


def test_batch_recount_repairs_corrupted_counters(tenant):
    # given a batch with one completed, one failed and one pending job
    batch = make_batch(products=3)
    done, failed, _ = _jobs(batch)
    _run_to(done, S.COMPLETED)
    _run_to(failed, S.FAILED)
    # and counters corrupted behind the services' back
    BatchJob.objects.filter(pk=batch.pk).update(
        completed_count=F("completed_count") + 5,
        failed_count=0,
        expired_count=2,
        total_count=9,
        status="completed",
    )

    # when an operator recounts
    repaired = batch_recount(batch_pk=batch.pk)

    # then the counters and the status come from the jobs again
    stored = BatchJob.objects.get(pk=batch.pk)
    for counted in (repaired, stored):
        assert (
            counted.total_count,
            counted.completed_count,
            counted.failed_count,
            counted.cancelled_count,
            counted.expired_count,
        ) == (3, 1, 1, 0, 0)
        assert (counted.status, counted.progress_percent) == ("running", 66.67)


def test_batch_recount_keeps_a_cancelled_batch_cancelled(tenant):
    # given a cancelled batch with corrupted counters
    batch = make_batch(products=2)
    batch_cancel(batch_pk=batch.pk, actor=EventActor.USER)
    BatchJob.objects.filter(pk=batch.pk).update(cancelled_count=0)

    # when an operator recounts / then only the counters change
    repaired = batch_recount(batch_pk=batch.pk)
    assert (repaired.status, repaired.cancelled_count) == ("cancelled", 2)
