"""The Vinted extension's socket (`/ws/vinted/`).

Protocol (DESIGN §4): the extension authenticates with its first message
`{"type":"auth","token"}` (bad or revoked token: close 4401, also at the first heartbeat after a
revocation; another tenant's: close 4403), then receives `command`s, answers `ack` at once and
`result` later. Workers reach a session through the channel layer (`vinted.command` events
carrying their reply channel); acks and results are forwarded to that reply channel. A session
that disconnects fails its pending commands at once, so no worker waits out a full timeout for
an answer that cannot come; so does a malformed result."""

import asyncio
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import connection

from marketplace.services import presence
from marketplace.services.live import (
    SUBSCRIBER_TTL_S,
    live_group,
    subscriber_removed,
    subscriber_seen,
)
from tenants.models import Membership
from tenants.services import extension_token_authenticate
from tenants.sockets import extension_token_active

logger = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
CLOSE_OTHER_TENANT = 4403
CLOSE_AUTH_TIMEOUT = 4408


@database_sync_to_async
def _authenticate(raw: str) -> tuple[str, int, int] | None:
    connection.set_schema_to_public()
    token = extension_token_authenticate(raw=raw)
    return (token.tenant.schema_name, token.user_id, token.pk) if token else None


@database_sync_to_async
def _wake_waiting_jobs(schema: str) -> int:
    from marketplace.services.execution import jobs_wake_waiting  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    with tenant_context(schema):
        return jobs_wake_waiting(marketplace="vinted")


def _result_event(command_id: str, message: dict[str, Any]) -> dict[str, Any] | None:
    """The channel-layer event for an extension's result; None when it is malformed."""
    status = message.get("status") or 0
    headers = message.get("headers") or {}
    if isinstance(status, bool) or not isinstance(status, int) or not isinstance(headers, dict):
        return None
    return {
        "type": "relay.result",
        "id": command_id,
        "ok": bool(message.get("ok")),
        "status": status,
        "body": message.get("body"),
        "error": message.get("error"),
        "headers": headers,
    }


class VintedExtensionConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.schema: str = self.scope["tenant_schema"]
        self.user_id: int | None = None
        self.token_id: int | None = None
        self.connected_at = 0.0
        self.session_id = uuid.uuid4().hex
        self.pending: dict[str, str] = {}  # command id -> worker reply channel
        await self.accept()
        self._auth_timer = asyncio.get_running_loop().call_later(
            settings.VINTED_AUTH_TIMEOUT_S, self._auth_timed_out
        )

    def _auth_timed_out(self) -> None:
        if self.user_id is None:
            self._closing = asyncio.ensure_future(self.close(code=CLOSE_AUTH_TIMEOUT))

    async def disconnect(self, code: int) -> None:
        self._auth_timer.cancel()
        if self.user_id is not None:
            await sync_to_async(presence.presence_leave, thread_sensitive=False)(
                schema=self.schema, channel=self.channel_name
            )
        for command_id, reply in self.pending.items():
            await self.channel_layer.send(
                reply, {"type": "relay.result", "id": command_id, "disconnected": True}
            )
        self.pending.clear()
        logger.info("vinted.disconnected", extra={"tenant": self.schema, "code": code})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode()) > settings.VINTED_MAX_MESSAGE_BYTES:
            await self._error(
                "message_too_large",
                f"Messages are limited to {settings.VINTED_MAX_MESSAGE_BYTES} bytes; "
                "send photos as URLs.",
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
        await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "auth":
            await self._on_auth(message)
        elif self.user_id is None:
            await self._error("unauthenticated", "Authenticate first: {type: auth, token}.")
        elif kind in ("ack", "result"):
            await self._on_reply(kind, message)
        elif kind == "ping":
            await self._send({"type": "pong", **({"ts": message["ts"]} if "ts" in message else {})})
            await self._heartbeat()
        elif kind == "pong":
            await self._heartbeat()
        else:
            await self._error("unknown_type", f"Unknown message type {kind!r}.")

    async def _on_auth(self, message: dict[str, Any]) -> None:
        if self.user_id is not None:
            await self._error("already_authenticated", "This session is authenticated.")
            return
        found = await _authenticate(str(message.get("token", "")))
        if found is None:
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        schema, user_id, token_id = found
        if schema != self.schema:
            await self.close(code=CLOSE_OTHER_TENANT)
            return
        self.user_id, self.token_id = user_id, token_id
        self._auth_timer.cancel()
        self.connected_at = time.time()
        await self._join()
        await self._send({"type": "auth_ok", "session_id": self.session_id, "tenant": self.schema})
        woken = await _wake_waiting_jobs(self.schema)
        logger.info("vinted.connected", extra={"tenant": self.schema, "woken_jobs": woken})

    async def _join(self) -> None:
        await sync_to_async(presence.presence_join, thread_sensitive=False)(
            schema=self.schema,
            session=presence.ExtensionSession(
                channel=self.channel_name,
                session_id=self.session_id,
                user_id=self.user_id or 0,
                connected_at=self.connected_at,
                last_seen=time.time(),
            ),
        )

    async def _on_reply(self, kind: str, message: dict[str, Any]) -> None:
        command_id = str(message.get("id", ""))
        reply = self.pending.get(command_id)
        if reply is None:
            return  # a late answer to a command its worker gave up on
        if kind == "ack":
            await self.channel_layer.send(reply, {"type": "relay.ack", "id": command_id})
            return
        del self.pending[command_id]
        result = _result_event(command_id, message)
        if result is not None and await self._forward(reply, result):
            return
        # The worker learns at once that the command failed (retryable: it may have run)
        # instead of waiting out its timeout; the extension is told why.
        await self._error(
            "malformed",
            "A result has an integer `status`, object `headers` and numbers within 64 bits.",
        )
        await self.channel_layer.send(
            reply,
            {
                "type": "relay.result",
                "id": command_id,
                "ok": False,
                "status": 0,
                "error": "malformed result from the extension",
            },
        )

    async def _forward(self, reply: str, event: dict[str, Any]) -> bool:
        try:
            await self.channel_layer.send(reply, event)
        except (TypeError, ValueError, OverflowError):  # e.g. an integer msgpack cannot carry
            return False
        return True

    async def vinted_command(self, event: dict[str, Any]) -> None:
        """From a worker, through the channel layer: forward one command to the extension."""
        command = event["command"]
        self.pending[command["id"]] = event["reply"]
        await self._send({"type": "command", **command})

    async def _heartbeat(self) -> None:
        # A token revoked while its extension is connected ends the session at the next
        # heartbeat (a read by primary key every ~20 s per session), not at the next reconnect.
        if self.token_id is None or not await extension_token_active(self.token_id):
            logger.info("vinted.token_revoked", extra={"tenant": self.schema})
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        # Redis only: no need to queue behind the database thread.
        known = await sync_to_async(presence.presence_touch, thread_sensitive=False)(
            schema=self.schema, channel=self.channel_name
        )
        if not known:
            # A worker forgot this session when one command went unacknowledged (a slow
            # moment, a busy tab), yet the socket still heartbeats: without coming back,
            # every Vinted job of the tenant would wait for an extension that is connected.
            await self._join()
            woken = await _wake_waiting_jobs(self.schema)
            logger.info(
                "vinted.presence_restored", extra={"tenant": self.schema, "woken_jobs": woken}
            )

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})


