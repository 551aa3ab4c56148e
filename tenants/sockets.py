"""WebSocket counterparts of the HTTP tenant middleware: resolve the tenant from the Host header
and check the Origin. Extension origins (chrome-extension://, moz-extension://) pass; browser
pages must come from a host we serve."""

from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.http.request import validate_host
from django_tenants.utils import remove_www, schema_exists

from tenants.models import Domain, ExtensionToken

EXTENSION_SCHEMES = frozenset({"chrome-extension", "moz-extension"})
CLOSE_UNKNOWN_HOST = 4404
CLOSE_BAD_ORIGIN = 4003


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


@database_sync_to_async
def _schema_for_host(hostname: str) -> str | None:
    connection.set_schema_to_public()
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None or not schema_exists(domain.tenant.schema_name):
        return None
    return domain.tenant.schema_name


@database_sync_to_async
def extension_token_active(token_id: int) -> bool:
    """Whether the token that authenticated a socket may still use it: not revoked, its user
    still active. Re-checked on heartbeats, so revoking a token ends its live sessions."""
    connection.set_schema_to_public()
    return ExtensionToken.objects.filter(
        pk=token_id, revoked_at__isnull=True, user__is_active=True
    ).exists()


def origin_allowed(origin: str) -> bool:
    if not origin:
        return True  # not a browser page (a server-side client); auth still applies
    parts = urlsplit(origin)
    if parts.scheme in EXTENSION_SCHEMES:
        allowed_ids = settings.RELIST_EXTENSION_IDS
        return not allowed_ids or parts.netloc in allowed_ids
    return parts.hostname is not None and validate_host(parts.hostname, settings.ALLOWED_HOSTS)


class _Reject:
    """A minimal ASGI app that accepts then closes with `code` (browsers only see codes after
    an accept)."""

    def __init__(self, code: int) -> None:
        self.code = code

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": self.code})


class TenantWebsocketMiddleware:
    """Puts `tenant_schema` in the scope, or closes 4404 for a host that names no tenant and
    4003 for a refused origin."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not origin_allowed(_header(scope, b"origin")):
            return await _Reject(CLOSE_BAD_ORIGIN)(scope, receive, send)
        hostname = remove_www(_header(scope, b"host").split(":")[0])
        schema = await _schema_for_host(hostname)
        if schema is None:
            return await _Reject(CLOSE_UNKNOWN_HOST)(scope, receive, send)
        return await self.inner({**scope, "tenant_schema": schema}, receive, send)
