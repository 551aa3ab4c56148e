"""Batch services: bulk creation, cancellation, recount and chunked enqueueing."""

import secrets
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from batches.models import BatchJob
from batches.states import TERMINAL_BATCH_STATUSES, BatchStatus, derive_batch_status
from config.celery import app
from core.errors import IdempotencyConflict, InvalidTransition, NotFound, ValidationFailed
from core.queues import CeleryQueue
from marketplace.catalogue.selectors import action_type_get
from marketplace.models import MarketplaceJob, Product
from marketplace.services.dispatch import jobs_enqueue
from marketplace.services.transitions import jobs_bulk_transition
from marketplace.states import EventActor, JobPriority, JobStatus, Marketplace

MAX_BATCH_JOBS = 50_000
ENQUEUE_CHUNK = 1_000
ENQUEUE_BATCH_TASK = "batches.enqueue_batch"
_BULK_SIZE = 2_000


def batch_id_new(*, action: str) -> str:
    """`{action}_{yyyymmdd_hhmmss}_{8 hex}`, readable in logs and unique."""
    return f"{action}_{timezone.now():%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"


def batch_create(
    *,
    product_ids: list[int],
    marketplaces: list[str],
    action: str,
    priority: int | None = None,
    created_by: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
) -> BatchJob:
    """Create one job per product × marketplace with bulk inserts; enqueue after commit, in
    chunks, from a Celery task, so the caller answers before the work runs."""
    if idempotency_key and (
        existing := BatchJob.objects.filter(idempotency_key=idempotency_key).first()
    ):
        return _idempotent_replay(existing, marketplaces=marketplaces, action=action)
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

    now = timezone.now()
    batch = BatchJob(
        batch_id=batch_id_new(action=action),
        marketplaces=marketplaces,
        action=action,
        priority=priority,
        total_count=len(products) * len(marketplaces),
        created_by=created_by,
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            batch.save()
            MarketplaceJob.objects.bulk_create(
                (
                    MarketplaceJob(
                        marketplace=marketplace,
                        action_type=action_types[marketplace],
                        product_id=product_id,
                        batch=batch,
                        priority=priority,
                        max_retries=action_types[marketplace].max_retries,
                        expires_at=now + action_types[marketplace].expiry,
                        idempotency_key=f"{batch.batch_id}:{marketplace}:{product_id}",
                        created_by=created_by,
                    )
                    for marketplace in marketplaces
                    for product_id in products
                ),
                batch_size=_BULK_SIZE,
            )
            transaction.on_commit(partial(_send_enqueue_batch, batch.pk))
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = BatchJob.objects.get(idempotency_key=idempotency_key)
        return _idempotent_replay(existing, marketplaces=marketplaces, action=action)
    return batch


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
    found = set(Product.objects.filter(pk__in=unique).values_list("pk", flat=True))
    if missing := [pk for pk in unique if pk not in found]:
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
    """Publish the batch's pending jobs in chunks (keyset pagination on id)."""
    sent, last_pk = 0, 0
    while True:
        chunk = list(
            MarketplaceJob.objects.filter(
                batch_id=batch_pk, status=JobStatus.PENDING, pk__gt=last_pk
            )
            .order_by("pk")
            .only("pk", "marketplace", "priority", "next_attempt_at")[:ENQUEUE_CHUNK]
        )
        if not chunk:
            break
        sent += jobs_enqueue(chunk)
        last_pk = chunk[-1].pk
    BatchJob.objects.filter(pk=batch_pk).update(enqueued_at=timezone.now())
    return sent


def batch_cancel(
    *, batch_pk: int, actor: EventActor, user: AbstractBaseUser | None = None
) -> BatchJob:
    """Cancel pending and paused jobs now; running ones stop at their next step boundary."""
    now = timezone.now()
    with transaction.atomic():
        try:
            batch = BatchJob.objects.select_for_update().get(pk=batch_pk)
        except BatchJob.DoesNotExist:
            raise NotFound("No such batch.", details={"batch": batch_pk}) from None
        if batch.status in TERMINAL_BATCH_STATUSES:
            raise InvalidTransition(
                f"Cannot cancel a batch that is {batch.status}.",
                details={"current_status": batch.status, "allowed_actions": []},
            )
        batch.status = BatchStatus.CANCELLED
        batch.save(update_fields=["status", "updated_at"])
        jobs = MarketplaceJob.objects.filter(batch_id=batch.pk)
        jobs_bulk_transition(
            queryset=jobs,
            name="cancel",
            sources=(JobStatus.PENDING, JobStatus.PAUSED),
            actor=actor,
            user=user,
            now=now,
            reason=f"batch cancelled by {actor}",
            updates={"finished_at": now, "pause_requested": False},
        )
        jobs.filter(status=JobStatus.RUNNING).update(cancel_requested=True, updated_at=now)
    batch.refresh_from_db()
    return batch


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
