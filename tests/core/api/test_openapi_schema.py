"""The OpenAPI 3 schema (drf-spectacular) and its docs UI: served, valid, complete, and accurate
enough that schemathesis, generating requests from it against the app, finds no server error."""

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from core.api.schema import LINKS
from tenants.auth import api_token_issue
from tests.conftest import client_for, tenant_host
from tests.factories.marketplace import ProductFactory, make_batch, make_job_in

OPERATIONS = {
    ("/api/products/", "get"),
    ("/api/products/", "post"),
    ("/api/products/{id}/", "get"),
    ("/api/products/{id}/", "put"),
    ("/api/products/{id}/", "patch"),
    ("/api/products/{id}/", "delete"),
    ("/api/jobs/", "get"),
    ("/api/jobs/", "post"),
    ("/api/jobs/{id}/", "get"),
    ("/api/jobs/{id}/tasks/", "get"),
    ("/api/jobs/{id}/pause/", "post"),
    ("/api/jobs/{id}/resume/", "post"),
    ("/api/jobs/{id}/cancel/", "post"),
    ("/api/jobs/{id}/retry/", "post"),
    ("/api/batches/", "get"),
    ("/api/batches/", "post"),
    ("/api/batches/{batch_id}/", "get"),
    ("/api/batches/{batch_id}/cancel/", "post"),
    ("/api/connections/", "get"),
    ("/api/connections/{marketplace}/", "get"),
    ("/api/connections/{marketplace}/", "delete"),
    ("/api/connections/{marketplace}/authorize/", "post"),
    ("/api/connections/{marketplace}/callback/", "get"),
    ("/api/connections/vinted/tokens/", "get"),
    ("/api/connections/vinted/tokens/", "post"),
    ("/api/connections/vinted/tokens/{id}/revoke/", "post"),
    ("/api/orders/", "get"),
    ("/api/orders/{id}/", "get"),
    ("/api/listings/", "get"),
    ("/api/listings/{id}/", "get"),
    ("/api/sales/", "get"),
    ("/api/sales/{id}/", "get"),
    ("/api/pending-actions/", "get"),
    ("/api/pending-actions/{id}/", "get"),
    ("/api/pending-actions/{id}/confirm/", "post"),
    ("/api/pending-actions/{id}/reject/", "post"),
    ("/api/oversell-alerts/", "get"),
    ("/api/oversell-alerts/{id}/", "get"),
    ("/api/oversell-alerts/{id}/resolve/", "post"),
    ("/api/link-reviews/", "get"),
    ("/api/link-reviews/{id}/", "get"),
    ("/api/link-reviews/{id}/confirm/", "post"),
    ("/api/link-reviews/{id}/split/", "post"),
    ("/api/delist-policies/", "get"),
    ("/api/delist-policies/{marketplace}/", "put"),
    ("/api/connections/{marketplace}/setup/", "get"),
    ("/api/connections/{marketplace}/setup/", "patch"),
    ("/api/connections/{marketplace}/setup/refresh/", "post"),
    ("/api/readiness/", "post"),
    ("/api/auth/login/", "post"),
    ("/api/auth/logout/", "post"),
    ("/api/auth/tokens/", "get"),
    ("/api/auth/tokens/{id}/", "delete"),
    *(
        (path, method)
        for collection, item in (
            ("/api/categories/", "/api/categories/{code}/"),
            ("/api/category-mappings/", "/api/category-mappings/{id}/"),
            ("/api/value-mappings/", "/api/value-mappings/{id}/"),
        )
        for path, methods in (
            (collection, ("get", "post")),
            (item, ("get", "put", "patch", "delete")),
        )
        for method in methods
    ),
}
PUBLIC_OPERATIONS = {("/api/auth/login/", "post")}
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
# Every default check of schemathesis (no 5xx; status, content type, headers and body as
# documented; invalid input refused; auth enforced …) but one: positive_data_acceptance expects
# any schema-valid request to succeed, and business rules the schema cannot express refuse some
# (an action a marketplace does not offer, an OAuth state that was never issued, a product id
# that does not exist). python -m bench.schema counts those separately.
EXCLUDED_CHECKS = [positive_data_acceptance]
EXAMPLES = 12  # per operation: ~30 operations, under a minute
STATEFUL_SCENARIOS = 10  # sequences of up to STATEFUL_STEPS linked calls
STATEFUL_STEPS = 5


@pytest.fixture(scope="module")
def openapi(test_tenants, django_db_blocker) -> dict:
    """The schema as a shop's host serves it, without credentials (generated once: ~1 s)."""
    with django_db_blocker.unblock():
        host = tenant_host(test_tenants["test_shop_a"])
        response = client_for(host=host).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in schema["paths"].items() for method in item}


def test_schema_is_valid_openapi_3_and_lists_every_endpoint(openapi):
    # given the schema served on a shop's host, without credentials
    # then it is a valid OpenAPI 3 document with exactly the API's operations
    validate_schema(openapi)
    assert openapi["openapi"].startswith("3.")
    assert _operations(openapi) == OPERATIONS


