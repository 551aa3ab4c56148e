"""Operator admin of one tenant's marketplace data, served on that tenant's host
(`<tenant domain>/admin/`, staff only).

Design (issue 5). A host reads exactly one schema, so jobs are administered on their tenant's own
host: the page can only ever show that tenant's rows, by construction, with Django's own changelist,
search, filters and pagination. The public host reaches them from the Tenant page (job counts by
status per tenant, each linking here) and from a bounded job search across tenants for when the
operator has an id, SKU or external listing id but not the shop (tenants/admin.py).

Every page is read-only. Jobs change only through the admin actions below, which call the same
services as the API (job_retry, job_cancel, job_pause, job_resume) with actor=operator and the
operator as user: the services lock the row, apply the transition, write the JobEvent, move the
batch counters and enqueue on commit. django-fsm-2's FSMAdminMixin is not used: it calls the
transition method and `obj.save()` itself, skipping all of that, and needs change permission on a
form that saves every column of a row workers are writing.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from core.admin import TenantSchemaAdmin, TenantSchemaTabularInline
from core.errors import InvalidTransition, NotFound
from core.logging import bind
from marketplace.models import (
    JobEvent,
    Listing,
    MarketplaceConnection,
    MarketplaceJob,
    MarketplaceTask,
    Order,
    Product,
    ProductImage,
)
from marketplace.services.jobs import job_cancel, job_pause, job_resume, job_retry
from marketplace.states import EventActor, JobStatus, Marketplace

logger = logging.getLogger(__name__)

# One action runs one service call (one transaction) per job; past this, use the API or a batch.
MAX_JOBS_PER_ACTION = 500
# A SKU is unique and an external id names one item per marketplace; this only bounds the IN list.
MAX_SEARCH_PRODUCTS = 100

JOB_SERVICES: dict[str, Callable[..., MarketplaceJob]] = {
    "retry": job_retry,
    "cancel": job_cancel,
    "pause": job_pause,
    "resume": job_resume,
}
_DONE = {"retry": "Retried", "cancel": "Cancelled", "pause": "Paused", "resume": "Resumed"}


def job_search_filter(term: str) -> Q:
    """Jobs whose id, product SKU or product's external listing id is exactly `term`, in the
    current schema. Product ids are resolved first (one UNION of two index lookups) so the job
    query is an OR of index scans rather than an OR across joins, which would scan every job."""
    product_ids = (
        Product.objects.filter(sku=term)
        .values_list("pk", flat=True)
        .union(
            Listing.objects.filter(
                marketplace__in=Marketplace.values, external_id=term
            ).values_list("product_id", flat=True)
        )
    )
    match = Q(product_id__in=list(product_ids[:MAX_SEARCH_PRODUCTS]))
    if term.isdigit() and len(term) <= 18:  # within bigint
        match |= Q(pk=int(term))
    return match


def _listed(pks: list[int]) -> str:
    noun = "job" if len(pks) == 1 else "jobs"
    return f"{noun} {', '.join(map(str, pks))}"


class MarketplaceTaskInline(TenantSchemaTabularInline):
    model = MarketplaceTask
    fields = (
        "position",
        "name",
        "description",
        "task_type",
        "status",
        "attempts",
        "http_method",
        "http_path",
        "error",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    ordering = ("position",)


class JobEventInline(TenantSchemaTabularInline):
    model = JobEvent
    fields = ("at", "from_status", "to_status", "actor", "actor_user", "reason")
    readonly_fields = fields
    ordering = ("id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobEvent]:
        return super().get_queryset(request).select_related("actor_user")


@admin.register(MarketplaceJob)
class MarketplaceJobAdmin(TenantSchemaAdmin):
    change_form_template = "admin/operator_change_form.html"
    list_display = (
        "id",
        "marketplace",
        "action",
        "product_sku",
        "batch_link",
        "status",
        "priority",
        "attempts_of",
        "requested",
        "status_reason",
        "created_at",
    )
    list_filter = ("status", "marketplace", "priority", "pause_requested", "cancel_requested")
    list_select_related = ("action_type", "product", "batch")
    list_per_page = 50
    # Documents the search and shows the box; get_search_results does the matching.
    search_fields = ("=id", "=product__sku", "=product__listings__external_id")
    search_help_text = "A job id, a product SKU or an external listing id (exact match)."
    actions = ("retry_jobs", "cancel_jobs", "pause_jobs", "resume_jobs")
    inlines = (MarketplaceTaskInline, JobEventInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "marketplace",
                    "action_type",
                    "product",
                    "batch",
                    "status",
                    "status_reason",
                    "priority",
                )
            },
        ),
        (
            "Execution",
            {
                "fields": (
                    "attempts",
                    "max_retries",
                    "next_attempt_at",
                    "expires_at",
                    "pause_requested",
                    "cancel_requested",
                    "heartbeat_at",
                    "started_at",
                    "finished_at",
                )
            },
        ),
        ("Outcome", {"fields": ("error_code", "error_message", "result_data")}),
        (
            "Request",
            {"fields": ("input_data", "idempotency_key", "created_by", "created_at", "updated_at")},
        ),
    )

    @admin.display(description="action", ordering="action_type__code")
    def action(self, job: MarketplaceJob) -> str:
        return job.action_type.code

    @admin.display(description="SKU")
    def product_sku(self, job: MarketplaceJob) -> str:
        return job.product.sku if job.product else "-"

    @admin.display(description="batch")
    def batch_link(self, job: MarketplaceJob) -> str:
        if job.batch is None:
            return "-"
        url = reverse("admin:batches_batchjob_change", args=(job.batch_id,))
        return format_html('<a href="{}">{}</a>', url, job.batch.batch_id)

    @admin.display(description="attempts")
    def attempts_of(self, job: MarketplaceJob) -> str:
        return f"{job.attempts}/{job.max_retries}"

    @admin.display(description="requested")
    def requested(self, job: MarketplaceJob) -> str:
        flags = [name for name in ("pause", "cancel") if getattr(job, f"{name}_requested")]
        return ", ".join(flags) or "-"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[MarketplaceJob], search_term: str
    ) -> tuple[QuerySet[MarketplaceJob], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(job_search_filter(term)), False

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: MarketplaceJob | None = None,
    ) -> HttpResponse:
        if obj is not None and self.has_operate_permission(request):
            context["operator_actions"] = [
                {"name": f"{name}_jobs", "label": name.capitalize()}
                for name in obj.allowed_actions()
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Retry selected failed or expired jobs", permissions=("operate",))
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[MarketplaceJob]) -> Any:
        return self._operate(request, queryset, "retry")

    @admin.action(description="Cancel selected jobs", permissions=("operate",))
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[MarketplaceJob]) -> Any:
        return self._operate(request, queryset, "cancel")

    @admin.action(description="Pause selected jobs", permissions=("operate",))
    def pause_jobs(self, request: HttpRequest, queryset: QuerySet[MarketplaceJob]) -> Any:
        return self._operate(request, queryset, "pause")

    @admin.action(description="Resume selected paused jobs", permissions=("operate",))
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[MarketplaceJob]) -> Any:
        return self._operate(request, queryset, "resume")

    def _operate(
        self, request: HttpRequest, queryset: QuerySet[MarketplaceJob], action: str
    ) -> HttpResponseRedirect | None:
        """Run the action's service once per job, each in its own transaction: one refusal
        (InvalidTransition, as the API's 409) becomes a message and never undoes the others."""
        rows = list(
            queryset.order_by("pk").values_list("pk", "batch_id")[: MAX_JOBS_PER_ACTION + 1]
        )
        if len(rows) > MAX_JOBS_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {MAX_JOBS_PER_ACTION} jobs per action; nothing was changed.",
                messages.ERROR,
            )
            return None
        moved: list[int] = []
        requested: list[int] = []
        refused: dict[str, list[int]] = defaultdict(list)
        for pk, batch_pk in rows:
            with bind(job=pk, batch=batch_pk, operator=request.user.pk):
                try:
                    job = JOB_SERVICES[action](
                        job_id=pk, actor=EventActor.OPERATOR, user=request.user
                    )
                except (InvalidTransition, NotFound) as error:
                    refused[error.message].append(pk)
                    continue
            # pause and cancel of a running job are requests, honoured at the next step boundary.
            (requested if job.status == JobStatus.RUNNING else moved).append(pk)
        logger.info(
            "admin.job_action",
            extra={
                "action": action,
                "operator": request.user.pk,
                "moved": len(moved),
                "requested": len(requested),
                "refused": sum(len(pks) for pks in refused.values()),
            },
        )
        if moved:
            self.message_user(request, f"{_DONE[action]} {_listed(moved)}.", messages.SUCCESS)
        if requested:
            self.message_user(
                request,
                f"{action.capitalize()} requested for running {_listed(requested)}; it takes "
                "effect at the next step boundary.",
                messages.SUCCESS,
            )
        for message, pks in refused.items():
            self.message_user(request, f"{message} Refused: {_listed(pks)}.", messages.ERROR)
        if request.POST.get("_from_change") and len(rows) == 1:
            return HttpResponseRedirect(
                reverse("admin:marketplace_marketplacejob_change", args=(rows[0][0],))
            )
        return None


