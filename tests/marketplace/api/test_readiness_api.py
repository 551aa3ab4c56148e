"""/api/readiness/ over HTTP, and batch creation's not_ready modes through the API."""

from marketplace.models import MarketplaceJob
from tests.api_support import error
from tests.factories.marketplace import ProductFactory, marketplaces_connect, ready_product


def test_readiness_answers_each_pair_ready_or_what_is_missing(tenant, api_client):
    # given eBay connected, Etsy not; one ready product and one without images
    marketplaces_connect(["ebay"])
    ready, bare = ready_product(), ProductFactory()
    # when
    response = api_client.post(
        "/api/readiness/",
        {"product_ids": [ready.pk, bare.pk], "marketplaces": ["ebay", "etsy"]},
    )
    # then
    assert response.status_code == 200
    not_connected = {
        "code": "not_connected",
        "field": "connection",
        "message": "No eBay account is connected to this shop.".replace("eBay", "Etsy"),
    }
    no_images_ebay = {
        "code": "no_images",
        "field": "images",
        "message": "eBay needs at least one image.",
    }
    no_images_etsy = {
        "code": "no_images",
        "field": "images",
        "message": "Etsy needs at least one image to activate a listing.",
    }
    assert response.json() == {
        "ready": False,
        "results": [
            {"product_id": ready.pk, "marketplace": "ebay", "ready": True, "reasons": []},
            {
                "product_id": ready.pk,
                "marketplace": "etsy",
                "ready": False,
                "reasons": [not_connected],
            },
            {
                "product_id": bare.pk,
                "marketplace": "ebay",
                "ready": False,
                "reasons": [no_images_ebay],
            },
            {
                "product_id": bare.pk,
                "marketplace": "etsy",
                "ready": False,
                "reasons": [not_connected, no_images_etsy],
            },
        ],
    }


def test_readiness_validates_its_input(tenant, api_client):
    response = api_client.post("/api/readiness/", {"product_ids": [], "marketplaces": ["amazon"]})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "product_ids": ["Ensure this field has at least 1 elements."],
        "marketplaces": {"0": ['"amazon" is not a valid choice.']},
    }


def test_batch_refuses_by_default_with_per_pair_reasons(tenant, api_client, no_broker):
    # given
    marketplaces_connect(["ebay"])
    ready, bare = ready_product(), ProductFactory()
    # when
    response = api_client.post(
        "/api/batches/",
        {"product_ids": [ready.pk, bare.pk], "marketplaces": ["ebay"], "action": "publish"},
    )
    # then
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed",
        "1 product × marketplace pair(s) are not ready; fix them, or pass "
        'not_ready="skip" to create the others.',
        {
            "not_ready_count": 1,
            "not_ready": [
                {
                    "product_id": bare.pk,
                    "marketplace": "ebay",
                    "ready": False,
                    "reasons": [
                        {
                            "code": "no_images",
                            "field": "images",
                            "message": "eBay needs at least one image.",
                        }
                    ],
                }
            ],
        },
    )
    assert (MarketplaceJob.objects.count(), no_broker) == (0, [])


def test_batch_skips_on_request_and_lists_what_it_skipped(
    tenant, api_client, no_broker, django_capture_on_commit_callbacks
):
    # given
    marketplaces_connect(["ebay"])
    ready, bare = ready_product(), ProductFactory()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/batches/",
            {
                "product_ids": [ready.pk, bare.pk],
                "marketplaces": ["ebay"],
                "action": "publish",
                "not_ready": "skip",
            },
        )
    # then
    assert response.status_code == 201
    body = response.json()
    assert (body["total_count"], [s["product_id"] for s in body["skipped"]]) == (1, [bare.pk])
    assert body["skipped"][0]["reasons"][0]["code"] == "no_images"
    assert list(MarketplaceJob.objects.values_list("product_id", flat=True)) == [ready.pk]
