"""Run one job: load it, plan its steps once, claim it, run the steps in order skipping the
succeeded ones, and record the outcome. Called by the `marketplace.run_job` Celery task.

Statement budget (DESIGN §6, measured by bench/queries.py): one SELECT loads everything the
handler needs; one statement claims, plans and starts the first step; one per step boundary;
one completes (with the listing, the event and the batch counters). A job of N calls costs
N + 1 commits and no SAVEPOINT. Every other outcome takes the ORM paths of `lifecycle`, which
honour a pause or cancel asked while the step ran."""

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from core import metrics
from core.crypto import EncryptedTextField
from core.errors import (
    ApplicationError,
    InvalidTransition,
    JobDeferred,
    MarketplaceError,
    TransientMarketplaceError,
)
from marketplace.catalogue.models import MarketplaceActionType
from marketplace.engine import dispatch, lifecycle, liveness, routines
from marketplace.engine.steps import plan_rows, step_fail, step_unstart
from marketplace.handlers.base import Handler, JobContext, StepInput
from marketplace.handlers.registry import handler_get
from marketplace.models import Listing, MarketplaceConnection, MarketplaceJob, Product
from marketplace.rendering.mappings import Mappings
from marketplace.services import live, ratelimit
from marketplace.services.live import live_job_changed
from marketplace.states import EventActor, JobStatus, TaskStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HandOver:
    """The tenant's next due job, handed to the thread that just finished one of its jobs on
    the same marketplace, with the worker slot that thread holds, and the jobs it took from
    PostgreSQL to run after it (`backlog`, stamped dispatched; docs/engine.md "Hand-over")."""

    job_id: int
    marketplace: str
    slot: str
    backlog: tuple[dispatch.TriggerRow, ...] = ()


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # the job's status after this run, or "dropped" for a stale message
    retry_at: datetime | None = None
    then: HandOver | None = None  # run this job next, in this thread (job_run's caller)


DROPPED = RunOutcome("dropped")


@dataclass(slots=True)
class Step:
    pk: int
    position: int
    name: str
    status: str
    attempts: int
    payload: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)


class _NotRunning(Exception):
    """The completion found the job no longer running: roll back what finish() wrote."""


class RunAbandoned(Exception):
    """The database went away during a run: this thread stops, the job stays running. The task
    retries its message with this mark, so whichever worker gets it puts the job back at once
    (`abandoned`) instead of waiting for the stale heartbeat."""

    def __init__(self, *, attempt: int, claimer: str) -> None:
        super().__init__(f"run {attempt} of {claimer} abandoned")
        self.attempt, self.claimer = attempt, claimer

    @property
    def mark(self) -> dict[str, Any]:
        return {"abandoned_attempt": self.attempt, "abandoned_by": self.claimer}


def job_run(
    *,
    job_id: int,
    abandoned_attempt: int | None = None,
    abandoned_by: str | None = None,
    handed: HandOver | None = None,
    chain_until: float | None = None,
) -> RunOutcome:
    """Run the job. `handed`: it was handed over by the previous run in this thread, with that
    run's worker slot. `chain_until` (time.monotonic()): until then, a run that ends with the
    slot held hands the tenant's next held-back job to this thread (`RunOutcome.then`) instead
    of publishing its trigger. A hand-over's backlog that no run takes on is published (it goes
    through the tenant's window like any trigger)."""
    try:
        outcome = _job_run(
            job_id=job_id,
            abandoned_attempt=abandoned_attempt,
            abandoned_by=abandoned_by,
            handed=handed,
            chain_until=chain_until,
        )
    except BaseException:
        if handed is not None:
            _backlog_release(handed.backlog, handed.marketplace)
        raise
    return outcome


