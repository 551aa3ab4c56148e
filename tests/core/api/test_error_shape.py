"""One error shape everywhere under /api/, {"error": {"code", "message", "details"}}, never an
HTML page: unknown URLs, wrong methods and media types, unhandled errors, and the errors Django
renders itself (handler400/403/404/500)."""

import json

import pytest
from django.test import RequestFactory

from config import urls, urls_public
from core.api import views
from marketplace import selectors
from tests.api_support import NOT_FOUND, error
from tests.conftest import tenant_host


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/nothing-here/"),
        ("get", "/api/jobs"),
        ("post", "/api/jobs/1/explode/"),
        ("delete", "/api/"),
        ("get", "/api/jobs/1/tasks/extra/"),
    ],
    ids=["unknown", "no-trailing-slash", "unknown-action", "api-root", "too-deep"],
)
def test_unmatched_api_urls_answer_json_404(tenant, api_client, method, path):
    # when a member calls a URL under /api/ that matches no route
    response = getattr(api_client, method)(path)

    # then a JSON 404 in the error shape (a POST meets no CSRF page either)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_unmatched_api_url_without_credentials_is_404_too(tenant, make_client):
    response = make_client(host=tenant_host(tenant)).get("/api/nothing-here/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("path", ["/api/jobs/", "/api/nothing/"])
def test_public_host_answers_json_404_under_api(tenant, member, make_client, path):
    # when the operators' host is asked for the shop API / then JSON 404, no tenant data
    response = make_client(host="localhost", user=member).get(path)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_wrong_method_is_405_in_the_error_shape(tenant, api_client):
    response = api_client.put("/api/products/", {})
    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", 'Method "PUT" not allowed.')


def test_non_json_body_is_415_in_the_error_shape(tenant, api_client):
    # when a form is posted instead of JSON / then 415
    response = api_client.post(
        "/api/jobs/", "marketplace=ebay", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json() == error(
        "unsupported_media_type",
        'Unsupported media type "application/x-www-form-urlencoded" in request.',
    )


def test_a_browser_gets_json_not_a_browsable_page(tenant, api_client):
    # when the list is asked for with a browser's Accept header / then JSON
    response = api_client.get("/api/jobs/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_unhandled_error_is_a_json_500_and_is_logged(tenant, api_client, monkeypatch, caplog):
    # given a bug deep in the job list
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "job_row_list", broken)

    # when the member lists jobs
    response = api_client.get("/api/jobs/")

    # then a JSON 500 that reveals nothing, and the traceback in the log
    assert response.status_code == 500
    assert response.json() == error("server_error", "Something went wrong on our side.")
    assert [r.getMessage() for r in caplog.records if r.name == "core.api.exception_handler"] == [
        "api.unhandled_error"
    ]


def test_disallowed_host_is_a_json_400_under_api(tenant, make_client):
    # when a request names a host outside ALLOWED_HOSTS / then Django's 400, as JSON
    response = make_client(host="evil.example.com").get("/api/jobs/")
    assert response.status_code == 400
    assert response.json() == error("bad_request", "The request is malformed.")


def test_both_url_confs_install_the_json_handlers():
    for conf in (urls, urls_public):
        assert (conf.handler400, conf.handler403, conf.handler404, conf.handler500) == (
            "core.api.views.bad_request",
            "core.api.views.permission_denied",
            "core.api.views.not_found",
            "core.api.views.server_error",
        )


@pytest.mark.parametrize(
    ("handler", "args", "status", "code"),
    [
        (views.bad_request, (None,), 400, "bad_request"),
        (views.permission_denied, (None,), 403, "permission_denied"),
        (views.not_found, (None,), 404, "not_found"),
        (views.server_error, (), 500, "server_error"),
    ],
    ids=["400", "403", "404", "500"],
)
def test_django_error_handlers_answer_json_under_api_and_html_elsewhere(
    handler, args, status, code
):
    # given a request under /api/ and one for the admin
    factory = RequestFactory()
    api, admin = factory.get("/api/jobs/"), factory.get("/admin/nothing/")

    # when Django renders its error for each
    api_response, admin_response = handler(api, *args), handler(admin, *args)

    # then the API gets the error shape, the admin Django's own HTML page
    assert (api_response.status_code, admin_response.status_code) == (status, status)
    assert api_response["Content-Type"] == "application/json"
    assert json.loads(api_response.content)["error"]["code"] == code
    assert admin_response["Content-Type"].startswith("text/html")
