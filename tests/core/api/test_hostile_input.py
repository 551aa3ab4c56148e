"""Hostile and careless input answers 4xx in the error shape, never a 500: JSON nested past the
parser's depth (and past the interpreter's stack), strings PostgreSQL cannot store, bodies over
the size limit, and unhandled errors with DEBUG on. The same over the real ASGI server is in
test_hostile_input_asgi.py."""

import base64
import io
import json

import pytest
from django.db import OperationalError
from django.test import override_settings

from core.api.parsers import MAX_JSON_DEPTH, PayloadTooLarge, SafeJSONParser
from marketplace.models import MarketplaceJob, Product
from tests.conftest import tenant_host
from tests.factories.marketplace import ProductFactory

TOO_DEEP = {
    "error": {
        "code": "parse_error",
        "message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels.",
        "details": {},
    }
}
NUL = "Strings may not contain the NUL character."
SURROGATE = "Strings may not contain unpaired surrogates."


def unstorable(field: str, message: str) -> dict:
    return {
        "error": {
            "code": "validation_failed",
            "message": "The request is invalid.",
            "details": {field: [message]},
        }
    }


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _send(client, method: str, path: str, body: str):
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.fixture
def body_paths(tenant):
    """The six operations that read a body (plus login), each with a product to address."""
    product = ProductFactory()
    return [
        ("post", "/api/products/"),
        ("put", f"/api/products/{product.pk}/"),
        ("patch", f"/api/products/{product.pk}/"),
        ("post", "/api/jobs/"),
        ("post", "/api/batches/"),
        ("post", "/api/connections/vinted/tokens/"),
        ("post", "/api/auth/login/"),
    ]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 200_000], ids=["65", "5k", "200k"])
def test_json_nested_too_deep_is_400_on_every_body(tenant, api_client, body_paths, depth):
    # when each operation that reads a body gets a JSON array nested `depth` deep
    responses = [_send(api_client, m, p, nested(depth)) for m, p in body_paths]

    # then each answers 400 in the error shape (no RecursionError reaches the view)
    assert [(r.status_code, r.json()) for r in responses] == [(400, TOO_DEEP)] * len(body_paths)


def test_input_data_nested_5000_deep_is_400_and_creates_nothing(tenant, api_client):
    # given a job whose input_data nests 5,000 objects
    body = '{"marketplace": "etsy", "action": "sync_orders", "input_data": '
    body += '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}"

    # when it is posted / then 400 and no job
    response = _send(api_client, "post", "/api/jobs/", body)
    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert not MarketplaceJob.objects.exists()


def test_json_at_the_depth_limit_is_accepted(tenant, api_client):
    # given attributes nested exactly to the limit (the body is one level, attributes the rest)
    value: object = "x"
    for _ in range(MAX_JSON_DEPTH - 2):
        value = {"k": value}
    body = {"sku": "DEEP-1", "title": "Deep", "price": "1.00", "attributes": value}

    # when it is posted / then the product is created
    response = api_client.post("/api/products/", body)
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "bad\ud800", SURROGATE),
        ("title", "nul\x00byte", NUL),
        ("attributes", {"colour": "\udfff"}, SURROGATE),
        ("attributes", {"\ud83d": "key"}, SURROGATE),
        ("attributes", {"nested": ["ok", "nul\x00"]}, NUL),
    ],
    ids=["surrogate-text", "nul-text", "surrogate-json", "surrogate-key", "nul-json"],
)
def test_strings_postgresql_cannot_store_are_400(tenant, api_client, field, value, message):
    # given a product whose field holds a lone surrogate or a NUL
    body = {"sku": "BAD-1", "title": "Fine", "price": "1.00", field: value}

    # when it is posted / then 400 in the error shape, and nothing reached PostgreSQL
    response = _send(api_client, "post", "/api/products/", json.dumps(body))
    assert (response.status_code, response.json()) == (400, unstorable(field, message))
    assert not Product.objects.exists()


