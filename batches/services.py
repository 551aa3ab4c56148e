"""Batch services: bulk creation, cancellation, recount and chunked enqueueing."""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from batches.models import BatchJob
from batches.states import TERMINAL_BATCH_STATUSES, BatchStatus, derive_batch_status
from config.celery import app
from core.errors import IdempotencyConflict, InvalidTransition, NotFound, ValidationFailed
from core.queues import CeleryQueue
from marketplace.catalogue.models import MarketplaceActionType
from marketplace.catalogue.selectors import action_type_get
from marketplace.engine.dispatch import TriggerRow, jobs_enqueue
from marketplace.engine.duework import duework_mark
from marketplace.engine.transitions import jobs_bulk_transition
from marketplace.models import JobEvent, MarketplaceJob, Product
from marketplace.services.readiness import Readiness, readiness_check
from marketplace.states import EventActor, JobPriority, JobStatus, Marketplace

MAX_BATCH_JOBS = 50_000
ENQUEUE_CHUNK = 1_000
ENQUEUE_BATCH_TASK = "batches.enqueue_batch"


def batch_id_new(*, action: str) -> str:
    """`{action}_{yyyymmdd_hhmmss}_{8 hex}`, readable in logs and unique."""
    return f"{action}_{timezone.now():%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"


class NotReadyMode(StrEnum):
    """What batch creation does with product × marketplace pairs that are not ready."""

    REFUSE = "refuse"  # the whole batch is refused, nothing is created
    SKIP = "skip"  # the ready pairs become jobs; the others are reported, nothing queued


@dataclass(frozen=True, slots=True)
class BatchCreation:
    batch: BatchJob
    # The pairs left out (mode skip), each with its reasons; empty on an idempotent replay.
    skipped: list[Readiness] = field(default_factory=list)


def batch_create(
    *,
    product_ids: list[int],
    marketplaces: list[str],
    action: str,
    priority: int | None = None,
    created_by: User | None = None,
    idempotency_key: str | None = None,
    not_ready: str = NotReadyMode.REFUSE,
) -> BatchJob:
    """Create one job per ready product × marketplace (see batch_create_checked)."""
    return batch_create_checked(
        product_ids=product_ids,
        marketplaces=marketplaces,
        action=action,
        priority=priority,
        created_by=created_by,
        idempotency_key=idempotency_key,
        not_ready=not_ready,
    ).batch


