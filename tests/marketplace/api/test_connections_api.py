"""/api/connections/ over HTTP: each marketplace's status, eBay and Etsy OAuth (consent URL,
callback exchanging the code at the sandbox's token endpoint, disconnect), and tenant scoping.

The sandboxes play eBay's and Etsy's consent pages: they redirect at once with a code, so a test
follows the same steps as a user's browser."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from marketplace.models import MarketplaceConnection
from marketplace.services.connections import TokenGrant, connection_store
from marketplace.services.presence import (
    ExtensionSession,
    presence_join,
    presence_leave,
    presence_list,
)
from sandbox.oauth import TokenStatus, pkce_challenge
from sandbox.pytest_plugin import ebay_sandbox, etsy_sandbox
from tenants.context import tenant_context
from tenants.models import MembershipRole
from tenants.services import extension_token_issue
from tests.api_support import FORBIDDEN, NOT_FOUND, error
from tests.conftest import tenant_host
from tests.factories.tenants import MembershipFactory, UserFactory

__all__ = ["ebay_sandbox", "etsy_sandbox"]

STATE_FIELDS = {
    "marketplace",
    "status",
    "status_reason",
    "account_id",
    "scopes",
    "access_token_expires_at",
    "updated_at",
    "extension_tokens",
    "extensions_online",
}
EBAY_CALLBACK = "http://shop-a.test.localhost/api/connections/ebay/callback/"
ETSY_CALLBACK = "http://shop-a.test.localhost/api/connections/etsy/callback/"


@pytest.fixture
def ebay(ebay_sandbox, settings):
    """The eBay sandbox as the shop's eBay (consent and token endpoints)."""
    settings.EBAY_AUTH_BASE_URL = ebay_sandbox.root_url
    settings.EBAY_API_BASE_URL = ebay_sandbox.base_url
    return ebay_sandbox


@pytest.fixture
def etsy(etsy_sandbox, settings):
    """The Etsy sandbox as the shop's Etsy (connect page, token endpoint, API)."""
    settings.ETSY_CONNECT_URL = etsy_sandbox.connect_url
    settings.ETSY_TOKEN_URL = etsy_sandbox.token_url
    settings.ETSY_API_BASE_URL = etsy_sandbox.base_url
    return etsy_sandbox


@pytest.fixture
def no_extension_online(tenant):
    """No Vinted extension session of the tenant is left in Redis by another test."""
    for session in presence_list(schema=tenant.schema_name):
        presence_leave(schema=tenant.schema_name, channel=session.channel)
    yield
    for session in presence_list(schema=tenant.schema_name):
        presence_leave(schema=tenant.schema_name, channel=session.channel)


def _consent(authorize_url: str) -> str:
    """What the user's browser does at the marketplace: consent, then follow the redirect to
    our callback. Returns the callback's path and query, as the browser would request it."""
    redirect = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    return f"{location.path}?{location.query}"


def _connect(marketplace: str, **grant: object) -> MarketplaceConnection:
    return connection_store(
        marketplace=marketplace,
        grant=TokenGrant(access_token="at", expires_in=3600, refresh_token="rt", **grant),
        account_id="acct-1",
    )


# --- status -------------------------------------------------------------------------------


def test_status_lists_every_marketplace_when_nothing_is_connected(
    tenant, api_client, no_extension_online
):
    # when the member of a fresh shop asks for its connections
    response = api_client.get("/api/connections/")

    # then all three are disconnected, with the reason
    assert response.status_code == 200
    assert [
        (row["marketplace"], row["status"], row["status_reason"]) for row in response.json()
    ] == [
        ("vinted", "disconnected", "No browser extension is online."),
        ("ebay", "disconnected", "Never connected."),
        ("etsy", "disconnected", "Never connected."),
    ]
    assert {frozenset(row) for row in response.json()} == {frozenset(STATE_FIELDS)}