def _job_run(
    *,
    job_id: int,
    abandoned_attempt: int | None,
    abandoned_by: str | None,
    handed: HandOver | None,
    chain_until: float | None,
) -> RunOutcome:
    if handed is None and abandoned_attempt is not None and abandoned_by is not None:
        put_back = _put_back_abandoned(job_id, attempt=abandoned_attempt, claimer=abandoned_by)
        if put_back is not None:
            return put_back
    try:
        loaded = _load(job_id)
    except BaseException:
        if handed is not None:
            _slot_give(handed.marketplace, handed.slot)
        raise
    if loaded is None:  # no longer pending
        return _after_run(job_id, handed, DROPPED, chain_until)
    ctx, steps = loaded
    try:
        handler = handler_get(marketplace=ctx.job.marketplace, action=ctx.job.action_type.code)
        plan = [] if steps else plan_rows(handler.plan(ctx))
    except MarketplaceError as error:  # e.g. the product was deleted
        outcome = _fail_before_start(job_id=job_id, error=error)
        return _after_run(job_id, handed, outcome, chain_until)
    now = timezone.now()
    slot = handed.slot if handed is not None else _slot_take(ctx.job, now)
    if slot is None:
        retry_at = now + timedelta(seconds=float(settings.RELIST_TENANT_SLOT_RETRY_S))
        outcome = RunOutcome(JobStatus.PENDING, retry_at=retry_at)
        _top_up(ctx.job.pk, ctx.job.marketplace, outcome, slot)
        return outcome
    outcome = _run_with_slot(ctx, handler, steps, plan, now=now, slot=slot)
    if handed is None:
        handed = HandOver(job_id=job_id, marketplace=ctx.job.marketplace, slot=slot)
    return _after_run(job_id, handed, outcome, chain_until)


def _run_with_slot(
    ctx: JobContext,
    handler: Handler,
    steps: list[Step],
    plan: list[dict[str, Any]],
    *,
    now: datetime,
    slot: str,
) -> RunOutcome:
    """Claim and run the steps; on any exception the slot is given back first."""
    run = ctx.job.attempts + 1  # this run's attempt, if the claim commits
    try:
        return _run_steps(ctx, handler, steps) if _claim(ctx, steps, plan, now) else DROPPED
    except DatabaseError as error:
        _slot_give(ctx.job.marketplace, slot)
        # Even the claim may have committed before the error: the mark says which run.
        raise RunAbandoned(attempt=run, claimer=liveness.process_ident()) from error
    except BaseException:
        _slot_give(ctx.job.marketplace, slot)
        raise
    finally:
        ratelimit.token_prepaid_clear()


def _after_run(
    job_id: int, held: HandOver | None, outcome: RunOutcome, chain_until: float | None
) -> RunOutcome:
    """The run of `job_id` is over, with `held`'s slot (None: the run took none). Until the
    chain's deadline, and when the job is not to come back later, the tenant's next job is
    handed to this thread; otherwise the trigger leaves the window (or stays, to come back),
    the slot is given back and the tenant's held-back jobs are published."""
    if held is None:  # not run (no longer pending, or failed before the start): no slot
        return outcome
    if outcome.retry_at is None and chain_until is not None and time.monotonic() < chain_until:
        return _hand_over(job_id, held, outcome)
    _top_up(job_id, held.marketplace, outcome, held.slot)
    _backlog_release(held.backlog, held.marketplace)
    return outcome


# --- fairness: worker slots per (tenant, marketplace) -----------------------------------------


def _slot_take(job: MarketplaceJob, now: datetime) -> str | None:
    """One of the tenant's worker slots on this marketplace, or None when all are held: the job
    is not claimed (nothing written, no attempt used) and its trigger comes back shortly, so
    the thread goes to another tenant's job (DESIGN §3 "Fairness")."""
    holder = f"{job.pk}:{secrets.token_hex(4)}"
    try:
        taken = ratelimit.tenant_slot_take(
            tenant=connection.schema_name, marketplace=job.marketplace, holder=holder
        )
    except RedisError:  # fail open: a Redis outage must not stop every job
        logger.warning("job.slot_unknown", extra={"job": job.pk}, exc_info=True)
        return holder
    if taken:
        return holder
    metrics.record_deferral(marketplace=job.marketplace, reason="tenant slots held")
    logger.info("job.slot_cap", extra={"job": job.pk, "marketplace": job.marketplace, "at": now})
    return None


def _top_up(job_id: int, marketplace: str, outcome: RunOutcome, slot: str | None) -> None:
    """This trigger is spent (or comes back later): give the slot back and release the
    tenant's next held-back jobs (one Redis round trip for both). A failure here only delays
    them until the sweep re-sends them; the slot frees itself at its expiry."""
    try:
        dispatch.jobs_top_up(
            job_id=job_id, marketplace=marketplace, retry_at=outcome.retry_at, slot_holder=slot
        )
    except RedisError:
        logger.warning("job.top_up_failed", extra={"job": job_id}, exc_info=True)


