"""/api/products/ over HTTP: CRUD with images as an ordered list of URLs, and tenant scoping."""

import pytest

from marketplace.models import MarketplaceJob, Product, ProductImage
from tenants.context import tenant_context
from tests.api_support import FORBIDDEN, NOT_FOUND, error
from tests.factories.marketplace import (
    ListingFactory,
    ProductFactory,
    ProductImageFactory,
    make_job_in,
)

NEW_PRODUCT = {
    "sku": "JKT-001",
    "title": "Denim jacket",
    "description": "Blue, lightly worn.",
    "price": "25.50",
    "currency": "EUR",
    "quantity": 2,
    "category": "mens-coats-jackets",
    "condition": "used_good",
    "brand": "Levi's",
    "size": "M",
    "colours": ["blue", "white"],
    "material": "Cotton",
    "length_cm": "40.0",
    "width_cm": "30.0",
    "height_cm": "5.0",
    "weight_g": 900,
    "attributes": {"ebay_aspects": {"Style": "Trucker"}},
    "images": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
}


def _images(product_id: int) -> list[tuple[int, str]]:
    return list(
        ProductImage.objects.filter(product_id=product_id)
        .order_by("position")
        .values_list("position", "url")
    )


def test_create_stores_the_product_and_its_images_in_order(tenant, api_client):
    # when the member creates a product with two image URLs
    response = api_client.post("/api/products/", NEW_PRODUCT)

    # then 201 answers it as sent, with the images in the given order
    assert response.status_code == 201
    body = response.json()
    product = Product.objects.get()
    assert {k: v for k, v in body.items() if k not in {"created_at", "updated_at"}} == {
        **NEW_PRODUCT,
        "id": product.pk,
    }
    assert _images(product.pk) == [
        (0, "https://img.example/1.jpg"),
        (1, "https://img.example/2.jpg"),
    ]


def test_create_without_images_or_optional_fields(tenant, api_client):
    # when only the required fields are sent
    response = api_client.post("/api/products/", {"sku": "S-1", "title": "Scarf", "price": "5.00"})

    # then the defaults apply and the product has no image
    assert response.status_code == 201
    body = response.json()
    assert (body["currency"], body["quantity"], body["condition"], body["images"]) == (
        "EUR",
        1,
        "used_good",
        [],
    )


@pytest.mark.parametrize(
    ("change", "details"),
    [
        ({"sku": "TAKEN"}, {"sku": ["product with this sku already exists."]}),
        ({"images": ["not a url"]}, {"images": {"0": ["Enter a valid URL."]}}),
        (
            {"images": [f"https://img.example/{n}.jpg" for n in range(25)]},
            {"images": ["Ensure this field has no more than 24 elements."]},
        ),
        (
            {"category": "spaceships"},
            {"category": ["Object with code=spaceships does not exist."]},
        ),
        ({"condition": "mint"}, {"condition": ['"mint" is not a valid choice.']}),
        ({"price": "-1.00"}, {"price": ["Ensure this value is greater than or equal to 0."]}),
        ({"title": ""}, {"title": ["This field may not be blank."]}),
        (
            {"attributes": ["a"]},
            {"attributes": ['Expected a dictionary of items but got type "list".']},
        ),
    ],
    ids=[
        "duplicate-sku",
        "bad-url",
        "too-many-images",
        "unknown-category",
        "unknown-condition",
        "negative-price",
        "blank-title",
        "attributes-list",
    ],
)
def test_create_refuses_invalid_products(tenant, api_client, change, details):
    # given a product with SKU "TAKEN"
    ProductFactory(sku="TAKEN")

    # when the member posts an invalid product
    response = api_client.post("/api/products/", {**NEW_PRODUCT, **change})

    # then 400 names the field, and nothing was added
    assert response.status_code == 400
    assert response.json() == error("validation_failed", "The request is invalid.", details)
    assert list(Product.objects.values_list("sku", flat=True)) == ["TAKEN"]


