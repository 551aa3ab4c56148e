"""Connecting a shop's eBay or Etsy account: the OAuth 2 authorization-code grant (RFC 6749
§4.1), with PKCE (RFC 7636) for Etsy.

`connection_authorize_start` builds the marketplace's consent URL; the marketplace sends the
user back to the callback with `code` and `state`; `connection_authorize_complete` checks the
state, exchanges the code at the token endpoint and stores the tokens with connection_store.

The state is kept *in* the state parameter, Fernet-encrypted with the field-encryption keys
(core.crypto), instead of in a table or a cache: it is authenticated (cannot be forged),
expires by itself (the token carries its time), and its content stays secret. Secrecy matters:
the state travels in URLs next to the code, and the PKCE verifier it carries must not be
readable there, or PKCE would protect nothing. It names the tenant and the user who started the
consent, so a state is only accepted back in the same shop, from the same user. Replaying it is
harmless: the marketplace redeems a code only once."""

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from cryptography.fernet import InvalidToken
from django.conf import settings

from core.crypto import decrypt, encrypt
from core.errors import MarketplaceAuthError, ValidationFailed
from marketplace.handlers.etsy.client import EtsyClient
from marketplace.handlers.oauth import token_request
from marketplace.models import MarketplaceConnection
from marketplace.services.account_setup import connection_setup_refresh_quietly
from marketplace.services.connections import TokenGrant, connection_store
from marketplace.states import Marketplace

OAUTH_MARKETPLACES = (Marketplace.EBAY, Marketplace.ETSY)
# https://developer.ebay.com/api-docs/static/oauth-scopes.html
EBAY_SCOPES = (
    "https://api.ebay.com/oauth/api_scope",
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
    "https://api.ebay.com/oauth/api_scope/sell.account",
)
# https://developers.etsy.com/documentation/essentials/authentication#scopes
ETSY_SCOPES = ("listings_r", "listings_w", "listings_d", "shops_r", "shops_w", "transactions_r")


@dataclass(frozen=True, slots=True)
class AuthorizationStart:
    authorize_url: str
    state: str
    redirect_uri: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class _State:
    marketplace: str
    schema: str
    user_id: int
    redirect_uri: str
    code_verifier: str | None


def connection_authorize_start(
    *, marketplace: str, schema_name: str, user_id: int, redirect_uri: str
) -> AuthorizationStart:
    """The consent URL of `marketplace` for the current shop and user.

    eBay: https://developer.ebay.com/api-docs/static/oauth-consent-request.html
    Etsy: https://developers.etsy.com/documentation/essentials/authentication#step-1-request-an-authorization-code
    """
    _check_marketplace(marketplace)
    verifier = secrets.token_urlsafe(48) if marketplace == Marketplace.ETSY else None
    state = _state_encode(
        _State(
            marketplace=marketplace,
            schema=schema_name,
            user_id=user_id,
            redirect_uri=redirect_uri,
            code_verifier=verifier,
        )
    )
    if marketplace == Marketplace.EBAY:
        base = f"{settings.EBAY_AUTH_BASE_URL}/oauth2/authorize"
        query = {
            "client_id": settings.EBAY_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(EBAY_SCOPES),
            "state": state,
        }
    else:
        base = settings.ETSY_CONNECT_URL
        query = {
            "response_type": "code",
            "client_id": _etsy_keystring(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(ETSY_SCOPES),
            "state": state,
            "code_challenge": _pkce_challenge(verifier or ""),
            "code_challenge_method": "S256",
        }
    return AuthorizationStart(
        authorize_url=f"{base}?{urlencode(query)}",
        state=state,
        redirect_uri=redirect_uri,
        expires_in=settings.RELIST_OAUTH_STATE_MAX_AGE_S,
    )


def connection_authorize_complete(
    *, marketplace: str, code: str, state: str, schema_name: str, user_id: int
) -> MarketplaceConnection:
    """Exchange the consent's code for tokens and store them (the shop is then connected)."""
    _check_marketplace(marketplace)
    decoded = _state_decode(state)
    if (decoded.marketplace, decoded.schema, decoded.user_id) != (
        marketplace,
        schema_name,
        user_id,
    ):
        raise ValidationFailed(
            "The state does not belong to this connection; start again.",
            details={"state": "mismatch"},
        )
    if marketplace == Marketplace.EBAY:
        grant = _exchange(
            marketplace,
            url=f"{settings.EBAY_API_BASE_URL}/identity/v1/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": decoded.redirect_uri,
            },
            auth=(settings.EBAY_CLIENT_ID, settings.EBAY_CLIENT_SECRET),
        )
        grant = replace(grant, scopes=grant.scopes or EBAY_SCOPES)
        account_id = ""  # eBay's user id needs the Identity API, which the grant does not cover
    else:
        grant = _exchange(
            marketplace,
            url=settings.ETSY_TOKEN_URL,
            data={
                "grant_type": "authorization_code",
                "client_id": _etsy_keystring(),
                "redirect_uri": decoded.redirect_uri,
                "code": code,
                "code_verifier": decoded.code_verifier or "",
            },
        )
        grant = replace(grant, scopes=grant.scopes or ETSY_SCOPES)
        account_id = _etsy_shop_id(grant.access_token)
    connection = connection_store(marketplace=marketplace, grant=grant, account_id=account_id)
    # The account's business policies / shipping profiles, read now so the shop can list at
    # once (issue 12); a failure here leaves the connection and readiness names what lacks.
    connection_setup_refresh_quietly(marketplace=marketplace)
    connection.refresh_from_db()
    return connection


