"""job_create: validation, defaults, idempotency keys and enqueue-after-commit."""

import re
from datetime import timedelta

import pytest

from core.errors import IdempotencyConflict, ValidationFailed
from marketplace.models import MarketplaceJob
from marketplace.services.jobs import job_create
from marketplace.states import JobPriority, JobStatus
from tests.factories.marketplace import ProductFactory


def test_job_create_fills_defaults_and_enqueues_after_commit(
    tenant, member, no_broker, django_capture_on_commit_callbacks
):
    # given a product
    product = ProductFactory()

    # when a publish job is created without a key, and its transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(
            marketplace="ebay", action="publish", product_id=product.pk, created_by=member
        )
        sent_before_commit = list(no_broker)

    # then it is pending with the catalogue's defaults and a generated key
    stored = MarketplaceJob.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts, stored.max_retries) == (JobStatus.PENDING, 0, 5)
    assert (stored.marketplace, stored.action_type.code, stored.product_id) == (
        "ebay",
        "publish",
        product.pk,
    )
    assert stored.priority == JobPriority.NORMAL
    assert stored.created_by_id == member.pk
    assert re.fullmatch(r"job:[0-9a-f]{32}", stored.idempotency_key)
    assert abs(stored.expires_at - stored.created_at - timedelta(hours=1)) < timedelta(seconds=1)
    # and its one trigger is sent after the commit, never before
    assert sent_before_commit == []
    assert no_broker == [("marketplace.run_job", (job.pk,))]


def test_sync_job_needs_no_product(tenant):
    # given / when a listings sync is created without product
    job = job_create(marketplace="etsy", action="sync_listings")
    # then it exists, with the sync's lower default priority
    assert (job.product_id, job.priority) == (None, JobPriority.LOW)


def test_reused_idempotency_key_returns_the_first_job(tenant):
    # given a job created with a key
    product = ProductFactory()
    first = job_create(
        marketplace="vinted", action="publish", product_id=product.pk, idempotency_key="k-1"
    )

    # when the same request is repeated with the same key
    again = job_create(
        marketplace="vinted", action="publish", product_id=product.pk, idempotency_key="k-1"
    )

    # then the first job is returned and no second row exists
    assert again.pk == first.pk
    assert MarketplaceJob.objects.filter(idempotency_key="k-1").count() == 1
    assert MarketplaceJob.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [{"product": "other"}, {"marketplace": "etsy"}, {"action": "update"}],
    ids=["other-product", "other-marketplace", "other-action"],
)
def test_reused_idempotency_key_for_another_request_conflicts(tenant, change):
    # given a job created with a key
    product, other = ProductFactory(), ProductFactory()
    first = job_create(
        marketplace="vinted", action="publish", product_id=product.pk, idempotency_key="k-1"
    )

    # when the key is reused for a different request
    with pytest.raises(IdempotencyConflict) as raised:
        job_create(
            marketplace=change.get("marketplace", "vinted"),
            action=change.get("action", "publish"),
            product_id=other.pk if "product" in change else product.pk,
            idempotency_key="k-1",
        )

    # then it conflicts (422), naming the first job, and nothing is created
    assert (raised.value.code, raised.value.http_status) == ("idempotency_conflict", 422)
    assert raised.value.details == {"job_id": first.pk}
    assert list(MarketplaceJob.objects.values_list("pk", flat=True)) == [first.pk]


@pytest.mark.parametrize(
    ("kwargs", "details"),
    [
        ({"marketplace": "ebay", "action": "publish"}, {"product_id": None}),
        (
            {"marketplace": "ebay", "action": "teleport"},
            {"marketplace": "ebay", "action": "teleport"},
        ),
        (
            {"marketplace": "amazon", "action": "publish"},
            {"marketplace": "amazon", "action": "publish"},
        ),
        (
            {"marketplace": "ebay", "action": "delete", "product_id": 987_654_321},
            {"product_id": 987_654_321},
        ),
    ],
    ids=["publish-without-product", "unknown-action", "unknown-marketplace", "unknown-product"],
)
def test_invalid_job_is_refused_and_nothing_is_created(
    tenant, no_broker, django_capture_on_commit_callbacks, kwargs, details
):
    # given / when an invalid job is asked for
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationFailed) as raised,
    ):
        job_create(**kwargs)

    # then it is refused (400) with details, with no row and nothing enqueued
    assert (raised.value.code, raised.value.http_status) == ("validation_failed", 400)
    assert raised.value.details == details
    assert MarketplaceJob.objects.count() == 0
    assert (callbacks, no_broker) == ([], [])
