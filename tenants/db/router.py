"""Which database a model's queries go to when tenants live on several databases.

- Primary-only models (tenants, users, tokens, sessions, the sync schedule...: the shared apps
  that no tenant schema references in SQL) always go to the primary database, through the
  alias that reaches it in this thread (tenants/databases.py).
- Everything else goes to `default`, i.e. the database of the tenant active in this thread:
  the tenant apps, and the two shared apps present on *every* database because tenant SQL
  resolves them through the search_path: the action-type catalogue (joined by the engine's
  statements, referenced by a foreign key) and the engine's due-work index (written in the
  same transaction as the jobs it indexes).

Migrations are django-tenants' TenantSyncRouter's business (next in DATABASE_ROUTERS), which
only allows the alias `default`. Every database is migrated with `default` swapped to it
(`migrate_tenants`), so a schema editor there carries the other alias: it is answered as
`default` would be. Any other migration of an extra alias is refused (use migrate_tenants).
https://docs.djangoproject.com/en/5.2/topics/db/multi-db/#automatic-database-routing
"""

from functools import cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Model
from django_tenants.routers import TenantSyncRouter

from tenants.databases import PRIMARY, active_database, primary_alias

# Shared apps whose tables every database carries (see the module doc).
REPLICATED_APPS = frozenset({"catalogue", "engine"})


@cache
def primary_only_apps() -> frozenset[str]:
    tenant_apps = set(settings.TENANT_APPS)
    return (
        frozenset(
            config.label
            for config in apps.get_app_configs()
            if config.name in settings.SHARED_APPS and config.name not in tenant_apps
        )
        - REPLICATED_APPS
    )


class TenantDatabaseRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if model._meta.app_label in primary_only_apps():
            return primary_alias()
        return None  # `default`: the active tenant's database

    db_for_write = db_for_read

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if db == PRIMARY:
            return None
        if active_database() != db:
            return False
        # django-tenants answers None (no objection) or False.
        return (
            TenantSyncRouter().allow_migrate(PRIMARY, app_label, model_name, **hints) is not False
        )

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        # A tenant row refers to users and action types by id (no cross-database constraint:
        # the user foreign keys have db_constraint=False, the catalogue is on every database).
        return True
