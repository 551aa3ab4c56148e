"""Sale detection: scheduled order syncs per (tenant, marketplace), as ordinary jobs.

Beat reads the public `SyncSchedule` index (one row per tenant and connected marketplace) and
visits only the rows that are due; in each tenant it settles the tracker, expires held actions
and queues one `sync_orders` job unless one is already waiting or running.
"""

import logging
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ApplicationError
from marketplace.models import MarketplaceJob
from marketplace.services.jobs import job_create
from marketplace.states import ActionCode, JobPriority, JobStatus
from sales.schedule.models import SyncSchedule
from sales.services.cursor import sync_cursor_advance
from sales.services.fanout import sale_actions_expire, sale_actions_settle
from sales.services.imports import ImportedItem, listings_reconcile
from sales.services.orders import OrderInput, orders_record
from tenants.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)

_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)


def sync_days(input_data: dict[str, Any]) -> int | None:
    """An explicit window (`{"days": N}`) overrides the incremental cursor."""
    days = input_data.get("days")
    return int(days) if days is not None else None


def sync_listings_record(
    *, marketplace: str, live: list[dict[str, Any]], input_data: dict[str, Any]
) -> dict[str, Any]:
    """A listing sync's completion: live items linked (imported with `{"import": true}`),
    recorded listings the marketplace stopped showing marked ended."""
    items = [ImportedItem.from_json(item) for item in live]
    done = listings_reconcile(
        marketplace=marketplace, items=items, import_unknown=bool(input_data.get("import"))
    )
    return {
        "items": done.items,
        "linked_products": done.linked_products,
        "imported": done.imported,
        "to_review": done.to_review,
        "ended": done.ended,
    }


def sync_orders_record(
    *, marketplace: str, orders: list[OrderInput], fetched_at: str | None
) -> dict[str, Any]:
    """A sync job's completion: orders and lines recorded, stock moved, cursor advanced."""
    recorded = orders_record(marketplace=marketplace, orders=orders)
    if fetched_at and (moment := parse_datetime(fetched_at)) is not None:
        sync_cursor_advance(marketplace=marketplace, fetched_at=moment)
    return {
        "orders": recorded.orders,
        "new_lines": recorded.new_lines,
        "sales": recorded.sales,
        "restocked": recorded.restocked,
        "oversells": recorded.oversells,
    }


def sync_schedules_claim(*, now: datetime | None = None, limit: int = 500) -> list[tuple[int, str]]:
    """Due (tenant id, marketplace) pairs, each moved to its next run in the same statement.

    `SKIP LOCKED` lets two sweeps run side by side without taking the same row.
    """
    table = SyncSchedule._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE public.{table} AS s
               SET next_run_at = %(now)s + make_interval(secs => s.interval_s)
             WHERE s.id IN (
                   SELECT id FROM public.{table}
                    WHERE enabled AND next_run_at <= %(now)s
                    ORDER BY next_run_at
                    LIMIT %(limit)s
                      FOR UPDATE SKIP LOCKED)
            RETURNING s.tenant_id, s.marketplace
            """,
            {"now": now or timezone.now(), "limit": limit},
        )
        return [(int(tenant_id), str(marketplace)) for tenant_id, marketplace in cursor.fetchall()]


def sale_sync_tick(*, marketplace: str) -> MarketplaceJob | None:
    """Inside the tenant: settle the tracker, expire held actions, queue a sync if none waits."""
    if connection.schema_name == "public":
        raise RuntimeError("A sale sync runs inside a tenant schema.")
    sale_actions_settle()
    sale_actions_expire()
    waiting = MarketplaceJob.objects.filter(
        marketplace=marketplace,
        action_type__code=ActionCode.SYNC_ORDERS,
        status__in=_ACTIVE,
    ).exists()
    if waiting:
        return None
    return job_create(
        marketplace=marketplace,
        action=ActionCode.SYNC_ORDERS,
        priority=JobPriority.HIGH,
        input_data={"scheduled": True},
    )


def sale_syncs_run_due(*, limit: int = 500) -> int:
    """Beat: one pass over the due schedule rows; each tenant visited is one that has work."""
    pairs = sync_schedules_claim(limit=limit)
    schemas = dict(
        Tenant.objects.filter(pk__in={tenant_id for tenant_id, _ in pairs}).values_list(
            "pk", "schema_name"
        )
    )
    started = 0
    for tenant_id, marketplace in pairs:
        schema = schemas.get(tenant_id)
        if schema is None:
            continue
        try:
            with tenant_context(schema):
                started += sale_sync_tick(marketplace=marketplace) is not None
        except (ApplicationError, DatabaseError):
            # One tenant's broken schema must not stop the others; its row retries next run.
            logger.exception(
                "sales.sync_failed", extra={"tenant": schema, "marketplace": marketplace}
            )
    return started
