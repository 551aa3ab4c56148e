"""Vinted through the user's browser extension: the worker side of the relay.

A command goes to exactly one connected extension session of the tenant (presence), and the
worker waits for its answers on the command's own reply list (marketplace.services.relay):
first the ack (a few seconds; none means the extension is gone: the job waits, no attempt
used), then the result (the step timeout). A session that closes mid-command, or whose web
process died, answers at once as a retryable error (ambiguous for a write, which the handler
reconciles by the item's [ref:SKU] marker before repeating it). Nothing but the errors of
core.errors leaves `call`: Redis failures and timeouts of the relay are transient errors."""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

from core import metrics
from core.errors import (
    JobDeferred,
    MarketplaceAuthError,
    PermanentMarketplaceError,
    TransientMarketplaceError,
    is_ambiguous,
    is_retryable_status,
)
from marketplace.handlers.base import WAITING_FOR_EXTENSION
from marketplace.handlers.call_retries import call_with_retries
from marketplace.handlers.http import retry_after_seconds
from marketplace.services import presence, relay
from marketplace.services.ratelimit import VintedPacer

logger = logging.getLogger(__name__)
OFFLINE_RECHECK_S = 300.0
RECONNECTED = "The Vinted extension reconnected: the command goes to its new session."
RECONNECTED_RETRY_S = 1.0


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


def _roundtrip(
    channel: str, command: dict[str, Any], *, ack_s: float, result_s: float
) -> RelayReply:
    """Wait for the ack of `command`, sent to the session on `channel`, then for its result."""
    first = relay.answer_wait(command_id=command["id"], timeout_s=ack_s)
    if first.kind != "ack":
        return _reply(first, acked=False)
    result = relay.answer_wait(command_id=command["id"], timeout_s=result_s, channel=channel)
    return _reply(result, acked=True)


def _reply(answer: relay.Answer, *, acked: bool) -> RelayReply:
    if answer.kind == "timeout":
        return RelayReply(acked=acked, timed_out=acked)
    if answer.kind == "disconnected":
        # An ack the session held when it closed counts: the command may have run.
        return RelayReply(acked=acked or bool(answer.message.get("acked")), disconnected=True)
    if answer.kind != "result":
        return RelayReply(acked=True, error=f"unexpected answer {answer.kind!r} from the relay")
    message = answer.message
    status = message.get("status") or 0
    return RelayReply(
        acked=True,
        ok=bool(message.get("ok")),
        status=status if isinstance(status, int) else 0,
        body=message.get("body"),
        error=str(message.get("error") or ""),
        headers=headers if isinstance(headers := message.get("headers"), dict) else {},
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


def _give_back(pacer: VintedPacer, turn: str) -> None:
    """Free the shop's turn at once; if Redis refuses, its lease frees it (never raise over the
    relay's own error)."""
    try:
        pacer.give(turn)
    except RedisError:
        logger.warning("vinted.turn_not_given_back", exc_info=True)


class VintedClient:
    marketplace = "vinted"

    def __init__(self, *, tenant: str | None = None, timeout_s: float = 60.0) -> None:
        self.tenant = tenant or connection.schema_name
        self.timeout_s = timeout_s
        # The first command of a step never waits for the shop's turn (the job is deferred);
        # the later ones wait their own spacing so a multi-call step progresses.
        self._commands_sent = 0

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Run one Vinted API call in the user's browser; returns the response body. A read
        that meets a transient error is repeated a few times (handlers.call_retries)."""
        return call_with_retries(method, lambda: self._call_once(method, path, body, params))

    def _call_once(self, method: str, path: str, body: Any, params: dict[str, Any] | None) -> Any:
        command = {
            "id": str(uuid.uuid4()),
            "action": "api_call",
            "method": method,
            "path": path,
            "body": body,
            "params": params,
            "timeout_ms": int(self.timeout_s * 1000),
        }
        where = f"vinted {method} {path}"
        ack_s = settings.VINTED_ACK_TIMEOUT_S
        own_spacing = settings.VINTED_MIN_SPACING_S + settings.VINTED_SPACING_JITTER_S + 0.5
        pacer = VintedPacer(
            tenant=self.tenant,
            lease_s=self.timeout_s + ack_s,
            max_wait_s=own_spacing if self._commands_sent else 0.0,
        )
        try:
            turn = pacer.take()
        except RedisError as error:
            raise TransientMarketplaceError(f"{where}: the relay failed ({error})") from error
        sent = False
        try:
            # Sent once the shop's turn is ours: an extension that reconnected while we
            # waited for it is the one that gets the command.
            channel = relay.command_send(schema=self.tenant, command=command)
            if channel is None:
                raise JobDeferred(WAITING_FOR_EXTENSION, delay_s=OFFLINE_RECHECK_S)
            sent = True
            self._commands_sent += 1
            reply = _roundtrip(channel, command, ack_s=ack_s, result_s=self.timeout_s)
        except (RedisError, OSError, ValueError) as error:
            # The relay failed (Redis away or timing out, an unreadable answer): once sent,
            # whether the extension ran it is unknown. OSError covers the builtin TimeoutError.
            raise TransientMarketplaceError(
                f"{where}: the relay failed ({error})",
                ambiguous=sent and is_ambiguous(method),
            ) from error
        finally:
            _give_back(pacer, turn)
        return self._checked(reply, method=method, path=path, channel=channel)

    def _checked(self, reply: RelayReply, *, method: str, path: str, channel: str) -> Any:
        where = f"vinted {method} {path}"
        metrics.record_marketplace_call(marketplace="vinted", status=metrics.relay_status(reply))
        if not reply.acked:
            # Nobody answered: that session is gone. Forget it and wait for an extension.
            presence.presence_leave(schema=self.tenant, channel=channel)
            if presence.presence_list(schema=self.tenant):
                # Another session joined meanwhile (a reconnect): its connect woke nobody,
                # because this job was still running. Try it shortly, not in 5 minutes.
                raise JobDeferred(RECONNECTED, delay_s=RECONNECTED_RETRY_S)
            raise JobDeferred(WAITING_FOR_EXTENSION, delay_s=OFFLINE_RECHECK_S)
        ambiguous = is_ambiguous(method)
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
        if status == 0 or is_retryable_status(status):
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