def _check_marketplace(marketplace: str) -> None:
    if marketplace not in OAUTH_MARKETPLACES:
        raise ValidationFailed(
            "Only eBay and Etsy connect with OAuth; Vinted uses the browser extension.",
            details={"marketplace": marketplace},
        )


def _exchange(
    marketplace: str, *, url: str, data: dict[str, str], auth: tuple[str, str] | None = None
) -> TokenGrant:
    """https://developer.ebay.com/api-docs/static/oauth-auth-code-grant-request.html and
    https://developers.etsy.com/documentation/essentials/authentication#step-3-request-an-access-token
    """
    try:
        return token_request(marketplace=marketplace, url=url, data=data, auth=auth)
    except MarketplaceAuthError as error:
        raise MarketplaceAuthError(
            f"{Marketplace(marketplace).label} refused the authorisation code; "
            "start the connection again.",
            status=error.status,
            details={"marketplace": marketplace},
        ) from error


def _etsy_shop_id(access_token: str) -> str:
    """The shop of the user who consented: https://developers.etsy.com/documentation/reference#operation/getMe"""
    client = EtsyClient(
        base_url=settings.ETSY_API_BASE_URL,
        shop_id="",
        credentials=_FreshGrant(access_token),
    )
    shop_id = client.json("GET", "/application/users/me").get("shop_id")
    if not shop_id:
        raise ValidationFailed(
            "This Etsy account has no shop; open one on Etsy, then connect again.",
            details={"marketplace": Marketplace.ETSY.value},
        )
    return str(shop_id)


class _FreshGrant:
    """The Credentials of a token just issued: there is nothing to refresh yet."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh(self, *, stale_token: str) -> str:
        raise MarketplaceAuthError("Etsy refused a token it had just issued; connect again.")


def _etsy_keystring() -> str:
    # OAuth's client_id is the keystring alone, even when ETSY_API_KEY holds keystring:secret.
    return str(settings.ETSY_API_KEY).partition(":")[0]


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _state_encode(state: _State) -> str:
    return encrypt(
        json.dumps(
            {
                "m": state.marketplace,
                "t": state.schema,
                "u": state.user_id,
                "r": state.redirect_uri,
                "v": state.code_verifier,
            }
        )
    )


def _state_decode(raw: str) -> _State:
    try:
        data = json.loads(decrypt(raw, max_age_s=settings.RELIST_OAUTH_STATE_MAX_AGE_S))
    except (InvalidToken, ValueError):
        raise ValidationFailed(
            "The state is invalid or expired; start the connection again.",
            details={"state": "invalid"},
        ) from None
    return _State(
        marketplace=data["m"],
        schema=data["t"],
        user_id=data["u"],
        redirect_uri=data["r"],
        code_verifier=data["v"],
    )
