"""Keep the public schedule index in step with the tenants' connections."""

from django.conf import settings
from django.db import connection
from django.utils import timezone

from sales.schedule.models import SyncSchedule


def sync_schedule_enable(
    *, marketplace: str, tenant_id: int | None = None, interval_s: int | None = None
) -> None:
    """A tenant (default: the current one) connected `marketplace`: sync its orders from now
    on, the first time at once."""
    SyncSchedule.objects.update_or_create(
        tenant_id=tenant_id or connection.tenant.pk,
        marketplace=marketplace,
        defaults={
            "enabled": True,
            "next_run_at": timezone.now(),
            "interval_s": interval_s or settings.RELIST_SALE_SYNC_INTERVAL_S,
        },
    )


def sync_schedule_disable(*, marketplace: str) -> None:
    SyncSchedule.objects.filter(tenant_id=connection.tenant.pk, marketplace=marketplace).update(
        enabled=False
    )
