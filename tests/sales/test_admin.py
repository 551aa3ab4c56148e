"""The sales pages of a tenant's admin: the tracker renders outcomes, held actions are
confirmed through the service."""

import pytest

from marketplace.models import MarketplaceJob
from sales.models import SaleAction
from sales.services.fanout import delist_policy_set
from sales.services.orders import orders_record
from sales.states import DelistMode, SaleOutcome
from tests.conftest import tenant_host
from tests.factories.marketplace import ListingFactory, ProductFactory
from tests.factories.sales import line, order_input
from tests.operators import host_client, messages_of, platform_operator


@pytest.fixture
def client(tenant):
    return host_client(host=tenant_host(tenant), user=platform_operator())


def _held_sale():
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    product = ProductFactory()
    ListingFactory(product=product, marketplace="ebay")
    ListingFactory(product=product, marketplace="etsy")
    orders_record(marketplace="ebay", orders=[order_input(line(sku=product.sku))])
    return SaleAction.objects.get(marketplace="etsy")


def test_the_tracker_page_shows_each_outcome(tenant, client):
    held = _held_sale()
    page = client.get(f"/admin/sales/sale/{held.sale_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "held" in html
    assert "not_listed" in html


def test_an_operator_confirms_a_held_action(tenant, client):
    # given
    held = _held_sale()
    # when
    response = client.post(
        "/admin/sales/saleaction/",
        {"action": "confirm_actions", "_selected_action": [held.pk]},
        follow=True,
    )
    # then
    held.refresh_from_db()
    job = MarketplaceJob.objects.get()
    assert (held.outcome, held.job_id) == (SaleOutcome.QUEUED, job.pk)
    assert messages_of(response) == [("info", f"Confirmed: {held.pk}.")]
