"""Factories for tenant-schema rows. Jobs and batches are made through the services, so tests
exercise the same path as production (idempotency keys, expiry, counters)."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.db import transaction
from django.utils import timezone

from batches.services import batch_create
from marketplace.engine.transitions import job_transition
from marketplace.models import Listing, MarketplaceJob, MarketplaceTask, Product, ProductImage
from marketplace.services.jobs import job_create
from marketplace.states import EventActor, JobStatus, ListingStatus, TaskStatus, TaskType


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = factory.Sequence(lambda n: f"Vintage denim jacket {n}")
    description = "Blue denim jacket, lightly worn."
    price = Decimal("25.00")
    currency = "EUR"
    quantity = 1
    condition = "used_good"
    brand = "Levi's"
    size = "M"


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/images/{n}.jpg")
    position = factory.Sequence(lambda n: n)


def make_job(*, marketplace: str = "ebay", action: str = "publish", **kwargs):
    if "product_id" not in kwargs and action in {"publish", "update", "delete"}:
        kwargs["product_id"] = ProductFactory().pk
    return job_create(marketplace=marketplace, action=action, **kwargs)


def make_batch(*, products: int = 3, marketplaces=("ebay",), action: str = "publish", **kwargs):
    product_ids = [ProductFactory().pk for _ in range(products)]
    return batch_create(
        product_ids=product_ids, marketplaces=list(marketplaces), action=action, **kwargs
    )


class MarketplaceTaskFactory(factory.django.DjangoModelFactory):
    """A planned step. Pass `job`; the default makes a fresh publish job through job_create."""

    class Meta:
        model = MarketplaceTask

    job = factory.LazyFunction(lambda: make_job())
    position = factory.Sequence(lambda n: n)
    task_type = TaskType.DIRECT_HTTP
    name = "upload_image"
    description = factory.LazyAttribute(lambda task: f"Step {task.position}")
    status = TaskStatus.PENDING


# The shortest walk from pending to each status through the declared transitions (DESIGN §2):
# the status field is protected, so tests reach a status the way production does.
JOB_STATUS_WALKS: dict[str, tuple[str, ...]] = {
    JobStatus.PENDING: (),
    JobStatus.RUNNING: ("claim",),
    JobStatus.PAUSED: ("pause",),
    JobStatus.COMPLETED: ("claim", "complete"),
    JobStatus.FAILED: ("claim", "fail"),
    JobStatus.CANCELLED: ("cancel",),
    JobStatus.EXPIRED: ("expire",),
}


def transition_kwargs(name: str, *, now: datetime) -> dict[str, Any]:
    """The arguments each transition needs besides `now`, with plausible values."""
    return {
        "claim": {},
        "complete": {"result": {"listing_id": "L-1"}},
        "defer_retry": {
            "next_attempt_at": now + timedelta(seconds=30),
            "error_code": "http_503",
            "message": "Service unavailable",
        },
        "defer": {"next_attempt_at": None},  # its status_reason is the event's reason
        "fail": {"error_code": "http_400", "message": "Bad request"},
        "pause": {},
        "resume": {"expires_at": now + timedelta(hours=1)},
        "cancel": {},
        "expire": {},
        "retry": {"expires_at": now + timedelta(hours=1)},
    }[name]


def job_walk_to(job: MarketplaceJob, status: str) -> MarketplaceJob:
    """Move `job` from pending to `status` through job_transition (events and counters too)."""
    now = timezone.now()
    with transaction.atomic():
        for name in JOB_STATUS_WALKS[status]:
            job_transition(
                job=job,
                name=name,
                actor=EventActor.WORKER,
                now=now,
                **transition_kwargs(name, now=now),
            )
    return job


def make_job_in(status: str, **kwargs: Any) -> MarketplaceJob:
    """A job created through job_create, then walked to `status`."""
    return job_walk_to(make_job(**kwargs), status)


class ListingFactory(factory.django.DjangoModelFactory):
    """A product as published on a marketplace."""

    class Meta:
        model = Listing

    product = factory.SubFactory(ProductFactory)
    marketplace = "ebay"
    external_id = factory.Sequence(lambda n: f"L-{n}")
    status = ListingStatus.ACTIVE
