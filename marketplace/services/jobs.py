"""Job services: creation and the user/operator actions (pause, resume, cancel, retry). Each owns
its transaction; enqueueing happens on commit. The lifecycle after that is the engine's
(marketplace.engine)."""

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import IdempotencyConflict, NotFound, ValidationFailed
from marketplace.catalogue.selectors import action_type_get
from marketplace.engine.dispatch import jobs_enqueue_on_commit
from marketplace.engine.duework import duework_mark
from marketplace.engine.transitions import invalid_transition, job_transition
from marketplace.models import MarketplaceJob, Product
from marketplace.services.live import live_job_changed
from marketplace.states import ActionCode, EventActor, JobStatus

PRODUCT_ACTIONS = frozenset({ActionCode.PUBLISH, ActionCode.UPDATE, ActionCode.DELETE})


def job_create(
    *,
    marketplace: str,
    action: str,
    product_id: int | None = None,
    input_data: dict[str, Any] | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    created_by: User | None = None,
) -> MarketplaceJob:
    """Create one job and enqueue it after commit.

    A repeated `idempotency_key` returns the first job; the same key for a different request
    raises IdempotencyConflict.
    """
    action_type = action_type_get(marketplace=marketplace, code=action)
    if action in PRODUCT_ACTIONS and product_id is None:
        raise ValidationFailed(f"A {action} job needs a product.", details={"product_id": None})
    key = idempotency_key or f"job:{uuid.uuid4().hex}"
    if (existing := MarketplaceJob.objects.filter(idempotency_key=key).first()) is not None:
        return _idempotent_replay(existing, marketplace, action_type.pk, product_id)
    if product_id is not None and not Product.objects.filter(pk=product_id).exists():
        raise ValidationFailed("This product does not exist.", details={"product_id": product_id})

    now = timezone.now()
    job: MarketplaceJob = MarketplaceJob(
        marketplace=marketplace,
        action_type=action_type,
        product_id=product_id,
        input_data=input_data or {},
        priority=priority or action_type.default_priority,
        max_retries=action_type.max_retries,
        expires_at=now + action_type.expiry,
        idempotency_key=key,
        created_by=created_by,
        dispatched_at=now,
    )
    try:
        with transaction.atomic():
            job.save()
            jobs_enqueue_on_commit([job])
            live_job_changed(job)
            duework_mark(wake_at=now)  # last: it holds the tenant's due-work row until commit
    except IntegrityError:
        # Another request with the same key won the race: answer with its job.
        existing = MarketplaceJob.objects.get(idempotency_key=key)
        return _idempotent_replay(existing, marketplace, action_type.pk, product_id)
    return job


def _idempotent_replay(
    job: MarketplaceJob, marketplace: str, action_type_id: int, product_id: int | None
) -> MarketplaceJob:
    if (job.marketplace, job.action_type_id, job.product_id) != (
        marketplace,
        action_type_id,
        product_id,
    ):
        raise IdempotencyConflict(
            "This idempotency key was used for a different request.",
            details={"job_id": job.pk},
        )
    return job


def job_get_locked(*, job_id: int) -> MarketplaceJob:
    try:
        job: MarketplaceJob = MarketplaceJob.objects.locked().get(pk=job_id)
    except MarketplaceJob.DoesNotExist:
        raise NotFound("No such job.", details={"job_id": job_id}) from None
    return job


def job_pause(*, job_id: int, actor: EventActor, user: User | None = None) -> MarketplaceJob:
    """Pause now if pending; a running job is asked to pause at its next step boundary."""
    return _request_or_transition(job_id=job_id, action="pause", actor=actor, user=user)


def job_cancel(*, job_id: int, actor: EventActor, user: User | None = None) -> MarketplaceJob:
    """Cancel now if pending or paused; a running job stops at its next step boundary."""
    return _request_or_transition(job_id=job_id, action="cancel", actor=actor, user=user)


def _request_or_transition(
    *, job_id: int, action: str, actor: EventActor, user: User | None
) -> MarketplaceJob:
    now = timezone.now()
    with transaction.atomic():
        job = job_get_locked(job_id=job_id)
        if job.status != JobStatus.RUNNING:
            return job_transition(
                job=job, name=action, actor=actor, user=user, now=now, reason=f"{action} by {actor}"
            )
        flag = f"{action}_requested"
        if getattr(job, flag):
            return job
        setattr(job, flag, True)
        job.save(update_fields=[flag, "updated_at"])
        job.events.create(
            from_status=job.status,
            to_status=job.status,
            at=now,
            actor=actor,
            actor_user=user,
            reason=f"{action} requested; takes effect at the next step boundary",
        )
        return job


def job_resume(*, job_id: int, actor: EventActor, user: User | None = None) -> MarketplaceJob:
    now = timezone.now()
    with transaction.atomic():
        job = job_get_locked(job_id=job_id)
        job_transition(
            job=job,
            name="resume",
            actor=actor,
            user=user,
            now=now,
            reason=f"resumed by {actor}",
            expires_at=now + job.action_type.expiry,
        )
        jobs_enqueue_on_commit([job])
    return job


def job_retry(*, job_id: int, actor: EventActor, user: User | None = None) -> MarketplaceJob:
    """Retry a failed or expired job: attempts restart, steps that succeeded are kept."""
    now = timezone.now()
    with transaction.atomic():
        job = job_get_locked(job_id=job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.EXPIRED):
            raise invalid_transition(job, "retry")
        job_transition(
            job=job,
            name="retry",
            actor=actor,
            user=user,
            now=now,
            reason=f"retry by {actor}",
            expires_at=now + job.action_type.expiry,
        )
        jobs_enqueue_on_commit([job])
        duework_mark(wake_at=now)  # a terminal job is open again
    return job