class ProductImageInline(TenantSchemaTabularInline):
    model = ProductImage
    fields = ("position", "url")
    readonly_fields = fields


class ListingInline(TenantSchemaTabularInline):
    model = Listing
    fields = ("marketplace", "external_id", "status", "url", "updated_at")
    readonly_fields = fields


@admin.register(Product)
class ProductAdmin(TenantSchemaAdmin):
    list_display = ("sku", "title", "price", "currency", "quantity", "updated_at")
    search_fields = ("sku__exact", "listings__external_id__exact")
    search_help_text = "A SKU or an external listing id (exact match)."
    inlines = (ProductImageInline, ListingInline)


@admin.register(Listing)
class ListingAdmin(TenantSchemaAdmin):
    list_display = ("external_id", "marketplace", "product", "status", "url", "updated_at")
    list_filter = ("marketplace", "status")
    list_select_related = ("product",)
    search_fields = ("external_id__exact", "product__sku__exact")
    search_help_text = "An external listing id or a SKU (exact match)."


@admin.register(Order)
class OrderAdmin(TenantSchemaAdmin):
    list_display = ("external_id", "marketplace", "status", "total", "currency", "ordered_at")
    list_filter = ("marketplace",)
    search_fields = ("external_id__exact",)
    search_help_text = "An external order id (exact match)."