def test_create_refuses_the_same_image_twice(tenant, api_client):
    # when an image URL is listed twice / then 400 from the service, and no product
    response = api_client.post(
        "/api/products/", {**NEW_PRODUCT, "images": ["https://img.example/1.jpg"] * 2}
    )
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed", "The same image is listed twice.", {"images": "duplicate"}
    )
    assert Product.objects.count() == 0


def test_list_filters_by_sku_and_reads_images_in_two_queries(
    tenant, api_client, django_assert_max_num_queries
):
    # given three products with two images each
    products = [ProductFactory(sku=f"P-{n}") for n in range(3)]
    for product in products:
        ProductImageFactory(product=product, position=1, url=f"https://img.example/{product.sku}-b")
        ProductImageFactory(product=product, position=0, url=f"https://img.example/{product.sku}-a")

    # when the member lists them all (counting the queries), and filters one SKU
    with django_assert_max_num_queries(12) as captured:
        everything = api_client.get("/api/products/")
    image_queries = [
        q for q in captured.captured_queries if 'FROM "marketplace_productimage"' in q["sql"]
    ]
    one = api_client.get("/api/products/", {"sku": "P-1"})

    # then all come newest first with ordered images, the filter finds one, and the images
    # cost one query for the page (no N+1)
    assert [p["sku"] for p in everything.json()["results"]] == ["P-2", "P-1", "P-0"]
    assert everything.json()["results"][0]["images"] == [
        "https://img.example/P-2-a",
        "https://img.example/P-2-b",
    ]
    assert [p["id"] for p in one.json()["results"]] == [products[1].pk]
    assert len(image_queries) == 1


def test_retrieve_a_product(tenant, api_client):
    # given a product with an image
    product = ProductFactory(sku="R-1")
    ProductImageFactory(product=product, position=0, url="https://img.example/r.jpg")

    # when the member reads it
    response = api_client.get(f"/api/products/{product.pk}/")

    # then it comes with its image
    assert response.status_code == 200
    assert (response.json()["sku"], response.json()["images"]) == (
        "R-1",
        ["https://img.example/r.jpg"],
    )


def test_patch_changes_only_the_given_fields_and_keeps_the_images(tenant, api_client):
    # given a product with an image
    product = ProductFactory(title="Old", price="10.00")
    ProductImageFactory(product=product, position=0, url="https://img.example/keep.jpg")

    # when the member patches its title
    response = api_client.patch(f"/api/products/{product.pk}/", {"title": "New"})

    # then the title changed, the price and the image did not
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["price"], response.json()["images"]) == (
        "New",
        "10.00",
        ["https://img.example/keep.jpg"],
    )
    assert Product.objects.get(pk=product.pk).title == "New"


def test_patch_images_replaces_them_in_the_new_order(tenant, api_client):
    # given a product with two images
    product = ProductFactory()
    ProductImageFactory(product=product, position=0, url="https://img.example/a.jpg")
    ProductImageFactory(product=product, position=1, url="https://img.example/b.jpg")

    # when the member sends the images reordered, with a new one and one dropped
    response = api_client.patch(
        f"/api/products/{product.pk}/",
        {"images": ["https://img.example/b.jpg", "https://img.example/c.jpg"]},
    )

    # then the product has exactly those, in that order
    assert response.status_code == 200
    assert response.json()["images"] == ["https://img.example/b.jpg", "https://img.example/c.jpg"]
    assert _images(product.pk) == [
        (0, "https://img.example/b.jpg"),
        (1, "https://img.example/c.jpg"),
    ]


def test_put_replaces_the_product(tenant, api_client):
    # given a product with an image
    product = ProductFactory(sku="PUT-1")
    ProductImageFactory(product=product, position=0, url="https://img.example/old.jpg")

    # when the member puts a whole new representation
    response = api_client.put(f"/api/products/{product.pk}/", {**NEW_PRODUCT, "sku": "PUT-1"})

    # then every field is the new one
    assert response.status_code == 200
    stored = Product.objects.get(pk=product.pk)
    assert (stored.title, str(stored.price), stored.quantity) == ("Denim jacket", "25.50", 2)
    assert [url for _, url in _images(product.pk)] == NEW_PRODUCT["images"]


