"""Auto-delist: what one sale asks of every other marketplace the product is listed on.

Sold out -> delist there (eBay: withdraw the offer; Etsy: delete the listing; Vinted: delete the
item through the extension: each marketplace's `delete` handler). Stock left -> update the
quantity there (`update` handler). The jobs go in the critical priority band, so they run from
the `.high` queues ahead of bulk work. Per marketplace the tenant's policy decides: automatic,
held for a person to confirm (expiring), or off.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidTransition, NotFound
from marketplace.models import Listing
from marketplace.services.jobs import job_create
from marketplace.states import ActionCode, JobPriority, JobStatus, ListingStatus, Marketplace
from sales.models import DelistPolicy, Sale, SaleAction
from sales.states import DelistMode, SaleActionKind, SaleOutcome

_GONE = frozenset({ListingStatus.ENDED, ListingStatus.DELETED})
_JOB_GAVE_UP = frozenset({JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.CANCELLED})
_JOB_ACTION = {
    SaleActionKind.DELIST: ActionCode.DELETE,
    SaleActionKind.UPDATE_QUANTITY: ActionCode.UPDATE,
}


def delist_policy_mode(*, marketplace: str) -> str:
    policy = DelistPolicy.objects.filter(marketplace=marketplace).first()
    return policy.mode if policy else DelistMode.AUTOMATIC


def delist_policy_set(*, marketplace: str, mode: str) -> DelistPolicy:
    policy, _ = DelistPolicy.objects.update_or_create(
        marketplace=marketplace, defaults={"mode": mode}
    )
    return policy


def sale_fan_out(*, sale: Sale) -> list[SaleAction]:
    """One SaleAction per other marketplace; inside the caller's transaction."""
    listings = {
        listing.marketplace: listing
        for listing in Listing.objects.filter(product_id=sale.product_id).exclude(
            marketplace=sale.marketplace
        )
    }
    kind = SaleActionKind.DELIST if sale.quantity_after == 0 else SaleActionKind.UPDATE_QUANTITY
    actions = []
    for marketplace in Marketplace.values:
        if marketplace == sale.marketplace:
            continue
        action = SaleAction(sale=sale, marketplace=marketplace, kind=kind)
        _decide(action, listings.get(marketplace))
        actions.append(action)
    SaleAction.objects.bulk_create(actions)
    return actions


def _decide(action: SaleAction, listing: Listing | None) -> None:
    if listing is None or listing.status == ListingStatus.DRAFT:
        action.kind, action.outcome = SaleActionKind.NONE, SaleOutcome.NOT_LISTED
        return
    if listing.status in _GONE:
        action.kind, action.outcome = SaleActionKind.NONE, SaleOutcome.ALREADY_GONE
        return
    mode = delist_policy_mode(marketplace=action.marketplace)
    if mode == DelistMode.OFF:
        action.outcome = SaleOutcome.NOT_ENABLED
    elif mode == DelistMode.CONFIRM:
        action.outcome = SaleOutcome.HELD
        action.expires_at = timezone.now() + timedelta(days=settings.RELIST_DELIST_HOLD_DAYS)
    else:
        _queue(action)


def _queue(action: SaleAction, *, user: User | None = None) -> None:
    action.job = job_create(
        marketplace=action.marketplace,
        action=_JOB_ACTION[SaleActionKind(action.kind)],
        product_id=action.sale.product_id,
        priority=JobPriority.CRITICAL,
        idempotency_key=f"sale:{action.sale_id}:{action.marketplace}",
        created_by=user,
        input_data={"reason": "sale", "sale_id": action.sale_id},
    )
    action.outcome = SaleOutcome.QUEUED


def _held(action_id: int) -> SaleAction:
    action = (
        SaleAction.objects.select_for_update().select_related("sale").filter(pk=action_id).first()
    )
    if action is None:
        raise NotFound("This pending action does not exist.")
    if action.outcome != SaleOutcome.HELD:
        raise InvalidTransition(
            f"This action is {action.outcome}, not held for confirmation.",
            details={"outcome": action.outcome},
        )
    return action


def sale_action_confirm(*, action_id: int, user: User | None) -> SaleAction:
    with transaction.atomic():
        action = _held(action_id)
        _queue(action, user=user)
        action.decided_by, action.decided_at = user, timezone.now()
        action.save(update_fields=["job", "outcome", "decided_by", "decided_at", "updated_at"])
    return action


def sale_action_reject(*, action_id: int, user: User | None) -> SaleAction:
    with transaction.atomic():
        action = _held(action_id)
        action.outcome, action.decided_by, action.decided_at = (
            SaleOutcome.REJECTED,
            user,
            timezone.now(),
        )
        action.save(update_fields=["outcome", "decided_by", "decided_at", "updated_at"])
    return action


def sale_actions_expire(*, now: datetime | None = None) -> int:
    """Beat: held actions nobody confirmed in time are rejected by expiry."""
    now = now or timezone.now()
    return SaleAction.objects.filter(outcome=SaleOutcome.HELD, expires_at__lte=now).update(
        outcome=SaleOutcome.EXPIRED, reason="Not confirmed in time", updated_at=now
    )


def sale_action_outcome(action: SaleAction) -> tuple[str, str]:
    """The tracker's outcome and reason: a queued action ends as its job ends."""
    if action.outcome != SaleOutcome.QUEUED or action.job is None:
        return action.outcome, action.reason
    status = action.job.status
    if status == JobStatus.COMPLETED:
        done = SaleOutcome.DELISTED if action.kind == SaleActionKind.DELIST else None
        return done or SaleOutcome.QUANTITY_UPDATED, ""
    if status in _JOB_GAVE_UP:
        return SaleOutcome.FAILED, action.job.error_message or f"The job was {status}."
    return SaleOutcome.QUEUED, ""


def sale_actions_settle() -> int:
    """Beat: write the ends of finished delist/update jobs onto the tracker rows."""
    settled = 0
    queued = SaleAction.objects.filter(outcome=SaleOutcome.QUEUED, job__isnull=False).exclude(
        job__status__in=[JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED]
    )
    for action in queued.select_related("job"):
        action.outcome, action.reason = sale_action_outcome(action)
        action.save(update_fields=["outcome", "reason", "updated_at"])
        settled += 1
    return settled