def test_status_of_a_connection_shows_no_token(tenant, api_client):
    # given a connected eBay account
    _connect("ebay", scopes=("sell.inventory",))

    # when the member reads it
    response = api_client.get("/api/connections/ebay/")

    # then it is connected, with its account and scopes, and no token anywhere in the body
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["account_id"], body["scopes"]) == (
        "connected",
        "acct-1",
        ["sell.inventory"],
    )
    assert b'"at"' not in response.content
    assert b'"rt"' not in response.content


def test_vinted_is_connected_while_an_extension_is_online(
    tenant, api_client, member, no_extension_online
):
    # given two active extension tokens, and one extension session online
    extension_token_issue(tenant=tenant, user=member)
    extension_token_issue(tenant=tenant, user=member)
    presence_join(
        schema=tenant.schema_name,
        session=ExtensionSession(
            channel="specific.test!1",
            session_id="s-1",
            user_id=member.pk,
            connected_at=0.0,
            last_seen=0.0,
        ),
    )

    # when the member reads the Vinted connection
    response = api_client.get("/api/connections/vinted/")

    # then it is connected, counting the tokens and the live extension
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["extension_tokens"], body["extensions_online"]) == (
        "connected",
        2,
        1,
    )


# --- eBay OAuth ---------------------------------------------------------------------------


def test_ebay_start_returns_the_consent_url(tenant, api_client, ebay):
    # when the member starts connecting eBay
    response = api_client.post("/api/connections/ebay/authorize/")

    # then the URL is eBay's authorize endpoint with our client, callback, scopes and state
    assert response.status_code == 200
    body = response.json()
    url = urlsplit(body["authorize_url"])
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ebay.root_url}/oauth2/authorize"
    assert query == {
        "client_id": "relist-sandbox-client",
        "redirect_uri": EBAY_CALLBACK,
        "response_type": "code",
        "scope": (
            "https://api.ebay.com/oauth/api_scope "
            "https://api.ebay.com/oauth/api_scope/sell.inventory "
            "https://api.ebay.com/oauth/api_scope/sell.fulfillment "
            "https://api.ebay.com/oauth/api_scope/sell.account"
        ),
        "state": body["state"],
    }
    assert (body["redirect_uri"], body["expires_in"]) == (EBAY_CALLBACK, 600)


def test_ebay_consent_and_callback_connect_the_shop(tenant, api_client, ebay):
    # given a started connection, and the user consenting on eBay
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])

    # when eBay sends the user back to the callback
    response = api_client.get(callback)

    # then the shop is connected with tokens that eBay accepts
    assert response.status_code == 200
    assert (response.json()["marketplace"], response.json()["status"]) == ("ebay", "connected")
    connection = MarketplaceConnection.objects.get(marketplace="ebay")
    assert connection.status == "connected"
    assert ebay.tokens.check_access(connection.access_token) == (
        TokenStatus.VALID,
        "sandbox-seller",
    )
    assert connection.refresh_token.startswith("v^1.1#i^1#r^1")
    assert "https://api.ebay.com/oauth/api_scope/sell.inventory" in connection.scopes


def test_configured_redirect_uri_is_used(tenant, api_client, ebay, settings):
    # given the app's registered redirect (an RuName in production)
    settings.EBAY_OAUTH_REDIRECT_URI = "https://app.example/ebay/return"

    # when the member starts connecting / then the consent URL names it
    body = api_client.post("/api/connections/ebay/authorize/").json()
    query = parse_qs(urlsplit(body["authorize_url"]).query)
    assert (query["redirect_uri"], body["redirect_uri"]) == (
        ["https://app.example/ebay/return"],
        "https://app.example/ebay/return",
    )


def test_a_code_is_redeemed_once(tenant, api_client, ebay):
    # given a completed connection
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])
    api_client.get(callback)
    first_token = MarketplaceConnection.objects.get().access_token

    # when the callback is replayed
    response = api_client.get(callback)

    # then eBay refuses the used code: 422, and the stored tokens stay
    assert response.status_code == 422
    assert response.json() == error(
        "marketplace_auth",
        "eBay refused the authorisation code; start the connection again.",
        {"marketplace": "ebay"},
    )
    assert MarketplaceConnection.objects.get().access_token == first_token


