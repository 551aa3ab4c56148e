"""Beat's periodic work, per tenant that has work (DESIGN §1: not every tenant).

Tenants with non-terminal jobs are remembered in a Redis set when jobs are enqueued; the sweep
visits those, and forgets a tenant once it has nothing left. A full pass over every tenant
rebuilds the set now and then, so a lost Redis never loses a job."""

import logging
from datetime import timedelta
from typing import cast

from django.conf import settings

from marketplace.models import MarketplaceJob
from marketplace.services import execution
from marketplace.services.jobs import jobs_expire_overdue
from marketplace.services.ratelimit import redis_client
from marketplace.states import JobStatus
from tenants.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)

ACTIVE_TENANTS_KEY = "relist:tenants:with-work"
_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PAUSED)


def tenant_mark_active(schema_name: str) -> None:
    redis_client().sadd(ACTIVE_TENANTS_KEY, schema_name)


def tenants_with_work() -> list[str]:
    members = cast("set[bytes]", redis_client().smembers(ACTIVE_TENANTS_KEY))
    return sorted(member.decode() for member in members)


def tenant_sweep(*, stale_after: timedelta | None = None) -> dict[str, int]:
    """Inside one tenant: expire, recover dead workers' jobs, re-send due and lost triggers."""
    stale_after = stale_after or timedelta(seconds=settings.RELIST_STALE_HEARTBEAT_S)
    report = {
        "expired": jobs_expire_overdue(),
        "recovered": execution.jobs_recover_stale(stale_after=stale_after),
        "dispatched": execution.jobs_dispatch_due(),
    }
    report["active"] = int(MarketplaceJob.objects.filter(status__in=_ACTIVE).exists())
    return report


def sweep_all(*, full: bool = False) -> dict[str, dict[str, int]]:
    schemas = (
        list(Tenant.objects.values_list("schema_name", flat=True)) if full else tenants_with_work()
    )
    reports: dict[str, dict[str, int]] = {}
    for schema in schemas:
        try:
            with tenant_context(schema):
                report = tenant_sweep()
        except Exception:
            logger.exception("sweep.tenant_failed", extra={"tenant": schema})
            continue
        reports[schema] = report
        if report["active"]:
            tenant_mark_active(schema)
        else:
            redis_client().srem(ACTIVE_TENANTS_KEY, schema)
    logger.info("sweep.done", extra={"tenants": len(schemas), "full": full})
    return reports
