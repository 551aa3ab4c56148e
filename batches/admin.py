"""Operator admin of a tenant's batches, on the tenant's host (see marketplace/admin.py for the
design): read-only pages with a progress bar, and two actions that call the services: recount
(repair the counters from the jobs) and cancel (the batch's jobs get operator events)."""

import logging
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from batches.models import BatchJob
from batches.services import batch_cancel, batch_recount
from batches.states import TERMINAL_BATCH_STATUSES
from core.admin import TenantSchemaAdmin
from core.errors import InvalidTransition, NotFound
from core.logging import bind
from core.users import acting_user
from marketplace.states import EventActor

logger = logging.getLogger(__name__)

# A cancel moves every job of the batch (up to 50,000) in one transaction; keep a click bounded.
MAX_BATCHES_PER_ACTION = 20


@admin.register(BatchJob)
class BatchJobAdmin(TenantSchemaAdmin):
    change_form_template = "admin/operator_change_form.html"
    list_display = (
        "batch_id",
        "action",
        "marketplace_list",
        "status",
        "progress",
        "counters",
        "created_at",
        "jobs",
    )
    list_filter = ("status", "priority")
    search_fields = ("batch_id__exact",)
    search_help_text = "A batch id (exact match)."
    list_per_page = 50
    actions = ("recount_batches", "cancel_batches")
    readonly_fields = ("progress", "counters", "jobs")
    fieldsets = (
        (
            None,
            {"fields": ("batch_id", "action", "marketplaces", "priority", "status", "jobs")},
        ),
        (
            "Progress",
            {
                "fields": (
                    "progress",
                    "counters",
                    "total_count",
                    "completed_count",
                    "failed_count",
                    "cancelled_count",
                    "expired_count",
                )
            },
        ),
        (
            "Timeline",
            {
                "fields": (
                    "created_by",
                    "created_at",
                    "enqueued_at",
                    "started_at",
                    "finished_at",
                    "updated_at",
                )
            },
        ),
    )

    @admin.display(description="marketplaces")
    def marketplace_list(self, batch: BatchJob) -> str:
        return ", ".join(batch.marketplaces)

    @admin.display(description="progress")
    def progress(self, batch: BatchJob) -> str:
        label = f"{batch.progress_percent:g}%"
        return format_html(
            '<progress value="{}" max="100" title="{}">{}</progress> {}',
            batch.progress_percent,
            label,
            label,
            label,
        )

    @admin.display(description="processed")
    def counters(self, batch: BatchJob) -> str:
        return (
            f"{batch.processed_count}/{batch.total_count}: {batch.completed_count} completed, "
            f"{batch.failed_count} failed, {batch.cancelled_count} cancelled, "
            f"{batch.expired_count} expired"
        )

    @admin.display(description="jobs")
    def jobs(self, batch: BatchJob) -> str:
        url = reverse("admin:marketplace_marketplacejob_changelist")
        return format_html('<a href="{}?batch__id__exact={}">jobs</a>', url, batch.pk)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: BatchJob | None = None,
    ) -> HttpResponse:
        if obj is not None and self.has_operate_permission(request):
            context["operator_actions"] = [{"name": "recount_batches", "label": "Recount"}]
            if obj.status not in TERMINAL_BATCH_STATUSES:
                context["operator_actions"].append({"name": "cancel_batches", "label": "Cancel"})
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Recount selected batches from their jobs", permissions=("operate",))
    def recount_batches(self, request: HttpRequest, queryset: Any) -> HttpResponseRedirect | None:
        if (batches := self._selected(request, queryset)) is None:
            return None
        for pk, batch_id in batches:
            with bind(batch=pk, operator=request.user.pk):
                batch = batch_recount(batch_pk=pk)
                logger.info("admin.batch_recounted", extra={"status": batch.status})
            self.message_user(
                request,
                f"Recounted {batch_id}: {batch.processed_count} of {batch.total_count} "
                f"processed, {batch.status}.",
                messages.SUCCESS,
            )
        return self._back(request, batches)

    @admin.action(description="Cancel selected batches", permissions=("operate",))
    def cancel_batches(self, request: HttpRequest, queryset: Any) -> HttpResponseRedirect | None:
        if (batches := self._selected(request, queryset)) is None:
            return None
        for pk, batch_id in batches:
            with bind(batch=pk, operator=request.user.pk):
                try:
                    batch = batch_cancel(
                        batch_pk=pk, actor=EventActor.OPERATOR, user=acting_user(request)
                    )
                except (InvalidTransition, NotFound) as error:
                    self.message_user(request, f"{batch_id}: {error.message}", messages.ERROR)
                    continue
                logger.info("admin.batch_cancelled", extra={"cancelled": batch.cancelled_count})
            self.message_user(
                request,
                f"Cancelled {batch_id}: {batch.cancelled_count} of {batch.total_count} jobs "
                "cancelled; running jobs stop at their next step boundary.",
                messages.SUCCESS,
            )
        return self._back(request, batches)

    def _selected(self, request: HttpRequest, queryset: Any) -> list[tuple[int, str]] | None:
        batches = list(
            queryset.order_by("pk").values_list("pk", "batch_id")[: MAX_BATCHES_PER_ACTION + 1]
        )
        if len(batches) > MAX_BATCHES_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {MAX_BATCHES_PER_ACTION} batches per action; nothing was changed.",
                messages.ERROR,
            )
            return None
        return batches

    def _back(
        self, request: HttpRequest, batches: list[tuple[int, str]]
    ) -> HttpResponseRedirect | None:
        if request.POST.get("_from_change") and len(batches) == 1:
            return HttpResponseRedirect(
                reverse("admin:batches_batchjob_change", args=(batches[0][0],))
            )
        return None
