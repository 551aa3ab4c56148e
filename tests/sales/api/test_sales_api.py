"""/api/orders, /api/listings, /api/sales (the tracker), /api/pending-actions,
/api/oversell-alerts and /api/delist-policies over the test client, tenant-scoped."""

from decimal import Decimal

from marketplace.models import MarketplaceJob
from sales.models import SaleAction
from sales.services.fanout import delist_policy_set
from sales.services.imports import ImportedItem, listings_reconcile
from sales.services.orders import orders_record
from sales.states import DelistMode, SaleOutcome
from tenants.context import tenant_context
from tests.api_support import FORBIDDEN, NOT_FOUND, viewer  # noqa: F401 - fixture
from tests.conftest import tenant_host
from tests.factories.marketplace import ListingFactory, ProductFactory
from tests.factories.sales import line, order_input


def _sold_on_ebay(*, quantity: int = 1, on=("ebay", "etsy")):
    product = ProductFactory(quantity=quantity)
    for marketplace in on:
        ListingFactory(product=product, marketplace=marketplace)
    orders_record(
        marketplace="ebay",
        orders=[order_input(line(sku=product.sku, line_id="L1"), external_id="E-1")],
    )
    return product


def test_orders_list_their_lines_linked_to_product_and_listing(tenant, api_client):
    product = _sold_on_ebay()
    body = api_client.get("/api/orders/").json()
    [order] = body["results"]
    assert (order["marketplace"], order["external_id"], order["status"]) == ("ebay", "E-1", "paid")
    [row] = order["lines"]
    listing = product.listings.get(marketplace="ebay")
    assert (row["line_id"], row["sku"], row["quantity"]) == ("L1", product.sku, 1)
    assert (row["product_id"], row["listing_id"]) == (product.pk, listing.pk)
    assert row["stock_taken_at"] is not None


def test_listings_filter_by_product_and_marketplace(tenant, api_client):
    product = _sold_on_ebay()
    ProductFactory()  # another product, unlisted
    body = api_client.get(f"/api/listings/?product_id={product.pk}&marketplace=etsy").json()
    [row] = body["results"]
    assert (row["product_id"], row["marketplace"], row["status"]) == (
        product.pk,
        "etsy",
        "active",
    )


def test_the_sale_tracker_shows_each_marketplace_outcome(tenant, api_client):
    product = _sold_on_ebay(on=("ebay", "etsy"))
    [sale] = api_client.get("/api/sales/").json()["results"]
    assert (sale["product_id"], sale["marketplace"], sale["quantity_after"]) == (
        product.pk,
        "ebay",
        0,
    )
    assert sale["order_external_id"] == "E-1"
    outcomes = {a["marketplace"]: (a["kind"], a["outcome"]) for a in sale["actions"]}
    assert outcomes == {"etsy": ("delist", "queued"), "vinted": ("none", "not_listed")}
    etsy = next(a for a in sale["actions"] if a["marketplace"] == "etsy")
    assert etsy["job_id"] == MarketplaceJob.objects.get(marketplace="etsy").pk


def test_a_held_delist_is_confirmed_through_the_api(tenant, api_client):
    # given
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    _sold_on_ebay()
    [pending] = api_client.get("/api/pending-actions/").json()["results"]
    assert (pending["marketplace"], pending["outcome"]) == ("etsy", "held")
    # when
    response = api_client.post(f"/api/pending-actions/{pending['id']}/confirm/")
    # then
    assert response.status_code == 200
    job = MarketplaceJob.objects.get()
    assert (response.json()["outcome"], response.json()["job_id"]) == ("queued", job.pk)
    assert api_client.get("/api/pending-actions/").json()["results"] == []
    again = api_client.post(f"/api/pending-actions/{pending['id']}/reject/")
    assert again.status_code == 409  # decided already: no longer pending
    assert again.json()["error"]["details"] == {"outcome": "queued"}


