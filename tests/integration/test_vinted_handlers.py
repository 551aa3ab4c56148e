"""Vinted update, delete, sync_listings and sync_orders through the extension: a real ASGI server,
a real worker, the extension simulator over a real socket playing a Vinted account. Each test
reads the simulated account back and the tenant's Listing/Order rows, and asserts the exact
effect."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketplace.handlers.vinted import payloads
from marketplace.models import Listing, Order
from marketplace.rendering.mappings import Mappings
from marketplace.states import JobStatus, ListingStatus, TaskStatus
from sandbox.vinted_extension import Fault, VintedAccount
from tests.factories.marketplace import ListingFactory, ProductFactory, make_job
from tests.integration.conftest import simulator_for, wait_terminal

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("celery_worker", "vinted_clean"),
]


@pytest.fixture
def sim(asgi_server, extension_token, live_tenant):
    """A connected extension playing a fresh Vinted account."""
    with simulator_for(asgi_server, extension_token, live_tenant, account=VintedAccount()) as s:
        yield s


def _run(**kwargs):
    return wait_terminal(make_job(marketplace="vinted", **kwargs).pk)


def _on_vinted(sim, product, **fields) -> Listing:
    """A product already listed on Vinted (its item carries the marker) and its record."""
    item = sim.account.seed_item(
        title=product.title, description=payloads.description(product), **fields
    )
    return ListingFactory(product=product, marketplace="vinted", external_id=str(item["id"]))


def _commands(sim) -> list[tuple[str, str]]:
    """(method, path) of every command the extension received, in order."""
    received: list[tuple[str, str]] = []
    handle = sim.commands.handle

    async def recording(ws, command):
        received.append((command["method"], command["path"]))
        await handle(ws, command)

    sim.commands.handle = recording
    return received


# --- update ---------------------------------------------------------------------------------


def test_update_puts_the_products_fields_on_its_item(sim):
    # given a listed product whose title and price then change
    product = ProductFactory()
    listing = _on_vinted(sim, product, price="25.00")
    item_id = int(listing.external_id)
    photos_before = sim.account.get_item(item_id)["photos"]
    product.title, product.price = "Indigo denim jacket", Decimal("31.50")
    product.save(update_fields=["title", "price"])
    received = _commands(sim)
    # when
    job = _run(action="update", product_id=product.pk)
    # then one PUT went to the item, which now holds the new fields and keeps its photos
    assert job.status == JobStatus.COMPLETED
    assert list(job.tasks.values_list("name", "status")) == [("update_item", TaskStatus.SUCCESS)]
    assert job.result_data == {"item_id": item_id}
    assert received == [("PUT", f"/api/v2/item_upload/items/{item_id}")]
    item = sim.account.get_item(item_id)
    assert (item["title"], item["price"]) == (
        "Indigo denim jacket",
        {"amount": "31.50", "currency_code": "EUR"},
    )
    assert item["description"] == payloads.description(product)
    assert item["status_id"] == payloads.status_id(product, Mappings.load())
    assert item["photos"] == photos_before
    assert sim.items_created == []
    listing.refresh_from_db()
    assert (listing.status, listing.external_id) == (ListingStatus.ACTIVE, str(item_id))


def test_update_of_a_product_never_published_fails_before_any_command(sim):
    # given a product without a Vinted item
    product = ProductFactory()
    received = _commands(sim)
    # when
    job = _run(action="update", product_id=product.pk)
    # then
    assert job.status == JobStatus.FAILED
    assert job.error_message == "This product has no Vinted item: publish it first."
    assert received == []
    assert sim.wardrobe == {}


def test_update_of_an_item_deleted_on_vinted_fails_with_vinteds_404(sim):
    # given a listing record whose item was deleted on Vinted by hand
    product = ProductFactory()
    listing = _on_vinted(sim, product)
    sim.account.delete_item(int(listing.external_id))
    # when
    job = _run(action="update", product_id=product.pk)
    # then the 404 is permanent: failed at once, nothing recreated
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1
    assert job.error_message == (
        f"vinted PUT /api/v2/item_upload/items/{listing.external_id} → 404: item not found"
        " (Vinted code 404)"
    )
    assert sim.wardrobe == {}


# --- delete ---------------------------------------------------------------------------------


def test_delete_removes_the_item_and_marks_the_listing_deleted(sim):
    # given two listed products
    product, other = ProductFactory(), ProductFactory()
    listing = _on_vinted(sim, product)
    kept = _on_vinted(sim, other)
    received = _commands(sim)
    # when
    job = _run(action="delete", product_id=product.pk)
    # then only this product's item is gone, by one call
    item_id = int(listing.external_id)
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {"item_id": item_id, "deleted": True}
    assert received == [("POST", f"/api/v2/items/{item_id}/delete")]
    assert list(sim.account.deleted_items) == [item_id]
    assert list(sim.wardrobe) == [int(kept.external_id)]
    assert Listing.objects.get(pk=listing.pk).status == ListingStatus.DELETED
    assert Listing.objects.get(pk=kept.pk).status == ListingStatus.ACTIVE


def test_delete_of_an_item_already_gone_counts_the_404_as_done(sim):
    # given an item deleted on Vinted by hand (or by an earlier attempt whose answer was lost)
    product = ProductFactory()
    listing = _on_vinted(sim, product)
    sim.account.delete_item(int(listing.external_id))
    # when
    job = _run(action="delete", product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 1
    assert job.result_data == {"item_id": int(listing.external_id), "already_gone": True}
    assert Listing.objects.get(pk=listing.pk).status == ListingStatus.DELETED


def test_delete_whose_answer_was_lost_completes_on_the_retry_without_a_second_delete(sim):
    # given: the extension deletes the item, then loses the socket before answering
    product = ProductFactory()
    listing = _on_vinted(sim, product)
    item_id = int(listing.external_id)
    sim.faults.add(Fault.drop_after_commit(), method="POST", path=r"/delete$")
    # when
    job = _run(action="delete", product_id=product.pk)
    # then the retry met Vinted's 404 and counted it as done; the item was deleted once
    assert job.status == JobStatus.COMPLETED
    assert (job.attempts, sim.drops) == (2, 1)
    assert job.result_data == {"item_id": item_id, "already_gone": True}
    assert list(sim.account.deleted_items) == [item_id]
    assert Listing.objects.get(pk=listing.pk).status == ListingStatus.DELETED


def test_update_answered_503_is_retried_and_applied(sim):
    # given a listed product whose price changed, and Vinted answering the first PUT with 503
    product = ProductFactory()
    listing = _on_vinted(sim, product, price="25.00")
    product.price = Decimal("19.00")
    product.save(update_fields=["price"])
    sim.faults.add(Fault.error_status(503), method="PUT", path=r"item_upload/items/\d+$")
    # when
    job = _run(action="update", product_id=product.pk)
    # then
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)
    item = sim.account.get_item(int(listing.external_id))
    assert item["price"] == {"amount": "19.00", "currency_code": "EUR"}
    assert job.tasks.get(name="update_item").attempts == 2


# --- sync_listings --------------------------------------------------------------------------


def test_sync_listings_reads_every_wardrobe_page_and_links_products_by_marker(sim):
    # given 98 items (two pages of 96): two carry this tenant's markers, 96 were listed by hand
    mine = [ProductFactory() for _ in range(2)]
    ids = {
        p.sku: str(sim.account.seed_item(title=p.title, description=payloads.description(p))["id"])
        for p in mine
    }
    for n in range(96):
        sim.account.seed_item(title=f"Listed by hand {n}", description="No marker here.")
    received = _commands(sim)
    # when
    job = _run(action="sync_listings")
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {
        "items": 98,
        "linked_products": 2,
        "imported": 0,
        "to_review": 0,
        "ended": 0,
    }
    assert [path for _, path in received] == [
        "/api/v2/users/current",
        f"/api/v2/wardrobe/{sim.account.user_id}/items",
        f"/api/v2/wardrobe/{sim.account.user_id}/items",
    ]
    linked = Listing.objects.filter(marketplace="vinted")
    assert sorted(linked.values_list("product__sku", "external_id", "status")) == sorted(
        (sku, item_id, ListingStatus.ACTIVE) for sku, item_id in ids.items()
    )


def test_sync_listings_relinks_a_deleted_record_to_the_item_found(sim):
    # given a record marked deleted while the item is still on Vinted
    product = ProductFactory()
    listing = _on_vinted(sim, product)
    Listing.objects.filter(pk=listing.pk).update(status=ListingStatus.DELETED, external_id="")
    # when
    job = _run(action="sync_listings")
    # then the record is active again with the item's id
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {
        "items": 1,
        "linked_products": 1,
        "imported": 0,
        "to_review": 0,
        "ended": 0,
    }
    item_id = listing.external_id
    listing.refresh_from_db()
    assert (listing.status, listing.external_id) == (ListingStatus.ACTIVE, item_id)
    assert list(sim.wardrobe) == [int(item_id)]


# --- sync_orders ----------------------------------------------------------------------------


def test_sync_orders_stores_every_sold_order_of_every_page(sim):
    # given 100 sales (two pages of 96) and one purchase, which is not a sale
    date = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    sold = [
        sim.account.seed_order(
            title=f"Jacket {n}",
            price=f"{10 + n}.50",
            buyer_login=f"buyer{n}",
            date=date + timedelta(minutes=n),
        )
        for n in range(100)
    ]
    sim.account.seed_order(title="Boots", order_type="purchased")
    received = _commands(sim)
    # when
    job = _run(action="sync_orders")
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data["orders"] == 100
    assert received == [("GET", "/api/v2/my_orders"), ("GET", "/api/v2/my_orders")]
    stored = {o.external_id: o for o in Order.objects.filter(marketplace="vinted")}
    assert sorted(stored) == sorted(str(o["transaction_id"]) for o in sold)
    first = stored[str(sold[0]["transaction_id"])]
    assert (first.status, first.total, first.currency, first.buyer) == (
        "completed",
        Decimal("10.50"),
        "EUR",
        "buyer0",
    )
    assert first.ordered_at == date
    assert first.data == sold[0]


def test_sync_orders_twice_keeps_the_known_rows_and_adds_the_new_sales(sim):
    # given a first sync of two sales, then one more sale on Vinted
    first = [sim.account.seed_order(title=f"Jacket {n}") for n in range(2)]
    assert _run(action="sync_orders").status == JobStatus.COMPLETED
    rows = dict(Order.objects.values_list("external_id", "pk"))
    new = sim.account.seed_order(title="Boots", price="40.00")
    # when
    job = _run(action="sync_orders")
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data["orders"] == 3
    stored = dict(Order.objects.filter(marketplace="vinted").values_list("external_id", "pk"))
    assert sorted(stored) == sorted(str(o["transaction_id"]) for o in [*first, new])
    assert {key: stored[key] for key in rows} == rows
    assert Order.objects.get(external_id=str(new["transaction_id"])).total == Decimal("40.00")