def _hand_over(job_id: int, held: HandOver, outcome: RunOutcome) -> RunOutcome:
    """The run ended (not to come back later) with the tenant's slot held: the tenant's next
    held-back job, if any, is handed to this thread with the slot, instead of its trigger
    going through the broker to whichever thread is free. That saves the message (publish,
    delivery, ack) and the slot's give and take, and no thread idles between the two jobs.
    The next job comes from the backlog the thread took with an earlier hand-over (one Redis
    round trip: the window entry passes from job to job) or, when that is empty, from
    PostgreSQL (`dispatch.jobs_hand_over`, which refills the backlog). The caller bounds the
    chain (RELIST_ENGINE_HAND_OVER_S), so other tenants' triggers are not kept waiting."""
    try:
        if held.backlog:
            following, *rest = held.backlog
            if not dispatch.jobs_pass_on(
                job_id=job_id, following=following, slot_holder=held.slot
            ):  # other tenants wait: `following` was published, the rest goes out too
                _backlog_release(tuple(rest), held.marketplace)
                return outcome
            backlog = tuple(rest)
        else:
            taken = dispatch.jobs_hand_over(
                job_id=job_id, marketplace=held.marketplace, slot_holder=held.slot
            )
            if taken is None:
                return outcome
            following, *rest = taken
            backlog = tuple(rest)
    except RedisError:
        logger.warning("job.top_up_failed", extra={"job": job_id}, exc_info=True)
        _backlog_release(held.backlog, held.marketplace)
        return outcome
    return RunOutcome(
        outcome.status,
        then=HandOver(
            job_id=following.pk, marketplace=held.marketplace, slot=held.slot, backlog=backlog
        ),
    )


def _backlog_release(backlog: tuple[dispatch.TriggerRow, ...], marketplace: str) -> None:
    """Jobs a hand-over took that this thread will not run: their triggers go out through the
    tenant's window (what does not fit is held back and topped up later; a failure here is
    left to the sweep, which re-sends lost triggers)."""
    if not backlog:
        return
    try:
        dispatch.jobs_backlog_release(backlog, marketplace=marketplace)
    except RedisError:
        logger.warning("job.backlog_not_released", extra={"jobs": len(backlog)}, exc_info=True)


def _slot_give(marketplace: str, holder: str) -> None:
    try:
        ratelimit.tenant_slot_give(
            tenant=connection.schema_name, marketplace=marketplace, holder=holder
        )
    except RedisError:  # the slot's expiry frees it
        logger.warning("job.slot_not_given_back", extra={"holder": holder}, exc_info=True)


def _put_back_abandoned(job_id: int, *, attempt: int, claimer: str) -> RunOutcome | None:
    """The run `attempt` of `claimer` was abandoned (RunAbandoned): if the job is still in that
    run, put it back now. None when it is not (the claim never committed, or the sweep already
    recovered it): the message then runs as an ordinary trigger."""
    now = timezone.now()
    with transaction.atomic():
        job = (
            MarketplaceJob.objects.locked()
            .filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt, claimed_by=claimer)
            .select_related("action_type")
            .first()
        )
        if job is None:
            return None
        lifecycle.job_put_back(
            job=job,
            now=now,
            where="after its run lost the database",
            error_code="interrupted",
            message="The database connection was lost while this job ran.",
        )
    logger.warning("job.put_back", extra={"job": job_id, "status": job.status})
    return RunOutcome(job.status, retry_at=job.next_attempt_at)


# --- load -------------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _datetime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# JSON already gives these their Python value (str, int, bool, dict/list, None).
_AS_IS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.JSONField,
    models.ForeignKey,
    models.AutoField,
)


def _converter(field: "models.Field[Any, Any]") -> Any:
    """How one column of row_to_json's output becomes what Django would have read."""
    if isinstance(field, EncryptedTextField):
        return lambda value: field.from_db_value(value, None, connection)
    if isinstance(field, models.DateTimeField):
        return _datetime  # row_to_json writes ISO 8601 with the offset
    if isinstance(field, _AS_IS):
        return None
    return field.to_python


@cache
def _columns(model: type[models.Model]) -> tuple[list[str], list[tuple[str, Any]]]:
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], [(str(f.column), _converter(f)) for f in fields]


def _instance(model: type[models.Model], data: dict[str, Any]) -> Any:
    """A model instance from row_to_json's output, as if Django had read the row (encrypted
    columns decrypted, as their from_db_value does). The converters are worked out once per
    model (_columns): this runs for five rows of every job."""
    attnames, columns = _columns(model)
    values = [
        data[column] if convert is None else convert(data[column]) for column, convert in columns
    ]
    return model.from_db(connection.alias, attnames, values)


