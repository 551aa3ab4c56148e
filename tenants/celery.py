"""The Celery task class: tenant-schemas-celery's, plus the tenant's database.

tenant-schemas-celery reads the schema from the message headers and sets it on `default` in
task_prerun. This class then makes `default` resolve to the tenant's database for the task's
body (tenants/databases.py), and back to the primary when it returns, whatever happened. A
tenant being moved between databases (`Tenant.moving_to`) is not run: the message is sent again
in RELIST_TENANT_MOVE_DEFER_S without touching the tenant's rows, so no job loses an attempt
and no trigger is lost (the new message is published before the old one is acknowledged).

The tenant comes from tenant-schemas-celery's cache (CELERY_TASK_TENANT_CACHE_SECONDS), so this
costs no query; `manage.py tenant_move` waits that long before copying (docs/tenants.md)."""

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, connection
from django_tenants.utils import get_public_schema_name
from tenant_schemas_celery.app import get_schema_name_from_task
from tenant_schemas_celery.task import TenantTask

from core.errors import TenantUnavailable
from tenants.databases import database_activate, database_reset

logger = logging.getLogger(__name__)


class TenantDatabaseTask(TenantTask):
    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            self._tenant_database_enter(kwargs)
            return super().__call__(*args, **kwargs)
        finally:
            database_reset()

    def _tenant_database_enter(self, kwargs: dict[str, Any]) -> None:
        schema = get_schema_name_from_task(self, kwargs)
        if not schema or schema == get_public_schema_name():
            return
        try:
            tenant = self.get_tenant_for_schema(schema_name=schema)
        except (DatabaseError, ObjectDoesNotExist):
            # The lookup failed (the database is down, the tenant is gone): the task's body
            # decides, as it does when tenant-schemas-celery's own switch failed.
            return
        if tenant.moving_to:
            logger.info("task.deferred_tenant_moving", extra={"tenant": schema})
            raise self.retry(countdown=settings.RELIST_TENANT_MOVE_DEFER_S, max_retries=sys.maxsize)
        try:
            database_activate(tenant.database)
        except TenantUnavailable:
            logger.error(
                "task.tenant_database_unknown", extra={"tenant": schema, "db": tenant.database}
            )
            raise
        connection.set_tenant(tenant)
