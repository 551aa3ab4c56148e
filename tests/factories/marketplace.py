"""Factories for tenant-schema rows. Jobs and batches are made through the services, so tests
exercise the same path as production (idempotency keys, expiry, counters)."""

from decimal import Decimal

import factory

from batches.services import batch_create
from marketplace.models import Product, ProductImage
from marketplace.services.jobs import job_create


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