# The tenant's Mappings by schema, with the fingerprint of the tables they were read from
# (sql.LOAD reads it with every job). Bounded: a worker serving more tenants re-reads.
_MAPPINGS_KEPT = 256
_mappings: dict[str, tuple[str, Mappings]] = {}


def _mappings_for(schema: str, fingerprint: str) -> Mappings:
    """The tenant's Mappings, read again only when its tables changed since the last job
    (a handler asks for them with `ctx.client(Mappings.load)`)."""
    kept = _mappings.get(schema)
    if kept is not None and kept[0] == fingerprint:
        return kept[1]
    mappings = Mappings.load()
    if len(_mappings) >= _MAPPINGS_KEPT:
        _mappings.clear()
    _mappings[schema] = (fingerprint, mappings)
    return mappings


def _load(job_id: int) -> tuple[JobContext, list[Step]] | None:
    with connection.cursor() as cursor:
        routines.execute(cursor, routines.LOAD, {"job": job_id})
        row = cursor.fetchone()
    if row is None:
        return None
    *rows, fingerprint = row
    job_row, action_row, product_row, images, listing_row, step_rows, connection_row = map(
        _json, rows
    )
    job = _instance(MarketplaceJob, job_row)
    job.action_type = _instance(MarketplaceActionType, action_row)
    schema = connection.schema_name
    ctx = JobContext(job=job, tenant_schema=schema)
    if connection_row is not None:
        ctx.connection = _instance(MarketplaceConnection, connection_row)
    ctx.substitute(Mappings.load, lambda: _mappings_for(schema, fingerprint))
    if product_row is not None:
        ctx.product = _instance(Product, product_row)
        ctx.image_urls = list(images)
        ctx.listing = _instance(Listing, listing_row) if listing_row is not None else None
    steps = [
        Step(
            pk=s["id"],
            position=s["position"],
            name=s["name"],
            status=s["status"],
            attempts=s["attempts"],
            payload=_json(s["payload"]),
            result=_json(s["result"]),
        )
        for s in step_rows
    ]
    return ctx, steps


# --- claim ------------------------------------------------------------------------------------


def _next_step(steps: list[Step]) -> Step | None:
    return next((step for step in steps if step.status != TaskStatus.SUCCESS), None)


def _claim(ctx: JobContext, steps: list[Step], plan: list[dict[str, Any]], now: datetime) -> bool:
    """One statement: claim + event + plan + first step start + batch started. On success the
    context's job is the running row and `steps` holds the plan."""
    first = _next_step(steps)
    params = {
        "job": ctx.job.pk,
        "now": now,
        "plan": json.dumps(plan),
        "first_position": 1 if plan else None,
        "first_step": first.pk if first is not None else None,
        "claimer": liveness.liveness_ensure_started(),
    }
    with connection.cursor() as cursor:
        routines.execute(cursor, routines.CLAIM, params)
        row = cursor.fetchone()
    if row is None:
        _claim_missed(ctx.job, now)
        return False
    attempts, started_at, new_ids = row
    if plan:
        steps.extend(
            Step(
                pk=pk,
                position=p["position"],
                name=p["name"],
                status=TaskStatus.PENDING,
                attempts=0,
                payload=p["payload"],
            )
            for pk, p in zip(new_ids, plan, strict=True)
        )
    if (started := _next_step(steps)) is not None:
        started.status, started.attempts = TaskStatus.PROCESSING, started.attempts + 1
    ctx.job = _running_copy(
        ctx.job,
        attempts=attempts,
        started_at=started_at,
        now=now,
        claimer=params["claimer"],  # type: ignore[arg-type]
    )
    ctx.beat = _heartbeat_writer(ctx.job.pk)
    metrics.job_transitioned(ctx.job, from_status=JobStatus.PENDING, now=now)
    live_job_changed(ctx.job)  # a Redis read at most once a second while nobody subscribes
    return True


def _running_copy(
    job: MarketplaceJob, *, attempts: int, started_at: datetime, now: datetime, claimer: str
) -> MarketplaceJob:
    """The job as the claim statement left it (what MarketplaceJob.claim sets), read by the
    ORM rare paths as their compare-and-set base."""
    return _copy(
        job,
        status=JobStatus.RUNNING.value,
        attempts=attempts,
        started_at=started_at,
        heartbeat_at=now,
        next_attempt_at=None,
        status_reason="",
        updated_at=now,
        claimed_by=claimer,
    )


