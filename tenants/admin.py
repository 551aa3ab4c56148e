"""Operator admin on the public host: tenants with their job counts by status, and a job search
across tenants.

Jobs live in each tenant's schema, and the public host reads `public`. Rather than a cross-schema
job list (a UNION over every schema, unbounded as tenants grow), operators work in two steps:

- The Tenant list shows, for the tenants on the current page only, their jobs counted by status
  inside each tenant's schema (tenant_context: three queries per tenant, `list_per_page` of them),
  each count linking to the tenant's own job admin (`<tenant domain>/admin/`, marketplace/admin.py)
  filtered by that status.
- "Find jobs across tenants" takes a job id, SKU or external listing id and looks it up in each
  tenant's schema, `TENANTS_PER_SEARCH` tenants per page (narrowable by tenant name or domain),
  at most `JOBS_PER_TENANT` hits each, linking to the job on its tenant's host.

Tenants are not added or deleted here: provisioning must go through tenant_provision (schema,
migrations, domain) and removal through the remove_tenant command (the admin's bulk delete would
delete rows without dropping their schemas).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django_tenants.utils import get_public_schema_name

from core.admin import PublicSchemaAdmin
from core.errors import TenantNotFound, TenantUnavailable
from marketplace.admin import job_search_filter
from marketplace.models import MarketplaceJob
from marketplace.states import JobStatus
from tenants.context import tenant_context
from tenants.models import Domain, Membership, Tenant

TENANTS_PER_PAGE = 25
TENANTS_PER_SEARCH = 25
JOBS_PER_TENANT = 20


def tenant_site_url(request: HttpRequest, tenant: Tenant, path: str) -> str | None:
    """`path` on the tenant's primary domain, with this request's scheme and port. Reads
    `tenant.domains.all()`: prefetch domains when listing tenants."""
    domain = next((d.domain for d in tenant.domains.all() if d.is_primary), None)
    if domain is None:
        return None
    port = request.get_port()
    netloc = domain if port in ("80", "443") else f"{domain}:{port}"
    return f"{request.scheme}://{netloc}{path}"


def tenant_job_counts(tenant: Tenant) -> dict[str, int] | None:
    """The tenant's jobs counted by status, or None when its schema is missing."""
    try:
        with tenant_context(tenant.schema_name):
            rows = MarketplaceJob.objects.order_by().values("status").annotate(n=Count("pk"))
            return {row["status"]: row["n"] for row in rows}
    except (TenantNotFound, TenantUnavailable):
        return None


class TenantChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        jobs_path = reverse("admin:marketplace_marketplacejob_changelist")
        for tenant in self.result_list:  # the current page only
            tenant.job_counts = tenant_job_counts(tenant)
            tenant.jobs_url = tenant_site_url(request, tenant, jobs_path)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(PublicSchemaAdmin):
    list_display = ("schema_name", "name", "domain", "jobs_by_status", "created_at")
    list_per_page = TENANTS_PER_PAGE
    search_fields = ("schema_name", "name", "domains__domain")
    # Renaming a schema_name here would not rename the schema: the tenant would lose its data.
    readonly_fields = ("schema_name", "created_at")
    inlines = (DomainInline, MembershipInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return (
            super()
            .get_queryset(request)
            .exclude(schema_name=get_public_schema_name())
            .prefetch_related("domains")
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TenantChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="domain")
    def domain(self, tenant: Tenant) -> str:
        return next((d.domain for d in tenant.domains.all() if d.is_primary), "-")

    @admin.display(description="jobs by status")
    def jobs_by_status(self, tenant: Tenant) -> str:
        counts: dict[str, int] | None = getattr(tenant, "job_counts", None)
        if counts is None:
            return "schema missing"
        if not counts:
            return "no jobs"
        present = [
            (status, label, counts[status])
            for status, label in JobStatus.choices
            if status in counts
        ]
        url = getattr(tenant, "jobs_url", None)
        if url is None:
            return ", ".join(f"{label.lower()} {n}" for _, label, n in present)
        return format_html_join(
            ", ",
            '<a href="{}?status__exact={}">{} {}</a>',
            ((url, status, label.lower(), n) for status, label, n in present),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "jobs/",
                self.admin_site.admin_view(self.job_search_view),
                name="tenants_tenant_job_search",
            ),
            *super().get_urls(),
        ]

    def job_search_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        term = request.GET.get("q", "").strip()
        narrow = request.GET.get("tenant", "").strip()
        tenants = self.get_queryset(request).order_by("schema_name")
        if narrow:
            tenants = tenants.filter(
                Q(schema_name__icontains=narrow)
                | Q(name__icontains=narrow)
                | Q(pk__in=Domain.objects.filter(domain__icontains=narrow).values("tenant_id"))
            )
        page = Paginator(tenants, TENANTS_PER_SEARCH).get_page(request.GET.get("page"))
        found: list[Any] = []
        unavailable: list[Any] = []
        if term:
            job_path = reverse("admin:marketplace_marketplacejob_changelist")
            for tenant in page:
                try:
                    with tenant_context(tenant.schema_name):
                        jobs = list(
                            MarketplaceJob.objects.filter(job_search_filter(term))
                            .select_related("action_type", "product")
                            .order_by("-id")[:JOBS_PER_TENANT]
                        )
                except (TenantNotFound, TenantUnavailable):
                    unavailable.append(tenant)
                    continue
                base = tenant_site_url(request, tenant, job_path)
                found.extend((tenant, job, base and f"{base}{job.pk}/change/") for job in jobs)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Find jobs across tenants",
            "term": term,
            "narrow": narrow,
            "page": page,
            "found": found,
            "unavailable": unavailable,
            "jobs_per_tenant": JOBS_PER_TENANT,
        }
        return TemplateResponse(request, "admin/tenants/tenant/job_search.html", context)
