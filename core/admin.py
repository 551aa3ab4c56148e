"""Where each admin page is served, and who may use it.

One `admin.site` is mounted on every host, but each host reads one schema: the public host
(localhost) reads `public`, a tenant's host reads that tenant's schema. So:

- `TenantSchemaAdmin` (jobs, batches, products …) is served on tenant hosts only; on the public
  host those tables do not exist. It is read-only: operators change jobs and batches through
  admin actions that call the services, never by editing rows. Access (`may_operate_tenant`) is
  for a platform operator, or for the shop's own staff: a member of *this* tenant with the role
  owner or staff. Either way `is_staff` too, which is what lets anyone log into an admin at all.
  Not Django's per-model permissions: permission rows live in `public` and point at `public`'s
  content types, while a tenant host resolves `django_content_type` to the tenant's own table.
- `PublicSchemaAdmin` (tenants, domains, the job search across tenants) is served on the public
  host only, to platform operators.

A platform operator is a superuser or a staff user holding `tenants.operate_platform` (directly or
through a group, e.g. "Platform operators"). The permission is always read in `public`, where
its content type resolves, whichever host asks.
"""

from typing import Any

from django.contrib import admin
from django.db import connection
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import ADMIN_ROLES, Membership

OPERATE_PLATFORM = "tenants.operate_platform"


def serves_public_schema() -> bool:
    return connection.schema_name == get_public_schema_name()


def is_platform_operator(request: HttpRequest) -> bool:
    """Superuser, or staff holding tenants.operate_platform. Computed once per request."""
    cached = getattr(request, "_relist_platform_operator", None)
    if cached is None:
        user = request.user
        cached = bool(user.is_active and user.is_staff)
        if cached and not user.is_superuser:
            with schema_context(get_public_schema_name()):
                cached = user.has_perm(OPERATE_PLATFORM)
        request._relist_platform_operator = cached  # type: ignore[attr-defined]
    return cached


def may_operate_tenant(request: HttpRequest) -> bool:
    """On a tenant host: a platform operator, or that tenant's own staff (owner/staff role).
    A staff member of shop A is refused on shop B's admin."""
    cached = getattr(request, "_relist_tenant_staff", None)
    if cached is None:
        user = request.user
        cached = False
        if user.is_active and user.is_staff and not serves_public_schema():
            role = (
                Membership.objects.filter(user_id=user.pk, tenant_id=connection.tenant.pk)
                .values_list("role", flat=True)
                .first()
            )
            cached = role in ADMIN_ROLES or is_platform_operator(request)
        request._relist_tenant_staff = cached  # type: ignore[attr-defined]
    return cached


class _TenantSchemaPermissions:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_operate_tenant(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_operate_tenant(request)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Gate of the admin actions that call services (`permissions=("operate",)`)."""
        return may_operate_tenant(request)

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
    """A page over a public-schema model, on the public host only, for platform operators
    (who may view; changing still takes the model's own permissions)."""

    def _operator_here(self, request: HttpRequest) -> bool:
        return serves_public_schema() and is_platform_operator(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._operator_here(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator_here(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._operator_here(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator_here(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._operator_here(request) and super().has_delete_permission(request, obj)