def test_a_held_delist_is_rejected_through_the_api(tenant, api_client):
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    _sold_on_ebay()
    held = SaleAction.objects.get(outcome=SaleOutcome.HELD)
    response = api_client.post(f"/api/pending-actions/{held.pk}/reject/")
    assert response.status_code == 200
    assert response.json()["outcome"] == "rejected"
    assert not MarketplaceJob.objects.exists()


def test_a_viewer_cannot_confirm(tenant, viewer):  # noqa: F811 - fixture
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    _sold_on_ebay()
    held = SaleAction.objects.get(outcome=SaleOutcome.HELD)
    response = viewer.post(f"/api/pending-actions/{held.pk}/confirm/")
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    held.refresh_from_db()
    assert held.outcome == SaleOutcome.HELD


def test_another_tenants_pending_action_is_not_found(tenant, other_tenant, make_client, member):
    delist_policy_set(marketplace="etsy", mode=DelistMode.CONFIRM)
    _sold_on_ebay()
    held = SaleAction.objects.get(outcome=SaleOutcome.HELD)
    intruder = make_client(host=tenant_host(other_tenant), user=member)
    response = intruder.post(f"/api/pending-actions/{held.pk}/confirm/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    with tenant_context(tenant.schema_name):
        held.refresh_from_db()
        assert held.outcome == SaleOutcome.HELD


def test_delist_policies_list_every_marketplace_and_change_one(tenant, api_client):
    assert api_client.get("/api/delist-policies/").json() == [
        {"marketplace": "vinted", "mode": "automatic"},
        {"marketplace": "ebay", "mode": "automatic"},
        {"marketplace": "etsy", "mode": "automatic"},
    ]
    response = api_client.put("/api/delist-policies/etsy/", {"mode": "confirm"})
    assert response.json() == {"marketplace": "etsy", "mode": "confirm"}
    modes = {p["marketplace"]: p["mode"] for p in api_client.get("/api/delist-policies/").json()}
    assert modes["etsy"] == "confirm"


def test_a_delist_policy_refuses_an_unknown_mode(tenant, api_client):
    response = api_client.put("/api/delist-policies/etsy/", {"mode": "sometimes"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"
    assert "mode" in response.json()["error"]["details"]


def test_oversell_alerts_name_both_orders_and_resolve(tenant, api_client):
    # given
    product = _sold_on_ebay(on=("ebay", "etsy"))
    orders_record(
        marketplace="etsy",
        orders=[order_input(line(sku=product.sku, line_id="T1"), external_id="ETSY-9")],
    )
    # when
    [alert] = api_client.get("/api/oversell-alerts/").json()["results"]
    resolved = api_client.post(f"/api/oversell-alerts/{alert['id']}/resolve/").json()
    # then
    assert alert["product_id"] == product.pk
    assert (alert["line"]["marketplace"], alert["line"]["order_external_id"]) == ("etsy", "ETSY-9")
    assert (alert["earlier_line"]["marketplace"], alert["earlier_line"]["order_external_id"]) == (
        "ebay",
        "E-1",
    )
    assert resolved["resolved_at"] is not None


def test_unknown_pending_action_is_an_error_shape(tenant, api_client):
    response = api_client.post("/api/pending-actions/999999/confirm/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "This pending action does not exist.",
            "details": {},
        }
    }


def test_link_reviews_are_listed_and_split_through_the_api(tenant, api_client):
    # given: an imported Vinted item matched to a product by title and price only
    product = ProductFactory(title="Wool coat", price="80.00")
    listings_reconcile(
        marketplace="vinted",
        items=[ImportedItem(external_id="V7", title="Wool coat", price=Decimal("80.00"))],
        import_unknown=True,
    )
    [review] = api_client.get("/api/link-reviews/").json()["results"]
    assert (review["product_id"], review["marketplace"], review["status"]) == (
        product.pk,
        "vinted",
        "pending",
    )
    # when
    split = api_client.post(f"/api/link-reviews/{review['id']}/split/").json()
    # then
    assert split["status"] == "split"
    assert split["product_id"] != product.pk
    assert api_client.get("/api/link-reviews/").json()["results"] == []
    again = api_client.post(f"/api/link-reviews/{review['id']}/confirm/")
    assert again.status_code == 409
