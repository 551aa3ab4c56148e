"""Run code inside one tenant's schema. Celery tasks, beat sweeps and management commands all go
through here, so a missing tenant or schema fails loudly instead of silently reading `public`.

The tenant's row names its database: inside the block, `default` resolves to that database in
this thread (tenants/databases.py), and to the previous one afterwards."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_exists

from core.errors import TenantNotFound, TenantUnavailable
from tenants.databases import active_database, database_activate
from tenants.models import Tenant


def tenant_get(*, schema_name: str) -> Tenant:
    if schema_name == get_public_schema_name():
        raise TenantNotFound("The public schema is not a tenant.", details={"tenant": schema_name})
    try:
        return Tenant.objects.get(schema_name=schema_name)
    except Tenant.DoesNotExist:
        raise TenantNotFound(
            f"No tenant with schema {schema_name!r}.", details={"tenant": schema_name}
        ) from None


def tenant_available_check(tenant: Tenant) -> None:
    """Refuse a tenant whose schema is being moved to another database (tenants/moving.py)."""
    if tenant.moving_to:
        raise TenantUnavailable(
            f"Tenant {tenant.schema_name!r} is moving to another database.",
            details={"tenant": tenant.schema_name, "moving_to": tenant.moving_to},
        )


@contextmanager
def tenant_context(schema_name: str) -> Iterator[Tenant]:
    """Switch to `schema_name` (on its database) for the block, restoring the previous schema
    and database after."""
    previous_database = active_database()
    previous = connection.tenant if hasattr(connection, "tenant") else None
    connection.set_schema_to_public()
    try:
        tenant = tenant_get(schema_name=schema_name)
        tenant_available_check(tenant)
        database_activate(tenant.database)
        if not schema_exists(schema_name):
            raise TenantUnavailable(
                f"The schema of tenant {schema_name!r} is missing.",
                details={"tenant": schema_name},
            )
        connection.set_tenant(tenant)
        yield tenant
    finally:
        connection.set_schema_to_public()
        database_activate(previous_database)
        if previous is not None and previous.schema_name != get_public_schema_name():
            connection.set_tenant(previous)
