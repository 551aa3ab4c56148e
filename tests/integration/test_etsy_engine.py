"""Etsy end to end: real worker, real broker, the Etsy sandbox (Open API v3) over HTTP."""

from decimal import Decimal

import pytest

from batches.models import BatchJob
from batches.services import batch_create
from marketplace.models import Listing, MarketplaceConnection, Order
from marketplace.models.connections import ConnectionStatus
from marketplace.states import JobStatus, ListingStatus, TaskStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import wait_for, wait_terminal

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]

TOKEN_CALL = "POST /v3/public/oauth/token"
CREATE_DRAFT = r"/shops/\d+/listings$"
UPLOAD_IMAGE = r"/listings/\d+/images$"


def _product(etsy, *, images: int = 1):
    product = ProductFactory()
    for position in range(images):
        ProductImageFactory(
            product=product, url=etsy.image_url(f"{product.sku}-{position}"), position=position
        )
    return product


def _run(**kwargs):
    return wait_terminal(make_job(marketplace="etsy", **kwargs).pk)


def _published(etsy, product) -> Listing:
    assert _run(product_id=product.pk).status == JobStatus.COMPLETED
    return Listing.objects.get(product=product, marketplace="etsy")


def _steps(job) -> list[tuple]:
    return list(job.tasks.order_by("position").values_list("name", "description", "status"))