def _copy(job: MarketplaceJob, **changes: Any) -> MarketplaceJob:
    """The job with `changes`, as if read from the row (the FSM field is protected)."""
    values = {f.attname: getattr(job, f.attname) for f in job._meta.concrete_fields}
    values.update(changes)
    copy = MarketplaceJob.from_db(connection.alias, list(values), list(values.values()))
    copy.action_type = job.action_type
    return copy  # type: ignore[no-any-return]


def _claim_missed(job: MarketplaceJob, now: datetime) -> None:
    """The claim matched no row: another worker won, the job is not due yet, or it expired
    (then it is expired now, the only case that writes)."""
    if job.expires_at <= now:
        with transaction.atomic():
            lifecycle.job_expire_now(job_id=job.pk, now=now, actor=EventActor.WORKER)


def _heartbeat_writer(job_id: int) -> Any:
    """ctx.heartbeat(): at most one write per RELIST_HEARTBEAT_EVERY_S, each a HOT update."""
    last = [time.monotonic()]

    def beat() -> bool:
        if time.monotonic() - last[0] < float(settings.RELIST_HEARTBEAT_EVERY_S):
            return True
        last[0] = time.monotonic()
        params = {"job": job_id, "now": timezone.now()}
        with connection.cursor() as cursor:
            routines.execute(cursor, routines.HEARTBEAT, params)
            return cursor.fetchone() is not None

    return beat


# --- steps ------------------------------------------------------------------------------------


def _run_steps(ctx: JobContext, handler: Handler, steps: list[Step]) -> RunOutcome:
    results = {step.name: step.result for step in steps if step.status == TaskStatus.SUCCESS}
    step = _next_step(steps)
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
        except DatabaseError:
            raise  # the database itself: nothing can be written now (see _orphans)
        except Exception as error:  # Redis away, a bug: never leave the job running
            return _retry_or_fail(ctx.job, step, _unexpected(step, error))
        results[step.name] = result
        step.status, step.result = TaskStatus.SUCCESS, result
        following = _next_step(steps)
        if following is None:
            return _complete(ctx, handler, step, results)
        stopped = _boundary(ctx.job, done=step, following=following)
        if stopped is not None:
            return stopped
        step = following
    return _complete(ctx, handler, None, results)


def _unexpected(step: Step, error: Exception) -> TransientMarketplaceError:
    """An error no client classified (Redis refusing the rate limiter's script during a
    restart, a bug): retried with backoff within the step's budget like a lost worker's job,
    at once instead of after the stale-heartbeat limit. Logged with its trace."""
    logger.error("job.step_error", extra={"step": step.name}, exc_info=error)
    return TransientMarketplaceError(
        f"{step.name}: internal error ({type(error).__name__}: {error})", ambiguous=True
    )


def _boundary(job: MarketplaceJob, *, done: Step, following: Step) -> RunOutcome | None:
    """One statement: record the step, heartbeat, read the requests, start the next step.
    Returns the outcome when the job stopped here."""
    now = timezone.now()
    params = {
        "job": job.pk,
        "now": now,
        "done": done.pk,
        "result": json.dumps(done.result),
        "next": following.pk,
    }
    with connection.cursor() as cursor:
        routines.execute(cursor, routines.BOUNDARY, params)
        row = cursor.fetchone()
    if row is None:
        logger.warning("job.no_longer_running", extra={"job": job.pk, "step": done.position})
        return DROPPED
    cancel, pause, next_attempts = row
    if cancel or pause:
        lifecycle.job_stop_if_requested(
            job=job, now=now, where=f"after step {done.position}", requests=(cancel, pause)
        )
        return RunOutcome(job.status)
    following.status, following.attempts = TaskStatus.PROCESSING, next_attempts
    return None