def test_surrogate_in_job_input_data_is_400(tenant, api_client):
    body = {"marketplace": "etsy", "action": "sync_orders", "input_data": {"x": "\ud800"}}
    response = _send(api_client, "post", "/api/jobs/", json.dumps(body))
    assert (response.status_code, response.json()) == (400, unstorable("input_data", SURROGATE))
    assert not MarketplaceJob.objects.exists()


def test_valid_astral_characters_are_stored(tenant, api_client):
    # a paired surrogate escape is one valid character (an emoji), not a lone surrogate
    body = '{"sku": "EMO-1", "title": "Jacket \\ud83d\\ude00", "price": "1.00"}'
    response = _send(api_client, "post", "/api/products/", body)
    assert response.status_code == 201
    assert Product.objects.get().title == "Jacket \U0001f600"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
@pytest.mark.parametrize(("method", "path"), [("post", "/api/products/"), ("post", "/api/jobs/")])
def test_body_over_the_limit_is_413(tenant, api_client, method, path):
    # when a body of 20 kB is sent with a 10 kB limit
    body = json.dumps({"sku": "BIG", "title": "x" * 20_000, "price": "1.00"})
    response = _send(api_client, method, path, body)

    # then 413 in the error shape, before anything parses it
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "payload_too_large",
            "message": "The request body is too large.",
            "details": {},
        }
    }
    assert not Product.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_parser_stops_reading_at_the_limit_when_no_length_is_announced():
    # given a body of unannounced length (chunked) over the limit
    stream = io.BytesIO(json.dumps({"title": "x" * 20_000}).encode())

    # when the parser reads it / then it refuses it after limit + 1 bytes
    with pytest.raises(PayloadTooLarge):
        SafeJSONParser().parse(stream, "application/json", {})
    assert stream.tell() == 10_001


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_database_down_in_middleware_is_json_500_even_with_debug(
    tenant, make_client, member, monkeypatch, debug
):
    # given PostgreSQL refusing connections when the tenant is resolved
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("tenants.middleware.schema_exists", refuse)
    client = make_client(host=tenant_host(tenant), user=member)
    client.raise_request_exception = False

    # when a request arrives (DEBUG on or off)
    with override_settings(DEBUG=debug):
        response = client.get("/api/jobs/")

    # then a JSON 500 in the error shape, never Django's HTML debug page
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "server_error",
            "message": "Something went wrong on our side.",
            "details": {},
        }
    }


def test_bug_in_a_view_is_json_500_with_debug(tenant, api_client, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr("marketplace.api.views.jobs.JobViewSet.get_queryset", broken)
    api_client.raise_request_exception = False
    with override_settings(DEBUG=True):
        response = api_client.get("/api/jobs/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


@pytest.mark.parametrize(
    "position", [b"p=abc", b"p=\x00", b"p=-1", b"p=99999999999999999999"], ids=str
)
def test_forged_cursor_is_404_not_500(tenant, api_client, position):
    # given a cursor whose position is not an id (DRF decodes it and would filter on it)
    cursor = base64.b64encode(position).decode()

    # when the list is asked for that page / then 404 "Invalid cursor", as for any bad cursor
    response = api_client.get("/api/jobs/", {"cursor": cursor})
    assert (response.status_code, response.json()["error"]["message"]) == (404, "Invalid cursor")


@pytest.mark.parametrize("page_size", ["null", "abc", "0", "-1", "1.5", "٣"])
def test_page_size_that_is_not_a_positive_integer_is_400(tenant, api_client, page_size):
    response = api_client.get("/api/jobs/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"page_size": ["A positive integer."]}


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (25.5, 'Send the amount as a string, e.g. "25.50".'),
        ("1e3", "A valid number is required."),
        (" 5.00", "A valid number is required."),
        ("-0", "A valid number is required."),
    ],
    ids=["number", "exponent", "space", "minus-zero"],
)
def test_price_is_a_decimal_string_as_documented(tenant, api_client, price, message):
    response = api_client.post("/api/products/", {"sku": "P", "title": "T", "price": price})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"price": [message]}
