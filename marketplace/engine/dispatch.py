"""Hand jobs to Celery: the only module that sends job triggers.

Messages are only triggers: job state lives in PostgreSQL, so a message for a job that is no
longer pending is dropped by the worker, and the sweep re-sends lost ones (`dispatched_at`).

Fairness (docs/engine.md "Fairness"): every trigger goes through `jobs_enqueue`, which caps the
`.high` band per tenant: only a tenant's RELIST_TENANT_HIGH_MAX oldest open priority 1-2 jobs of a
marketplace go there, the rest to the normal band, so the band stays for what a person waits on.
The per-tenant worker slots are taken at claim time (runner._slot_take).

Messages are sent by task name (no import of tasks.py) and carry the connection's current schema
in tenant-schemas-celery's header; groups are published in bulk (`_TriggerPublisher`)."""

import base64
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any, ClassVar, Protocol

from celery.utils import uuid
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from tenant_schemas_celery.task import headers_with_schema

from config.celery import app
from core.queues import HIGH_PRIORITY_MAX, broker_lists, queue_for_job
from core.redis_clients import redis_from_url
from marketplace.engine import routines
from marketplace.models import MarketplaceJob
from marketplace.services import ratelimit
from marketplace.states import JobStatus

RUN_JOB_TASK = "marketplace.run_job"
_PUBLISH_BATCH = 1000