def _complete(
    ctx: JobContext, handler: Handler, last: Step | None, results: dict[str, dict[str, Any]]
) -> RunOutcome:
    """finish() and one statement, in one transaction when finish wrote (orders through the
    ORM); when finish sent no statement, the completion runs alone in autocommit: one round
    trip instead of BEGIN, statement, COMMIT (psycopg begins a transaction only at its first
    statement, so the empty atomic block cost nothing). The last step's success completes the
    job even if a pause or cancel arrived during it: the marketplace already holds the result,
    and the job must say so."""
    now = timezone.now()
    seen: list[str] = []

    def note(execute: Any, sql_: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql_)
        return execute(sql_, params, many, context)

    try:
        with transaction.atomic():
            with connection.execute_wrapper(note):
                job_result = handler.finish(ctx, results)
            if seen:
                _complete_statement(ctx, last, job_result, now)
        if not seen:
            _complete_statement(ctx, last, job_result, now)
    except _NotRunning:
        logger.warning("job.no_longer_running", extra={"job": ctx.job.pk, "at": "completion"})
        return DROPPED
    logger.info("job.completed", extra={"job": ctx.job.pk, "marketplace": ctx.job.marketplace})
    metrics.record_job_transition(
        marketplace=ctx.job.marketplace,
        action=metrics.job_action(ctx.job),
        from_status=JobStatus.RUNNING,
        to_status=JobStatus.COMPLETED,
        duration_s=(now - ctx.job.started_at).total_seconds() if ctx.job.started_at else None,
    )
    return RunOutcome(JobStatus.COMPLETED)


def _complete_statement(
    ctx: JobContext, last: Step | None, job_result: dict[str, Any], now: datetime
) -> None:
    """sql.complete(); _NotRunning when the job is no longer running here."""
    change = ctx.listing_change
    params = {
        "job": ctx.job.pk,
        "now": now,
        "result_data": json.dumps(job_result),
        "done": last.pk if last is not None else None,
        "result": json.dumps(last.result if last is not None else {}),
        "listing": change is not None,
        "marketplace": ctx.job.marketplace,
        "listing_status": str(change.status) if change else None,
        "external_id": change.external_id if change else None,
        "url": change.url if change else None,
        "listing_data": json.dumps(change.data if change else {}),
    }
    with connection.cursor() as cursor:
        routines.execute(cursor, routines.COMPLETE, params)
        if cursor.fetchone() is None:
            raise _NotRunning
    if live.has_subscribers(connection.schema_name):  # the copy is for the live event only
        done = {"finished_at": now, "result_data": job_result, "status_reason": ""}
        live_job_changed(_copy(ctx.job, status=JobStatus.COMPLETED.value, **done))


# --- rare outcomes: every one honours a request first ------------------------------------------


def _defer(job: MarketplaceJob, step: Step, deferral: JobDeferred) -> RunOutcome:
    now = timezone.now()
    with transaction.atomic():
        step_unstart(step_id=step.pk)
        if lifecycle.job_stop_if_requested(job=job, now=now, where="instead of waiting"):
            return RunOutcome(job.status)
        lifecycle.job_defer(job=job, reason=deferral.reason, delay_s=deferral.delay_s)
    return RunOutcome(job.status, retry_at=job.next_attempt_at)


def _retry_or_fail(job: MarketplaceJob, step: Step, error: TransientMarketplaceError) -> RunOutcome:
    now = timezone.now()
    status = TaskStatus.TIMEOUT if error.status is None else TaskStatus.FAILED
    with transaction.atomic():
        step_fail(step_id=step.pk, status=status, error=error.message, now=now)
        where = f"after step {step.position} failed"
        if lifecycle.job_stop_if_requested(job=job, now=now, where=where):
            return RunOutcome(job.status)
        lifecycle.job_retry_or_fail(
            job=job,
            error_code=str(error.code),
            message=error.message,
            retry_after=error.retry_after,
            step_attempts=step.attempts,
        )
    metrics.record_transient_error(job=job, error=error)
    logger.info(
        "job.transient_error",
        extra={"job": job.pk, "status": job.status, "error": error.message},
    )
    return RunOutcome(job.status, retry_at=job.next_attempt_at)


def _fail(job: MarketplaceJob, step: Step, error: ApplicationError) -> RunOutcome:
    now = timezone.now()
    with transaction.atomic():
        step_fail(step_id=step.pk, status=TaskStatus.FAILED, error=error.message, now=now)
        where = f"after step {step.position} failed"
        if lifecycle.job_stop_if_requested(job=job, now=now, where=where):
            return RunOutcome(job.status)
        lifecycle.job_fail(job=job, error_code=str(error.code), message=error.message)
    logger.info("job.failed", extra={"job": job.pk, "error": error.message})
    return RunOutcome(JobStatus.FAILED)


def _fail_before_start(*, job_id: int, error: MarketplaceError) -> RunOutcome:
    with transaction.atomic():
        job = lifecycle.job_claim(job_id=job_id)
        if job is None:
            return DROPPED
        try:
            lifecycle.job_fail(job=job, error_code=str(error.code), message=error.message)
        except InvalidTransition:
            return DROPPED
    return RunOutcome(JobStatus.FAILED)
