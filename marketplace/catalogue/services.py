"""Keep every tenant database's copy of the catalogue equal to the primary's.

Tenant tables reference action types by a foreign key and the engine's statements join them
through the search_path, so each database holding tenants has its own `public` catalogue. The
primary's is the one operators edit (the public admin); `migrate_tenants` copies it, row for
row and id for id, to every other database after migrating their public schema. Rows are never
deleted from a copy (jobs may still reference them); deactivate an action type instead."""

import logging

from django.db import connection, transaction

from marketplace.catalogue.models import MarketplaceActionType
from tenants.databases import PRIMARY, database_use

logger = logging.getLogger(__name__)

_FIELDS = [str(field.column) for field in MarketplaceActionType._meta.concrete_fields]
_TABLE = f"public.{MarketplaceActionType._meta.db_table}"


def catalogue_replicate(*, database: str) -> int:
    """Upsert the primary's action types into `database`'s catalogue; returns the rows copied.
    Run it outside any tenant context (it reads the primary first)."""
    with database_use(PRIMARY), connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_FIELDS)} FROM {_TABLE} ORDER BY id")
        rows = cursor.fetchall()
    if database == PRIMARY:
        return len(rows)
    columns = ", ".join(_FIELDS)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _FIELDS if column != "id")
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    with database_use(database), transaction.atomic(), connection.cursor() as cursor:
        if rows:
            # A copy seeded out of step (same action, another id; only ever on a database
            # with no tenant yet, else the tenants' foreign keys refuse this) gives way.
            at = {column: index for index, column in enumerate(_FIELDS)}
            cursor.executemany(
                f"DELETE FROM {_TABLE} WHERE marketplace = %s AND code = %s AND id <> %s",
                [(row[at["marketplace"]], row[at["code"]], row[at["id"]]) for row in rows],
            )
            cursor.executemany(
                f"INSERT INTO {_TABLE} ({columns}) VALUES ({placeholders}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                rows,
            )
        # New rows made on this copy (there should be none) must not take a primary's id.
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"greatest((SELECT max(id) FROM {_TABLE}), 1))",
            [_TABLE],
        )
    logger.info("catalogue.replicated", extra={"db": database, "rows": len(rows)})
    return len(rows)
