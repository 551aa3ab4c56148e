"""Resolve the tenant from the request's host.

Public hosts (settings.RELIST_PUBLIC_DOMAINS) serve the operator site in the public schema.
Any other host must name a tenant whose schema exists; otherwise the answer is a JSON error,
never the public site, a 500 page, or another tenant's data. Membership is checked later, by the
API's permission class, once the user is authenticated.
"""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import schema_exists

from core.errors import ApplicationError, TenantNotFound, TenantUnavailable


def error_response(error: ApplicationError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": error.code, "message": error.message, "details": error.details}},
        status=error.http_status,
    )


class TenantResolutionMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()
        hostname = self.hostname_from_request(request)
        if hostname in settings.RELIST_PUBLIC_DOMAINS:
            # No `request.tenant` here (read it with getattr(request, "tenant", None)): the admin
            # templates of django-tenants read `request.tenant.schema_name` whenever it is set.
            self.setup_url_routing(request, force_public=True)
            return None
        return super().process_request(request)

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return error_response(
            TenantNotFound("No shop is served at this host.", details={"host": hostname})
        )

    def setup_url_routing(self, request: HttpRequest, force_public: bool = False) -> None:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not force_public and not schema_exists(tenant.schema_name):
            # Raised here, rendered by process_exception-free path below.
            raise _SchemaMissing(tenant.schema_name)
        super().setup_url_routing(request, force_public=force_public)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().__call__(request)
        except _SchemaMissing as missing:
            connection.set_schema_to_public()
            return error_response(
                TenantUnavailable(
                    "This shop is not available right now.",
                    details={"host": request.get_host().split(":")[0], "tenant": missing.schema},
                )
            )


class _SchemaMissing(Exception):
    def __init__(self, schema: str) -> None:
        super().__init__(schema)
        self.schema = schema
