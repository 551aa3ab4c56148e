"""batch_create generates its jobs in SQL; they must be the rows job_create would store."""

from django.forms.models import model_to_dict

from batches.services import batch_create
from marketplace.models import MarketplaceJob
from tests.factories.marketplace import make_job, ready_product

VOLATILE = ("id", "batch", "idempotency_key", "expires_at", "dispatched_at")


def _comparable(job: MarketplaceJob) -> dict:
    row = model_to_dict(job)
    return {key: value for key, value in row.items() if key not in VOLATILE}


def test_batch_jobs_equal_single_jobs_but_for_batch_and_keys(tenant, no_broker):
    # given
    products = [ready_product(), ready_product()]
    # when
    batch = batch_create(
        product_ids=[p.pk for p in products], marketplaces=["ebay", "etsy"], action="publish"
    )
    # then: same columns as a job made one by one, interleaved product by product
    jobs = list(MarketplaceJob.objects.filter(batch=batch).order_by("pk"))
    assert [(j.product_id, j.marketplace) for j in jobs] == [
        (products[0].pk, "ebay"),
        (products[0].pk, "etsy"),
        (products[1].pk, "ebay"),
        (products[1].pk, "etsy"),
    ]
    single = make_job(marketplace="ebay", product_id=products[0].pk)
    assert _comparable(jobs[0]) == _comparable(single)
    assert jobs[0].idempotency_key == f"{batch.batch_id}:ebay:{products[0].pk}"
    assert abs((jobs[0].expires_at - single.expires_at).total_seconds()) < 60
    assert abs((jobs[0].dispatched_at - single.dispatched_at).total_seconds()) < 60
