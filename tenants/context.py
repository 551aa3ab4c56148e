"""Run code inside one tenant's schema. Celery tasks, beat sweeps and management commands all go
through here, so a missing tenant or schema fails loudly instead of silently reading `public`."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_exists

from core.errors import TenantNotFound, TenantUnavailable
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


@contextmanager
def tenant_context(schema_name: str) -> Iterator[Tenant]:
    """Switch the connection to `schema_name` for the block, restoring the previous one after."""
    previous = connection.tenant if hasattr(connection, "tenant") else None
    connection.set_schema_to_public()
    try:
        tenant = tenant_get(schema_name=schema_name)
        if not schema_exists(schema_name):
            raise TenantUnavailable(
                f"The schema of tenant {schema_name!r} is missing.",
                details={"tenant": schema_name},
            )
        connection.set_tenant(tenant)
        yield tenant
    finally:
        if previous is None or previous.schema_name == get_public_schema_name():
            connection.set_schema_to_public()
        else:
            connection.set_tenant(previous)
