"""Incremental sale detection: per marketplace, orders modified up to here are known."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from sales.models import SyncCursor

# Orders modified just before the last fetch may land after it (clock skew, replication lag):
# re-reading an overlap costs little, since a known order line changes nothing.
OVERLAP = timedelta(minutes=5)


def sync_cursor_since(*, marketplace: str, days: int | None = None) -> datetime:
    """Where the next order fetch starts: the cursor less an overlap, or `days` back."""
    now = timezone.now()
    if days is not None:
        return now - timedelta(days=days)
    cursor = SyncCursor.objects.filter(marketplace=marketplace).first()
    if cursor is None or cursor.orders_modified_since is None:
        return now - timedelta(days=settings.RELIST_SALE_SYNC_FIRST_DAYS)
    return cursor.orders_modified_since - OVERLAP


def sync_cursor_advance(*, marketplace: str, fetched_at: datetime) -> None:
    """After recording a fetch that started at `fetched_at`; never moves backwards."""
    cursor, _ = SyncCursor.objects.select_for_update().get_or_create(marketplace=marketplace)
    if cursor.orders_modified_since is None or fetched_at > cursor.orders_modified_since:
        cursor.orders_modified_since = fetched_at
    cursor.synced_at = timezone.now()
    cursor.save()
