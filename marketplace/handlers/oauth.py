"""The OAuth 2 refresh call shared by eBay and Etsy (RFC 6749 §6): a form POST to the token
endpoint. A refused grant is permanent (the user must reconnect); anything else is transient."""

from typing import Any

import requests
from django.conf import settings

from core.errors import MarketplaceAuthError, TransientMarketplaceError
from marketplace.services.connections import TokenGrant


def token_request(
    *,
    marketplace: str,
    url: str,
    data: dict[str, str],
    auth: tuple[str, str] | None = None,
) -> TokenGrant:
    try:
        response = requests.post(
            url, data=data, auth=auth, timeout=settings.MARKETPLACE_HTTP_TIMEOUT
        )
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientMarketplaceError(f"{marketplace} token endpoint: {error!r}") from error
    body: dict[str, Any] = response.json() if response.content else {}
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientMarketplaceError(
            f"{marketplace} token endpoint answered {response.status_code}",
            status=response.status_code,
        )
    if response.status_code != 200:
        reason = body.get("error_description") or body.get("error") or response.reason
        raise MarketplaceAuthError(
            f"{marketplace} refused to refresh the token ({reason}); reconnect the account.",
            status=response.status_code,
        )
    return TokenGrant(
        access_token=body["access_token"],
        expires_in=int(body.get("expires_in", 3600)),
        refresh_token=body.get("refresh_token"),
        refresh_token_expires_in=body.get("refresh_token_expires_in"),
        scopes=tuple(str(body.get("scope", "")).split()),
    )
