"""Reads of the sales domain, always in the current tenant's schema."""

from django.db.models import Prefetch, QuerySet

from marketplace.models import Listing, Order
from marketplace.states import Marketplace
from sales.models import DelistPolicy, OrderLine, OversellAlert, Sale, SaleAction
from sales.states import DelistMode, SaleOutcome


def order_list() -> QuerySet[Order]:
    return Order.objects.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))
    )


def listing_list() -> QuerySet[Listing]:
    return Listing.objects.all()


def sale_list() -> QuerySet[Sale]:
    return Sale.objects.select_related("line__order").prefetch_related(
        Prefetch("actions", queryset=SaleAction.objects.select_related("job").order_by("pk"))
    )


def pending_action_list() -> QuerySet[SaleAction]:
    return SaleAction.objects.filter(outcome=SaleOutcome.HELD).select_related("sale")


def oversell_alert_list() -> QuerySet[OversellAlert]:
    return OversellAlert.objects.select_related("line__order", "earlier_line__order")


def delist_policies() -> dict[str, str]:
    """Every marketplace's mode; the default (automatic) where none was set."""
    chosen = dict(DelistPolicy.objects.values_list("marketplace", "mode"))
    return {mp: chosen.get(mp, DelistMode.AUTOMATIC) for mp in Marketplace.values}