def batch_create_checked(
    *,
    product_ids: list[int],
    marketplaces: list[str],
    action: str,
    priority: int | None = None,
    created_by: User | None = None,
    idempotency_key: str | None = None,
    not_ready: str = NotReadyMode.REFUSE,
) -> BatchCreation:
    """Create one job per product × marketplace with bulk inserts; enqueue after commit, in
    chunks, from a Celery task, so the caller answers before the work runs.

    Readiness is checked first (marketplace.services.readiness): a pair that is not ready
    refuses the whole batch (`refuse`, the default: ValidationFailed with every pair's
    reasons) or is left out (`skip`: reported in the result, no job, nothing queued)."""
    if idempotency_key and (
        existing := BatchJob.objects.filter(idempotency_key=idempotency_key).first()
    ):
        return BatchCreation(_idempotent_replay(existing, marketplaces=marketplaces, action=action))
    if not_ready not in {mode.value for mode in NotReadyMode}:
        raise ValidationFailed("not_ready is refuse or skip.", details={"not_ready": not_ready})
    products = _validated_product_ids(product_ids)
    marketplaces = _validated_marketplaces(marketplaces)
    if len(products) * len(marketplaces) > MAX_BATCH_JOBS:
        raise ValidationFailed(
            f"A batch holds at most {MAX_BATCH_JOBS} jobs.",
            details={"jobs": len(products) * len(marketplaces)},
        )
    action_types = {m: action_type_get(marketplace=m, code=action) for m in marketplaces}
    if priority is not None and priority not in JobPriority.values:
        raise ValidationFailed(
            "Priority is 1 (critical) to 4 (low).", details={"priority": priority}
        )
    priority = priority or min(a.default_priority for a in action_types.values())
    pairs, skipped = _ready_pairs(products, marketplaces, action=action, mode=not_ready)

    now = timezone.now()
    batch = BatchJob(
        batch_id=batch_id_new(action=action),
        marketplaces=marketplaces,
        action=action,
        priority=priority,
        total_count=len(pairs),
        created_by=created_by,
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            batch.save()
            _jobs_insert(batch=batch, pairs=pairs, action_types=action_types, now=now)
            transaction.on_commit(partial(_send_enqueue_batch, batch.pk))
            duework_mark(wake_at=now)  # last: it holds the tenant's due-work row until commit
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = BatchJob.objects.get(idempotency_key=idempotency_key)
        return BatchCreation(_idempotent_replay(existing, marketplaces=marketplaces, action=action))
    return BatchCreation(batch, skipped)


# Not-ready pairs listed in an error or a response: enough to fix them, bounded for 10,000.
MAX_REPORTED_NOT_READY = 500


def _ready_pairs(
    products: list[int], marketplaces: list[str], *, action: str, mode: str
) -> tuple[list[tuple[int, str]], list[Readiness]]:
    """The (product, marketplace) pairs to create jobs for, product-major (so every
    marketplace starts at once), and the pairs left out."""
    checked = readiness_check(product_ids=products, marketplaces=marketplaces, action=action)
    not_ready = [r for r in checked if not r.ready]
    if not_ready and mode == NotReadyMode.REFUSE:
        raise ValidationFailed(
            f"{len(not_ready)} product × marketplace pair(s) are not ready; fix them, or pass "
            'not_ready="skip" to create the others.',
            details={
                "not_ready_count": len(not_ready),
                "not_ready": [r.as_dict() for r in not_ready[:MAX_REPORTED_NOT_READY]],
            },
        )
    pairs = [(r.product_id, r.marketplace) for r in checked if r.ready]
    if not pairs:
        raise ValidationFailed(
            "Nothing in this batch is ready.",
            details={
                "not_ready_count": len(not_ready),
                "not_ready": [r.as_dict() for r in not_ready[:MAX_REPORTED_NOT_READY]],
            },
        )
    return pairs, not_ready


# Jobs are generated by PostgreSQL from parallel arrays (one element per job) in one statement:
# building 10,000 model instances in Python costs seconds of CPU, this costs milliseconds. Only
# what differs per job travels per job (product, marketplace); what each marketplace's action
# type decides (action type, retries, expiry) travels once per marketplace and is joined in:
# psycopg dumps a 10,000-element array in ~10 ms, an interval array in ~50.
# The columns and defaults mirror MarketplaceJob; tests compare the rows with job_create's.
_JOBS_INSERT = """
INSERT INTO {table} (
    marketplace, action_type_id, product_id, batch_id, status, priority, attempts, max_retries,
    expires_at, idempotency_key, input_data, result_data, error_code, error_message,
    status_reason, pause_requested, cancel_requested, created_by_id, created_at, updated_at,
    dispatched_at, claimed_by
)
SELECT j.marketplace, t.action_type_id, j.product_id, %(batch)s, %(status)s, %(priority)s, 0,
       t.max_retries, %(now)s + t.expiry,
       %(batch_key)s || ':' || j.marketplace || ':' || j.product_id,
       '{{}}'::jsonb, '{{}}'::jsonb, '', '', '', false, false, %(user)s, %(now)s, %(now)s,
       %(now)s, ''
FROM unnest(%(products)s::bigint[], %(marketplaces)s::text[]) WITH ORDINALITY
     AS j(product_id, marketplace, n)
JOIN unnest(%(type_marketplaces)s::text[], %(action_types)s::bigint[], %(retries)s::int[],
            %(expiries)s::interval[])
     AS t(marketplace, action_type_id, max_retries, expiry) ON t.marketplace = j.marketplace
ORDER BY j.n
"""


def _jobs_insert(
    *,
    batch: BatchJob,
    pairs: list[tuple[int, str]],
    action_types: dict[str, MarketplaceActionType],
    now: datetime,
) -> None:
    """One job per (product, marketplace) pair, in the pairs' order."""
    table = connection.ops.quote_name(MarketplaceJob._meta.db_table)
    types = list(action_types.items())
    with connection.cursor() as cursor:
        cursor.execute(
            _JOBS_INSERT.format(table=table),
            {
                "batch": batch.pk,
                "status": JobStatus.PENDING.value,
                "priority": batch.priority,
                "now": now,
                "batch_key": batch.batch_id,
                "user": batch.created_by_id,
                "products": [product for product, _ in pairs],
                "marketplaces": [marketplace for _, marketplace in pairs],
                "type_marketplaces": [marketplace for marketplace, _ in types],
                "action_types": [a.pk for _, a in types],
                "retries": [a.max_retries for _, a in types],
                "expiries": [a.expiry for _, a in types],
            },
        )


def _send_enqueue_batch(batch_pk: int) -> None:
    app.send_task(ENQUEUE_BATCH_TASK, args=(batch_pk,), queue=CeleryQueue.DEFAULT.value)


def _idempotent_replay(batch: BatchJob, *, marketplaces: list[str], action: str) -> BatchJob:
    if (batch.action, sorted(batch.marketplaces)) != (action, sorted(set(marketplaces))):
        raise IdempotencyConflict(
            "This idempotency key was used for a different request.",
            details={"batch_id": batch.batch_id},
        )
    return batch


def _validated_product_ids(product_ids: list[int]) -> list[int]:
    unique = list(dict.fromkeys(product_ids))
    if not unique:
        raise ValidationFailed("A batch needs at least one product.", details={"product_ids": []})
    # The ids as one array parameter, where `IN (…)` would send 10,000 of them; only the
    # missing ones come back (one row), not every id found.
    table = connection.ops.quote_name(Product._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT array_agg(i ORDER BY n) FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(i, n)"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} p WHERE p.id = u.i)",
            [unique],
        )
        missing = cursor.fetchone()[0]
    if missing:
        raise ValidationFailed(
            "Some products do not exist.", details={"missing_product_ids": missing[:50]}
        )
    return unique


def _validated_marketplaces(marketplaces: list[str]) -> list[str]:
    unique = list(dict.fromkeys(marketplaces))
    if not unique or any(m not in Marketplace.values for m in unique):
        raise ValidationFailed(
            "Marketplaces are one or more of vinted, ebay, etsy.",
            details={"marketplaces": marketplaces},
        )
    return unique


def batch_enqueue_jobs(*, batch_pk: int) -> int:
    """Hand the batch's pending jobs to dispatch in chunks (keyset pagination on id), read as
    plain rows: dispatch publishes what fits the tenant's trigger window and holds the rest."""
    sent, last_pk = 0, 0
    while True:
        chunk = [
            TriggerRow(*row)
            for row in MarketplaceJob.objects.filter(
                batch_id=batch_pk, status=JobStatus.PENDING, pk__gt=last_pk
            )
            .order_by("pk")
            .values_list(*TriggerRow.FIELDS)[:ENQUEUE_CHUNK]
        ]
        if not chunk:
            break
        sent += jobs_enqueue(chunk)
        last_pk = chunk[-1].pk
    BatchJob.objects.filter(pk=batch_pk).update(enqueued_at=timezone.now())
    return sent


def batch_cancel(*, batch_pk: int, actor: EventActor, user: User | None = None) -> BatchJob:
    """Cancel pending and paused jobs now; running ones stop at their next step boundary.

    Lock order (the one for everything touching a job and its batch): the batch's open job rows
    first, in id order and waiting for the workers that hold them, then the batch row; every
    job row written afterwards is one already locked. A worker takes its job row, then the batch
    row: no cycle, so no deadlock. Locking every open row first (not skipping locked ones) also
    catches a job being claimed right now: it is seen running after the claim commits and gets
    the cancel request."""
    now = timezone.now()
    batch = BatchJob.objects.filter(pk=batch_pk).first()
    if batch is None:
        raise NotFound("No such batch.", details={"batch": batch_pk})
    _refuse_terminal(batch.status)
    with transaction.atomic():
        open_jobs = list(
            MarketplaceJob.objects.filter(
                batch_id=batch_pk,
                status__in=(JobStatus.PENDING, JobStatus.PAUSED, JobStatus.RUNNING),
            )
            .order_by("pk")
            .select_for_update(of=("self",))
            .values_list("pk", "status", "cancel_requested")
        )
        # Every row this transaction writes is locked now: the batch row may come next.
        cancelled = (
            BatchJob.objects.filter(pk=batch_pk)
            .exclude(status__in=TERMINAL_BATCH_STATUSES)
            .update(status=BatchStatus.CANCELLED, updated_at=now)
        )
        if not cancelled:  # every job finished while we waited for the locks
            batch.refresh_from_db()
            _refuse_terminal(batch.status)
        running = [
            pk for pk, status, asked in open_jobs if status == JobStatus.RUNNING and not asked
        ]
        MarketplaceJob.objects.filter(pk__in=running).update(cancel_requested=True, updated_at=now)
        # Like job_cancel: the request itself lands in each running job's audit trail.
        JobEvent.objects.bulk_create(
            JobEvent(
                job_id=pk,
                from_status=JobStatus.RUNNING,
                to_status=JobStatus.RUNNING,
                at=now,
                actor=actor,
                actor_user=user,
                reason="cancel requested (batch cancelled); takes effect at the next step boundary",
            )
            for pk in running
        )
        jobs_bulk_transition(
            queryset=MarketplaceJob.objects.filter(
                pk__in=[pk for pk, status, _ in open_jobs if status != JobStatus.RUNNING]
            ),
            name="cancel",
            sources=(JobStatus.PENDING, JobStatus.PAUSED),
            actor=actor,
            user=user,
            now=now,
            reason=f"batch cancelled by {actor}",
            updates={"finished_at": now, "pause_requested": False},
        )
    batch.refresh_from_db()
    return batch


def _refuse_terminal(status: str) -> None:
    if status in TERMINAL_BATCH_STATUSES:
        raise InvalidTransition(
            f"Cannot cancel a batch that is {status}.",
            details={"current_status": status, "allowed_actions": []},
        )


def batch_recount(*, batch_pk: int) -> BatchJob:
    """Repair: recompute the counters and the derived status from the jobs themselves."""
    with transaction.atomic():
        batch = BatchJob.objects.select_for_update().get(pk=batch_pk)
        counts = dict(
            MarketplaceJob.objects.filter(batch_id=batch.pk)
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        batch.total_count = sum(counts.values())
        batch.completed_count = counts.get(JobStatus.COMPLETED, 0)
        batch.failed_count = counts.get(JobStatus.FAILED, 0)
        batch.cancelled_count = counts.get(JobStatus.CANCELLED, 0)
        batch.expired_count = counts.get(JobStatus.EXPIRED, 0)
        started = (
            batch.started_at is not None
            or MarketplaceJob.objects.filter(batch_id=batch.pk, started_at__isnull=False).exists()
        )
        batch.status = derive_batch_status(
            total=batch.total_count,
            completed=batch.completed_count,
            processed=batch.processed_count,
            started=started,
            cancelled=batch.status == BatchStatus.CANCELLED,
        )
        batch.save()
    return batch
