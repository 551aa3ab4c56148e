"""Resolve the tenant from the request's host.

Public hosts (settings.RELIST_PUBLIC_DOMAINS) serve the operator site in the public schema.
Any other host must name a tenant whose schema exists; otherwise the answer is a JSON error,
never the public site, a 500 page, or another tenant's data. Membership is checked later, by the
API's permission class, once the user is authenticated.

A resolved host (its tenant, whose schema exists) is remembered in the process for
RELIST_TENANT_CACHE_TTL_S seconds: the two public-schema queries it takes are most of what a
request costs before its view. A host that names no tenant, or a missing schema, is never
remembered, so a new shop answers at once; a shop removed is refused after at most the TTL.

The tenant's row names its database: for the request, `default` resolves to it in the request's
thread (tenants/databases.py), and back to the primary when the response leaves. A shop whose
schema is being moved to another database answers 503 `tenant_unavailable` (with Retry-After).
"""

import copy
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import schema_exists

from core.errors import ApplicationError, TenantNotFound, TenantUnavailable
from tenants.databases import database_activate, database_reset
from tenants.models import Domain, Tenant

# What a client is told to wait while its shop moves between databases (a move takes about
# the tenant caches' TTL plus the copy: docs/tenants.md#moving-a-tenant).
MOVING_RETRY_AFTER_S = 60

# hostname -> (monotonic deadline, tenant). Per process; entries are replaced, never mutated.
_resolved: dict[str, tuple[float, Tenant]] = {}


def error_response(error: ApplicationError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": error.code, "message": error.message, "details": error.details}},
        status=error.http_status,
    )


def tenant_for_host(hostname: str) -> Tenant:
    """The tenant served at `hostname`. Raises Domain.DoesNotExist, or _SchemaMissing when the
    tenant's schema is gone (a failed provisioning, a dropped schema)."""
    ttl = settings.RELIST_TENANT_CACHE_TTL_S
    now = time.monotonic()
    hit = _resolved.get(hostname)
    if hit is not None and hit[0] > now:
        return copy.copy(hit[1])  # each request sets its own attributes on it
    tenant = Domain.objects.select_related("tenant").get(domain=hostname).tenant
    if not tenant.moving_to:
        database_activate(tenant.database)
        try:
            if not schema_exists(tenant.schema_name):
                raise _SchemaMissing(tenant.schema_name)
        finally:
            database_reset()
    if ttl > 0:
        _resolved[hostname] = (now + ttl, tenant)
    return copy.copy(tenant)


class TenantResolutionMiddleware(TenantMainMiddleware):
    # Everything happens in process_request: MiddlewareMixin runs it on the sync path (WSGI,
    # gunicorn) and on the async one (__acall__, daphne) alike, so both answer the same.
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        database_reset()
        connection.set_schema_to_public()
        hostname = self.hostname_from_request(request)
        if hostname in settings.RELIST_PUBLIC_DOMAINS:
            # No `request.tenant` here (read it with getattr(request, "tenant", None)): the admin
            # templates of django-tenants read `request.tenant.schema_name` whenever it is set.
            self.setup_url_routing(request, force_public=True)
            return None
        try:
            tenant = tenant_for_host(hostname)
        except Domain.DoesNotExist:
            return self.no_tenant_found(request, hostname)
        except TenantUnavailable as unavailable:  # its database is not configured here
            return error_response(unavailable)
        except _SchemaMissing as missing:
            return error_response(
                TenantUnavailable(
                    "This shop is not available right now.",
                    details={"host": hostname, "tenant": missing.schema},
                )
            )
        if tenant.moving_to:
            response = error_response(
                TenantUnavailable(
                    "This shop is moving; try again in a minute.",
                    details={"host": hostname, "tenant": tenant.schema_name},
                )
            )
            response["Retry-After"] = str(MOVING_RETRY_AFTER_S)
            return response
        tenant.domain_url = hostname
        request.tenant = tenant
        database_activate(tenant.database)
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # Before request_finished closes the thread's connections: it must see the primary's.
        database_reset()
        return response

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return error_response(
            TenantNotFound("No shop is served at this host.", details={"host": hostname})
        )


class _SchemaMissing(Exception):
    def __init__(self, schema: str) -> None:
        super().__init__(schema)
        self.schema = schema
