"""The edges over real servers, in the production layout: gunicorn (the Procfile's `web`: REST
API, admin, static files) and daphne (`sockets`, which serves HTTP too). Hostile input, a
missing schema, login and token guessing, the offline docs UI and the admin's CSS, each over a
real socket against committed data."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from django.core.cache import cache
from django.db import connection

from core.api.parsers import MAX_JSON_DEPTH
from marketplace.services.ratelimit import redis_client
from tenants.auth import api_token_issue
from tenants.models import Domain, Tenant
from tests.conftest import tenant_host
from tests.factories.tenants import DomainFactory, MembershipFactory, UserFactory
from tests.integration.servers import DAPHNE_WS_LIMITS, free_port
from tests.integration.workers import ROOT, worker_environment

pytestmark = [pytest.mark.integration]

GONE_HOST = "gone-served.test.localhost"
SERVER_ENV = {"RELIST_THROTTLE_AUTH_FAILURE": "3/min"}


class Served:
    def __init__(self, kind: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        if kind == "gunicorn":
            argv = [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.py",
                "-b",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "config.wsgi:application",
            ]
        else:
            argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                    *DAPHNE_WS_LIMITS, "config.asgi:application"]  # fmt: skip
        self.log_path = ROOT / "var" / f"test-served-{kind}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        for _ in range(300):
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text()[-3000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server not ready")

    def get(self, path: str, host: str, **kwargs) -> requests.Response:
        return requests.get(self.base + path, headers={"Host": host, **kwargs.pop("headers", {})},
                            timeout=30, **kwargs)  # fmt: skip

    def post(self, path: str, host: str, **kwargs) -> requests.Response:
        return requests.post(self.base + path, headers={"Host": host, **kwargs.pop("headers", {})},
                             timeout=30, **kwargs)  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture(autouse=True)
def fresh_throttles() -> None:
    """Throttle counters are per client IP and shared through Redis: earlier tests of the run
    (all from 127.0.0.1) must not spend the budget of these servers' stricter scopes."""
    cache.clear()
    client = redis_client()
    for key in client.scan_iter("relist:throttle:*"):
        client.delete(key)


@pytest.fixture(scope="module", params=["gunicorn", "daphne"])
def served(request, test_tenants, django_db_blocker) -> Iterator[Served]:
    with django_db_blocker.unblock():
        env = worker_environment(SERVER_ENV)
    server = Served(request.param, env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def committed(test_tenants, django_db_blocker) -> Iterator[dict]:
    """A member of shop A with a password and a token, and a shop whose schema is missing, all
    committed (the server's connections must see them)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        user = UserFactory(username="served-member")
        MembershipFactory(user=user, tenant=test_tenants["test_shop_a"])
        _, raw = api_token_issue(user=user, name="served")
        gone = DomainFactory(domain=GONE_HOST, tenant__schema_name="test_gone_served")
        yield {"user": user, "token": raw, "host": tenant_host(test_tenants["test_shop_a"])}
        connection.set_schema_to_public()
        Domain.objects.filter(pk=gone.pk).delete()
        Tenant.objects.filter(pk=gone.tenant_id).delete()  # a row only: no schema to drop


def _auth(committed: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {committed['token']}", "Content-Type": "application/json"}


def _error(response: requests.Response) -> tuple[int, str]:
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, response.json()["error"]["code"]


def test_deep_json_is_400(served, committed):
    body = "[" * 10_000 + "]" * 10_000
    for path in ("/api/products/", "/api/jobs/", "/api/batches/"):
        response = served.post(path, committed["host"], data=body, headers=_auth(committed))
        assert _error(response) == (400, "parse_error")
        message = response.json()["error"]["message"]
        assert message == f"JSON nested deeper than {MAX_JSON_DEPTH} levels."


def test_lone_surrogate_and_nul_are_400(served, committed):
    for value in ("\ud800", "nul\x00"):
        body = json.dumps({"sku": "S", "title": "T", "price": "1.00", "attributes": {"a": value}})
        response = served.post("/api/products/", committed["host"], data=body,
                               headers=_auth(committed))  # fmt: skip
        assert _error(response) == (400, "validation_failed")
        assert list(response.json()["error"]["details"]) == ["attributes"]


def test_body_over_the_limit_is_413(served, committed):
    body = json.dumps({"sku": "S", "title": "x" * 3_000_000, "price": "1.00"})
    response = served.post("/api/products/", committed["host"], data=body, headers=_auth(committed))
    assert _error(response) == (413, "payload_too_large")


def test_missing_schema_is_503_and_unknown_host_404(served, committed):
    gone = served.get("/api/jobs/", GONE_HOST, headers=_auth(committed))
    unknown = served.get("/api/jobs/", "nobody.test.localhost", headers=_auth(committed))
    assert _error(gone) == (503, "tenant_unavailable")
    assert _error(unknown) == (404, "tenant_not_found")


def test_login_then_bearer_then_logout(served, committed):
    host = committed["host"]
    credentials = {"username": "served-member", "password": "pw", "name": "cli"}
    login = served.post("/api/auth/login/", host, json=credentials)
    assert login.status_code == 201
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    assert served.get("/api/jobs/", host, headers=headers).status_code == 200
    assert served.post("/api/auth/logout/", host, headers=headers).status_code == 204
    assert _error(served.get("/api/jobs/", host, headers=headers)) == (401, "authentication_failed")


def test_token_guessing_meets_429_with_retry_after(served, committed):
    cache.clear()  # the server's failure counts for 127.0.0.1, in the same Redis
    codes = []
    for n in range(4):
        guess = {"Authorization": f"Bearer rlt_guess{n}"}
        codes.append(served.get("/api/jobs/", committed["host"], headers=guess))
    cache.clear()
    assert [r.status_code for r in codes] == [401, 401, 401, 429]
    assert _error(codes[-1]) == (429, "throttled")
    assert int(codes[-1].headers["Retry-After"]) > 0


def test_docs_load_only_local_assets(served, committed):
    # given the docs page on a shop's host
    page = served.get("/api/docs/", committed["host"])
    assert page.status_code == 200

    # then every script, stylesheet and icon it loads is ours, and answers 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    assert not [url for url in assets if not url.startswith("/static/")]
    for url in assets:
        assert served.get(url, committed["host"]).status_code == 200, url


def test_admin_css_is_served(served):
    response = served.get("/static/admin/css/base.css", "localhost")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    login = served.get("/admin/login/", "localhost")
    assert '<link rel="stylesheet" href="/static/admin/css/base.css">' in login.text
