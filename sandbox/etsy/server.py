"""The Etsy sandbox server: OAuth 2 with PKCE and the Open API v3 on one port.

Production points its Etsy base URL at `EtsySandbox.base_url` (ending in /v3) and its consent
URL at `EtsySandbox.connect_url`; every path is the real one.
Authentication: https://developers.etsy.com/documentation/essentials/authentication
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sandbox.etsy.common import fail, oauth_fail
from sandbox.etsy.listing_images import ListingImagesApi
from sandbox.etsy.listings import ListingsApi
from sandbox.etsy.profiles import ProfilesApi
from sandbox.etsy.shops import ShopsApi
from sandbox.faults import FaultPlan
from sandbox.oauth import CodeError, TokenStatus, TokenStore, random_token
from sandbox.routing import Request, Response, Router
from sandbox.server import SandboxServer

TOKEN_PATH = "/v3/public/oauth/token"  # served by api.etsy.com in production
CONNECT_PATH = "/oauth/connect"  # served by www.etsy.com in production
DEFAULT_USER = "sandbox-seller"
_REFRESH_ERRORS = {
    TokenStatus.REVOKED: "refresh_token is revoked",
    TokenStatus.EXPIRED: "refresh_token is expired",
}


def _etsy_token(user: str, kind: str) -> str:
    # Etsy prefixes access and refresh tokens with the numeric user id.
    return random_token(48) if kind == "code" else f"{user}.{random_token(48)}"


def _required(data: dict[str, Any], *names: str) -> list[str]:
    values = [data.get(name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        oauth_fail(400, "invalid_request", f"{', '.join(missing)} is required")
    return [str(value) for value in values]


class EtsySandbox(SandboxServer):
    """Etsy Open API v3 on loopback: one shop per seller account, listings, images, receipts.

    Every `/v3/application/...` call needs `x-api-key` (the keystring, or
    `keystring:shared_secret`) and a bearer token. `sandbox_user` on the connect URL (a sandbox
    extension) picks the seller account a consent logs in as.
    """

    marketplace = "etsy"
    api_prefix = "/v3"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keystring: str = "relist-sandbox-keystring",
        shared_secret: str = "relist-sandbox-secret",
        require_shared_secret: bool = False,
        access_token_ttl: int = 3600,
        refresh_token_ttl: int = 90 * 86400,
        faults: FaultPlan | None = None,
        seed: int | None = None,
    ) -> None:
        self.keystring = keystring
        self.shared_secret = shared_secret
        # Etsy wants `keystring:shared_secret` in x-api-key since 2026; off by default so that
        # clients sending the bare keystring keep working against the sandbox.
        self.require_shared_secret = require_shared_secret
        self.tokens = TokenStore(
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            rotate_refresh_tokens=True,
            make_token=_etsy_token,
        )
        self.profiles = ProfilesApi(self._owned_shop)
        self.listings = ListingsApi(self.authenticate, self._owned_shop, self.profiles)
        self.images = ListingImagesApi(self.listings, self.image_url)
        self.shops = ShopsApi(self.authenticate, self.listings.of_shop, seed)
        super().__init__(host, port, faults=faults, seed=seed)

    @property
    def access_token_ttl(self) -> int:
        return self.tokens.access_token_ttl

    @access_token_ttl.setter
    def access_token_ttl(self, seconds: int) -> None:
        self.tokens.access_token_ttl = seconds

    @property
    def token_url(self) -> str:
        return self.root_url + TOKEN_PATH

    @property
    def connect_url(self) -> str:
        return self.root_url + CONNECT_PATH

    def register_routes(self, router: Router) -> None:
        router.add("POST", TOKEN_PATH, self.token)
        router.add("GET", CONNECT_PATH, self.connect)
        self.listings.register(router)
        self.images.register(router)
        self.shops.register(router)
        self.profiles.register(router)

    # -- SandboxServer hooks ---------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return Response.json({"error": message}, status)

    def marketplace_stats(self) -> dict[str, Any]:
        return {
            **self.listings.stats(),
            "images_uploaded": dict(self.images.uploaded),
            **self.shops.stats(),
        }

    def reset_state(self) -> None:
        self.profiles.reset()
        self.listings.reset()
        self.images.reset()
        self.shops.reset()

    def account(self, user: str | None = None) -> tuple[int, int]:
        """(user id, shop id) of a seller account, created on first use."""
        with self.lock:
            account = self.shops.account(user or DEFAULT_USER)
        return account.user_id, account.shop_id

    def issue_tokens(self, user: str | None = None) -> dict[str, Any]:
        """A refresh + access token pair for `user`, as a completed consent would give."""
        user_id, shop_id = self.account(user)
        pair = self.tokens.issue(str(user_id), self.keystring)
        return {
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.access_expires_in,
            "refresh_token": pair.refresh_token,
            "user_id": user_id,
            "shop_id": shop_id,
        }

    def expire_access_tokens(self) -> int:
        return self.tokens.expire_access_tokens()

    def seed_orders(self, count: int, user: str | None = None) -> Sequence[int]:
        with self.lock:
            return self.shops.seed(count, user or DEFAULT_USER)

    def purchase(self, sku: str, quantity: int, user: str | None = None) -> dict[str, Any] | None:
        """A buyer purchases the active listing carrying `sku`; at 0 it becomes sold_out."""
        label = user or DEFAULT_USER
        with self.lock:
            shop_id = self.shops.account(label).shop_id
            listing = next(
                (
                    item
                    for item in self.listings.of_shop(shop_id)
                    if item["state"] == "active" and sku in item["skus"]
                ),
                None,
            )
            if listing is None:
                return None
            listing["quantity"] = max(int(listing["quantity"]) - quantity, 0)
            if listing["quantity"] == 0:
                listing["state"] = "sold_out"
            return self.shops.purchase(label, listing=listing, sku=sku, quantity=quantity)

    def cancel_order(self, order_id: str, user: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            return self.shops.cancel(user or DEFAULT_USER, int(order_id))

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, request: Request) -> int:
        """The user id behind the call, after the API key and bearer token checks."""
        api_key = request.header("x-api-key")
        if not api_key:
            fail(403, "Missing API key in the x-api-key header.")
        keystring, colon, secret = api_key.partition(":")
        if keystring != self.keystring or (colon and secret != self.shared_secret):
            fail(403, "Invalid API key")
        if not colon and self.require_shared_secret:
            fail(403, "Shared secret is required in x-api-key header.")
        token = request.bearer_token()
        status, user = self.tokens.check_access(token)
        if status is TokenStatus.EXPIRED:
            oauth_fail(401, "invalid_token", "access token is expired")
        if status is not TokenStatus.VALID or user is None:
            oauth_fail(
                401,
                "invalid_token",
                "access token is invalid" if token else "access token is missing",
            )
        return int(user)

    def _owned_shop(self, request: Request) -> tuple[int, int]:
        return self.shops.owned_shop(request)

    def connect(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/essentials/authentication#step-1-request-an-authorization-code

        Consent is simulated: the user grants at once and is redirected with a code.
        """
        query = {name: request.arg(name) for name in request.query}
        if query.get("client_id") != self.keystring:
            oauth_fail(400, "invalid_client", "client_id is invalid")
        if query.get("response_type") != "code":
            oauth_fail(400, "unsupported_response_type", "response_type must be code")
        redirect_uri, state, challenge = _required(query, "redirect_uri", "state", "code_challenge")
        if query.get("code_challenge_method") != "S256":
            oauth_fail(400, "invalid_request", "code_challenge_method must be S256")
        if not redirect_uri.startswith(("http://", "https://")):
            oauth_fail(400, "invalid_request", "redirect_uri must be an http(s) URL")
        user_id, _shop_id = self.account(query.get("sandbox_user"))
        code = self.tokens.create_code(str(user_id), self.keystring, redirect_uri, challenge)
        separator = "&" if "?" in redirect_uri else "?"
        return Response.redirect(
            f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}"
        )

    def token(self, request: Request) -> Response:
        """https://developers.etsy.com/documentation/essentials/authentication#step-3-request-an-access-token

        A refresh also rotates the refresh token: the old one is revoked.
        """
        data = request.fields()
        grant_type = data.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            _required(data, "grant_type")
            oauth_fail(400, "unsupported_grant_type", f"grant_type {grant_type} is not supported")
        if data.get("client_id") != self.keystring:
            oauth_fail(401, "invalid_client", "client_id is invalid")
        if grant_type == "refresh_token":
            (refresh_token,) = _required(data, "refresh_token")
            pair = self.tokens.refresh(refresh_token, self.keystring)
            if pair is None:
                status = self.tokens.refresh_token_status(refresh_token)
                oauth_fail(
                    400, "invalid_grant", _REFRESH_ERRORS.get(status, "refresh_token is invalid")
                )
        else:
            code, redirect_uri, verifier = _required(data, "code", "redirect_uri", "code_verifier")
            try:
                pair = self.tokens.redeem_code(code, self.keystring, redirect_uri, verifier)
            except CodeError as exc:
                oauth_fail(400, "invalid_grant", str(exc))
        return Response.json(
            {
                "access_token": pair.access_token,
                "token_type": "Bearer",
                "expires_in": pair.access_expires_in,
                "refresh_token": pair.refresh_token,
            }
        )
