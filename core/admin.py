"""Where each admin page is served, and who may use it.

One `admin.site` is mounted on every host, but each host reads one schema: the public host
(localhost) reads `public`, a tenant's host reads that tenant's schema. So:

- `TenantSchemaAdmin` (jobs, batches, products …) is served on tenant hosts only; on the public
  host those tables do not exist. It is read-only: operators change jobs and batches through
  admin actions that call the services, never by editing rows. Access is `is_staff`, not Django's
  model permissions: permission rows live in `public` and point at `public`'s content types, while
  a tenant host resolves `django_content_type` to the tenant's own table first, so per-model
  grants would not resolve reliably there.
- `PublicSchemaAdmin` (tenants, domains) is served on the public host only, with Django's model
  permissions (they resolve normally in `public`).
"""

from typing import Any

from django.contrib import admin
from django.db import connection
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name


def serves_public_schema() -> bool:
    return connection.schema_name == get_public_schema_name()


def is_operator(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff)


class _TenantSchemaPermissions:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request) and not serves_public_schema()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request) and not serves_public_schema()

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Gate of the admin actions that call services (`permissions=("operate",)`)."""
        return is_operator(request) and not serves_public_schema()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantSchemaAdmin(_TenantSchemaPermissions, admin.ModelAdmin):
    """A read-only page over a tenant-schema model, on tenant hosts, for staff."""

    # Lists run over millions of rows: skip the unfiltered COUNT(*) Django adds by default.
    show_full_result_count = False


class TenantSchemaTabularInline(_TenantSchemaPermissions, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class PublicSchemaAdmin(admin.ModelAdmin):
    """A page over a public-schema model, on the public host only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return serves_public_schema() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return serves_public_schema() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return serves_public_schema() and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return serves_public_schema() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return serves_public_schema() and super().has_delete_permission(request, obj)
