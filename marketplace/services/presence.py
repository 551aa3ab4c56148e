"""Which Vinted extension sessions are connected, per tenant, shared through Redis.

Each session is a key with a TTL refreshed by the socket's heartbeats, so a crashed web process
leaves no ghost behind for longer than the TTL. A sorted set per tenant orders the sessions by
last activity; the relay sends each command to exactly one of them (never to every tab)."""

import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import redis
from django.conf import settings

from core.redis_clients import redis_from_url

SESSION_TTL_S = 60
_SESSION_PREFIX = "relist:vinted:session:"
_SESSIONS = "relist:vinted:sessions:{schema}"  # zset channel -> last seen
_SESSION = _SESSION_PREFIX + "{channel}"  # session details, with TTL

# The most recently active live session in one round trip (this runs before every command);
# expired ones are pruned on the way. With a message (ARGV[2]), also PUBLISH it on the session's
# channel; a session nobody listens to any more (its web process died) is dropped and the next
# one tried, so the message reaches exactly one live session, or none.
_PICK = """
local seen = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #seen, 2 do
  local details = redis.call('GET', ARGV[1] .. seen[i])
  if details then
    if not ARGV[2] then return {seen[i], seen[i + 1], details} end
    if redis.call('PUBLISH', seen[i], ARGV[2]) > 0 then return {seen[i], seen[i + 1], details} end
    redis.call('DEL', ARGV[1] .. seen[i])
  end
  redis.call('ZREM', KEYS[1], seen[i])
end
return false
"""


@cache
def redis_client() -> redis.Redis:
    """One pool per process (redis-py renews its connections after a fork)."""
    return redis_from_url(settings.REDIS_URL)


@cache
def _pick_script() -> Any:
    return redis_client().register_script(_PICK)


@dataclass(frozen=True, slots=True)
class ExtensionSession:
    channel: str
    session_id: str
    user_id: int
    connected_at: float
    last_seen: float


def presence_join(*, schema: str, session: ExtensionSession) -> None:
    client = redis_client()
    pipe = client.pipeline()
    pipe.set(
        _SESSION.format(channel=session.channel),
        json.dumps(
            {
                "session_id": session.session_id,
                "user_id": session.user_id,
                "connected_at": session.connected_at,
                "schema": schema,
            }
        ),
        ex=SESSION_TTL_S,
    )
    pipe.zadd(_SESSIONS.format(schema=schema), {session.channel: time.time()})
    pipe.execute()


def presence_touch(*, schema: str, channel: str) -> bool:
    """Refresh a session; False when it is no longer known (expired, or forgotten by a worker
    whose command went unacknowledged) although its socket is still alive."""
    client = redis_client()
    pipe = client.pipeline()
    pipe.expire(_SESSION.format(channel=channel), SESSION_TTL_S)
    pipe.zadd(_SESSIONS.format(schema=schema), {channel: time.time()}, xx=True)
    refreshed, _ = pipe.execute()
    return bool(refreshed)


def presence_leave(*, schema: str, channel: str) -> None:
    client = redis_client()
    pipe = client.pipeline()
    pipe.delete(_SESSION.format(channel=channel))
    pipe.zrem(_SESSIONS.format(schema=schema), channel)
    pipe.execute()


def presence_list(*, schema: str) -> list[ExtensionSession]:
    """Live sessions, most recently active first; expired ones are pruned on the way."""
    client = redis_client()
    key = _SESSIONS.format(schema=schema)
    # Two round trips whatever the number of tabs: this runs before every Vinted command.
    ranked = cast("list[tuple[bytes, float]]", client.zrevrange(key, 0, -1, withscores=True))
    scored = [(c.decode(), float(seen)) for c, seen in ranked]
    if not scored:
        return []
    details = client.mget([_SESSION.format(channel=c) for c, _ in scored])
    sessions, dead = [], []
    for (channel, last_seen), raw in zip(scored, details, strict=True):
        if raw is None:
            dead.append(channel)
            continue
        data = json.loads(raw)
        sessions.append(
            ExtensionSession(
                channel=channel,
                session_id=data["session_id"],
                user_id=int(data["user_id"]),
                connected_at=float(data["connected_at"]),
                last_seen=last_seen,
            )
        )
    if dead:
        client.zrem(key, *dead)
    return sessions


def presence_pick(*, schema: str) -> ExtensionSession | None:
    """The one session a command goes to: the most recently active."""
    return _session(_pick_script()(keys=[_SESSIONS.format(schema=schema)], args=[_SESSION_PREFIX]))


def presence_publish(*, schema: str, message: bytes) -> ExtensionSession | None:
    """PUBLISH `message` to the most recently active session that still listens, in one round
    trip; that session, or None when no live session received it. Only when the sessions'
    channels are on this Redis server (pub/sub channels are server-wide, whatever the db)."""
    found = _pick_script()(keys=[_SESSIONS.format(schema=schema)], args=[_SESSION_PREFIX, message])
    return _session(found)


def _session(found: Any) -> ExtensionSession | None:
    if not found:
        return None
    channel, last_seen, raw = found
    data = json.loads(raw)
    return ExtensionSession(
        channel=channel.decode(),
        session_id=data["session_id"],
        user_id=int(data["user_id"]),
        connected_at=float(data["connected_at"]),
        last_seen=float(last_seen),
    )
