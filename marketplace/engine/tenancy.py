"""The task's own check that it runs in the schema its message names.

tenant-schemas-celery switches the schema in a task_prerun signal handler; when that fails (the
database refused the connection, the tenant lookup failed) Celery only logs it and runs the task
in whatever schema the connection had. So the task checks, and switches itself: a database
error propagates (the task retries the message), a tenant that does not exist is a TenantGone
(the message is rejected with a log line: retrying cannot help)."""

from django.db import connection
from django_tenants.utils import get_public_schema_name

from tenants.databases import database_activate
from tenants.models import Tenant


class TenantGone(Exception):
    def __init__(self, schema: str | None, reason: str) -> None:
        super().__init__(reason)
        self.schema = schema
        self.reason = reason


def schema_check(*, expected: str | None) -> None:
    if not expected or expected == get_public_schema_name():
        raise TenantGone(expected, "the message names no tenant schema")
    if connection.schema_name == expected:
        return
    tenant = Tenant.objects.filter(schema_name=expected).first()  # OperationalError propagates
    if tenant is None:
        raise TenantGone(expected, "no tenant has this schema")
    database_activate(tenant.database)  # the task class resets it after the task
    connection.set_tenant(tenant)
