"""Tenant membership: a request is served in a tenant only if the host resolved to it AND the
authenticated user is a member of it. Anything else is answered 404, revealing nothing."""

from typing import TYPE_CHECKING

from django.http import Http404
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from tenants.auth import TokenAuth
from tenants.models import MembershipRole
from tenants.selectors import membership_get

if TYPE_CHECKING:
    from rest_framework.views import APIView


def _role(request: Request, tenant_id: int) -> str | None:
    # A token's lookup carries the user's memberships (cached with it): no query here.
    if isinstance(request.auth, TokenAuth):
        return request.auth.role_in(tenant_id)
    membership = membership_get(user=request.user, tenant=request._request.tenant)
    return membership.role if membership is not None else None


class IsTenantMember(BasePermission):
    def has_permission(self, request: Request, view: "APIView") -> bool:
        tenant = getattr(request._request, "tenant", None)
        if tenant is None:
            raise Http404
        if not request.user or not request.user.is_authenticated:
            return False  # 401: the client must authenticate first
        role = _role(request, tenant.pk)
        if role is None:
            raise Http404
        request.membership_role = role  # type: ignore[attr-defined]
        return request.method in SAFE_METHODS or role != MembershipRole.VIEWER


class IsTenantWriter(BasePermission):
    """Whatever the method: for GET endpoints that change state (an OAuth callback is a
    redirect, so a GET). Goes after IsTenantMember, which sets request.membership_role."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        role = getattr(request, "membership_role", None)
        return role is not None and role != MembershipRole.VIEWER
