"""Vinted through the user's browser extension: the worker side of the relay.

A command goes to exactly one connected extension session of the tenant (presence), through the
channel layer, and the worker waits on its own reply channel: first the ack (a few seconds; none
means the extension is gone: the job waits, no attempt used), then the result (the step timeout).
The channel layer runs on the process's background loop, so its Redis pool is reused."""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

from core.background_loop import background_loop
from core.errors import (
    JobDeferred,
    MarketplaceAuthError,
    PermanentMarketplaceError,
    TransientMarketplaceError,
)
from marketplace.handlers.http import retry_after_seconds
from marketplace.services import presence
from marketplace.services.execution import WAITING_FOR_EXTENSION
from marketplace.services.ratelimit import VintedPacer

logger = logging.getLogger(__name__)
OFFLINE_RECHECK_S = 300.0
SAFE_METHODS = frozenset({"GET"})


@dataclass(frozen=True, slots=True)
class RelayReply:
    acked: bool
    ok: bool = False
    status: int = 0
    body: Any = None
    error: str = ""
    headers: dict[str, str] | None = None
    disconnected: bool = False
    timed_out: bool = False


async def _roundtrip(
    channel: str, command: dict[str, Any], *, ack_s: float, result_s: float
) -> RelayReply:
    layer = get_channel_layer()
    reply = await layer.new_channel("relay.")
    await layer.send(channel, {"type": "vinted.command", "command": command, "reply": reply})
    try:
        first = await asyncio.wait_for(layer.receive(reply), ack_s)
    except TimeoutError:
        return RelayReply(acked=False)
    if first["type"] == "relay.result":
        return _reply(first, acked=False)
    try:
        result = await asyncio.wait_for(layer.receive(reply), result_s)
    except TimeoutError:
        return RelayReply(acked=True, timed_out=True)
    return _reply(result, acked=True)


def _reply(event: dict[str, Any], *, acked: bool) -> RelayReply:
    if event.get("disconnected"):
        return RelayReply(acked=acked, disconnected=True)
    return RelayReply(
        acked=True,
        ok=bool(event.get("ok")),
        status=int(event.get("status") or 0),
        body=event.get("body"),
        error=str(event.get("error") or ""),
        headers=headers if isinstance(headers := event.get("headers"), dict) else {},
    )


def _retry_after(headers: dict[str, str] | None) -> float | None:
    """Retry-After as the extension forwarded it: browsers give header names in lower case
    (XHR getAllResponseHeaders), and a value we cannot read means no hint, not a crash."""
    value = next(
        (str(v) for k, v in (headers or {}).items() if str(k).lower() == "retry-after"), None
    )
    try:
        return retry_after_seconds(value)
    except (TypeError, ValueError):
        return None


class VintedClient:
    marketplace = "vinted"

    def __init__(self, *, tenant: str | None = None, timeout_s: float = 60.0) -> None:
        self.tenant = tenant or connection.schema_name
        self.timeout_s = timeout_s

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Run one Vinted API call in the user's browser; returns the response body."""
        session = presence.presence_pick(schema=self.tenant)
        if session is None:
            raise JobDeferred(WAITING_FOR_EXTENSION, delay_s=OFFLINE_RECHECK_S)
        command = {
            "id": str(uuid.uuid4()),
            "action": "api_call",
            "method": method,
            "path": path,
            "body": body,
            "params": params,
            "timeout_ms": int(self.timeout_s * 1000),
        }
        ack_s = settings.VINTED_ACK_TIMEOUT_S
        pacer = VintedPacer(tenant=self.tenant, lease_s=self.timeout_s + ack_s)
        turn = pacer.take()
        try:
            reply = background_loop().run(
                _roundtrip(session.channel, command, ack_s=ack_s, result_s=self.timeout_s),
                timeout=ack_s + self.timeout_s + 5,
            )
        except RedisError as error:
            # The channel layer failed mid-command: whether the extension ran it is unknown.
            raise TransientMarketplaceError(
                f"vinted {method} {path}: the relay failed ({error})",
                ambiguous=method not in SAFE_METHODS,
            ) from error
        finally:
            pacer.give(turn)
        return self._checked(reply, method=method, path=path, channel=session.channel)

    def _checked(self, reply: RelayReply, *, method: str, path: str, channel: str) -> Any:
        where = f"vinted {method} {path}"
        if not reply.acked:
            # Nobody answered: that session is gone. Forget it and wait for an extension.
            presence.presence_leave(schema=self.tenant, channel=channel)
            raise JobDeferred(WAITING_FOR_EXTENSION, delay_s=OFFLINE_RECHECK_S)
        ambiguous = method not in SAFE_METHODS
        if reply.disconnected:
            raise TransientMarketplaceError(
                f"{where}: the extension disconnected mid-command", ambiguous=ambiguous
            )
        if reply.timed_out:
            raise TransientMarketplaceError(
                f"{where}: extension command timeout after {self.timeout_s:g}s",
                ambiguous=ambiguous,
            )
        if reply.ok:
            return reply.body
        return self._raise_for(reply, where=where, ambiguous=ambiguous)

    @staticmethod
    def _raise_for(reply: RelayReply, *, where: str, ambiguous: bool) -> Any:
        status, error = reply.status, reply.error or "no detail"
        message = f"{where} → {status}: {error}"
        if status == 0 or status >= 500 or status in (408, 429):
            raise TransientMarketplaceError(
                message,
                status=status or None,
                retry_after=_retry_after(reply.headers),
                ambiguous=ambiguous,
            )
        details = reply.body if isinstance(reply.body, dict) else {}  # Vinted's code, message
        if status == 401:
            raise MarketplaceAuthError(
                f"{message}. The Vinted session expired: log in to Vinted in the browser.",
                status=status,
                details=details,
            )
        if status == 403:
            raise PermanentMarketplaceError(
                f"{message}. Vinted blocked the call (anti-bot check): open Vinted in the "
                "browser and solve the challenge.",
                status=status,
                details=details,
            )
        raise PermanentMarketplaceError(message, status=status, details=details)
