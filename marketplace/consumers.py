"""The two sockets: the Vinted extension's (`/ws/vinted/`) and the frontend's live feed
(`/ws/live/`).

Both speak JSON objects with a string `type`. Anything else, an unknown type, or a message sent
before authenticating is answered with `{"type":"error","code","message"}` and the socket stays
usable. A socket that has not authenticated within SOCKET_AUTH_TIMEOUT_S is closed (4408); a
client IP that failed SOCKET_AUTH_FAILURES_PER_MINUTE authentications in the current minute is
closed with 4429 before its token is even looked up.

Vinted protocol (DESIGN §4): the extension authenticates with its first message
`{"type":"auth","token"}`, or in the handshake with the subprotocols `relist.vinted` and
`relist.token.<token>` (bad or revoked token: close 4401, also at the first heartbeat after a
revocation; another tenant's: close 4403), then receives `command`s, answers `ack` at once and
`result` later. Commands arrive through the `vinted` channel layer (pub/sub); acks and results
go straight to the worker's reply list (marketplace.services.relay). A session that disconnects
answers its in-flight commands at once, so no worker waits out a timeout for an answer that
cannot come; so does a malformed result."""

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

from core.errors import TenantUnavailable
from marketplace.services import presence, relay
from marketplace.services.live import (
    SUBSCRIBER_TTL_S,
    live_group,
    subscriber_removed,
    subscriber_seen,
)
from tenants.services import extension_token_authenticate
from tenants.sockets import (
    api_token_member,
    client_ip,
    extension_token_active,
    socket_auth_blocked,
    socket_auth_failed,
)

logger = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
CLOSE_OTHER_TENANT = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY_ATTEMPTS = 4429
# How long an extension's ack is held in case its result follows at once (see _on_answer).
ACK_HOLD_S = 0.02
# Either socket may authenticate in the handshake (a header, so the token never appears in a
# URL): offer the socket's protocol ("relist.live", "relist.vinted") and "relist.token.<token>";
# the server selects the former, never echoing the token.
LIVE_SUBPROTOCOL = "relist.live"
VINTED_SUBPROTOCOL = "relist.vinted"
TOKEN_SUBPROTOCOL_PREFIX = "relist.token."


def _in_thread(fn: Any) -> Any:
    """Redis-only work: no need to queue behind the database thread."""
    return sync_to_async(fn, thread_sensitive=False)


class ProtocolSocket(AsyncWebsocketConsumer):
    """What both sockets share: JSON-object messages with a string `type`, one error shape for
    whatever is refused, a deadline to authenticate and a per-IP budget of failures."""

    max_message_bytes: int | None = None
    subprotocol: str = ""

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every message, with a hop to the
        # one sync thread: most of the web process's CPU per relayed command. These consumers
        # touch the database only through database_sync_to_async, which does it around each
        # call, so the handler runs directly.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.schema: str = self.scope["tenant_schema"]
        self.authenticated = False
        self._auth_timer = asyncio.get_running_loop().call_later(
            settings.SOCKET_AUTH_TIMEOUT_S, self._auth_timed_out
        )

    async def _accept_with_handshake_token(self) -> str | None:
        """Accept the socket; the token offered as a subprotocol, if any."""
        offered = [str(p) for p in self.scope.get("subprotocols") or []]
        prefix = TOKEN_SUBPROTOCOL_PREFIX
        token = next((p[len(prefix) :] for p in offered if p.startswith(prefix)), None)
        # A browser that offered subprotocols fails the handshake unless one is selected.
        await self.accept(subprotocol=self.subprotocol if offered else None)
        return token

    def _auth_timed_out(self) -> None:
        if not self.authenticated:
            self._closing = asyncio.ensure_future(self.close(code=CLOSE_AUTH_TIMEOUT))

    def _authenticated(self) -> None:
        self.authenticated = True
        self._auth_timer.cancel()

    async def disconnect(self, code: int) -> None:
        self._auth_timer.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        limit = self.max_message_bytes
        if limit is not None and len(raw) > limit // 4 and len(raw.encode()) > limit:
            await self._error(
                "message_too_large",
                f"Messages are limited to {limit} bytes; send photos as URLs.",
            )
            return
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):  # bad JSON, an over-long integer, too deep
            await self._error("malformed", "Messages are JSON objects.")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._error("malformed", "Messages are JSON objects with a string `type`.")
            return
        try:
            await self.dispatch_message(message, raw)
        except RedisError:
            # Redis down (the client already retried a stale connection): say so and keep the
            # socket. A lost answer ends the worker's wait as ambiguous, reconciled by the
            # [ref:SKU] marker; closing the socket would only add a reconnect to the outage.
            logger.warning("socket.redis_unavailable", extra={"tenant": self.schema})
            await self._error("unavailable", "The relay is briefly unavailable; send it again.")

    async def dispatch_message(self, message: dict[str, Any], raw: str) -> None:
        raise NotImplementedError

    async def _auth_allowed(self) -> bool:
        """False (and the socket closed with 4429) when this client IP failed too often."""
        if await _in_thread(socket_auth_blocked)(ip=client_ip(self.scope)):
            logger.warning(
                "socket.auth_throttled", extra={"tenant": self.schema, "ip": client_ip(self.scope)}
            )
            await self.close(code=CLOSE_TOO_MANY_ATTEMPTS)
            return False
        return True

    async def _auth_refused(self, code: int) -> None:
        await _in_thread(socket_auth_failed)(ip=client_ip(self.scope))
        await self.close(code=code)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self._send({"type": "error", "code": code, "message": message, **extra})


