"""Abuse limits over HTTP: throttles per user and per IP on the shared Redis cache, a stricter
scope for login and for failed token authentications (token guessing), all answering 429 with
Retry-After in the error shape; django-axes locks the admin login (and the API login) after
AXES_FAILURE_LIMIT failures. Each test starts from an empty cache and comes from its own IP."""

import itertools

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from tenants.auth import api_token_issue
from tests.conftest import TenantAPIClient, tenant_host
from tests.factories.tenants import MembershipFactory, UserFactory

_ips = itertools.count(1)


@pytest.fixture(autouse=True)
def empty_cache():
    """Counts live in Redis and outlive a run (same IPs, same usernames next time)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ip() -> str:
    n = next(_ips)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**scopes: str) -> None:
        for scope, rate in scopes.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rates


def client(tenant, ip: str, raw: str | None = None) -> TenantAPIClient:
    api = TenantAPIClient(HTTP_HOST=tenant_host(tenant), REMOTE_ADDR=ip)
    if raw:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def assert_throttled(response, code: str = "throttled") -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.json()["error"]
    assert body["code"] == code
    if code == "throttled":
        assert body["details"]["retry_after"] == int(response["Retry-After"])


def test_guessed_tokens_meet_429_and_a_good_token_elsewhere_does_not(tenant, member, ip, rates):
    # given a budget of 5 failed authentications per minute per IP
    rates(auth_failure="5/min")
    guesser = client(tenant, ip)

    # when an IP sends 5 wrong tokens / then each is 401
    for n in range(5):
        guesser.credentials(HTTP_AUTHORIZATION=f"Bearer rlt_guess{n}")
        assert guesser.get("/api/jobs/").status_code == 401

    # when it sends a sixth, or even a good token / then 429 with Retry-After, no lookup
    _, raw = api_token_issue(user=member)
    assert_throttled(guesser.get("/api/jobs/"))
    assert_throttled(client(tenant, ip, raw).get("/api/jobs/"))

    # and a member with a good token from another IP is served
    assert client(tenant, "192.0.2.1", raw).get("/api/jobs/").status_code == 200


def test_login_attempts_are_throttled_per_ip(tenant, member, ip, rates):
    rates(login="3/min")
    anonymous = client(tenant, ip)
    for _ in range(3):
        response = anonymous.post("/api/auth/login/", {"username": "x", "password": "y"})
        assert response.status_code == 401
    assert_throttled(
        anonymous.post("/api/auth/login/", {"username": member.username, "password": "pw"})
    )


def test_requests_are_throttled_per_user(tenant, member, ip, rates):
    # given a budget of 3 requests per minute per user, ample per IP
    rates(user="3/min")
    _, raw = api_token_issue(user=member)

    # when the member sends 4 from two addresses / then the fourth is 429
    for address in (ip, ip, "192.0.2.7"):
        assert client(tenant, address, raw).get("/api/jobs/").status_code == 200
    assert_throttled(client(tenant, "192.0.2.8", raw).get("/api/jobs/"))


def test_requests_are_throttled_per_ip_across_users(tenant, member, other_member, ip, rates):
    rates(ip="3/min")
    _, raw = api_token_issue(user=member)
    _, other_raw = api_token_issue(user=other_member)
    for raw_token in (raw, raw, other_raw):
        assert client(tenant, ip, raw_token).get("/api/jobs/").status_code == 200
    assert_throttled(client(tenant, ip, other_raw).get("/api/jobs/"))


@pytest.fixture
def other_member(tenant):
    user = UserFactory()
    MembershipFactory(user=user, tenant=tenant)
    return user


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


def test_admin_login_locks_out_after_the_failure_limit(tenant, staff_user, ip):
    # given the admin login on the operators' host
    admin = Client(HTTP_HOST="localhost", REMOTE_ADDR=ip)  # a form post, not JSON
    limit = settings.AXES_FAILURE_LIMIT

    # when a wrong password is tried below the limit / then the form answers each time
    for _ in range(limit - 1):
        page = admin.post("/admin/login/", {"username": staff_user.username, "password": "no"})
        assert page.status_code == 200
    # when the limit-th failure comes, and then even the right password
    locked = admin.post("/admin/login/", {"username": staff_user.username, "password": "no"})
    right = admin.post("/admin/login/", {"username": staff_user.username, "password": "pw"})

    # then both are 429 with Retry-After, and no session was opened
    for response in (locked, right):
        assert response.status_code == 429
        assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert "_auth_user_id" not in admin.session


def test_api_login_shares_the_lockout(tenant, member, ip):
    anonymous = client(tenant, ip)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        anonymous.post("/api/auth/login/", {"username": member.username, "password": "no"})
    response = anonymous.post("/api/auth/login/", {"username": member.username, "password": "pw"})
    assert_throttled(response, code="locked_out")


def test_a_successful_login_under_the_limit_resets_the_count(tenant, member, ip):
    anonymous = client(tenant, ip)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        anonymous.post("/api/auth/login/", {"username": member.username, "password": "no"})
    ok = anonymous.post("/api/auth/login/", {"username": member.username, "password": "pw"})
    assert ok.status_code == 201
    anonymous.post("/api/auth/login/", {"username": member.username, "password": "no"})
    ok_again = anonymous.post("/api/auth/login/", {"username": member.username, "password": "pw"})
    assert ok_again.status_code == 201
