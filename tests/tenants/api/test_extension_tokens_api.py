"""/api/connections/vinted/tokens/ over HTTP: a member issues (shown once), lists and revokes
the tokens of their own Vinted extensions in the shop of the host. The rows live in `public`, so
the tenant and the user filter everything."""

import re

import pytest

from tenants.models import ExtensionToken, MembershipRole
from tenants.services import extension_token_authenticate, extension_token_issue
from tests.api_support import FORBIDDEN, NOT_FOUND
from tests.conftest import tenant_host
from tests.factories.tenants import MembershipFactory, UserFactory

TOKENS = "/api/connections/vinted/tokens/"
LISTED_FIELDS = {"id", "name", "prefix", "is_active", "created_at", "last_used_at", "revoked_at"}


def test_issue_shows_the_token_once_and_stores_only_its_digest(tenant, api_client, member):
    # when the member issues a token for their browser
    response = api_client.post(TOKENS, {"name": "Chrome at the shop"})

    # then 201 carries the token, which authenticates as the member in this tenant, while the
    # database only has its digest and prefix
    assert response.status_code == 201
    body = response.json()
    assert set(body) == LISTED_FIELDS | {"token"}
    assert re.fullmatch(r"rlx_[A-Za-z0-9_-]{43}", body["token"])
    assert (body["name"], body["prefix"], body["is_active"], body["revoked_at"]) == (
        "Chrome at the shop",
        body["token"][:12],
        True,
        None,
    )
    stored = ExtensionToken.objects.get()
    assert body["token"] not in (stored.digest, stored.prefix)
    authenticated = extension_token_authenticate(raw=body["token"])
    assert (authenticated.pk, authenticated.tenant_id, authenticated.user_id) == (
        body["id"],
        tenant.pk,
        member.pk,
    )


def test_list_shows_only_the_members_own_tokens_of_this_shop_without_secrets(
    tenant, other_tenant, api_client, member
):
    # given the member's two tokens here, one of theirs in B, and a colleague's token here
    MembershipFactory(user=member, tenant=other_tenant)
    colleague = UserFactory()
    MembershipFactory(user=colleague, tenant=tenant)
    older, _ = extension_token_issue(tenant=tenant, user=member, name="laptop")
    newer, _ = extension_token_issue(tenant=tenant, user=member, name="desktop")
    extension_token_issue(tenant=other_tenant, user=member, name="in B")
    extension_token_issue(tenant=tenant, user=colleague, name="colleague's")

    # when the member lists tokens on A's host
    response = api_client.get(TOKENS)

    # then exactly their two A tokens, newest first, with no token or digest in sight
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["id"], row["name"]) for row in rows] == [
        (newer.pk, "desktop"),
        (older.pk, "laptop"),
    ]
    assert {frozenset(row) for row in rows} == {frozenset(LISTED_FIELDS)}


def test_revoke_deactivates_the_token_for_good(tenant, api_client, member):
    # given an issued token
    token, raw = extension_token_issue(tenant=tenant, user=member)

    # when the member revokes it, twice
    first = api_client.post(f"{TOKENS}{token.pk}/revoke/")
    second = api_client.post(f"{TOKENS}{token.pk}/revoke/")

    # then it is inactive, keeps its first revocation time, and no longer authenticates
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["is_active"], first.json()["revoked_at"] is not None) == (False, True)
    assert second.json()["revoked_at"] == first.json()["revoked_at"]
    assert extension_token_authenticate(raw=raw) is None


def test_a_colleagues_token_cannot_be_revoked(tenant, api_client):
    # given a colleague's token in the same shop
    colleague = UserFactory()
    MembershipFactory(user=colleague, tenant=tenant)
    token, raw = extension_token_issue(tenant=tenant, user=colleague)

    # when the member tries to revoke it / then 404, and it still works
    response = api_client.post(f"{TOKENS}{token.pk}/revoke/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert extension_token_authenticate(raw=raw).pk == token.pk


def test_viewer_lists_but_cannot_issue_or_revoke(tenant, make_client):
    # given a viewer holding a token (issued before they became a viewer)
    viewer = UserFactory()
    MembershipFactory(user=viewer, tenant=tenant, role=MembershipRole.VIEWER)
    token, _ = extension_token_issue(tenant=tenant, user=viewer)
    client = make_client(host=tenant_host(tenant), user=viewer)

    # when the viewer lists, issues and revokes
    listed = client.get(TOKENS)
    issued = client.post(TOKENS, {"name": "x"})
    revoked = client.post(f"{TOKENS}{token.pk}/revoke/")

    # then only listing is allowed
    assert listed.status_code == 200
    assert (issued.status_code, revoked.status_code) == (403, 403)
    assert issued.json() == FORBIDDEN
    assert list(ExtensionToken.objects.values_list("pk", "revoked_at")) == [(token.pk, None)]


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", TOKENS), ("post", TOKENS), ("post", TOKENS + "{b}/revoke/")],
    ids=["list", "issue", "revoke"],
)
def test_member_of_a_on_bs_host_gets_404_and_changes_nothing(
    tenant, other_tenant, intruder, method, path
):
    # given a token of one of B's members
    owner_b = UserFactory()
    MembershipFactory(user=owner_b, tenant=other_tenant)
    token_b, _ = extension_token_issue(tenant=other_tenant, user=owner_b)

    # when A's member calls B's host with A's token
    response = getattr(intruder, method)(path.format(b=token_b.pk), {"name": "mine"})

    # then a bare 404: no token issued in B, B's token still active
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert list(ExtensionToken.objects.values_list("pk", "tenant_id", "revoked_at")) == [
        (token_b.pk, other_tenant.pk, None)
    ]


def test_own_token_of_b_is_not_found_on_as_host(tenant, other_tenant, api_client, member):
    # given the member also belongs to B and has a token there
    MembershipFactory(user=member, tenant=other_tenant)
    token_b, _ = extension_token_issue(tenant=other_tenant, user=member)

    # when they revoke it through A's host / then 404: a host only reaches its shop's tokens
    response = api_client.post(f"{TOKENS}{token_b.pk}/revoke/")
    assert response.status_code == 404
    assert ExtensionToken.objects.get(pk=token_b.pk).revoked_at is None
