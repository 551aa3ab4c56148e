"""WebSocket counterparts of the HTTP tenant middleware: resolve the tenant from the Host header
and check the Origin. Extension origins (chrome-extension://, moz-extension://) pass; browser
pages must come from a host we serve. Also what both sockets need to authenticate: the API token
lookup of the live socket, and the per-IP budget of failed authentications."""

import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.http.request import validate_host
from django_tenants.utils import remove_www, schema_exists

from core.errors import TenantUnavailable
from core.redis_clients import redis_from_url
from tenants.auth import user_for_token
from tenants.databases import database_use
from tenants.models import Domain, ExtensionToken, Membership

EXTENSION_SCHEMES = frozenset({"chrome-extension", "moz-extension"})
CLOSE_UNKNOWN_HOST = 4404
CLOSE_BAD_ORIGIN = 4003
_AUTH_FAILURES = "relist:socket:auth-failures:{ip}:{window}"
AUTH_WINDOW_S = 60


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


@database_sync_to_async
def _schema_for_host(hostname: str) -> str | None:
    """The schema served at `hostname`, when it exists on its tenant's database and the tenant
    is not moving between databases. The consumers then work in it through `tenant_context`,
    one database call at a time (a socket outlives many of them, and shares its thread)."""
    connection.set_schema_to_public()
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None or domain.tenant.moving_to:
        return None
    try:
        with database_use(domain.tenant.database):
            exists = schema_exists(domain.tenant.schema_name)
    except TenantUnavailable:  # its database is not configured in this process
        return None
    return domain.tenant.schema_name if exists else None


@database_sync_to_async
def extension_token_active(token_id: int) -> bool:
    """Whether the token that authenticated a socket may still use it: not revoked, its user
    still active. Re-checked on heartbeats, so revoking a token ends its live sessions."""
    connection.set_schema_to_public()
    return ExtensionToken.objects.filter(
        pk=token_id, revoked_at__isnull=True, user__is_active=True
    ).exists()


def api_token_user_id(raw: str) -> int | None:
    """The active user an API token authenticates, or None: the same hashed, expiring, revocable
    tokens as the REST API (tenants.auth). Runs in the public schema."""
    found = user_for_token(raw)
    return int(found[0].pk) if found is not None else None


@database_sync_to_async
def api_token_member(*, schema: str, raw: str) -> int | None:
    """The user of API token `raw` when a member of the tenant `schema`; None otherwise (a bad
    token and a member of another tenant get the same answer, revealing nothing)."""
    connection.set_schema_to_public()
    user_id = api_token_user_id(raw)
    if user_id is None:
        return None
    member = Membership.objects.filter(tenant__schema_name=schema, user_id=user_id).exists()
    return user_id if member else None


# --- failed authentications per client IP, shared by every web process through Redis ---------


@cache
def _redis() -> redis.Redis:
    return redis_from_url(settings.REDIS_URL)


def _failures_key(ip: str, now: float) -> str:
    return _AUTH_FAILURES.format(ip=ip, window=int(now // AUTH_WINDOW_S))


def socket_auth_blocked(*, ip: str) -> bool:
    """Whether `ip` spent its failed authentications of the current minute."""
    raw = _redis().get(_failures_key(ip, time.time()))
    return raw is not None and int(raw) >= settings.SOCKET_AUTH_FAILURES_PER_MINUTE


def socket_auth_failed(*, ip: str) -> None:
    key = _failures_key(ip, time.time())
    pipe = _redis().pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, AUTH_WINDOW_S * 2)
    pipe.execute()


def client_ip(scope: dict[str, Any]) -> str:
    """The peer's address as the server saw it (daphne --proxy-headers puts the forwarded one
    there when it runs behind a proxy)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


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