@database_sync_to_async
def _member_of(schema: str, raw_token: str) -> bool:
    """The API token's user is a member of the tenant served at this host."""
    connection.set_schema_to_public()
    return Membership.objects.filter(
        tenant__schema_name=schema, user__auth_token__key=raw_token, user__is_active=True
    ).exists()


class LiveUpdatesConsumer(AsyncWebsocketConsumer):
    """`/ws/live/`: the frontend's feed of its tenant's job and batch changes.

    Authenticate with the API token, as `?token=` or a first `{"type":"auth","token"}` message;
    a token whose user is not a member of this host's tenant is closed with 4403 — the same
    answer as a bad token, revealing nothing."""

    async def connect(self) -> None:
        self.schema: str = self.scope["tenant_schema"]
        self.subscribed = False
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if token := (query.get("token") or [""])[0]:
            await self._subscribe(token)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
        except (ValueError, RecursionError):  # bad JSON, huge integers, absurd nesting
            message = None
        if not isinstance(message, dict):
            await self.send(text_data=json.dumps({"type": "error", "code": "malformed"}))
        elif message.get("type") == "auth" and not self.subscribed:
            await self._subscribe(str(message.get("token", "")))
        elif message.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))

    async def _subscribe(self, token: str) -> None:
        if not await _member_of(self.schema, token):
            await self.close(code=CLOSE_OTHER_TENANT)
            return
        await self.channel_layer.group_add(live_group(self.schema), self.channel_name)
        await self._seen()
        self.subscribed = True
        self._refresher = asyncio.ensure_future(self._refresh())
        await self.send(text_data=json.dumps({"type": "subscribed", "tenant": self.schema}))

    async def _seen(self) -> None:
        await sync_to_async(subscriber_seen, thread_sensitive=False)(self.schema, self.channel_name)

    async def _refresh(self) -> None:
        """Keep this subscription (and its channel-layer group membership) alive."""
        while True:
            await asyncio.sleep(SUBSCRIBER_TTL_S / 3)
            await self._seen()
            await self.channel_layer.group_add(live_group(self.schema), self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.subscribed:
            self._refresher.cancel()
            await self.channel_layer.group_discard(live_group(self.schema), self.channel_name)
            await sync_to_async(subscriber_removed, thread_sensitive=False)(
                self.schema, self.channel_name
            )

    async def live_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "update", **event["event"]}))