class Trigger(Protocol):
    """What a trigger is sent from: a MarketplaceJob, or a row read for it alone."""

    @property
    def pk(self) -> Any: ...
    @property
    def marketplace(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class TriggerRow:
    """A job as jobs_enqueue needs it, read without building a model instance."""

    pk: int
    marketplace: str
    priority: int
    next_attempt_at: datetime | None

    FIELDS: ClassVar[tuple[str, ...]] = ("pk", "marketplace", "priority", "next_attempt_at")


def job_route(*, marketplace: str, priority: int) -> str:
    return queue_for_job(marketplace=marketplace, priority=priority).value


def high_band_ids(*, marketplace: str) -> set[int]:
    """The current tenant's jobs allowed in the marketplace's `.high` band: its
    RELIST_TENANT_HIGH_MAX oldest open (pending or running) priority 1-2 jobs."""
    return set(
        MarketplaceJob.objects.filter(
            marketplace=marketplace,
            priority__lte=HIGH_PRIORITY_MAX,
            status__in=(JobStatus.PENDING, JobStatus.RUNNING),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[: int(settings.RELIST_TENANT_HIGH_MAX)]
    )


def _band_priority(job: Trigger, allowed: dict[str, set[int]]) -> int:
    """The priority the route is chosen by: a high job beyond the tenant's cap goes normal."""
    if job.priority > HIGH_PRIORITY_MAX:
        return job.priority
    if job.marketplace not in allowed:
        allowed[job.marketplace] = high_band_ids(marketplace=job.marketplace)
    return job.priority if job.pk in allowed[job.marketplace] else HIGH_PRIORITY_MAX + 1


def _window_lost_after_s() -> float:
    """A window entry lapses when its trigger would count as lost (two sweep intervals)."""
    return 2 * float(settings.RELIST_SWEEP_INTERVAL_S)


def _admitted(jobs: Sequence[Trigger], *, resend: bool, now: datetime) -> list[Trigger]:
    """The jobs of the group whose trigger fits the tenant's window, per marketplace."""
    admitted: set[int] = set()
    for marketplace in {job.marketplace for job in jobs}:
        group = [job for job in jobs if job.marketplace == marketplace]
        latest = max((job.next_attempt_at or now for job in group), default=now)
        admitted |= ratelimit.trigger_window_admit(
            tenant=connection.schema_name,
            marketplace=marketplace,
            job_ids=[job.pk for job in group],
            lost_after_s=_window_lost_after_s() + max((latest - now).total_seconds(), 0.0),
            resend=resend,
        )
    return [job for job in jobs if job.pk in admitted]


def jobs_enqueue(jobs: Iterable[Trigger], *, resend: bool = True) -> int:
    """Publish the group's triggers in bulk (_TriggerPublisher: one producer, LPUSHes pipelined
    _PUBLISH_BATCH at a time). Only the jobs that fit the tenant's trigger window are sent; the
    others stay pending in PostgreSQL and are released by `jobs_top_up` as the tenant's jobs
    finish (or by the sweep)."""
    now = timezone.now()
    return _publish(_admitted(list(jobs), resend=resend, now=now), now=now)


def _publish(admitted: Sequence[Trigger], *, now: datetime) -> int:
    """Publish triggers already admitted to their tenant's window."""
    if not admitted:
        return 0
    sent = 0
    allowed: dict[str, set[int]] = {}
    with app.producer_or_acquire() as producer, producer.batch(max_size=_PUBLISH_BATCH):
        publisher = _TriggerPublisher(producer)
        for job in admitted:
            due = job.next_attempt_at
            publisher.publish(
                job_id=job.pk,
                queue=job_route(marketplace=job.marketplace, priority=_band_priority(job, allowed)),
                eta=due if due is not None and due > now else None,
            )
            sent += 1
    return sent


class _TriggerPublisher:
    """Sends run_job triggers as app.send_task would, message for message, for less than half
    its CPU: the message is Celery's own (amqp.create_task_message) and so is its publication
    (amqp.send_task_message: signals, sent events, kombu's envelope and priority lists); what
    send_task works out again for every message (the task's execution options, the route of
    the queue, tenant-schemas-celery's schema header, the parent task, declaring the queue) is
    worked out once per group here. tests/marketplace/engine/test_dispatch_bulk.py compares
    the messages with send_task's and has a worker run them."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        task = app.tasks.get(RUN_JOB_TASK)
        options: dict[str, Any] = {
            key: value
            for key, value in (task._get_exec_options() if task is not None else {}).items()
            if value is not None
        }
        self.time_limit = options.pop("time_limit", None)
        self.soft_time_limit = options.pop("soft_time_limit", None)
        options.pop("expires", None)
        self.ignore_result = options.pop("ignore_result", None)
        self.options = options
        self.headers = headers_with_schema({})
        parent = app.current_worker_task
        self.root_id = parent.request.root_id or parent.request.id if parent else None
        self.parent_id = parent.request.id if parent else None
        self.sent_event = app.conf.task_send_sent_event
        self.routes: dict[str, dict[str, Any]] = {}

    def _route(self, queue: str) -> dict[str, Any]:
        route = self.routes.get(queue)
        if route is None:
            route = app.amqp.router.route(
                {**self.options, "queue": queue, "headers": self.headers}, RUN_JOB_TASK
            )
            self.routes[queue] = route
        return route

    def publish(self, *, job_id: int, queue: str, eta: datetime | None) -> None:
        route = self._route(queue)
        task_id = uuid()
        args = (job_id,)
        message = app.amqp.create_task_message(
            task_id, RUN_JOB_TASK, args, None, None, eta, None, None, None, 0, None,
            None, None, app.thread_oid, self.time_limit, self.soft_time_limit,
            self.sent_event, self.root_id, self.parent_id, None, None,
            ignore_result=self.ignore_result, argsrepr=repr(args), kwargsrepr="{}", **route,
        )  # fmt: skip
        if not self.ignore_result:
            app.backend.on_task_call(self.producer, task_id)
        app.amqp.send_task_message(self.producer, RUN_JOB_TASK, message, **route)
        # The queue is bound by its first message; declaring it again per message only costs.
        route["declare"] = []


def jobs_top_up(
    *, job_id: int, marketplace: str, retry_at: datetime | None, slot_holder: str | None = None
) -> int:
    """After a run of `job_id` (in its tenant's schema): a trigger that comes back later (a
    deferral, a retry, the slot cap) stays in the window; otherwise it leaves it, and when
    some of the tenant's jobs were held back, the oldest due ones (priority first) fill the
    free places. The run's worker slot (`slot_holder`) is given back in the same Redis round
    trip. Returns the triggers sent."""
    tenant = connection.schema_name
    if retry_at is not None:
        until = retry_at.timestamp() + _window_lost_after_s()
        ratelimit.trigger_window_keep(
            tenant=tenant,
            marketplace=marketplace,
            job_id=job_id,
            until_s=until,
            slot_holder=slot_holder,
        )
        return 0
    members, mark, taken = ratelimit.trigger_window_leave(
        tenant=tenant, marketplace=marketplace, job_id=job_id, slot_holder=slot_holder
    )
    due = _held_back_due(
        marketplace=marketplace, job_id=job_id, members=members, mark=mark, taken=taken
    )
    if not due:
        return 0
    return jobs_enqueue(due, resend=False)


# Jobs a hand-over takes from PostgreSQL at once beyond the free places of the window: the
# first is run next by the thread, the others wait in its backlog (runner.HandOver), each
# passed on with one Redis round trip (jobs_pass_on) instead of a statement and two.
HAND_OVER_TAKE = 8


def jobs_hand_over(*, job_id: int, marketplace: str, slot_holder: str) -> list[TriggerRow] | None:
    """As `jobs_top_up` after a run that ends for good, but the calling thread keeps the run's
    worker slot (its expiry renewed in the round trip that leaves the window) and takes the
    tenant's next held-back jobs itself: the first takes a place in the window like a sent
    trigger, so its run is counted, recovered and timed out as if it came through the broker;
    up to HAND_OVER_TAKE - 1 more are stamped dispatched and returned after it, for the thread
    to run next; the other free places are published as usual. Returns those jobs, in the order
    to run, or None: then nothing is handed over and the slot was given back."""
    tenant = connection.schema_name
    members, mark, taken = ratelimit.trigger_window_leave(
        tenant=tenant, marketplace=marketplace, job_id=job_id, slot_renew=slot_holder
    )
    if others_waiting(marketplace=marketplace, window_members=len(members)):
        # Other tenants' triggers wait for a thread: back to the queue, as without hand-over.
        ratelimit.tenant_slot_give(tenant=tenant, marketplace=marketplace, holder=slot_holder)
        due = _held_back_due(
            marketplace=marketplace, job_id=job_id, members=members, mark=mark, taken=taken
        )
        jobs_enqueue(due, resend=False)
        return None
    now = timezone.now()
    free = ratelimit.trigger_window(marketplace) - len(members)
    due = _held_back_due(
        marketplace=marketplace,
        job_id=job_id,
        members=members,
        mark=mark,
        taken=taken,
        extra=HAND_OVER_TAKE - 1,
    )
    # The thread's next job and the published ones take the free places; the rest is its backlog.
    admitted = _admitted(due[:free], resend=False, now=now) if due else []
    if not admitted:  # taken but neither admitted nor run: through the window like any trigger
        ratelimit.tenant_slot_give(tenant=tenant, marketplace=marketplace, holder=slot_holder)
        jobs_enqueue(due, resend=False)
        return None
    first, *published = admitted
    _publish(published, now=now)
    backlog = [_row(job) for job in due[free:]]
    ratelimit.trigger_window_take(
        tenant=tenant,
        marketplace=marketplace,
        job_ids=[job.pk for job in backlog],
        lost_after_s=_window_lost_after_s(),
    )
    return [_row(first), *backlog]


def jobs_backlog_release(backlog: Sequence[TriggerRow], *, marketplace: str) -> None:
    """A hand-over's backlog (jobs of one marketplace) that its thread will not run: anybody's
    again, and its triggers go out through the tenant's window (what does not fit is held back
    and topped up later)."""
    ratelimit.trigger_window_untake(
        tenant=connection.schema_name, marketplace=marketplace, job_ids=[job.pk for job in backlog]
    )
    jobs_enqueue(backlog, resend=False)


def jobs_pass_on(*, job_id: int, following: TriggerRow, slot_holder: str) -> bool:
    """The thread's next job comes from its backlog: the finished job's window place passes to
    it and the worker slot's expiry is renewed, in one round trip. False when other tenants'
    triggers wait for a thread: then `following` is published instead (its window place is
    already its own) and the slot given back; the caller releases the rest of its backlog."""
    tenant = connection.schema_name
    members = ratelimit.trigger_window_pass_on(
        tenant=tenant,
        marketplace=following.marketplace,
        job_id=job_id,
        following=following.pk,
        lost_after_s=_window_lost_after_s(),
        slot_renew=slot_holder,
    )
    # The window's count includes `following`, which this thread would run.
    if not others_waiting(marketplace=following.marketplace, window_members=members - 1):
        return True
    ratelimit.token_prepaid_clear()
    ratelimit.tenant_slot_give(tenant=tenant, marketplace=following.marketplace, holder=slot_holder)
    _publish([following], now=timezone.now())
    return False


def others_waiting(*, marketplace: str, window_members: int) -> bool:
    """Whether triggers of other tenants wait in the marketplace's queues (both bands): more
    messages wait than this tenant can have there, its window's other members. Then a
    hand-over stops and the thread goes back to the queue, so a chain never keeps another
    tenant waiting (the fairness of issue 11); a tenant alone keeps its chain. One round trip
    to the broker (LLEN of every priority list)."""
    names = _band_lists(marketplace)
    if not names:
        return False
    pipe = _broker_client().pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
    return sum(int(n) for n in pipe.execute()) > window_members


@cache
def _broker_client() -> Any:
    return redis_from_url(settings.CELERY_BROKER_URL)


_band_lists_cache: dict[str, list[str]] = {}


def _band_lists(marketplace: str) -> list[str]:
    """The broker's lists of the marketplace's two bands (none unless the broker is Redis)."""
    names = _band_lists_cache.get(marketplace)
    if names is None:
        if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://")):
            names = []
        else:
            with app.connection_for_write() as conn:
                names = _band_list_names(conn.default_channel, marketplace)
        _band_lists_cache[marketplace] = names
    return names


def _band_list_names(channel: Any, marketplace: str) -> list[str]:
    """The broker lists of both bands of the marketplace, every priority list."""
    bands = (
        job_route(marketplace=marketplace, priority=1),
        job_route(marketplace=marketplace, priority=HIGH_PRIORITY_MAX + 1),
    )
    return [name for band in bands for name in broker_lists(channel, band)]


def _row(job: Trigger) -> TriggerRow:
    return TriggerRow(job.pk, job.marketplace, job.priority, job.next_attempt_at)


def _held_back_due(
    *,
    marketplace: str,
    job_id: int,
    members: list[int],
    mark: str | None,
    taken: list[int],
    extra: int = 0,
) -> list[MarketplaceJob]:
    """The tenant's held-back due jobs that fit the free places of its window (and `extra`
    more, for a hand-over's backlog), stamped as dispatched, leaving out the window's members
    and the jobs in hand-over backlogs (`taken`); none when nothing is held back. Clears the
    "held back" mark when they all fit."""
    free = ratelimit.trigger_window(marketplace) - len(members)
    if mark is None or free <= 0:  # nothing held back, or the window is full: the mark stays
        return []
    due = _due_stamped(
        marketplace=marketplace, exclude=[*members, *taken, job_id], free=free + extra
    )
    if len(due) < free + extra:  # every held-back job fits: nothing is held back any more
        ratelimit.trigger_window_clear_held(
            tenant=connection.schema_name, marketplace=marketplace, mark=mark
        )
    return due


def _due_stamped(*, marketplace: str, exclude: list[int], free: int) -> list[MarketplaceJob]:
    """sql.TOP_UP: the next due jobs, stamped `dispatched_at`, in the order they are sent."""
    params = {
        "now": timezone.now(),
        "marketplace": marketplace,
        "exclude": exclude,
        "free": free,
    }
    with connection.cursor() as cursor:
        routines.execute(cursor, routines.TOP_UP, params)
        rows = cursor.fetchall()
    jobs = [
        MarketplaceJob(pk=pk, marketplace=mk, priority=priority, next_attempt_at=due)
        for pk, mk, priority, due in rows
    ]
    return sorted(jobs, key=lambda job: (job.priority, job.pk))


def jobs_enqueue_on_commit(jobs: Iterable[MarketplaceJob]) -> None:
    """Enqueue once the surrounding transaction commits (never for a rolled-back job)."""
    snapshot = [
        MarketplaceJob(
            pk=job.pk,
            marketplace=job.marketplace,
            priority=job.priority,
            next_attempt_at=job.next_attempt_at,
        )
        for job in jobs
    ]
    transaction.on_commit(partial(_enqueue_in_schema, connection.schema_name, snapshot))


def _enqueue_in_schema(schema: str, jobs: list[MarketplaceJob]) -> None:
    # The schema header is read from the connection at publish time: make sure it is the
    # job's schema even if the caller switched schemas after its transaction.
    if connection.schema_name == schema:
        jobs_enqueue(jobs)
        return
    from tenants.context import tenant_context  # noqa: PLC0415 - rare path

    with tenant_context(schema):
        jobs_enqueue(jobs)


def jobs_resend(jobs: Sequence[Trigger]) -> int:
    """The sweep's re-send of lost triggers and of jobs held back when the release after them
    was lost (a Redis restart empties the window and its "held" flag): only the jobs the
    tenant's window admits are stamped and sent; the others stay held, unstamped, for the
    next top-up or sweep."""
    now = timezone.now()
    admitted = _admitted(jobs, resend=True, now=now)
    if not admitted:
        return 0
    MarketplaceJob.objects.filter(
        pk__in=[job.pk for job in admitted], status=JobStatus.PENDING
    ).update(dispatched_at=now)
    return jobs_enqueue(admitted, resend=True)


# A queue longer than this is not read to find which jobs it holds (the sweep then waits for
# RELIST_BACKLOG_LOST_AFTER_S, as for any backlog it cannot see into).
QUEUE_SCAN_MAX = 20_000


# Within one sweep pass (`queue_snapshot`), each marketplace's queues are read once for all the
# tenants it visits: {marketplace: {schema: job ids}, or None when too long to read}.
_snapshot: ContextVar[dict[str, dict[str, set[int]] | None] | None] = ContextVar(
    "relist_queue_snapshot", default=None
)


@contextmanager
def queue_snapshot() -> Iterator[None]:
    """Read each marketplace's queues at most once inside this block (one sweep pass over many
    tenants). Safe to reuse: a trigger queued after the read belongs to a job dispatched after
    it, whose fresh `dispatched_at` keeps it out of the pass's candidates."""
    token = _snapshot.set({})
    try:
        yield
    finally:
        _snapshot.reset(token)


