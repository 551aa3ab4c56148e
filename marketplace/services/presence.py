"""Which Vinted extension sessions are connected, per tenant, shared through Redis.

Each session is a key with a TTL refreshed by the socket's heartbeats, so a crashed web process
leaves no ghost behind for longer than the TTL. A sorted set per tenant orders the sessions by
last activity; the relay sends each command to exactly one of them (never to every tab)."""

import json
import time
from dataclasses import dataclass

from marketplace.services.ratelimit import redis_client

SESSION_TTL_S = 60
_SESSIONS = "relist:vinted:sessions:{schema}"  # zset channel -> last seen
_SESSION = "relist:vinted:session:{channel}"  # session details, with TTL


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
    scored = [
        (c.decode(), float(seen)) for c, seen in client.zrevrange(key, 0, -1, withscores=True)
    ]
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
    sessions = presence_list(schema=schema)
    return sessions[0] if sessions else None