def test_sku_of_a_listed_product_cannot_change(tenant, api_client):
    # given a product listed on eBay
    product = ProductFactory(sku="LISTED")
    ListingFactory(product=product)

    # when the member changes its SKU
    response = api_client.patch(f"/api/products/{product.pk}/", {"sku": "OTHER"})

    # then 409 conflict, and the SKU stays
    assert response.status_code == 409
    assert response.json() == error(
        "conflict",
        "The SKU of a listed product cannot change.",
        {"product_id": product.pk, "sku": "LISTED"},
    )
    assert Product.objects.get(pk=product.pk).sku == "LISTED"


def test_delete_removes_the_product_and_its_images(tenant, api_client):
    # given a product with an image and a completed job
    product = ProductFactory()
    ProductImageFactory(product=product)
    job = make_job_in("completed", product_id=product.pk)

    # when the member deletes it
    response = api_client.delete(f"/api/products/{product.pk}/")

    # then 204, the product and its images are gone, the job's history stays
    assert response.status_code == 204
    assert response.content == b""
    assert not Product.objects.filter(pk=product.pk).exists()
    assert ProductImage.objects.count() == 0
    assert MarketplaceJob.objects.get(pk=job.pk).product_id is None


@pytest.mark.parametrize("status", ["pending", "running", "paused"])
def test_delete_is_refused_while_a_job_may_still_run(tenant, api_client, status):
    # given a product with a job that has not finished
    product = ProductFactory()
    job = make_job_in(status, product_id=product.pk)

    # when the member deletes the product
    response = api_client.delete(f"/api/products/{product.pk}/")

    # then 409 names the job, and the product stays
    assert response.status_code == 409
    assert response.json() == error(
        "conflict",
        "The product has jobs that have not finished; cancel them first.",
        {"product_id": product.pk, "active_job_ids": [job.pk]},
    )
    assert Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize(
    ("method", "body"),
    [("post", NEW_PRODUCT), ("patch", {"title": "X"}), ("put", NEW_PRODUCT), ("delete", None)],
    ids=["create", "patch", "put", "delete"],
)
def test_viewer_can_read_but_not_write_products(tenant, viewer, method, body):
    # given a product
    product = ProductFactory(title="Kept")
    path = "/api/products/" if method == "post" else f"/api/products/{product.pk}/"

    # when a viewer writes, and reads
    written = getattr(viewer, method)(path, body)
    read = viewer.get(f"/api/products/{product.pk}/")

    # then writing is forbidden, reading is not, and nothing changed
    assert written.status_code == 403
    assert written.json() == FORBIDDEN
    assert read.status_code == 200
    assert list(Product.objects.values_list("pk", "title")) == [(product.pk, "Kept")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/products/", None),
        ("post", "/api/products/", NEW_PRODUCT),
        ("get", "/api/products/{b}/", None),
        ("patch", "/api/products/{b}/", {"title": "Mine now"}),
        ("put", "/api/products/{b}/", NEW_PRODUCT),
        ("delete", "/api/products/{b}/", None),
    ],
    ids=["list", "create", "detail", "patch", "put", "delete"],
)
def test_member_of_a_on_bs_host_gets_404_and_changes_nothing(
    tenant, other_tenant, intruder, method, path, body
):
    # given a product in B
    with tenant_context(other_tenant.schema_name):
        product_b = ProductFactory(title="B's")

    # when A's member calls B's host with A's token
    response = getattr(intruder, method)(path.format(b=product_b.pk), body)

    # then a bare 404 and B's products are as they were
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert list(Product.objects.values_list("pk", "title")) == [(product_b.pk, "B's")]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_bs_product_id_on_as_host_is_not_found(tenant, other_tenant, api_client, method):
    # given a product that exists in B only
    with tenant_context(other_tenant.schema_name):
        product_b = ProductFactory(title="B's")
    assert not Product.objects.filter(pk=product_b.pk).exists()

    # when A's member uses its id on A's host / then 404 and B's product is untouched
    response = getattr(api_client, method)(f"/api/products/{product_b.pk}/", {"title": "X"})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert Product.objects.get(pk=product_b.pk).title == "B's"
