"""The wire of the Vinted relay between workers and extension sessions, on the channel layer's
Redis (DESIGN §4).

- Command: the worker PUBLISHes it on the session's channel of the `vinted` channel layer
  (channels-redis' pub/sub layer, so the one consumer subscribed to that channel receives it
  at once). PUBLISH answers how many subscribers got it: 0 means that session is gone.
- Answers: the consumer RPUSHes the ack and the result onto the command's own list and the
  worker BLPOPs it: no reply channel to create, subscribe to or clean up, and a late answer
  only leaves a list that expires.
- Liveness: while a session has a command in flight its consumer keeps a short-lived key
  alive; the worker waiting for a result checks it between waits, so a web process that died
  without running its disconnect (killed, restarted) is noticed in seconds, not at the timeout.

The three messages a round trip used to cost on the channel layer (command, ack, result) are
now one PUBLISH and two list pushes."""

import asyncio
import json
import time
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import redis
from channels.layers import get_channel_layer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings
from redis import asyncio as aioredis

from core.redis_clients import aioredis_from_host, redis_from_host
from marketplace.services import presence

LAYER = "vinted"  # the CHANNEL_LAYERS alias of the extension sessions
_REPLY = "relist:vinted:reply:{command_id}"
_ALIVE = "relist:vinted:alive:{channel}"
# A list nobody pops (its worker gave up) is dropped after this long.
REPLY_TTL_S = 300


def reply_key(command_id: str) -> str:
    return _REPLY.format(command_id=command_id)


def alive_key(channel: str) -> str:
    return _ALIVE.format(channel=channel)


# --- the worker's side (sync, in worker threads) ---------------------------------------------


def _hosts() -> list[dict[str, Any]]:
    config = cast("dict[str, Any]", settings.CHANNEL_LAYERS[LAYER]["CONFIG"])
    return cast("list[dict[str, Any]]", decode_hosts(config.get("hosts")))


@cache
def _sync_clients() -> tuple[redis.Redis, ...]:
    # One pool per shard for the process (redis-py re-creates a pool's connections after fork).
    return tuple(redis_from_host(host) for host in _hosts())


def _shard(channel: str) -> redis.Redis:
    clients = _sync_clients()
    return clients[_consistent_hash(channel, len(clients))]  # type: ignore[no-any-return]


def _replies() -> redis.Redis:
    """Answers and liveness keys live on the first shard, whatever the session's channel."""
    return _sync_clients()[0]


def command_send(*, schema: str, command: dict[str, Any]) -> str | None:
    """Send `command` to exactly one live session of the tenant; its channel, or None when no
    session received it (none connected, or only ghosts of a dead web process: dropped).

    The bytes are what the layer's own `send` publishes (its serializer, the channel name as
    the pub/sub channel), so the consumer receives an ordinary `vinted.command` event. When the
    presence Redis is the channel layer's server (one shard), pick and PUBLISH are one script."""
    layer = get_channel_layer(LAYER)
    event = {"type": "vinted.command", "command": command, "reply": reply_key(command["id"])}
    message = layer.serialize(event)
    if _presence_publishes():
        session = presence.presence_publish(schema=schema, message=message)
        return session.channel if session else None
    while (session := presence.presence_pick(schema=schema)) is not None:
        if _shard(session.channel).publish(session.channel, message) > 0:
            return session.channel
        presence.presence_leave(schema=schema, channel=session.channel)
    return None


@cache
def _presence_publishes() -> bool:
    """Whether a PUBLISH from the presence Redis reaches the sessions: same server, one shard."""
    clients = _sync_clients()
    if len(clients) != 1:
        return False
    ours = clients[0].connection_pool.connection_kwargs
    theirs = presence.redis_client().connection_pool.connection_kwargs
    return all(ours.get(k) == theirs.get(k) for k in ("host", "port", "path"))


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str  # "ack", "result", "disconnected", "timeout"
    message: dict[str, Any]


TIMEOUT = Answer("timeout", {})
DISCONNECTED = Answer("disconnected", {})


def answer_wait(*, command_id: str, timeout_s: float, channel: str | None = None) -> Answer:
    """The next answer to a command within `timeout_s`. With `channel`, the session's liveness
    is checked between waits: a session that died silently answers `disconnected`."""
    client, key = _replies(), reply_key(command_id)
    deadline = time.monotonic() + timeout_s
    every = settings.VINTED_LIVENESS_S / 2
    while (left := deadline - time.monotonic()) > 0:
        wait = min(left, every) if channel else left
        # BLPOP takes whole or fractional seconds; 0 would block forever.
        popped = client.blpop([key], timeout=max(wait, 0.01))
        if popped is not None:
            return _decoded(cast(bytes, popped[1]))
        if channel and not client.exists(alive_key(channel)):
            # Gone without a word: one last look, in case its answer raced the expiry.
            last = client.lpop(key)
            return _decoded(cast(bytes, last)) if last is not None else DISCONNECTED
    return TIMEOUT


def _decoded(raw: bytes) -> Answer:
    message = json.loads(raw)
    return Answer(str(message.get("type", "")), message)


# --- the consumer's side (async, in the web process) -----------------------------------------

_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


def _async_replies() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis_from_host(_hosts()[0])
        _async_clients[loop] = client
    return client


async def answer_push(
    *, reply: str, raw: str | bytes, alive_channel: str | None = None, alive_s: float = 0
) -> None:
    """Hand an answer to the worker waiting on `reply` (one round trip); with `alive_channel`,
    also mark that session alive for `alive_s` seconds."""
    pipe = _async_replies().pipeline(transaction=False)
    pipe.rpush(reply, raw)
    pipe.expire(reply, REPLY_TTL_S)
    if alive_channel:
        pipe.set(alive_key(alive_channel), b"1", ex=max(1, round(alive_s)))
    await pipe.execute()


async def alive_refresh(*, channel: str, alive_s: float) -> None:
    await _async_replies().set(alive_key(channel), b"1", ex=max(1, round(alive_s)))


async def session_gone(*, channel: str, replies: dict[str, bool]) -> None:
    """The session closed: every worker waiting on it is told at once (with whether the
    extension had acknowledged its command: then it may have run), and it is no more alive."""
    pipe = _async_replies().pipeline(transaction=False)
    for reply, acked in replies.items():
        pipe.rpush(reply, json.dumps({"type": "disconnected", "acked": acked}))
        pipe.expire(reply, REPLY_TTL_S)
    pipe.delete(alive_key(channel))
    await pipe.execute()