@database_sync_to_async
def _authenticate(raw: str) -> tuple[str, int, int] | None:
    connection.set_schema_to_public()
    token = extension_token_authenticate(raw=raw)
    return (token.tenant.schema_name, token.user_id, token.pk) if token else None


@database_sync_to_async
def _wake_waiting_jobs(schema: str) -> int:
    from marketplace.services.execution import jobs_wake_waiting  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    try:
        with tenant_context(schema):
            return jobs_wake_waiting(marketplace="vinted")
    except TenantUnavailable:  # moving between databases: the sweep sends them afterwards
        return 0


def _result_valid(message: dict[str, Any]) -> bool:
    status = message.get("status") or 0
    headers = message.get("headers") or {}
    return not isinstance(status, bool) and isinstance(status, int) and isinstance(headers, dict)


class VintedExtensionConsumer(ProtocolSocket):
    channel_layer_alias = relay.LAYER  # commands arrive over pub/sub (marketplace.services.relay)
    subprotocol = VINTED_SUBPROTOCOL

    @property
    def max_message_bytes(self) -> int:  # type: ignore[override]
        return settings.VINTED_MAX_MESSAGE_BYTES

    async def connect(self) -> None:
        await super().connect()
        self.user_id: int | None = None
        self.token_id: int | None = None
        self.session_id = uuid.uuid4().hex
        # command id -> (the worker's reply list, when to stop waiting for its answer)
        self.pending: dict[str, tuple[str, float]] = {}
        # command id -> its held ack (None once pushed)
        self._acks: dict[str, asyncio.TimerHandle | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._alive_task: asyncio.Task[None] | None = None
        token = await self._accept_with_handshake_token()
        if token is not None:
            await self._on_auth({"type": "auth", "token": token})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A consumer that ended without its disconnect (a bug raised in a handler, or the
            # server cancelled it) still answers the workers waiting on it.
            if getattr(self, "pending", None):
                await self._session_ended(code=1011)

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        await self._session_ended(code=code)

    async def _session_ended(self, *, code: int) -> None:
        # Workers first: they must hear at once, even if Redis then fails for presence.
        replies = {
            reply: command_id in self._acks for command_id, (reply, _) in self.pending.items()
        }
        self.pending.clear()
        for held in self._acks.values():
            if held is not None:
                held.cancel()
        self._acks.clear()
        if self._alive_task is not None:
            self._alive_task.cancel()
        try:
            await relay.session_gone(channel=self.channel_name, replies=replies)
        finally:
            if self.user_id is not None:
                self.user_id = None
                await _in_thread(presence.presence_leave)(
                    schema=self.schema, channel=self.channel_name
                )
        logger.info(
            "vinted.disconnected",
            extra={"tenant": self.schema, "code": code, "in_flight": len(replies)},
        )

    async def dispatch_message(self, message: dict[str, Any], raw: str) -> None:
        kind = message["type"]
        if kind == "auth":
            await self._on_auth(message)
        elif not self.authenticated:
            await self._error("unauthenticated", "Authenticate first: {type: auth, token}.")
        elif kind in ("ack", "result"):
            await self._on_answer(kind, message, raw)
        elif kind == "ping":
            await self._send({"type": "pong", **({"ts": message["ts"]} if "ts" in message else {})})
            await self._heartbeat()
        elif kind == "pong":
            await self._heartbeat()
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def _on_auth(self, message: dict[str, Any]) -> None:
        if self.authenticated:
            await self._error("already_authenticated", "This session is authenticated.")
            return
        if not await self._auth_allowed():
            return
        found = await _authenticate(str(message.get("token", "")))
        if found is None:
            await self._auth_refused(CLOSE_BAD_TOKEN)
            return
        schema, user_id, token_id = found
        if schema != self.schema:
            await self._auth_refused(CLOSE_OTHER_TENANT)
            return
        self.user_id, self.token_id = user_id, token_id
        self._authenticated()
        now = time.time()
        self.session = presence.ExtensionSession(
            channel=self.channel_name,
            session_id=self.session_id,
            user_id=user_id,
            connected_at=now,
            last_seen=now,
        )
        await _in_thread(presence.presence_join)(schema=self.schema, session=self.session)
        await self._send({"type": "auth_ok", "session_id": self.session_id, "tenant": self.schema})
        woken = await _wake_waiting_jobs(self.schema)
        logger.info("vinted.connected", extra={"tenant": self.schema, "woken_jobs": woken})

    async def _on_answer(self, kind: str, message: dict[str, Any], raw: str) -> None:
        raw_id = message.get("id")
        command_id = raw_id if isinstance(raw_id, str) else ""
        entry = self.pending.get(command_id) if command_id else None
        if entry is None:
            # Nobody waits for it (a late answer to a command its worker gave up on, or an id
            # that was never sent): say so, so a confused extension can tell.
            await self._error("unknown_request", f"No command {raw_id!r} is waiting for an answer.")
            return
        reply, _ = entry
        if kind == "ack":
            # Held a moment: a result that follows at once stands for it (one push and one
            # wake-up of the worker instead of two); a real Vinted call takes far longer, and
            # its ack goes through before the worker's few-second ack timeout notices.
            if command_id not in self._acks:
                self._acks[command_id] = asyncio.get_running_loop().call_later(
                    ACK_HOLD_S, self._release_ack, command_id, reply, raw
                )
            return
        del self.pending[command_id]
        if held := self._acks.pop(command_id, None):
            held.cancel()
        if _result_valid(message):
            await relay.answer_push(reply=reply, raw=raw)
            return
        # The worker learns at once that the command failed (retryable: it may have run)
        # instead of waiting out its timeout; the extension is told why.
        await relay.answer_push(
            reply=reply,
            raw=json.dumps(
                {
                    "type": "result",
                    "id": command_id,
                    "ok": False,
                    "status": 0,
                    "error": "malformed result from the extension",
                }
            ),
        )
        await self._error("malformed", "A result has an integer `status` and object `headers`.")

    def _release_ack(self, command_id: str, reply: str, raw: str) -> None:
        self._acks[command_id] = None  # released: a repeated ack is not pushed again
        push = relay.answer_push(
            reply=reply,
            raw=raw,
            alive_channel=self.channel_name,
            alive_s=settings.VINTED_LIVENESS_S,
        )
        task = asyncio.ensure_future(push)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("vinted.ack_push_failed", exc_info=task.exception())

    async def vinted_command(self, event: dict[str, Any]) -> None:
        """From a worker, through the `vinted` layer: forward one command to the extension."""
        command = event["command"]
        timeout_s = (command.get("timeout_ms") or 60_000) / 1000
        # Past this, nobody waits any more: the entry is dropped (and liveness no longer kept).
        until = time.monotonic() + timeout_s + settings.VINTED_ACK_TIMEOUT_S + 5
        self.pending[command["id"]] = (event["reply"], until)
        if self._alive_task is None or self._alive_task.done():
            self._alive_task = asyncio.ensure_future(self._keep_alive())
        await self._send({"type": "command", **command})

    async def _keep_alive(self) -> None:
        """While commands are in flight, keep this session's liveness key: a worker waiting for
        a result takes its expiry for a dead web process."""
        alive_s = settings.VINTED_LIVENESS_S
        while True:
            await asyncio.sleep(alive_s / 3)
            now = time.monotonic()
            for command_id in [c for c, (_, until) in self.pending.items() if until < now]:
                del self.pending[command_id]
                self._acks.pop(command_id, None)
            if not self.pending:
                return
            try:
                await relay.alive_refresh(channel=self.channel_name, alive_s=alive_s)
            except Exception:  # Redis briefly away: the next beat tries again
                logger.warning("vinted.alive_refresh_failed", exc_info=True)

    async def _heartbeat(self) -> None:
        # A token revoked while its extension is connected ends the session at the next
        # heartbeat (a read by primary key every ~20 s per session), not at the next reconnect.
        if self.token_id is None or not await extension_token_active(self.token_id):
            logger.info("vinted.token_revoked", extra={"tenant": self.schema})
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        # Written whole again rather than touched: a Redis that restarted and lost presence, or
        # a worker that forgot this session after one missed ack, learns of it at its next
        # heartbeat, not at its next reconnect; the jobs that waited for it wake then.
        known = await _in_thread(presence.presence_touch)(
            schema=self.schema, channel=self.channel_name
        )
        await _in_thread(presence.presence_join)(schema=self.schema, session=self.session)
        if not known:
            woken = await _wake_waiting_jobs(self.schema)
            logger.info("vinted.session_restored", extra={"tenant": self.schema, "woken": woken})


class LiveUpdatesConsumer(ProtocolSocket):
    """`/ws/live/`: the frontend's feed of its tenant's job and batch changes.

    Authenticate with the API token in a first `{"type":"auth","token"}` message, or in the
    handshake by offering the subprotocols `relist.live` and `relist.token.<token>`; never in
    the URL (it would end up in access logs and proxies). A token whose user is not a member of
    this host's tenant is closed with 4403, the same answer as a bad token, revealing nothing."""

    max_message_bytes = 65_536
    subprotocol = LIVE_SUBPROTOCOL

    async def connect(self) -> None:
        await super().connect()
        self.subscribed = False
        token = await self._accept_with_handshake_token()
        if token is not None:
            await self._on_auth(token)

    async def dispatch_message(self, message: dict[str, Any], raw: str) -> None:
        kind = message["type"]
        if kind == "auth":
            if self.authenticated:
                await self._error("already_authenticated", "This socket is subscribed.")
            else:
                await self._on_auth(str(message.get("token", "")))
        elif kind == "ping":
            await self._send({"type": "pong", **({"ts": message["ts"]} if "ts" in message else {})})
        elif not self.authenticated:
            await self._error("unauthenticated", "Authenticate first: {type: auth, token}.")
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def _on_auth(self, token: str) -> None:
        if not await self._auth_allowed():
            return
        if await api_token_member(schema=self.schema, raw=token) is None:
            await self._auth_refused(CLOSE_OTHER_TENANT)
            return
        self._authenticated()
        await self.channel_layer.group_add(live_group(self.schema), self.channel_name)
        await self._seen()
        self.subscribed = True
        self._refresher = asyncio.ensure_future(self._refresh())
        await self._send({"type": "subscribed", "tenant": self.schema})

    async def _seen(self) -> None:
        await _in_thread(subscriber_seen)(self.schema, self.channel_name)

    async def _refresh(self) -> None:
        """Keep this subscription (and its channel-layer group membership) alive."""
        while True:
            await asyncio.sleep(SUBSCRIBER_TTL_S / 3)
            await self._seen()
            await self.channel_layer.group_add(live_group(self.schema), self.channel_name)

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.subscribed:
            self._refresher.cancel()
            await self.channel_layer.group_discard(live_group(self.schema), self.channel_name)
            await _in_thread(subscriber_removed)(self.schema, self.channel_name)

    async def live_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "update", **event["event"]}))