@admin.register(MarketplaceConnection)
class MarketplaceConnectionAdmin(TenantSchemaAdmin):
    """Credentials are never read into the page: the token columns are deferred and only
    whether each is set is shown."""

    list_display = (
        "marketplace",
        "status",
        "account_id",
        "has_access_token",
        "access_token_expires_at",
        "has_refresh_token",
        "refresh_token_expires_at",
        "updated_at",
    )
    fields = (
        "marketplace",
        "status",
        "status_reason",
        "account_id",
        "scopes",
        "has_access_token",
        "access_token_expires_at",
        "has_refresh_token",
        "refresh_token_expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("has_access_token", "has_refresh_token")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MarketplaceConnection]:
        return (
            super()
            .get_queryset(request)
            .defer("access_token", "refresh_token")
            .annotate(
                access_token_set=ExpressionWrapper(~Q(access_token=""), BooleanField()),
                refresh_token_set=ExpressionWrapper(~Q(refresh_token=""), BooleanField()),
            )
        )

    @admin.display(description="access token", boolean=True)
    def has_access_token(self, connection: Any) -> bool:
        return bool(connection.access_token_set)

    @admin.display(description="refresh token", boolean=True)
    def has_refresh_token(self, connection: Any) -> bool:
        return bool(connection.refresh_token_set)


# The shop's mappings are edited in their own module (issue 12).
from marketplace import admin_mappings  # noqa: E402, F401
