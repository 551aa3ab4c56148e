"""Read-side queries of the marketplace domain. The connection's schema is the tenant scope:
every selector runs inside the request's (or the task's) tenant schema."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Prefetch, QuerySet

from marketplace.models import (
    JobEvent,
    MarketplaceConnection,
    MarketplaceJob,
    MarketplaceTask,
    Product,
    ProductImage,
)
from marketplace.models.connections import ConnectionStatus
from marketplace.services.presence import presence_list
from marketplace.states import Marketplace
from tenants.models import Tenant
from tenants.selectors import extension_token_list


def job_list(*, filters: dict[str, object] | None = None) -> QuerySet[MarketplaceJob]:
    queryset = MarketplaceJob.objects.select_related("action_type")
    return queryset.filter(**(filters or {}))


# The job list's own columns, read as plain rows: 51 model instances per page (each with its
# state-machine bookkeeping) cost more CPU than everything else the request does.
JOB_ROW_COLUMNS = (
    "id",
    "marketplace",
    "product_id",
    "status",
    "status_reason",
    "priority",
    "attempts",
    "max_retries",
    "next_attempt_at",
    "expires_at",
    "idempotency_key",
    "input_data",
    "result_data",
    "error_code",
    "error_message",
    "pause_requested",
    "cancel_requested",
    "heartbeat_at",
    "created_at",
    "started_at",
    "finished_at",
)


def job_row_list() -> QuerySet[MarketplaceJob, dict[str, object]]:
    """The job list as dicts: the job's columns plus `action` (the action type's code) and
    `batch_public_id` (the batch's public id, or None), joined in the same SELECT."""
    return _job_rows().all()


@cache
def _job_rows() -> QuerySet[MarketplaceJob, dict[str, object]]:
    """Built once per process and cloned per request (`.all()`, never evaluated itself):
    resolving the columns and the two joins cost ~0.25 ms of CPU on every page. The queryset
    names no schema: the tenant is the connection's search_path at execution."""
    return MarketplaceJob.objects.values(
        *JOB_ROW_COLUMNS, action=F("action_type__code"), batch_public_id=F("batch__batch_id")
    )


@contextmanager
def job_list_planner_costs() -> Iterator[None]:
    """Read the job list's page inside this block: one transaction whose planner prices a random
    page read as on SSD (`RELIST_JOB_LIST_RANDOM_PAGE_COST`, 1.1; 0 leaves the server's own).

    A filtered page (`status=failed&marketplace=ebay`) can walk the primary key newest first,
    skipping what does not match, or `job_status_id_idx`, which holds only that status. At
    PostgreSQL's default cost (4) the planner takes the first, estimating matches evenly
    spread; in a shop whose newest jobs are a freshly queued batch it walks past every one of
    them (p95 45 ms at a million jobs with 130,000 pending on top, 15 ms with this;
    docs/performance.md). SET LOCAL lasts the transaction only, so it is safe behind pgbouncer's
    transaction pooling, which drops startup options, and changes no other query's plan."""
    cost = float(settings.RELIST_JOB_LIST_RANDOM_PAGE_COST)
    if not cost:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL random_page_cost = %s", [cost])
        yield


def job_detail_queryset() -> QuerySet[MarketplaceJob]:
    return job_list().prefetch_related(
        Prefetch("tasks", queryset=MarketplaceTask.objects.order_by("position")),
        Prefetch("events", queryset=JobEvent.objects.order_by("id")),
    )


def job_task_list(*, job_id: int) -> QuerySet[MarketplaceTask]:
    return MarketplaceTask.objects.filter(job_id=job_id).order_by("position")


def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position"))
    )


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """What the shop's connection to one marketplace looks like, tokens left out."""

    marketplace: str
    status: str
    status_reason: str = ""
    account_id: str = ""
    scopes: tuple[str, ...] = ()
    access_token_expires_at: datetime | None = None
    updated_at: datetime | None = None
    # Vinted goes through the browser extension: its tokens and its live sessions.
    extension_tokens: int = 0
    extensions_online: int = 0


def connection_state_list(*, tenant: Tenant) -> list[ConnectionState]:
    """One state per marketplace, in the order of Marketplace, connected or not."""
    rows = {c.marketplace: c for c in MarketplaceConnection.objects.all()}
    return [
        _vinted_state(tenant) if m == Marketplace.VINTED else _oauth_state(m, rows.get(m))
        for m in Marketplace.values
    ]


def connection_state_get(*, tenant: Tenant, marketplace: str) -> ConnectionState:
    if marketplace == Marketplace.VINTED:
        return _vinted_state(tenant)
    return _oauth_state(
        marketplace, MarketplaceConnection.objects.filter(marketplace=marketplace).first()
    )


def _oauth_state(marketplace: str, row: MarketplaceConnection | None) -> ConnectionState:
    if row is None:
        return ConnectionState(
            marketplace=marketplace,
            status=ConnectionStatus.DISCONNECTED,
            status_reason="Never connected.",
        )
    return ConnectionState(
        marketplace=marketplace,
        status=row.status,
        status_reason=row.status_reason,
        account_id=row.account_id,
        scopes=tuple(row.scopes),
        access_token_expires_at=row.access_token_expires_at,
        updated_at=row.updated_at,
    )


def _vinted_state(tenant: Tenant) -> ConnectionState:
    online = len(presence_list(schema=tenant.schema_name))
    tokens = extension_token_list(tenant=tenant).filter(revoked_at__isnull=True).count()
    return ConnectionState(
        marketplace=Marketplace.VINTED,
        status=ConnectionStatus.CONNECTED if online else ConnectionStatus.DISCONNECTED,
        status_reason="" if online else "No browser extension is online.",
        extension_tokens=tokens,
        extensions_online=online,
    )
