"""Operator pages of the sales domain, on each tenant's host: the sale tracker with its per
marketplace outcomes, held actions (confirm / reject through the services), oversell alerts,
order lines and the delist policy. Read-only like every tenant page: changes go through services.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import TenantSchemaAdmin, TenantSchemaTabularInline
from core.errors import InvalidTransition, NotFound
from sales.models import DelistPolicy, OrderLine, OversellAlert, Sale, SaleAction
from sales.services.fanout import sale_action_confirm, sale_action_outcome, sale_action_reject
from sales.states import SaleOutcome

MAX_ACTIONS_PER_RUN = 200


class SaleActionInline(TenantSchemaTabularInline):
    model = SaleAction
    fields = ("marketplace", "kind", "tracked_outcome", "tracked_reason", "job", "updated_at")
    readonly_fields = fields

    @admin.display(description="outcome")
    def tracked_outcome(self, action: SaleAction) -> str:
        return sale_action_outcome(action)[0]

    @admin.display(description="reason")
    def tracked_reason(self, action: SaleAction) -> str:
        return sale_action_outcome(action)[1]


@admin.register(Sale)
class SaleAdmin(TenantSchemaAdmin):
    """The sale tracker: one row per sale, its outcomes on the other marketplaces inline."""

    list_display = ("pk", "product", "marketplace", "quantity", "quantity_after", "detected_at")
    list_filter = ("marketplace",)
    search_fields = ("product__sku__exact", "line__order__external_id__exact")
    search_help_text = "A product SKU or an external order id (exact match)."
    list_select_related = ("product",)
    inlines = (SaleActionInline,)


@admin.register(SaleAction)
class SaleActionAdmin(TenantSchemaAdmin):
    """Held actions are the pending ones: confirm or reject them here or through the API."""

    list_display = ("pk", "sale", "marketplace", "kind", "outcome", "expires_at", "job")
    list_filter = ("outcome", "marketplace", "kind")
    actions = ("confirm_actions", "reject_actions")

    @admin.action(description="Confirm selected held actions", permissions=("operate",))
    def confirm_actions(self, request: HttpRequest, queryset: QuerySet[SaleAction]) -> None:
        self._decide(request, queryset, sale_action_confirm, "Confirmed")

    @admin.action(description="Reject selected held actions", permissions=("operate",))
    def reject_actions(self, request: HttpRequest, queryset: QuerySet[SaleAction]) -> None:
        self._decide(request, queryset, sale_action_reject, "Rejected")

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[SaleAction], service: Any, done: str
    ) -> None:
        ids = list(
            queryset.filter(outcome=SaleOutcome.HELD)
            .order_by("pk")
            .values_list("pk", flat=True)[:MAX_ACTIONS_PER_RUN]
        )
        decided, refused = [], []
        for pk in ids:
            try:
                service(action_id=pk, user=request.user)
                decided.append(pk)
            except (InvalidTransition, NotFound):
                refused.append(pk)
        if decided:
            self.message_user(request, f"{done}: {', '.join(map(str, decided))}.")
        if refused or not ids:
            self.message_user(
                request,
                f"Not held any more: {', '.join(map(str, refused))}."
                if refused
                else "None of the selected actions is held for confirmation.",
                messages.WARNING,
            )


@admin.register(OversellAlert)
class OversellAlertAdmin(TenantSchemaAdmin):
    list_display = ("pk", "product", "line", "earlier_line", "created_at", "resolved_at")
    list_filter = ("resolved_at",)
    list_select_related = ("product", "line__order", "earlier_line__order")


@admin.register(OrderLine)
class OrderLineAdmin(TenantSchemaAdmin):
    list_display = (
        "order",
        "line_id",
        "sku",
        "quantity",
        "product",
        "listing",
        "stock_taken_at",
        "stock_restored_at",
    )
    search_fields = ("sku__exact", "order__external_id__exact")
    search_help_text = "A SKU or an external order id (exact match)."
    list_select_related = ("order", "product", "listing")


@admin.register(DelistPolicy)
class DelistPolicyAdmin(TenantSchemaAdmin):
    list_display = ("marketplace", "mode", "updated_at")
