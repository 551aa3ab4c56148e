"""Read and write the public index of tenants with due work (models.DueWork).

Invariant: a tenant with a non-terminal job has a row. `duework_mark` runs inside the
transaction that creates or re-opens jobs; `duework_settle` runs in the sweep, under the row's
lock, and deletes the row only when the tenant has nothing left. Both take the row lock, so a job
created while the sweep settles the tenant waits for it and then re-inserts the row."""

from datetime import datetime

from django.db import connection

from marketplace.models import MarketplaceJob

_TABLE = "public.engine_duework"

_MARK = f"""
INSERT INTO {_TABLE} AS d (schema_name, wake_at) VALUES (%s, %s)
ON CONFLICT (schema_name) DO UPDATE SET wake_at = LEAST(d.wake_at, EXCLUDED.wake_at)
"""
_DUE = f"SELECT schema_name FROM {_TABLE} WHERE wake_at <= %s ORDER BY wake_at LIMIT %s"
_LOCK = f"SELECT 1 FROM {_TABLE} WHERE schema_name = %s FOR UPDATE"
_FORGET = f"DELETE FROM {_TABLE} WHERE schema_name = %s"
_RESCHEDULE = f"""
INSERT INTO {_TABLE} AS d (schema_name, wake_at) VALUES (%s, %s)
ON CONFLICT (schema_name) DO UPDATE SET wake_at = EXCLUDED.wake_at
"""
_ACTIVE = f"SELECT EXISTS (SELECT 1 FROM {MarketplaceJob._meta.db_table} WHERE status = ANY(%s))"
ACTIVE_STATUSES = ["pending", "running", "paused"]


def duework_mark(*, schema: str | None = None, wake_at: datetime) -> None:
    """In the caller's transaction: this tenant has work from `wake_at` on. Call it as the last
    statement before commit (it holds the tenant's row lock until then)."""
    with connection.cursor() as cursor:
        cursor.execute(_MARK, [schema or connection.schema_name, wake_at])


def duework_due(*, now: datetime, limit: int = 10_000) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_DUE, [now, limit])
        return [row[0] for row in cursor.fetchall()]


def duework_settle(*, schema: str, next_wake: datetime) -> bool:
    """In the tenant's schema, inside atomic(): keep the row (next visit at `next_wake`) while the
    tenant has non-terminal jobs, else delete it. Returns True when the tenant still has work."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK, [schema])
        cursor.execute(_ACTIVE, [ACTIVE_STATUSES])
        active = bool(cursor.fetchone()[0])
        if active:
            cursor.execute(_RESCHEDULE, [schema, next_wake])
        else:
            cursor.execute(_FORGET, [schema])
    return active
