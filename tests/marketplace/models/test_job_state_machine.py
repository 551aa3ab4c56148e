"""The job state machine of docs/state-machine.md, driven through job_transition (the one path
services use): every row of the table is allowed, everything else is refused with the current
status and the allowed actions, and every transition appends exactly one JobEvent."""

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import InvalidTransition
from marketplace.engine.transitions import job_transition
from marketplace.models import JobEvent, MarketplaceJob
from marketplace.states import EventActor, JobStatus
from tests.factories.marketplace import job_walk_to, make_job_in, transition_kwargs

S = JobStatus

# docs/state-machine.md's table, one row per (from, transition); `defer` is the running →
# pending row of a job that could not run (extension offline, own rate limit), which consumes
# no attempt.
VALID_TRANSITIONS = [
    (S.PENDING, "claim", S.RUNNING),
    (S.RUNNING, "complete", S.COMPLETED),
    (S.RUNNING, "defer_retry", S.PENDING),
    (S.RUNNING, "defer", S.PENDING),
    (S.RUNNING, "fail", S.FAILED),
    (S.PENDING, "pause", S.PAUSED),
    (S.RUNNING, "pause", S.PAUSED),
    (S.PAUSED, "resume", S.PENDING),
    (S.PENDING, "cancel", S.CANCELLED),
    (S.RUNNING, "cancel", S.CANCELLED),
    (S.PAUSED, "cancel", S.CANCELLED),
    (S.PENDING, "expire", S.EXPIRED),
    (S.FAILED, "retry", S.PENDING),
    (S.EXPIRED, "retry", S.PENDING),
]
TRANSITIONS = (
    "claim",
    "complete",
    "defer_retry",
    "defer",
    "fail",
    "pause",
    "resume",
    "cancel",
    "expire",
    "retry",
)
_VALID_PAIRS = {(source, name) for source, name, _ in VALID_TRANSITIONS}
INVALID_TRANSITIONS = [
    (status, name)
    for status in S.values
    for name in TRANSITIONS
    if (status, name) not in _VALID_PAIRS
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


def _valid_id(row: tuple[str, str, str]) -> str:
    source, name, target = row
    return f"{source}-{name}->{target}"


def _pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-{pair[1]}"


def test_model_declares_exactly_the_design_table():
    # given the transitions declared on the model
    field = MarketplaceJob._meta.get_field("status")
    # when they are listed as (from, name, to)
    declared = {
        (str(t.source), t.name, str(t.target)) for t in field.get_all_transitions(MarketplaceJob)
    }
    # then they are docs/state-machine.md's table, no more and no less
    assert declared == {(str(a), b, str(c)) for a, b, c in VALID_TRANSITIONS}


@pytest.mark.parametrize("row", VALID_TRANSITIONS, ids=_valid_id)
def test_valid_transition_moves_the_job_and_appends_one_event(tenant, member, row):
    # given a job in the source status
    source, name, target = row
    job = make_job_in(source)
    events_before = list(job.events.values_list("pk", flat=True))
    now = timezone.now()

    # when the transition is applied by an operator
    job_transition(
        job=job,
        name=name,
        actor=EventActor.OPERATOR,
        user=member,
        now=now,
        reason="operator says so",
        **transition_kwargs(name, now=now),
    )

    # then the stored status is the target and exactly one event records it
    job.refresh_from_db()
    assert job.status == target
    new_events = list(job.events.exclude(pk__in=events_before))
    assert len(new_events) == 1
    event = new_events[0]
    assert (event.from_status, event.to_status) == (source, target)
    assert (event.actor, event.actor_user_id, event.reason, event.at) == (
        EventActor.OPERATOR,
        member.pk,
        "operator says so",
        now,
    )


@pytest.mark.parametrize("pair", INVALID_TRANSITIONS, ids=_pair_id)
def test_invalid_transition_is_refused_without_side_effects(tenant, pair):
    # given a job in some status and a transition the table does not allow from it
    status, name = pair
    job = make_job_in(status)
    stored_before = MarketplaceJob.objects.values().get(pk=job.pk)
    events_before = JobEvent.objects.count()
    now = timezone.now()

    # when the transition is attempted
    with pytest.raises(InvalidTransition) as raised:
        job_transition(
            job=job,
            name=name,
            actor=EventActor.USER,
            now=now,
            **transition_kwargs(name, now=now),
        )

    # then a 409 domain error names the current status and the allowed actions
    error = raised.value
    assert (error.code, error.http_status) == ("invalid_transition", 409)
    assert error.message == f"Cannot {name} a job that is {status}."
    assert error.details == {
        "job_id": job.pk,
        "current_status": status,
        "allowed_actions": ALLOWED_ACTIONS[status],
    }
    # and nothing changed: the row, in memory and stored, and the audit trail
    assert job.status == status
    assert MarketplaceJob.objects.values().get(pk=job.pk) == stored_before
    assert JobEvent.objects.count() == events_before


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED])
def test_final_statuses_offer_no_transition_at_all(tenant, status):
    # given a job in a final status
    job = make_job_in(status)
    # when its available transitions are listed
    available = list(job.get_available_status_transitions())
    # then there are none, neither for users nor for workers and beat
    assert available == []
    assert job.allowed_actions() == []


