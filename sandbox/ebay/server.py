"""The eBay sandbox server: OAuth, Sell Inventory and Sell Fulfillment on one port.

Production points its eBay base URL at `EbaySandbox.base_url`; every path below is the real one.
OAuth: https://developer.ebay.com/api-docs/static/oauth-tokens.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sandbox.ebay.account import AccountApi
from sandbox.ebay.errors import generic_error, oauth_error, unauthorized
from sandbox.ebay.fulfillment import FulfillmentApi
from sandbox.ebay.inventory import InventoryApi
from sandbox.faults import FaultPlan
from sandbox.oauth import AUTHORIZATION_CODE_TTL, CodeError, TokenStatus, TokenStore, random_token
from sandbox.routing import Request, Response, Router
from sandbox.server import SandboxServer

TOKEN_PATH = "/identity/v1/oauth2/token"
AUTHORIZE_PATH = "/oauth2/authorize"  # served by auth.ebay.com in production
DEFAULT_USER = "sandbox-seller"
_TOKEN_PREFIXES = {
    "access": "v^1.1#i^1#r^0#p^3#I^3#f^0#t^",
    "refresh": "v^1.1#i^1#r^1#p^3#I^3#f^0#t^",
    "code": "v^1.1#i^1#f^0#p^3#I^3#t^",
}
_MALFORMED = "request is missing a required parameter or malformed."


def _ebay_token(_user: str, kind: str) -> str:
    return _TOKEN_PREFIXES[kind] + random_token(48)


def _single(form: dict[str, str | list[str]], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


class EbaySandbox(SandboxServer):
    """eBay Sell APIs on loopback, with state per seller account and creation counters.

    `issue_tokens()` mints a token pair without the consent flow; `sandbox_user` on the
    authorize URL (a sandbox extension) picks the seller account a consent logs in as.
    """

    marketplace = "ebay"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = "relist-sandbox-client",
        client_secret: str = "relist-sandbox-secret",
        access_token_ttl: int = 7200,
        refresh_token_ttl: int = 47_304_000,
        runames: Mapping[str, str] | None = None,
        faults: FaultPlan | None = None,
        seed: int | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        # eBay's redirect_uri is an RuName whose accept URL is registered with the app.
        self.runames = dict(runames or {})
        self.tokens = TokenStore(
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            rotate_refresh_tokens=False,
            make_token=_ebay_token,
        )
        self.account = AccountApi(self.authenticate)
        self.inventory = InventoryApi(self.authenticate, lambda: self.base_url, self.account)
        self.fulfillment = FulfillmentApi(
            self.authenticate, lambda: self.base_url, self.inventory.catalogue, seed
        )
        super().__init__(host, port, faults=faults, seed=seed)

    @property
    def access_token_ttl(self) -> int:
        return self.tokens.access_token_ttl

    @access_token_ttl.setter
    def access_token_ttl(self, seconds: int) -> None:
        self.tokens.access_token_ttl = seconds

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def authorize_url(self) -> str:
        return self.root_url + AUTHORIZE_PATH

    def register_routes(self, router: Router) -> None:
        router.add("POST", TOKEN_PATH, self.token)
        router.add("GET", AUTHORIZE_PATH, self.authorize)
        self.account.register(router)
        self.inventory.register(router)
        self.fulfillment.register(router)

    # -- SandboxServer hooks ---------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return generic_error(status, message)

    def marketplace_stats(self) -> dict[str, Any]:
        return {**self.inventory.stats(), **self.fulfillment.stats()}

    def reset_state(self) -> None:
        self.account.reset()
        self.inventory.reset()
        self.fulfillment.reset()

    def issue_tokens(self, user: str | None = None) -> dict[str, Any]:
        """A refresh + access token pair for `user`, as a completed consent would give."""
        pair = self.tokens.issue(user or DEFAULT_USER, self.client_id)
        return {
            "access_token": pair.access_token,
            "expires_in": pair.access_expires_in,
            "refresh_token": pair.refresh_token,
            "refresh_token_expires_in": pair.refresh_expires_in,
            "token_type": "User Access Token",
            "user": pair.user,
        }

    def expire_access_tokens(self) -> int:
        return self.tokens.expire_access_tokens()

    def seed_orders(self, count: int, user: str | None = None) -> list[str]:
        with self.lock:
            return self.fulfillment.seed(count, user or DEFAULT_USER)

    def purchase(self, sku: str, quantity: int, user: str | None = None) -> dict[str, Any] | None:
        """A buyer purchases a live listing: stock goes down and an order appears."""
        seller = user or DEFAULT_USER
        with self.lock:
            sold = self.inventory.sell(seller, sku, quantity)
            if sold is None:
                return None
            return self.fulfillment.purchase(seller, sku=sku, quantity=quantity, sold=sold)

    def cancel_order(self, order_id: str, user: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            return self.fulfillment.cancel(user or DEFAULT_USER, order_id)

    # -- OAuth -----------------------------------------------------------------------------

    def authenticate(self, request: Request) -> str:
        """The seller behind the bearer token; eBay answers 1001 for a missing or expired one."""
        status, user = self.tokens.check_access(request.bearer_token())
        if status is not TokenStatus.VALID or user is None:
            unauthorized()
        return user

    def authorize(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/static/oauth-consent-request.html

        Consent is simulated: the user "accepts" at once and is redirected with a code.
        """
        redirect_uri = request.arg("redirect_uri") or ""
        target = self.runames.get(redirect_uri, redirect_uri)
        if request.arg("client_id") != self.client_id:
            oauth_error(400, "invalid_client", "client_id is not valid")
        if request.arg("response_type") != "code":
            oauth_error(400, "unsupported_response_type", "response_type must be code")
        if not target.startswith(("http://", "https://")):
            oauth_error(400, "invalid_request", "redirect_uri is neither a known RuName nor a URL")
        user = request.arg("sandbox_user") or DEFAULT_USER
        code = self.tokens.create_code(user, self.client_id, redirect_uri)
        state = request.arg("state")
        query = ({"state": state} if state else {}) | {
            "code": code,
            "expires_in": AUTHORIZATION_CODE_TTL,
        }
        return Response.redirect(f"{target}{'&' if '?' in target else '?'}{urlencode(query)}")

    def token(self, request: Request) -> Response:
        """https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html

        and https://developer.ebay.com/api-docs/static/oauth-auth-code-grant-request.html
        """
        if request.basic_credentials() != (self.client_id, self.client_secret):
            oauth_error(401, "invalid_client", "client authentication failed")
        form = request.form()
        grant_type = _single(form, "grant_type")
        if grant_type == "refresh_token":
            refresh_token = _single(form, "refresh_token")
            if refresh_token is None:
                oauth_error(400, "invalid_request", _MALFORMED)
            pair = self.tokens.refresh(refresh_token, self.client_id)
            if pair is None:
                description = (
                    "the provided authorization refresh token is invalid or was issued to "
                    "another client"
                )
                oauth_error(400, "invalid_grant", description)
            # Like eBay: a refresh answers an access token only; the refresh token lives on.
            body = {
                "access_token": pair.access_token,
                "expires_in": pair.access_expires_in,
                "token_type": "User Access Token",
            }
            return Response.json(body)
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type is None:
            oauth_error(400, "invalid_request", _MALFORMED)
        description = "grant type in request is not supported by the authorization server"
        oauth_error(400, "unsupported_grant_type", description)

    def _exchange_code(self, form: dict[str, str | list[str]]) -> Response:
        code, redirect_uri = _single(form, "code"), _single(form, "redirect_uri")
        if code is None or redirect_uri is None:
            oauth_error(400, "invalid_request", _MALFORMED)
        try:
            pair = self.tokens.redeem_code(code, self.client_id, redirect_uri)
        except CodeError:
            description = (
                "the provided authorization grant code is invalid or was issued to another client"
            )
            oauth_error(400, "invalid_grant", description)
        return Response.json(
            {
                "access_token": pair.access_token,
                "expires_in": pair.access_expires_in,
                "refresh_token": pair.refresh_token,
                "refresh_token_expires_in": pair.refresh_expires_in,
                "token_type": "User Access Token",
            }
        )
