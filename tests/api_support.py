"""Helpers of the API tests (tests/*/api/): the error bodies and the clients they compare."""

from typing import Any

import pytest

from tenants.models import MembershipRole, Tenant
from tests.conftest import TenantAPIClient, client_for, tenant_host
from tests.factories.tenants import MembershipFactory, UserFactory

NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "details": {}}}
FORBIDDEN = {
    "error": {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
        "details": {},
    }
}


def error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def viewer_client(tenant: Tenant) -> TenantAPIClient:
    """A client of a new viewer of `tenant` (may read, may not write)."""
    viewer = UserFactory()
    MembershipFactory(user=viewer, tenant=tenant, role=MembershipRole.VIEWER)
    return client_for(host=tenant_host(tenant), user=viewer)


@pytest.fixture
def viewer(tenant: Tenant) -> TenantAPIClient:
    return viewer_client(tenant)


@pytest.fixture
def intruder(other_tenant: Tenant, member) -> TenantAPIClient:
    """`member` of the tenant under test, with its own token, on the other tenant's host."""
    return client_for(host=tenant_host(other_tenant), user=member)
