"""Factories for tenant-schema rows. Jobs and batches are made through the services, so tests
exercise the same path as production (idempotency keys, expiry, counters)."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import factory
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from batches.services import batch_create
from marketplace import reference_data
from marketplace.engine.transitions import job_transition
from marketplace.models import (
    Category,
    CategoryMapping,
    Listing,
    MarketplaceConnection,
    MarketplaceJob,
    MarketplaceTask,
    Product,
    ProductImage,
    ValueMapping,
)
from marketplace.services.jobs import job_create
from marketplace.states import EventActor, JobStatus, ListingStatus, TaskStatus, TaskType

DEFAULT_CATEGORY = "mens-coats-jackets"


def reference_seed() -> None:
    """The shop's reference mappings, as provisioning seeds them (idempotent)."""
    reference_data.seed(
        category_model=Category,
        category_mapping_model=CategoryMapping,
        value_mapping_model=ValueMapping,
    )


def reference_category(code: str = DEFAULT_CATEGORY) -> Category:
    """A seeded category (seeded again if a test emptied the tables)."""
    category = Category.objects.filter(code=code).first()
    if category is None:
        reference_seed()
        category = Category.objects.get(code=code)
    return category


class ProductFactory(factory.django.DjangoModelFactory):
    """A canonical product the reference mappings cover on every marketplace; it has no
    images (ProductImageFactory, or ready_product)."""

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
    category = factory.LazyFunction(reference_category)
    colours = factory.LazyFunction(lambda: ["blue"])
    material = "Cotton"


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/images/{n}.jpg")
    position = factory.Sequence(lambda n: n)


# A connection's listing setup as account_setup would choose it (ids as the sandboxes issue).
READY_SETUP: dict[str, dict[str, str]] = {
    "ebay": {
        "fulfillment_policy_id": "6200000001",
        "payment_policy_id": "6200000002",
        "return_policy_id": "6200000003",
        "merchant_location_key": "default-warehouse",
    },
    "etsy": {"shipping_profile_id": "190000001", "readiness_state_id": "1400000001"},
}


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A connected eBay or Etsy account with its listing setup chosen."""

    class Meta:
        model = MarketplaceConnection
        django_get_or_create = ("marketplace",)

    marketplace = "ebay"
    access_token = "test-access-token"
    refresh_token = "test-refresh-token"
    access_token_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=2))
    account_id = factory.LazyAttribute(lambda c: "50000001" if c.marketplace == "etsy" else "")
    setup = factory.LazyAttribute(lambda c: dict(READY_SETUP.get(c.marketplace, {})))


def marketplaces_connect(marketplaces) -> None:
    """Every marketplace in `marketplaces` connected and set up, as readiness wants it: eBay
    and Etsy with a connection, Vinted with an extension token of the current tenant."""
    from tenants.models import ExtensionToken, Membership
    from tests.factories.tenants import UserFactory

    for marketplace in dict.fromkeys(marketplaces):
        if marketplace != "vinted":
            ConnectionFactory(marketplace=marketplace)
            continue
        tenant = connection.tenant
        if ExtensionToken.objects.filter(tenant=tenant, revoked_at__isnull=True).exists():
            continue
        user = cast("User", UserFactory())
        Membership.objects.get_or_create(tenant=tenant, user=user)
        ExtensionToken.objects.create(
            tenant=tenant, user=user, name="tests", digest=f"d-{user.pk}", prefix="rlx_test"
        )


def ready_product(**kwargs: Any) -> Product:
    """A product with an image: ready wherever the shop is connected."""
    product = ProductFactory(**kwargs)
    ProductImageFactory(product=product, position=0)
    return product  # type: ignore[return-value]


def make_job(*, marketplace: str = "ebay", action: str = "publish", **kwargs):
    if "product_id" not in kwargs and action in {"publish", "update", "delete"}:
        kwargs["product_id"] = ProductFactory().pk  # type: ignore[attr-defined]
    return job_create(marketplace=marketplace, action=action, **kwargs)


def make_batch(*, products: int = 3, marketplaces=("ebay",), action: str = "publish", **kwargs):
    """A batch of ready products on connected marketplaces."""
    marketplaces_connect(marketplaces)
    product_ids = [ready_product().pk for _ in range(products)]
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


# The shortest walk from pending to each status through the declared transitions
# (docs/state-machine.md): the status field is protected, so tests reach a status the way
# production does.
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
    return {  # type: ignore[return-value]
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