def test_token_endpoint_outage_is_a_503_to_retry(tenant, api_client, ebay):
    # given a consent, and eBay's token endpoint failing once
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])
    ebay.faults.add_rule("status", r"/oauth2/token$", method="POST", status=503)

    # when the callback arrives / then 503 tells to try again, and nothing is stored
    response = api_client.get(callback)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "marketplace_transient"
    assert MarketplaceConnection.objects.count() == 0


# --- Etsy OAuth with PKCE -----------------------------------------------------------------


def test_etsy_start_uses_pkce(tenant, api_client, etsy):
    # when the member starts connecting Etsy
    body = api_client.post("/api/connections/etsy/authorize/").json()

    # then the connect URL carries an S256 challenge (the verifier stays server-side, in the
    # encrypted state) and Etsy's scopes
    url = urlsplit(body["authorize_url"])
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == etsy.connect_url
    assert {k: v for k, v in query.items() if k != "code_challenge"} == {
        "response_type": "code",
        "client_id": "relist-sandbox-keystring",
        "redirect_uri": ETSY_CALLBACK,
        "scope": "listings_r listings_w listings_d shops_r shops_w transactions_r",
        "state": body["state"],
        "code_challenge_method": "S256",
    }
    assert len(query["code_challenge"]) == 43
    assert query["code_challenge"] != pkce_challenge("")


def test_etsy_consent_and_callback_connect_the_shop_with_its_shop_id(tenant, api_client, etsy):
    # given a started connection and the seller's consent on Etsy
    start = api_client.post("/api/connections/etsy/authorize/").json()
    callback = _consent(start["authorize_url"])

    # when Etsy sends the user back
    response = api_client.get(callback)

    # then the shop is connected to the seller's Etsy shop, with working tokens
    _user_id, shop_id = etsy.account()
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["account_id"]) == (
        "connected",
        str(shop_id),
    )
    connection = MarketplaceConnection.objects.get(marketplace="etsy")
    assert etsy.tokens.check_access(connection.access_token)[1] == str(_user_id)
    assert connection.scopes == [
        "listings_r",
        "listings_w",
        "listings_d",
        "shops_r",
        "shops_w",
        "transactions_r",
    ]


# --- refused callbacks --------------------------------------------------------------------


def test_tampered_state_is_refused(tenant, api_client, ebay):
    # given a consent whose state was altered on the way
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"]).replace("state=", "state=x")

    # when it reaches the callback / then 400, nothing stored
    response = api_client.get(callback)
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed",
        "The state is invalid or expired; start the connection again.",
        {"state": "invalid"},
    )
    assert MarketplaceConnection.objects.count() == 0


def test_expired_state_is_refused(tenant, api_client, ebay, settings):
    # given a consent, completed after the state's lifetime
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])
    settings.RELIST_OAUTH_STATE_MAX_AGE_S = -1

    # when it reaches the callback / then 400
    response = api_client.get(callback)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"state": "invalid"}
    assert MarketplaceConnection.objects.count() == 0


MISMATCH = error(
    "validation_failed",
    "The state does not belong to this connection; start again.",
    {"state": "mismatch"},
)


def test_state_of_another_user_is_refused(tenant, api_client, ebay, make_client):
    # given a consent started by the member, and a colleague in the same shop
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])
    colleague = UserFactory()
    MembershipFactory(user=colleague, tenant=tenant)

    # when the colleague completes it / then 400: a state completes only its own user's consent
    response = make_client(host=tenant_host(tenant), user=colleague).get(callback)
    assert response.status_code == 400
    assert response.json() == MISMATCH
    assert MarketplaceConnection.objects.count() == 0


def test_state_of_another_marketplace_is_refused(tenant, api_client, ebay):
    # given an eBay consent
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])

    # when it comes back on Etsy's callback / then 400, nothing stored
    response = api_client.get(callback.replace("/ebay/", "/etsy/"))
    assert response.status_code == 400
    assert response.json() == MISMATCH
    assert MarketplaceConnection.objects.count() == 0


