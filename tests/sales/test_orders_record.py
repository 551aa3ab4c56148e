"""Orders with lines, stock and auto-delist: `orders_record`, as the sync handlers call it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidTransition
from marketplace.models import MarketplaceJob, Order
from marketplace.states import ListingStatus
from sales.models import OrderLine, OversellAlert, Sale, SaleAction
from sales.services.fanout import (
    delist_policy_set,
    sale_action_confirm,
    sale_action_outcome,
    sale_action_reject,
    sale_actions_expire,
)
from sales.services.orders import orders_record
from sales.states import DelistMode, SaleOutcome
from tests.factories.marketplace import ListingFactory, ProductFactory
from tests.factories.sales import line, order_input


def _listed(*, quantity: int = 1, on=("ebay", "etsy", "vinted")):
    product = ProductFactory(quantity=quantity)
    for marketplace in on:
        ListingFactory(product=product, marketplace=marketplace)
    return product


def _actions(sale: Sale) -> dict[str, tuple[str, str]]:
    return {a.marketplace: (a.kind, a.outcome) for a in sale.actions.all()}


def test_a_sale_on_ebay_delists_the_other_two(tenant):
    # given
    product = _listed()
    # when
    result = orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    # then
    product.refresh_from_db()
    assert product.quantity == 0
    assert (result.orders, result.new_lines, result.sales, result.oversells) == (1, 1, 1, 0)
    sale = Sale.objects.get()
    assert (sale.marketplace, sale.quantity, sale.quantity_after) == ("ebay", 1, 0)
    assert _actions(sale) == {
        "etsy": ("delist", SaleOutcome.QUEUED),
        "vinted": ("delist", SaleOutcome.QUEUED),
    }
    jobs = MarketplaceJob.objects.order_by("marketplace")
    assert [(j.marketplace, j.action_type.code, j.priority, j.product_id) for j in jobs] == [
        ("etsy", "delete", 1, product.pk),
        ("vinted", "delete", 1, product.pk),
    ]
    selling = product.listings.get(marketplace="ebay")
    assert selling.status == ListingStatus.ENDED


@pytest.mark.parametrize("marketplace", ["ebay", "etsy", "vinted"])
def test_a_sale_on_each_marketplace_delists_the_others(tenant, marketplace):
    product = _listed()
    orders_record(marketplace=marketplace, orders=[order_input(line(sku=product.sku))])
    queued = set(MarketplaceJob.objects.values_list("marketplace", flat=True))
    assert queued == {"ebay", "etsy", "vinted"} - {marketplace}


def test_re_syncing_an_order_changes_nothing(tenant):
    # given
    product = _listed(quantity=3)
    order = order_input(line(sku=product.sku, quantity=1))
    orders_record(marketplace="ebay", orders=[order])
    # when
    again = orders_record(marketplace="ebay", orders=[order])
    # then
    product.refresh_from_db()
    assert product.quantity == 2
    assert (again.new_lines, again.sales) == (0, 0)
    assert OrderLine.objects.count() == 1
    assert Sale.objects.count() == 1
    assert MarketplaceJob.objects.count() == 2


def test_quantity_left_updates_the_quantity_elsewhere(tenant):
    product = _listed(quantity=3)
    orders_record(marketplace="etsy", orders=[order_input(line(sku=product.sku, quantity=2))])
    product.refresh_from_db()
    assert product.quantity == 1
    sale = Sale.objects.get()
    assert _actions(sale) == {
        "ebay": ("update_quantity", SaleOutcome.QUEUED),
        "vinted": ("update_quantity", SaleOutcome.QUEUED),
    }
    assert set(MarketplaceJob.objects.values_list("action_type__code", flat=True)) == {"update"}
    assert product.listings.get(marketplace="etsy").status == ListingStatus.ACTIVE


def test_a_refund_restores_stock_once(tenant):
    # given
    product = _listed(quantity=2)
    order = order_input(line(sku=product.sku), external_id="R-1")
    orders_record(marketplace="ebay", orders=[order])
    refunded = order_input(line(sku=product.sku), external_id="R-1", status="refunded")
    # when
    first = orders_record(marketplace="ebay", orders=[refunded])
    second = orders_record(marketplace="ebay", orders=[refunded])
    # then
    product.refresh_from_db()
    assert product.quantity == 2
    assert (first.restocked, second.restocked) == (1, 0)
    assert Order.objects.get(external_id="R-1").status == "refunded"


def test_an_order_first_seen_cancelled_takes_no_stock(tenant):
    product = _listed(quantity=1)
    orders_record(
        marketplace="ebay", orders=[order_input(line(sku=product.sku), status="cancelled")]
    )
    product.refresh_from_db()
    assert product.quantity == 1
    assert not Sale.objects.exists()
    assert not MarketplaceJob.objects.exists()


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("sku", id="by-sku"),
        pytest.param("listing", id="by-external-listing-id"),
        pytest.param("marker", id="by-ref-marker-in-title"),
    ],
)
def test_lines_link_to_product_and_listing(tenant, how):
    # given
    product = _listed(on=("etsy",))
    listing = product.listings.get()
    given = {
        "sku": line(sku=product.sku),
        "listing": line(external_listing_id=listing.external_id),
        "marker": line(title=f"Jacket {product.marker}"),
    }[how]
    # when
    orders_record(marketplace="etsy", orders=[order_input(given)])
    # then
    recorded = OrderLine.objects.get()
    assert (recorded.product_id, recorded.listing_id) == (product.pk, listing.pk)


def test_a_line_of_an_unknown_product_is_kept_unlinked(tenant):
    result = orders_record(marketplace="ebay", orders=[order_input(line(sku="NOT-OURS"))])
    assert (result.new_lines, result.sales) == (1, 0)
    assert OrderLine.objects.get().product_id is None


def test_not_listed_and_already_gone_marketplaces_get_no_job(tenant):
    # given: listed on eBay; Etsy's listing deleted; never on Vinted
    product = _listed(on=("ebay", "etsy"))
    product.listings.filter(marketplace="etsy").update(status=ListingStatus.DELETED)
    # when
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    # then
    assert _actions(Sale.objects.get()) == {
        "etsy": ("none", SaleOutcome.ALREADY_GONE),
        "vinted": ("none", SaleOutcome.NOT_LISTED),
    }
    assert not MarketplaceJob.objects.exists()


def test_policy_off_records_not_enabled(tenant):
    delist_policy_set(marketplace="etsy", mode=DelistMode.OFF)
    product = _listed(on=("ebay", "etsy"))
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    action = SaleAction.objects.get(marketplace="etsy")
    assert action.outcome == SaleOutcome.NOT_ENABLED
    assert not MarketplaceJob.objects.exists()


def test_confirmation_policy_holds_the_delist_until_confirmed(tenant, django_user_model):
    # given
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    product = _listed(on=("ebay", "etsy"))
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    held = SaleAction.objects.get(marketplace="etsy")
    assert held.outcome == SaleOutcome.HELD
    assert not MarketplaceJob.objects.exists()
    assert held.expires_at - timezone.now() > timedelta(days=6, hours=23)
    user = django_user_model.objects.create_user(username="seller")
    # when
    confirmed = sale_action_confirm(action_id=held.pk, user=user)
    # then
    job = MarketplaceJob.objects.get()
    assert (confirmed.outcome, confirmed.job_id, confirmed.decided_by_id) == (
        SaleOutcome.QUEUED,
        job.pk,
        user.pk,
    )
    assert (job.marketplace, job.action_type.code, job.priority) == ("etsy", "delete", 1)
    with pytest.raises(InvalidTransition):
        sale_action_reject(action_id=held.pk, user=user)


def test_a_rejected_hold_queues_nothing(tenant):
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    product = _listed(on=("ebay", "etsy"))
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    held = SaleAction.objects.get(marketplace="etsy")
    rejected = sale_action_reject(action_id=held.pk, user=None)
    assert rejected.outcome == SaleOutcome.REJECTED
    assert not MarketplaceJob.objects.exists()


def test_an_unconfirmed_hold_expires_after_seven_days(tenant):
    # given
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    product = _listed(on=("ebay", "etsy"))
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    held = SaleAction.objects.get(marketplace="etsy")
    # when
    early = sale_actions_expire(now=timezone.now() + timedelta(days=6))
    late = sale_actions_expire(now=timezone.now() + timedelta(days=7, minutes=1))
    # then
    held.refresh_from_db()
    assert (early, late, held.outcome) == (0, 1, SaleOutcome.EXPIRED)
    with pytest.raises(InvalidTransition):
        sale_action_confirm(action_id=held.pk, user=None)
    assert not MarketplaceJob.objects.exists()


def test_simultaneous_last_unit_sales_raise_one_alert_naming_both(tenant):
    # given: the last unit sells on eBay and on Etsy before any delist lands
    product = _listed(quantity=1, on=("ebay", "etsy"))
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    # when
    result = orders_record(marketplace="etsy", orders=[order_input(line(sku=product.sku))])
    # then
    assert result.oversells == 1
    alert = OversellAlert.objects.get()
    ebay_line = OrderLine.objects.get(order__marketplace="ebay")
    etsy_line = OrderLine.objects.get(order__marketplace="etsy")
    assert (alert.product_id, alert.line_id, alert.earlier_line_id) == (
        product.pk,
        etsy_line.pk,
        ebay_line.pk,
    )
    product.refresh_from_db()
    assert product.quantity == 0
    assert Sale.objects.count() == 1  # the second sale took no stock: there was none


def test_tracker_outcome_follows_the_job(tenant):
    # given
    product = _listed(on=("ebay", "etsy"))
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    action = SaleAction.objects.select_related("job").get(marketplace="etsy")
    # when: the delist job failed for good
    MarketplaceJob.objects.filter(pk=action.job_id).update(
        status="failed", error_message="Listing not found"
    )
    action.refresh_from_db()
    # then
    assert sale_action_outcome(action) == (SaleOutcome.FAILED, "Listing not found")