def queued_job_ids(*, marketplace: str, schema: str) -> set[int] | None:
    """The jobs of `schema` whose trigger waits in one of the marketplace's queues (both bands,
    every priority list), read from the messages themselves; None when the queues are too long
    to read. A trigger taken by a worker that was then SIGKILLed is in none of them (it sits
    unacknowledged until the visibility timeout), which is how the sweep tells it is lost."""
    snapshot = _snapshot.get()
    if snapshot is not None and marketplace in snapshot:
        queued = snapshot[marketplace]
    else:
        queued = _queued_by_schema(marketplace)
        if snapshot is not None:
            snapshot[marketplace] = queued
    return None if queued is None else queued.get(schema, set())


def _queued_by_schema(marketplace: str) -> dict[str, set[int]] | None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        names = _band_list_names(channel, marketplace)
        client = channel.client
        pipe = client.pipeline()
        for name in names:
            pipe.llen(name)
        if sum(int(n) for n in pipe.execute()) > QUEUE_SCAN_MAX:
            return None
        pipe = client.pipeline()
        for name in names:
            pipe.lrange(name, 0, -1)
        raw = [message for messages in pipe.execute() for message in messages]
    queued: dict[str, set[int]] = {}
    for message in raw:
        if (trigger := _trigger(message)) is not None:
            queued.setdefault(trigger[0], set()).add(trigger[1])
    return queued


def _trigger(raw: bytes) -> tuple[str, int] | None:
    """(schema, job id) of a run_job message (kombu's Redis envelope), else None."""
    try:
        envelope = json.loads(raw)
        headers = envelope["headers"]
        if headers.get("task") != RUN_JOB_TASK:
            return None
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        return str(headers["_schema_name"]), int(args[0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def queue_backlog(queue: str) -> int:
    """Messages waiting in a queue (not yet taken by a worker), every priority list."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        pipe = channel.client.pipeline()
        for name in broker_lists(channel, queue):
            pipe.llen(name)
        return sum(int(n) for n in pipe.execute())