def test_publish_runs_steps_in_order_and_saves_the_listing(etsy):
    # given
    product = _product(etsy, images=3)
    # when
    job = _run(product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert _steps(job) == [
        ("create_draft", "Create the draft listing", TaskStatus.SUCCESS),
        ("set_inventory", "Set the SKU, price and quantity", TaskStatus.SUCCESS),
        ("upload_image_1", "Upload image 1/3", TaskStatus.SUCCESS),
        ("upload_image_2", "Upload image 2/3", TaskStatus.SUCCESS),
        ("upload_image_3", "Upload image 3/3", TaskStatus.SUCCESS),
        ("activate", "Activate the listing", TaskStatus.SUCCESS),
    ]
    listing_id = job.result_data["listing_id"]
    listing = Listing.objects.get(product=product, marketplace="etsy")
    assert (listing.external_id, listing.status) == (listing_id, ListingStatus.ACTIVE)
    assert listing.url.startswith(f"https://www.etsy.com/listing/{listing_id}/")
    assert listing.data == {"listing_id": listing_id, "price": "25.00", "quantity": 1}
    stats = etsy.stats()
    assert stats["listings_created"] == {product.sku: 1}
    assert stats["images_uploaded"] == {listing_id: 3}
    assert stats["activations"] == {listing_id: 1}
    assert list(job.events.values_list("from_status", "to_status")) == [
        ("pending", "running"),
        ("running", "completed"),
    ]


def test_publishing_an_active_listing_again_is_skipped(etsy):
    # given
    product = _product(etsy)
    listing = _published(etsy, product)
    # when
    job = _run(product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {"already_published": True, "listing_id": listing.external_id}
    assert job.tasks.count() == 0
    assert etsy.stats()["listings_created"] == {product.sku: 1}


def test_publish_without_images_fails_before_creating_a_draft(etsy):
    # given / when
    job = _run(product_id=_product(etsy, images=0).pk)
    # then
    assert job.status == JobStatus.FAILED
    assert job.error_message == "Etsy needs at least one image to publish a listing."
    assert etsy.stats()["listings_created_total"] == 0


def test_lost_create_answer_is_reconciled_by_sku_on_retry(etsy):
    # given: the draft is created, but its answer never reaches the worker
    etsy.faults.add_rule("drop_after", CREATE_DRAFT, method="POST")
    product = _product(etsy)
    # when
    job = _run(product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 2
    create = job.tasks.get(name="create_draft")
    assert (create.attempts, create.result["reconciled"]) == (2, True)
    assert create.result["listing_id"] == job.result_data["listing_id"]
    stats = etsy.stats()
    assert stats["faults"] == {"drop_after": 1}
    assert stats["listings_created_total"] == 1
    assert stats["listings_per_sku"] == {product.sku: 1}


def test_lost_upload_answer_does_not_upload_the_image_twice(etsy):
    # given: the first upload lands, its answer is lost
    etsy.faults.add_rule("drop_after", UPLOAD_IMAGE, method="POST")
    # when
    job = _run(product_id=_product(etsy, images=2).pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.tasks.get(name="upload_image_1").attempts == 2
    assert etsy.stats()["images_uploaded"] == {job.result_data["listing_id"]: 2}


def test_expired_token_mid_batch_is_refreshed_once_and_rotated(etsy):
    # given
    connection = MarketplaceConnection.objects.get(marketplace="etsy")
    products = [_product(etsy) for _ in range(3)]
    etsy.expire_access_tokens()
    # when
    batch = batch_create(
        product_ids=[p.pk for p in products], marketplaces=["etsy"], action="publish"
    )
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).status == "completed")
    # then
    stats = etsy.stats()
    assert stats["calls"][TOKEN_CALL] == 1
    assert stats["listings_per_sku"] == {p.sku: 1 for p in products}
    refreshed = MarketplaceConnection.objects.get(pk=connection.pk)
    assert refreshed.status == ConnectionStatus.CONNECTED
    assert refreshed.refresh_token != connection.refresh_token  # Etsy rotates it
    assert refreshed.access_token != connection.access_token


def test_429_waits_at_least_retry_after_before_the_next_attempt(etsy):
    # given: longer than the first backoff (at most 2 s), so only Retry-After explains the wait
    etsy.faults.add_rule("rate_limit", CREATE_DRAFT, method="POST", retry_after=3)
    # when
    job = _run(product_id=_product(etsy).pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.attempts == 2
    events = list(job.events.order_by("id"))
    assert [(e.from_status, e.to_status) for e in events] == [
        ("pending", "running"),
        ("running", "pending"),
        ("pending", "running"),
        ("running", "completed"),
    ]
    assert "429" in events[1].reason
    assert (events[2].at - events[1].at).total_seconds() >= 3
    assert etsy.stats()["listings_created_total"] == 1


def test_failed_refresh_fails_at_once_and_asks_to_reconnect(etsy):
    # given: the user revoked the app, then the access token expired
    connection = MarketplaceConnection.objects.get(marketplace="etsy")
    assert etsy.tokens.revoke_refresh_token(connection.refresh_token)
    etsy.expire_access_tokens()
    # when
    job = _run(product_id=_product(etsy).pk)
    # then
    assert job.status == JobStatus.FAILED
    assert (job.attempts, job.error_code) == (1, "marketplace_auth")
    assert job.error_message == (
        "etsy refused to refresh the token (refresh_token is revoked); reconnect the account."
    )
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.NEEDS_REAUTH
    assert etsy.stats()["listings_created_total"] == 0


def test_sync_orders_stores_every_receipt_page(etsy):
    # given: more receipts than one page (100)
    receipt_ids = etsy.seed_orders(120)
    # when
    job = _run(action="sync_orders", input_data={"days": 31})
    # then
    assert job.status == JobStatus.COMPLETED
    lines = sum(len(etsy_receipt["transactions"]) for etsy_receipt in _receipts(etsy))
    assert job.result_data == {
        "orders": 120,
        "new_lines": lines,
        "sales": 0,  # the receipts' SKUs name no product of this shop
        "restocked": 0,
        "oversells": 0,
    }
    orders = Order.objects.filter(marketplace="etsy")
    assert set(orders.values_list("external_id", flat=True)) == {str(i) for i in receipt_ids}
    order = orders.first()
    assert order.total == Decimal(order.data["grandtotal"]["amount"]) / 100
    assert order.currency == "USD"
    assert etsy.stats()["calls"]["GET /v3/application/shops/{shop_id}/receipts"] == 2


def _receipts(etsy) -> list[dict]:
    return [r for receipts in etsy.shops._receipts.values() for r in receipts]


def test_sync_listings_links_products_by_sku(etsy):
    # given: two published products whose listing records were lost
    products = [_product(etsy) for _ in range(2)]
    external_ids = {p.sku: _published(etsy, p).external_id for p in products}
    Listing.objects.all().delete()
    # when
    job = _run(action="sync_listings")
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data == {
        "items": 2,
        "linked_products": 2,
        "imported": 0,
        "to_review": 0,
        "ended": 0,
    }
    linked = Listing.objects.filter(marketplace="etsy", status=ListingStatus.ACTIVE)
    assert dict(linked.values_list("product__sku", "external_id")) == external_ids


def test_update_patches_the_listing_and_its_inventory_when_the_price_changed(etsy):
    # given
    product = _product(etsy)
    listing = _published(etsy, product)
    product.title, product.price = "Indigo denim jacket", Decimal("30.00")
    product.save(update_fields=["title", "price"])
    # when
    job = _run(action="update", product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert [name for name, _, _ in _steps(job)] == ["update_listing", "update_inventory"]
    on_etsy = etsy.listings.listings[int(listing.external_id)]
    assert (on_etsy["title"], on_etsy["price"]["amount"]) == ("Indigo denim jacket", 3000)
    listing.refresh_from_db()
    assert listing.data["price"] == "30.00"


def test_delete_marks_the_listing_deleted(etsy):
    # given
    product = _product(etsy)
    _published(etsy, product)
    # when
    job = _run(action="delete", product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert job.result_data["deleted"] is True
    assert Listing.objects.get(product=product).status == ListingStatus.DELETED
    assert etsy.stats()["listings"] == 0


def test_delete_whose_answer_was_lost_counts_the_404_as_done(etsy):
    # given: the listing is deleted but the answer is lost; the retry meets a 404
    product = _product(etsy)
    _published(etsy, product)
    etsy.faults.add_rule("drop_after", r"/listings/\d+$", method="DELETE")
    # when
    job = _run(action="delete", product_id=product.pk)
    # then
    assert job.status == JobStatus.COMPLETED
    assert (job.attempts, job.result_data["already_gone"]) == (2, True)
    assert Listing.objects.get(product=product).status == ListingStatus.DELETED


def test_update_shop_then_get_shop_reads_the_change(etsy):
    # given / when
    updated = _run(action="update_shop", input_data={"announcement": "Back on Monday"})
    read = _run(action="get_shop")
    # then
    assert updated.status == read.status == JobStatus.COMPLETED
    assert updated.result_data["updated"] == ["announcement"]
    assert read.result_data["shop"]["announcement"] == "Back on Monday"
    assert read.result_data["shop"]["shop_id"] == int(
        MarketplaceConnection.objects.get(marketplace="etsy").account_id
    )
