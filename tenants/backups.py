"""Whether `pg_dump` of the whole database fits in PostgreSQL's lock table.

pg_dump holds an ACCESS SHARE lock on every table it dumps until it ends (measured here: one
per table, 12 per tenant schema, plus ~150 on the system catalogues). The shared lock table has
room for `max_locks_per_transaction × (max_connections + max_prepared_transactions)` locks in
all, shared with the live workload; past it pg_dump fails with "out of shared memory". With the
defaults (64 × 100) that is ~500 tenants. docs/tenants.md explains the choice of physical
backups past a few hundred tenants.
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from tenants.databases import PRIMARY, database_use
from tenants.models import Tenant

# Locks pg_dump takes on pg_catalog (measured with PostgreSQL 15: 150, rounded up).
CATALOG_LOCKS = 160
# The share of the lock table a dump may take; the rest stays for the live workload.
DUMP_SHARE = 0.8
_SETTINGS = ("max_locks_per_transaction", "max_connections", "max_prepared_transactions")


@dataclass(frozen=True)
class BackupBudget:
    max_locks_per_transaction: int
    max_connections: int
    max_prepared_transactions: int
    tenants: int
    tables_per_tenant: int
    other_tables: int  # public and any other schema that is no tenant's (the template counts)

    @property
    def lock_table(self) -> int:
        slots = self.max_connections + self.max_prepared_transactions
        return self.max_locks_per_transaction * slots

    def locks_needed(self, tenants: int | None = None) -> int:
        count = self.tenants if tenants is None else tenants
        return CATALOG_LOCKS + self.other_tables + count * self.tables_per_tenant

    @property
    def fits(self) -> bool:
        return self.locks_needed() <= DUMP_SHARE * self.lock_table

    @property
    def max_tenants(self) -> int:
        room = DUMP_SHARE * self.lock_table - CATALOG_LOCKS - self.other_tables
        return max(0, math.floor(room / max(1, self.tables_per_tenant)))

    def setting_for(self, tenants: int) -> int:
        """The smallest max_locks_per_transaction (a multiple of 64) that fits `tenants`."""
        slots = self.max_connections + self.max_prepared_transactions
        needed = math.ceil(self.locks_needed(tenants) / DUMP_SHARE / slots)
        return max(64, math.ceil(needed / 64) * 64)


def backup_budget_read(*, database: str = PRIMARY, **overrides: int | None) -> BackupBudget:
    """The server's settings and the tenants and tables of `database` (each database holding
    tenants is dumped on its own); `overrides` replace any."""
    with database_use(database), connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting::int FROM pg_settings WHERE name = ANY(%s)", [list(_SETTINGS)]
        )
        server = dict(cursor.fetchall())
        cursor.execute(
            """SELECT n.nspname, count(*) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p')
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg_toast%%'
               GROUP BY n.nspname"""
        )
        tables = dict(cursor.fetchall())
    schemas = set(
        Tenant.objects.filter(database=database)
        .exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .values_list("schema_name", flat=True)
    )
    template = tables.get(settings.RELIST_TENANT_TEMPLATE_SCHEMA, 0)
    per_tenant = max([tables[s] for s in schemas if s in tables] + [template])
    values = {
        **server,
        "tenants": len(schemas),
        "tables_per_tenant": per_tenant,
        "other_tables": sum(count for name, count in tables.items() if name not in schemas),
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    return BackupBudget(**values)