def test_every_operation_documents_token_auth_and_the_error_shape(openapi):
    # then each operation but login needs a bearer token and documents its 401, 404 and 429 as
    # the error body
    for path, method in sorted(OPERATIONS - PUBLIC_OPERATIONS):
        operation = openapi["paths"][path][method]
        assert {"tokenAuth": []} in operation["security"], (path, method)
        for status in ("401", "404", "429"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == ERROR_SCHEMA, (path, method, status)
    assert openapi["components"]["securitySchemes"]["tokenAuth"]["type"] == "http"
    assert openapi["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_login_needs_no_token_and_documents_its_throttle(openapi):
    operation = openapi["paths"]["/api/auth/login/"]["post"]
    assert operation.get("security", [{}]) == [{}]
    assert set(operation["responses"]) == {"201", "400", "401", "404", "413", "429"}


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/api/jobs/{id}/pause/", "post", "409"),
        ("/api/jobs/{id}/retry/", "post", "409"),
        ("/api/batches/{batch_id}/cancel/", "post", "409"),
        ("/api/jobs/", "post", "422"),
        ("/api/batches/", "post", "422"),
        ("/api/products/{id}/", "delete", "409"),
        ("/api/connections/{marketplace}/callback/", "get", "503"),
        ("/api/jobs/", "get", "400"),
        ("/api/products/", "post", "403"),
    ],
)
def test_specific_errors_are_documented(openapi, path, method, status):
    responses = openapi["paths"][path][method]["responses"]
    assert responses[status]["content"]["application/json"]["schema"] == ERROR_SCHEMA


def test_every_create_links_to_the_operations_of_what_it_created(openapi):
    # then each create's 201 names, by operationId, the operations on the created resource,
    # taking the path parameter from the body; every link resolves to an operation
    by_id = {
        operation["operationId"]: (path, operation)
        for path, item in openapi["paths"].items()
        for operation in item.values()
    }
    for source, (parameter, field, targets) in LINKS.items():
        links = by_id[source][1]["responses"]["201"]["links"]
        assert sorted(link["operationId"] for link in links.values()) == sorted(targets)
        for link in links.values():
            path, _ = by_id[link["operationId"]]
            assert f"{{{parameter}}}" in path
            assert link["parameters"] == {parameter: f"$response.body#/{field}"}
    batch_links = by_id["batches_create"][1]["responses"]["201"]["links"]
    assert batch_links["BatchesRetrieve"] == {
        "operationId": "batches_retrieve",
        "parameters": {"batch_id": "$response.body#/batch_id"},
    }


def test_create_endpoints_document_the_idempotency_key(openapi):
    for path in ("/api/jobs/", "/api/batches/"):
        headers = [p["name"] for p in openapi["paths"][path]["post"]["parameters"]]
        assert headers == ["Idempotency-Key"]


def test_docs_ui_is_served_on_shop_and_public_hosts(tenant, make_client):
    # when a browser opens the docs on a shop's host and on the public host
    on_shop = make_client(host=tenant_host(tenant)).get("/api/docs/")
    on_public = make_client(host="localhost").get("/api/docs/")
    schema_on_public = make_client(host="localhost").get("/api/schema/", {"format": "json"})

    # then both serve Swagger UI pointing at the schema, which the public host serves too
    for response in (on_shop, on_public):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert b"swagger-ui" in response.content
        assert b"/api/schema/" in response.content
    assert _operations(schema_on_public.json()) == OPERATIONS


# --- schemathesis -------------------------------------------------------------------------


@contextmanager
def _inside_the_test_transaction() -> Iterator[None]:
    """Requests sent straight to the WSGI app close "old" connections when they start and end,
    which would end the test's transaction; the Django test client lifts this the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tenant, member, openapi):
    # given some rows for generated ids to hit, and the schema loaded into schemathesis with
    # the Django WSGI app behind it, addressed to the shop's host as the member
    ProductFactory()
    make_job_in("failed")
    make_batch(products=2)
    schema = schemathesis.openapi.from_dict(openapi)
    schema.app = get_wsgi_application()
    base_url = f"http://{tenant_host(tenant)}"
    operations = [result.ok() for result in schema.get_all_operations()]

    # when schemathesis sends generated requests, valid and invalid, to every operation
    # then every answer passes its checks (a failure shows the request as curl)
    with _inside_the_test_transaction():
        for operation in operations:
            _exercise(operation, base_url=base_url, member=member)
    assert len(operations) == len(OPERATIONS)


def _exercise(operation, *, base_url: str, member) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure is reproducible
        # Health checks stay on; a page of generated requests against PostgreSQL is not fast.
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        # A token per request: logout and token revocation are among the operations.
        _, raw = api_token_issue(user=member, name="schemathesis")
        case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {raw}"},
            excluded_checks=EXCLUDED_CHECKS,
        )

    run()


@pytest.mark.slow
def test_schemathesis_stateful_sequences_through_the_links(tenant, member, openapi):
    # given the operations the links join (creates and what follows them), as the member
    ProductFactory()
    linked = set(LINKS) | {target for _, _, targets in LINKS.values() for target in targets}
    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi)).include(
        operation_id=sorted(linked)
    )
    schema.app = get_wsgi_application()
    base_url = f"http://{tenant_host(tenant)}"
    _, raw = api_token_issue(user=member, name="schemathesis stateful")

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"base_url": base_url, "headers": {"Authorization": f"Bearer {raw}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                excluded_checks=EXCLUDED_CHECKS,
                headers=kwargs.get("headers"),  # the token is ours, not generated
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    # when schemathesis chains calls through the links (create a product, then read, update or
    # delete that very product; create a batch, then read or cancel it ...)
    # then every answer along every sequence passes the checks, the stateful ones included
    # (a created resource is found by the operations its links name)
    with _inside_the_test_transaction():
        Sequences.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=[HealthCheck.too_slow],
            )
        )