def test_callback_without_code_is_refused(tenant, api_client):
    response = api_client.get("/api/connections/ebay/callback/", {"state": "s"})
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed", "The request is invalid.", {"code": ["This field is required."]}
    )


def test_vinted_has_no_oauth(tenant, api_client):
    # when the member tries to start OAuth for Vinted / then 400 points to the extension
    response = api_client.post("/api/connections/vinted/authorize/")
    assert response.status_code == 400
    assert response.json() == error(
        "validation_failed",
        "Only eBay and Etsy connect with OAuth; Vinted uses the browser extension.",
        {"marketplace": "vinted"},
    )


# --- disconnect ---------------------------------------------------------------------------


def test_disconnect_forgets_the_tokens(tenant, api_client):
    # given a connected Etsy shop
    _connect("etsy")

    # when the member disconnects it
    response = api_client.delete("/api/connections/etsy/")
    status = api_client.get("/api/connections/etsy/").json()

    # then 204, the tokens are gone and the status says so
    assert response.status_code == 204
    connection = MarketplaceConnection.objects.get(marketplace="etsy")
    assert (connection.access_token, connection.refresh_token) == ("", "")
    assert (status["status"], status["status_reason"]) == (
        "disconnected",
        "Disconnected by a user.",
    )


def test_disconnecting_what_was_never_connected_is_not_found(tenant, api_client):
    response = api_client.delete("/api/connections/ebay/")
    assert response.status_code == 404
    assert response.json() == error(
        "not_found", "No ebay account is connected to this shop.", {"marketplace": "ebay"}
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/connections/ebay/authorize/"),
        ("get", "/api/connections/ebay/callback/?code=c&state=s"),
        ("delete", "/api/connections/ebay/"),
    ],
    ids=["authorize", "callback", "disconnect"],
)
def test_viewer_cannot_change_connections(tenant, make_client, method, path):
    # given a connected eBay and a viewer
    _connect("ebay")
    viewer = UserFactory()
    MembershipFactory(user=viewer, tenant=tenant, role=MembershipRole.VIEWER)
    client = make_client(host=tenant_host(tenant), user=viewer)

    # when the viewer changes the connection / then 403, still connected
    response = getattr(client, method)(path)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert MarketplaceConnection.objects.get().status == "connected"


# --- tenant scoping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/connections/"),
        ("get", "/api/connections/ebay/"),
        ("post", "/api/connections/ebay/authorize/"),
        ("get", "/api/connections/ebay/callback/?code=c&state=s"),
        ("delete", "/api/connections/ebay/"),
    ],
    ids=["list", "detail", "authorize", "callback", "disconnect"],
)
def test_member_of_a_on_bs_host_gets_404_and_changes_nothing(
    tenant, other_tenant, intruder, method, path
):
    # given B's connected eBay
    with tenant_context(other_tenant.schema_name):
        _connect("ebay")

    # when A's member calls B's host with A's token
    response = getattr(intruder, method)(path)

    # then a bare 404, and B stays connected
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    with tenant_context(other_tenant.schema_name):
        assert MarketplaceConnection.objects.get().status == "connected"


def test_a_state_started_in_a_cannot_complete_in_b(
    tenant, other_tenant, api_client, member, make_client, ebay
):
    # given a member of A and B who starts connecting eBay in A
    MembershipFactory(user=member, tenant=other_tenant)
    start = api_client.post("/api/connections/ebay/authorize/").json()
    callback = _consent(start["authorize_url"])

    # when the callback is sent to B's host
    response = make_client(host=tenant_host(other_tenant), user=member).get(callback)

    # then B refuses the state, and neither shop is connected
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"state": "mismatch"}
    assert MarketplaceConnection.objects.count() == 0
    with tenant_context(other_tenant.schema_name):
        assert MarketplaceConnection.objects.count() == 0
