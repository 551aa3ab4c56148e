"""Batch creation checks readiness first: not-ready pairs refuse the batch or are skipped,
with their reasons, and nothing is created or queued for them."""

import pytest

from batches.models import BatchJob
from batches.services import batch_create_checked
from core.errors import ValidationFailed
from marketplace.models import CategoryMapping, MarketplaceJob
from tests.factories.marketplace import ProductFactory, ready_product, reference_category


def test_refuse_creates_nothing_and_names_every_pair_that_is_not_ready(
    tenant, no_broker, django_capture_on_commit_callbacks
):
    # given two ready products and one without images
    ready = [ready_product(), ready_product()]
    bare = ProductFactory()
    # when a batch on eBay and Vinted is asked for (refuse is the default)
    with (
        pytest.raises(ValidationFailed) as refused,
        django_capture_on_commit_callbacks(execute=True),
    ):
        batch_create_checked(
            product_ids=[*(p.pk for p in ready), bare.pk],
            marketplaces=["ebay", "vinted"],
            action="publish",
        )
    # then the error lists the product's two pairs with their reasons; nothing exists
    assert refused.value.details == {
        "not_ready_count": 2,
        "not_ready": [
            {
                "product_id": bare.pk,
                "marketplace": marketplace,
                "ready": False,
                "reasons": [{"code": "no_images", "field": "images", "message": message}],
            }
            for marketplace, message in (
                ("ebay", "eBay needs at least one image."),
                ("vinted", "Vinted needs at least one photo."),
            )
        ],
    }
    assert (BatchJob.objects.count(), MarketplaceJob.objects.count(), no_broker) == (0, 0, [])


def test_skip_creates_jobs_for_the_ready_pairs_only_and_reports_the_others(
    tenant, no_broker, django_capture_on_commit_callbacks
):
    # given two ready products, one without images, one whose category has no Etsy mapping
    ready = [ready_product(), ready_product()]
    bare = ProductFactory()
    unmapped = ready_product(category=reference_category("womens-dresses"))
    CategoryMapping.objects.filter(category=unmapped.category, marketplace="etsy").delete()
    ids = [*(p.pk for p in ready), bare.pk, unmapped.pk]
    # when the caller chooses to skip what is not ready
    with django_capture_on_commit_callbacks(execute=True):
        created = batch_create_checked(
            product_ids=ids, marketplaces=["ebay", "etsy"], action="publish", not_ready="skip"
        )
    # then jobs exist for the ready pairs only (the unmapped product still goes to eBay)
    jobs = sorted(
        MarketplaceJob.objects.filter(batch=created.batch).values_list("product_id", "marketplace")
    )
    expected = sorted(
        [(p.pk, m) for p in ready for m in ("ebay", "etsy")] + [(unmapped.pk, "ebay")]
    )
    assert jobs == expected
    assert created.batch.total_count == 5
    assert [
        (r.product_id, r.marketplace, [x.code for x in r.reasons]) for r in created.skipped
    ] == [
        (bare.pk, "ebay", ["no_images"]),
        (bare.pk, "etsy", ["no_images"]),
        (unmapped.pk, "etsy", ["category_not_mapped"]),
    ]
    assert no_broker == [("batches.enqueue_batch", (created.batch.pk,))]


def test_skip_with_nothing_ready_is_refused(tenant):
    bare = ProductFactory()
    with pytest.raises(ValidationFailed, match="Nothing in this batch is ready"):
        batch_create_checked(
            product_ids=[bare.pk], marketplaces=["ebay"], action="publish", not_ready="skip"
        )
    assert BatchJob.objects.count() == 0


def test_an_unknown_mode_is_refused(tenant):
    with pytest.raises(ValidationFailed, match="not_ready is refuse or skip"):
        batch_create_checked(
            product_ids=[ready_product().pk],
            marketplaces=["ebay"],
            action="publish",
            not_ready="maybe",
        )