@pytest.mark.parametrize("status", list(ALLOWED_ACTIONS), ids=str)
def test_allowed_actions_per_status(tenant, status):
    # given a job in each status
    job = make_job_in(status)
    # when / then the user actions offered follow the table
    assert job.allowed_actions() == ALLOWED_ACTIONS[status]


def test_status_cannot_be_written_directly(tenant):
    # given a pending job
    job = make_job_in(S.PENDING)
    # when its protected status is assigned / then django-fsm refuses
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        job.status = S.COMPLETED
    job.refresh_from_db()
    assert job.status == S.PENDING


def test_stale_copy_loses_the_compare_and_set(tenant):
    # given two copies of the same pending job, one of which claims it first
    winner = make_job_in(S.PENDING)
    stale = MarketplaceJob.objects.get(pk=winner.pk)
    now = timezone.now()
    job_transition(job=winner, name="claim", actor=EventActor.WORKER, now=now)

    # when the stale copy claims too
    with pytest.raises(InvalidTransition) as raised:
        job_transition(job=stale, name="claim", actor=EventActor.WORKER, now=now)

    # then it is refused with the status it lost to, and only one claim is recorded
    assert raised.value.details == {
        "job_id": winner.pk,
        "current_status": S.RUNNING,
        "allowed_actions": ["pause", "cancel"],
    }
    assert list(
        JobEvent.objects.filter(job_id=winner.pk).values_list("from_status", "to_status")
    ) == [(S.PENDING, S.RUNNING)]
    assert MarketplaceJob.objects.get(pk=winner.pk).attempts == 1


def test_refresh_never_lifts_the_shared_status_protection(tenant):
    # given a stale copy of a job whose row moved on, and a watch on the status field's
    # protection (shared by every thread of a worker) during each query
    job = make_job_in(S.PENDING)
    job_walk_to(MarketplaceJob.objects.get(pk=job.pk), S.RUNNING)
    field = MarketplaceJob._meta.get_field("status")
    protected_during_queries = []

    def watch(execute, sql, params, many, context):
        protected_during_queries.append((sql.split()[0], field.protected))
        return execute(sql, params, many, context)

    # when the stale copy is refreshed
    with connection.execute_wrapper(watch):
        job.refresh_from_db()

    # then the protection held throughout, and the copy has the stored status
    assert ("SELECT", True) in protected_during_queries
    assert {protected for _, protected in protected_during_queries} == {True}
    assert job.status == S.RUNNING
    with pytest.raises(AttributeError):
        job.status = S.PENDING


def test_deferred_status_loads_on_access(tenant):
    # given a job read without its status
    job = make_job_in(S.PAUSED)
    deferred = MarketplaceJob.objects.only("pk").get(pk=job.pk)
    # when / then the status loads on first access
    assert deferred.status == S.PAUSED
