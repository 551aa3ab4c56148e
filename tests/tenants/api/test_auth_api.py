"""Authentication for the frontend over HTTP: login (username + password -> a token for this
device), tokens stored as digests, expiring, several per user, listed and revoked by their owner
only, logout; `Bearer` and `Token` prefixes; the cached lookup dropped at revoke; CORS."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.auth import api_token_issue, user_for_token
from tenants.models import ApiToken
from tests.api_support import NOT_FOUND, error
from tests.conftest import TenantAPIClient, tenant_host
from tests.factories.tenants import MembershipFactory, UserFactory

LOGIN = "/api/auth/login/"
LOGOUT = "/api/auth/logout/"
TOKENS = "/api/auth/tokens/"
WRONG = error("authentication_failed", "Wrong username or password.")


@pytest.fixture
def anonymous(tenant) -> TenantAPIClient:
    return TenantAPIClient(HTTP_HOST=tenant_host(tenant))


def bearer(tenant, raw: str, keyword: str = "Bearer") -> TenantAPIClient:
    client = TenantAPIClient(HTTP_HOST=tenant_host(tenant))
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {raw}")
    return client


def test_login_issues_a_token_shown_once_and_stored_as_a_digest(tenant, anonymous, member):
    # when the member logs in from a browser
    response = anonymous.post(LOGIN, {"username": member.username, "password": "pw", "name": "FF"})

    # then 201 carries the token (once), its expiry and the member's role; only its digest and
    # prefix are stored
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"rlt_[A-Za-z0-9_-]{43}", body["token"])
    assert body["user"] == {"id": member.pk, "username": member.username, "role": "member"}
    assert (body["name"], body["prefix"]) == ("FF", body["token"][:12])
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.digest == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in (stored.digest, stored.prefix)
    assert stored.expires_at > timezone.now() + timedelta(days=29)


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_the_token_authenticates_with_either_prefix(tenant, member, keyword):
    _, raw = api_token_issue(user=member)
    response = bearer(tenant, raw, keyword).get("/api/jobs/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("member", "wrong"), ("nobody", "pw")], ids=["password", "user"]
)
def test_wrong_credentials_are_refused_alike(tenant, anonymous, member, username, password):
    name = member.username if username == "member" else username
    response = anonymous.post(LOGIN, {"username": name, "password": password})
    assert (response.status_code, response.json()) == (401, WRONG)
    assert not ApiToken.objects.filter(user=member).exists()


def test_a_member_of_another_shop_cannot_log_in_here(tenant, other_tenant, anonymous):
    # given a user who is a member of B only
    outsider = UserFactory()
    MembershipFactory(user=outsider, tenant=other_tenant)

    # when they log in on A's host / then the same answer as a wrong password, and no token
    response = anonymous.post(LOGIN, {"username": outsider.username, "password": "pw"})
    assert (response.status_code, response.json()) == (401, WRONG)
    assert not ApiToken.objects.filter(user=outsider).exists()


def test_a_stale_token_does_not_block_login(tenant, member):
    client = bearer(tenant, "rlt_expired-or-garbage")
    response = client.post(LOGIN, {"username": member.username, "password": "pw"})
    assert response.status_code == 201


def test_several_devices_each_revocable_by_their_owner_only(tenant, member):
    # given two devices of the member and one token of another member
    _, laptop_raw = api_token_issue(user=member, name="laptop")
    phone, phone_raw = api_token_issue(user=member, name="phone")
    other = UserFactory()
    MembershipFactory(user=other, tenant=tenant)
    other_token, other_raw = api_token_issue(user=other, name="theirs")

    # when the member lists their tokens from the laptop, and tries to revoke the other's
    client = bearer(tenant, laptop_raw)
    listed = client.get(TOKENS)
    refused = client.delete(f"{TOKENS}{other_token.pk}/")

    # then the list has their two devices only; the other's token is not theirs to revoke
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["results"]] == ["phone", "laptop"]
    assert all("token" not in t for t in listed.json()["results"])
    assert (refused.status_code, refused.json()) == (404, NOT_FOUND)
    assert bearer(tenant, other_raw).get("/api/jobs/").status_code == 200

    # when they revoke the phone / then the phone is logged out, the laptop is not
    assert client.delete(f"{TOKENS}{phone.pk}/").status_code == 204
    assert bearer(tenant, phone_raw).get("/api/jobs/").status_code == 401
    assert client.get("/api/jobs/").status_code == 200


def test_logout_revokes_the_token_in_use(tenant, member):
    _, raw = api_token_issue(user=member)
    client = bearer(tenant, raw)
    assert client.post(LOGOUT).status_code == 204
    response = client.get("/api/jobs/")
    assert response.status_code == 401
    assert response.json() == error("authentication_failed", "Invalid or expired token.")


def test_an_expired_token_is_refused(tenant, member):
    token, raw = api_token_issue(user=member)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(tenant, raw).get("/api/jobs/").status_code == 401
    assert user_for_token(raw) is None


def test_an_inactive_users_token_is_refused(tenant, member):
    _, raw = api_token_issue(user=member)
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert bearer(tenant, raw).get("/api/jobs/").status_code == 401


@override_settings(RELIST_AUTH_CACHE_TTL_S=30)
def test_cached_lookup_costs_no_query_and_revoke_drops_it(tenant, member):
    # given a token whose lookup has been cached by a first request
    token, raw = api_token_issue(user=member)
    client = bearer(tenant, raw)
    assert client.get("/api/jobs/").status_code == 200

    # when the next request comes / then neither the token nor the membership is queried
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/jobs/").status_code == 200
    public_reads = [q["sql"] for q in queries if "tenants_apitoken" in q["sql"]]
    public_reads += [q["sql"] for q in queries if "tenants_membership" in q["sql"]]
    assert public_reads == []

    # when the token is revoked / then the very next request is refused
    assert client.delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert client.get("/api/jobs/").status_code == 401


@override_settings(RELIST_CORS_ALLOWED_ORIGINS=None, CORS_ALLOWED_ORIGINS=["https://app.example"])
def test_cors_preflight_from_the_configured_frontend_origin(tenant, anonymous):
    # when the frontend's origin preflights a POST with a bearer token
    response = anonymous.options(
        "/api/jobs/",
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )

    # then it is allowed, with the headers the API reads; another origin gets no allowance
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    allowed = response["Access-Control-Allow-Headers"]
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))
    other = anonymous.options(
        "/api/jobs/", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in other
