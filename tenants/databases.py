"""Tenants on several PostgreSQL databases: which connection `default` means right now.

A tenant's row (on the primary database, alias `default`) names the database alias its schema
lives on (`Tenant.database`); extra aliases come from RELIST_TENANT_DATABASES. The engine and
the services use `django.db.connection` and `transaction.atomic()` without `using=`, that is
`connections["default"]`. Instead of threading an alias through all of them, activating a tenant
(the HTTP middleware, the Celery task class, `tenant_context`) makes `default`, *in the current
thread only*, resolve to the wrapper of the tenant's database, and restores it afterwards.
Django keeps its connection wrappers in an asgiref Local that is thread-critical (one set per
thread, async code included), so the swap never leaks into another thread or request.

Models that live only on the primary (tenants, users, tokens, sessions, the sync schedule: the
apps of router.PRIMARY_ONLY) must still reach the primary while `default` points elsewhere:
the router (tenants/db/router.py) sends them to `default` when nothing is swapped, and to the
STASH alias, the thread's own primary wrapper kept aside, while a swap is active. So a request
on a tenant of the primary database keeps using one connection, exactly as before.

https://docs.djangoproject.com/en/5.2/topics/db/multi-db/
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.connection import ConnectionDoesNotExist

from core.errors import TenantUnavailable, ValidationFailed

PRIMARY = DEFAULT_DB_ALIAS
# Where the thread's primary wrapper is kept while `default` resolves to another database. Set
# in the thread's own connection storage only, never in settings.DATABASES.
STASH = "relist_primary"


class UnknownDatabase(ValidationFailed):
    """A database alias that this process has no settings for."""


def tenant_database_aliases() -> list[str]:
    """Every database that may hold tenant schemas: the primary first, then the extra ones."""
    return [PRIMARY, *(alias for alias in settings.DATABASES if alias != PRIMARY)]


def tenant_database_check(alias: str) -> str:
    if alias not in settings.DATABASES or alias == STASH:
        configured = ", ".join(tenant_database_aliases())
        raise UnknownDatabase(
            f"No database {alias!r} is configured (configured: {configured}); add it to "
            "RELIST_TENANT_DATABASES.",
            details={"database": alias, "configured": tenant_database_aliases()},
        )
    return alias


def _swapped() -> bool:
    return connections[PRIMARY].alias != PRIMARY


def primary_connection() -> BaseDatabaseWrapper:
    """The thread's wrapper of the primary database, whatever `default` resolves to now."""
    if _swapped():
        return connections[STASH]
    current = connections[PRIMARY]
    setattr(connections._connections, STASH, current)  # type: ignore[attr-defined]
    return current


def primary_alias() -> str:
    """The alias that reaches the primary database in this thread right now (the router's
    answer for primary-only models)."""
    return STASH if _swapped() else PRIMARY


def active_database() -> str:
    """The database `default` resolves to in this thread."""
    return connections[PRIMARY].alias


def database_activate(alias: str) -> None:
    """Make `default` resolve to `alias` in this thread (PRIMARY: back to the primary). Do it
    outside a transaction on `default`: one opened before stays on the database it began on."""
    primary = primary_connection()
    if alias == PRIMARY:
        target = primary
    else:
        try:
            target = connections[alias]
        except ConnectionDoesNotExist:
            raise TenantUnavailable(
                f"The database {alias!r} is not configured in this process "
                "(RELIST_TENANT_DATABASES).",
                details={"database": alias},
            ) from None
    if connections[PRIMARY] is not target:
        connections[PRIMARY] = target


def database_reset() -> None:
    """Back to the primary: every request, task and context ends with this."""
    if _swapped():
        connections[PRIMARY] = connections[STASH]


@contextmanager
def database_use(alias: str) -> Iterator[BaseDatabaseWrapper]:
    """`default` resolves to `alias` in the block; the previous database afterwards."""
    previous = active_database()
    database_activate(alias)
    try:
        yield connections[PRIMARY]
    finally:
        database_activate(previous)
