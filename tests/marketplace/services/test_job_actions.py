"""The user actions (pause, resume, cancel, retry), the worker's claim / retry / defer / fail and
the beat expiry, through the services that own them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidTransition
from marketplace.engine import lifecycle
from marketplace.engine.sweep import jobs_expire_overdue
from marketplace.models import JobEvent, MarketplaceJob, MarketplaceTask
from marketplace.services.jobs import (
    job_cancel,
    job_pause,
    job_resume,
    job_retry,
)
from marketplace.states import EventActor, JobStatus, TaskStatus
from tests.factories.marketplace import (
    MarketplaceTaskFactory,
    job_walk_to,
    make_batch,
    make_job,
    make_job_in,
)

S = JobStatus
USER_ACTIONS = {"pause": job_pause, "resume": job_resume, "cancel": job_cancel, "retry": job_retry}


def _events(job: MarketplaceJob) -> list[tuple[str, str, str, str]]:
    return list(
        JobEvent.objects.filter(job_id=job.pk)
        .order_by("id")
        .values_list("from_status", "to_status", "actor", "reason")
    )


def _claim(job: MarketplaceJob) -> MarketplaceJob:
    """Claim as a worker would once the job is due."""
    job.refresh_from_db()
    claimed = lifecycle.job_claim(job_id=job.pk, now=job.next_attempt_at or timezone.now())
    assert claimed is not None
    return claimed


# --- pause / resume / cancel / retry on jobs that are not running ----------------------------


RESTING_MOVES = [
    ("pause", S.PENDING, S.PAUSED),
    ("resume", S.PAUSED, S.PENDING),
    ("cancel", S.PENDING, S.CANCELLED),
    ("cancel", S.PAUSED, S.CANCELLED),
    ("retry", S.FAILED, S.PENDING),
    ("retry", S.EXPIRED, S.PENDING),
]
EVENT_REASONS = {
    "pause": "pause by user",
    "resume": "resumed by user",
    "cancel": "cancel by user",
    "retry": "retry by user",
}
REFUSALS = [
    ("pause", S.PAUSED),
    ("pause", S.COMPLETED),
    ("pause", S.FAILED),
    ("pause", S.CANCELLED),
    ("pause", S.EXPIRED),
    ("resume", S.PENDING),
    ("resume", S.RUNNING),
    ("resume", S.COMPLETED),
    ("resume", S.FAILED),
    ("resume", S.CANCELLED),
    ("resume", S.EXPIRED),
    ("cancel", S.COMPLETED),
    ("cancel", S.FAILED),
    ("cancel", S.CANCELLED),
    ("cancel", S.EXPIRED),
    ("retry", S.PENDING),
    ("retry", S.RUNNING),
    ("retry", S.PAUSED),
    ("retry", S.COMPLETED),
    ("retry", S.CANCELLED),
]
ALLOWED_ACTIONS = {
    S.PENDING: ["pause", "cancel"],
    S.RUNNING: ["pause", "cancel"],
    S.PAUSED: ["resume", "cancel"],
    S.COMPLETED: [],
    S.FAILED: ["retry"],
    S.CANCELLED: [],
    S.EXPIRED: ["retry"],
}


@pytest.mark.parametrize(
    ("action", "source", "target"),
    [pytest.param(*move, id=f"{move[1]}-{move[0]}->{move[2]}") for move in RESTING_MOVES],
)
def test_user_action_moves_a_resting_job_at_once(tenant, member, action, source, target):
    # given a job that no worker is running
    job = make_job_in(source)
    events_before = len(_events(job))

    # when a user asks for the action
    result = USER_ACTIONS[action](job_id=job.pk, actor=EventActor.USER, user=member)

    # then the job moves now, with one event naming the user
    job.refresh_from_db()
    assert (result.status, job.status) == (target, target)
    assert _events(job)[events_before:] == [
        (source, target, EventActor.USER, EVENT_REASONS[action])
    ]
    assert JobEvent.objects.filter(job_id=job.pk).last().actor_user_id == member.pk


@pytest.mark.parametrize(
    ("action", "status"),
    [pytest.param(*refusal, id=f"{refusal[1]}-{refusal[0]}") for refusal in REFUSALS],
)
def test_refused_user_action_leaves_the_job_untouched(tenant, action, status):
    # given a job in a status the action does not apply to
    job = make_job_in(status)
    stored_before = MarketplaceJob.objects.values().get(pk=job.pk)
    events_before = _events(job)

    # when the user asks for it
    with pytest.raises(InvalidTransition) as raised:
        USER_ACTIONS[action](job_id=job.pk, actor=EventActor.USER)

    # then it is refused with the current status and what is allowed, and nothing was written
    assert raised.value.details == {
        "job_id": job.pk,
        "current_status": status,
        "allowed_actions": ALLOWED_ACTIONS[status],
    }
    assert MarketplaceJob.objects.values().get(pk=job.pk) == stored_before
    assert _events(job) == events_before


def test_resume_extends_the_expiry_and_enqueues_after_commit(
    tenant, no_broker, django_capture_on_commit_callbacks
):
    # given a job paused for a long time (its original expiry is near)
    job = make_job_in(S.PAUSED)
    original_expiry = job.expires_at
    started = timezone.now()

    # when it is resumed, and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        job_resume(job_id=job.pk, actor=EventActor.USER)

    # then it gets a fresh hour to run and its trigger is sent
    job.refresh_from_db()
    assert job.expires_at >= max(original_expiry, started + timedelta(hours=1))
    assert (job.next_attempt_at, job.status_reason) == (None, "")
    assert no_broker == [("marketplace.run_job", (job.pk,))]


# --- pause / cancel of a running job: requested now, applied at the step boundary -----------


@pytest.mark.parametrize(
    ("action", "flag", "target"),
    [("pause", "pause_requested", S.PAUSED), ("cancel", "cancel_requested", S.CANCELLED)],
    ids=["pause", "cancel"],
)
def test_running_job_is_only_asked_then_stops_at_the_boundary(tenant, action, flag, target):
    # given a running job
    job = make_job_in(S.RUNNING)

    # when the user asks to stop it
    requested = USER_ACTIONS[action](job_id=job.pk, actor=EventActor.USER)

    # then it keeps running with the request flagged and recorded
    job.refresh_from_db()
    assert (requested.status, job.status, getattr(job, flag)) == (S.RUNNING, S.RUNNING, True)
    assert _events(job)[-1] == (
        S.RUNNING,
        S.RUNNING,
        EventActor.USER,
        f"{action} requested; takes effect at the next step boundary",
    )

    # when the worker reaches its next step boundary
    stopped = lifecycle.job_stop_if_requested(job=job)

    # then the transition happens there, by the worker, and the flag is cleared
    job.refresh_from_db()
    assert stopped is True
    assert (job.status, getattr(job, flag)) == (target, False)
    assert _events(job)[-1] == (
        S.RUNNING,
        target,
        EventActor.WORKER,
        f"{action} requested; stopped at a step boundary",
    )


def test_repeated_pause_request_records_one_event(tenant):
    # given a running job already asked to pause
    job = make_job_in(S.RUNNING)
    job_pause(job_id=job.pk, actor=EventActor.USER)
    events_before = _events(job)

    # when the user asks again
    job_pause(job_id=job.pk, actor=EventActor.USER)

    # then nothing new is written
    assert _events(job) == events_before


def test_cancel_wins_over_pause_at_the_boundary(tenant):
    # given a running job asked to pause, then to cancel
    job = make_job_in(S.RUNNING)
    job_pause(job_id=job.pk, actor=EventActor.USER)
    job_cancel(job_id=job.pk, actor=EventActor.USER)

    # when the worker reaches the boundary
    lifecycle.job_stop_if_requested(job=job)

    # then the job is cancelled, both flags cleared
    job.refresh_from_db()
    assert (job.status, job.pause_requested, job.cancel_requested) == (S.CANCELLED, False, False)
    assert job.finished_at is not None


def test_boundary_without_request_only_beats_the_heart(tenant):
    # given a running job nobody asked to stop
    job = make_job_in(S.RUNNING)
    heartbeat_before = MarketplaceJob.objects.get(pk=job.pk).heartbeat_at
    events_before = _events(job)

    # when the worker reaches a step boundary
    stopped = lifecycle.job_stop_if_requested(job=job)

    # then it goes on running, with a newer heartbeat and no event
    job.refresh_from_db()
    assert (stopped, job.status) == (False, S.RUNNING)
    assert job.heartbeat_at > heartbeat_before
    assert _events(job) == events_before


# --- retry --------------------------------------------------------------------------------


def _end_as_failed(job: MarketplaceJob) -> None:
    lifecycle.job_fail(job=_claim(job), error_code="http_400", message="Bad request")


def _end_as_expired(job: MarketplaceJob) -> None:
    job.refresh_from_db()
    jobs_expire_overdue(now=job.expires_at + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("end", "source"),
    [(_end_as_failed, S.FAILED), (_end_as_expired, S.EXPIRED)],
    ids=["failed", "expired"],
)
def test_retry_restarts_attempts_and_keeps_succeeded_steps(tenant, end, source):
    # given a job with one step done and one failed, which was tried, backed off, then ended
    job = make_job()
    done = MarketplaceTaskFactory(
        job=job, position=0, status=TaskStatus.SUCCESS, result={"image_id": "img-1"}
    )
    MarketplaceTaskFactory(job=job, position=1, status=TaskStatus.FAILED, error="HTTP 500")
    lifecycle.job_retry_or_fail(job=_claim(job), error_code="http_503", message="Unavailable")
    end(job)
    job.refresh_from_db()
    assert (job.status, job.attempts > 0) == (source, True)
    steps_before = list(MarketplaceTask.objects.filter(job=job).order_by("position").values())
    retried_at = timezone.now()

    # when the user retries it
    job_retry(job_id=job.pk, actor=EventActor.USER)

    # then it is pending again with a clean slate and a fresh hour
    job.refresh_from_db()
    assert (job.status, job.attempts, job.next_attempt_at, job.finished_at) == (
        S.PENDING,
        0,
        None,
        None,
    )
    assert (job.error_code, job.error_message, job.status_reason) == ("", "", "")
    assert job.expires_at >= retried_at + timedelta(hours=1)
    # and its steps are untouched: the succeeded one keeps its result for the re-run to skip
    assert list(MarketplaceTask.objects.filter(job=job).order_by("position").values()) == (
        steps_before
    )
    assert MarketplaceTask.objects.values("status", "result").get(pk=done.pk) == {
        "status": TaskStatus.SUCCESS,
        "result": {"image_id": "img-1"},
    }


# --- worker side: claim, retry-or-fail, defer, fail ----------------------------------------


def test_claim_counts_an_attempt(tenant):
    # given a pending job
    job = make_job()
    before = timezone.now()

    # when a worker claims it
    claimed = lifecycle.job_claim(job_id=job.pk)

    # then it runs, with its first attempt counted and the claim recorded
    job.refresh_from_db()
    assert (claimed.pk, job.status, job.attempts) == (job.pk, S.RUNNING, 1)
    assert job.started_at >= before
    assert job.heartbeat_at == job.started_at
    assert _events(job) == [(S.PENDING, S.RUNNING, EventActor.WORKER, "")]


@pytest.mark.parametrize("status", [S.RUNNING, S.PAUSED, S.COMPLETED, S.CANCELLED])
def test_claim_of_a_job_that_is_not_pending_is_dropped(tenant, status):
    # given a job that is no longer pending (a duplicate or stale message)
    job = make_job_in(status)
    stored_before = MarketplaceJob.objects.values().get(pk=job.pk)
    events_before = _events(job)

    # when a worker claims it
    claimed = lifecycle.job_claim(job_id=job.pk)

    # then nothing happens
    assert claimed is None
    assert MarketplaceJob.objects.values().get(pk=job.pk) == stored_before
    assert _events(job) == events_before


def test_claim_before_the_backoff_ends_is_dropped(tenant):
    # given a job backing off after a retryable failure
    job = make_job()
    backing_off = lifecycle.job_retry_or_fail(
        job=_claim(job), error_code="http_503", message="Unavailable", retry_after=60
    )
    events_before = _events(job)

    # when a message arrives before next_attempt_at
    claimed = lifecycle.job_claim(
        job_id=job.pk, now=backing_off.next_attempt_at - timedelta(seconds=1)
    )

    # then it is dropped: still pending, one attempt counted
    job.refresh_from_db()
    assert claimed is None
    assert (job.status, job.attempts) == (S.PENDING, 1)
    assert _events(job) == events_before


def test_claim_of_an_overdue_job_expires_it(tenant):
    # given a pending job past its expiry
    job = make_job()

    # when a worker claims it too late
    claimed = lifecycle.job_claim(job_id=job.pk, now=job.expires_at + timedelta(seconds=1))

    # then it is expired instead of run, with no attempt counted
    job.refresh_from_db()
    assert claimed is None
    assert (job.status, job.attempts, job.error_code) == (S.EXPIRED, 0, "expired")
    assert _events(job) == [
        (S.PENDING, S.EXPIRED, EventActor.WORKER, "expired before it could run")
    ]


def _fail_retryably(job: MarketplaceJob, times: int) -> MarketplaceJob:
    """Claim and hit a retryable failure `times` times."""
    for _ in range(times):
        job = lifecycle.job_retry_or_fail(
            job=_claim(job), error_code="http_503", message="Service unavailable"
        )
    return job


@pytest.mark.parametrize("attempt", [1, 3, 5], ids=lambda n: f"attempt-{n}-of-6")
def test_retryable_failure_with_attempts_left_backs_off(tenant, attempt):
    # given a job (max_retries 5) on its `attempt`-th run
    job = _fail_retryably(make_job(), times=attempt - 1)
    running = _claim(job)
    assert (running.attempts, running.max_retries) == (attempt, 5)
    failed_at = timezone.now()

    # when the marketplace answers with a retryable error
    lifecycle.job_retry_or_fail(job=running, error_code="http_503", message="Service unavailable")

    # then the job is pending again, due after a capped exponential backoff
    job.refresh_from_db()
    assert (job.status, job.attempts) == (S.PENDING, attempt)
    assert failed_at <= job.next_attempt_at <= timezone.now() + timedelta(seconds=2**attempt)
    assert (job.error_code, job.error_message) == ("http_503", "Service unavailable")
    assert job.status_reason == "Retrying after: Service unavailable"
    assert _events(job)[-1][:3] == (S.RUNNING, S.PENDING, EventActor.WORKER)


def test_retryable_failure_after_the_last_retry_fails_the_job(tenant):
    # given a job that used its retries (the catalogue's 5) and runs once more
    job = make_job()
    retries = job.max_retries
    job = _fail_retryably(job, times=retries)
    running = _claim(job)
    assert running.attempts == retries + 1

    # when it fails retryably again
    lifecycle.job_retry_or_fail(job=running, error_code="http_503", message="Service unavailable")

    # then it fails for good, saying why
    job.refresh_from_db()
    message = f"Max retries ({retries}) exceeded: Service unavailable"
    assert (retries, job.status, job.attempts) == (5, S.FAILED, retries + 1)
    assert (job.error_code, job.error_message) == ("http_503", message)
    assert job.finished_at is not None
    assert _events(job)[-1] == (S.RUNNING, S.FAILED, EventActor.WORKER, message)


def test_retry_after_is_a_floor_of_the_backoff(tenant):
    # given a running job
    running = _claim(make_job())
    failed_at = timezone.now()

    # when the marketplace says Retry-After: 120
    lifecycle.job_retry_or_fail(
        job=running, error_code="http_429", message="Too many requests", retry_after=120
    )

    # then the next attempt is no sooner than that
    running.refresh_from_db()
    assert running.next_attempt_at >= failed_at + timedelta(seconds=120)


def test_permanent_failure_fails_at_once(tenant):
    # given a running job with all its retries left
    running = _claim(make_job())

    # when the marketplace refuses the request for good
    lifecycle.job_fail(job=running, error_code="http_400", message="Title too long")

    # then it fails on the first attempt with the marketplace's message
    running.refresh_from_db()
    assert (running.status, running.attempts) == (S.FAILED, 1)
    assert (running.error_code, running.error_message) == ("http_400", "Title too long")


def test_defer_gives_the_attempt_back(tenant):
    # given a job on its second attempt
    job = _fail_retryably(make_job(), times=1)
    running = _claim(job)
    assert running.attempts == 2
    deferred_at = timezone.now()

    # when it cannot run now (the extension is offline) and is deferred for 30 s
    lifecycle.job_defer(job=running, reason="The Vinted extension is offline.", delay_s=30)

    # then it waits, pending, with the attempt given back and the reason visible
    job.refresh_from_db()
    assert (job.status, job.attempts) == (S.PENDING, 1)
    assert job.status_reason == "The Vinted extension is offline."
    assert deferred_at + timedelta(seconds=30) <= job.next_attempt_at
    assert job.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert _events(job)[-1] == (
        S.RUNNING,
        S.PENDING,
        EventActor.WORKER,
        "The Vinted extension is offline.",
    )


def test_defer_without_delay_waits_for_an_event(tenant):
    # given a running job
    running = _claim(make_job())

    # when it is deferred with no delay (it waits for the extension to connect)
    lifecycle.job_defer(job=running, reason="The Vinted extension is offline.")

    # then it is pending, due at once, with no attempt consumed
    running.refresh_from_db()
    assert (running.status, running.attempts, running.next_attempt_at) == (S.PENDING, 0, None)


# --- beat: expiry ---------------------------------------------------------------------------


def test_expire_overdue_expires_only_overdue_pending_jobs_and_counts_them(tenant):
    # given a batch of four jobs created together (same deadline): one stays pending, one runs,
    # one is paused and one was paused and resumed later (its deadline moved on)
    batch = make_batch(products=4)
    idle, running, paused, resumed = batch.jobs.order_by("pk")
    deadline = idle.expires_at
    job_walk_to(running, S.RUNNING)
    job_walk_to(paused, S.PAUSED)
    job_walk_to(resumed, S.PAUSED)
    job_resume(job_id=resumed.pk, actor=EventActor.USER)

    # when beat sweeps just after the original deadline (the resume came milliseconds later)
    expired = jobs_expire_overdue(now=deadline + timedelta(microseconds=1))

    # then only the idle pending job expired, recorded by beat and counted in its batch
    statuses = dict(batch.jobs.values_list("pk", "status"))
    assert expired == 1
    assert statuses == {
        idle.pk: S.EXPIRED,
        running.pk: S.RUNNING,
        paused.pk: S.PAUSED,
        resumed.pk: S.PENDING,
    }
    assert _events(idle) == [(S.PENDING, S.EXPIRED, EventActor.BEAT, "expired before it could run")]
    idle.refresh_from_db()
    assert (idle.error_code, idle.error_message) == (
        "expired",
        "The job expired before it could run.",
    )
    batch.refresh_from_db()
    assert (batch.expired_count, batch.processed_count, batch.status) == (1, 1, "running")


def test_expire_overdue_with_nothing_overdue_changes_nothing(tenant):
    # given a fresh pending job
    job = make_job()
    stored_before = MarketplaceJob.objects.values().get(pk=job.pk)

    # when beat sweeps now
    expired = jobs_expire_overdue()

    # then nothing expired
    assert expired == 0
    assert MarketplaceJob.objects.values().get(pk=job.pk) == stored_before
    assert _events(job) == []
