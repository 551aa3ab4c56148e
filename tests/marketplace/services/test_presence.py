"""Vinted extension presence on the real Redis: which sessions of a tenant are connected, and
which one a command goes to (exactly one, the most recently active)."""

import uuid
from collections.abc import Iterator

import pytest

from marketplace.services import presence
from marketplace.services.presence import ExtensionSession
from marketplace.services.ratelimit import redis_client


@pytest.fixture
def schemas() -> Iterator[tuple[str, str]]:
    """Two tenant names of our own, so no other test's sessions are seen; keys removed after."""
    names = (f"presence_{uuid.uuid4().hex[:8]}", f"presence_{uuid.uuid4().hex[:8]}")
    yield names
    client = redis_client()
    for name in names:
        channels = client.zrange(f"relist:vinted:sessions:{name}", 0, -1)
        client.delete(
            f"relist:vinted:sessions:{name}",
            *(f"relist:vinted:session:{c.decode()}" for c in channels),
        )


def _session(channel: str, *, user_id: int = 7) -> ExtensionSession:
    return ExtensionSession(
        channel=f"{channel}-{uuid.uuid4().hex[:6]}",
        session_id=uuid.uuid4().hex,
        user_id=user_id,
        connected_at=1_700_000_000.5,
        last_seen=1_700_000_000.5,
    )


def test_a_joined_session_is_listed_and_picked(schemas):
    # given
    schema, _ = schemas
    tab = _session("tab")
    # when
    presence.presence_join(schema=schema, session=tab)
    # then
    [listed] = presence.presence_list(schema=schema)
    assert (listed.channel, listed.session_id, listed.user_id, listed.connected_at) == (
        tab.channel,
        tab.session_id,
        7,
        1_700_000_000.5,
    )
    assert listed.last_seen > 0
    assert presence.presence_pick(schema=schema) == listed


def test_nobody_connected_picks_none(schemas):
    # given a tenant without sessions
    schema, _ = schemas
    # when / then
    assert presence.presence_list(schema=schema) == []
    assert presence.presence_pick(schema=schema) is None


def test_the_most_recently_active_session_is_picked(schemas):
    # given two tabs, the second joined last
    schema, _ = schemas
    first, second = _session("first"), _session("second")
    presence.presence_join(schema=schema, session=first)
    presence.presence_join(schema=schema, session=second)
    assert presence.presence_pick(schema=schema).channel == second.channel
    # when the first one heartbeats
    presence.presence_touch(schema=schema, channel=first.channel)
    # then it is the one a command goes to, and both are still listed
    assert presence.presence_pick(schema=schema).channel == first.channel
    assert [s.channel for s in presence.presence_list(schema=schema)] == [
        first.channel,
        second.channel,
    ]


def test_a_session_that_left_is_gone_and_a_late_heartbeat_does_not_revive_it(schemas):
    # given two tabs
    schema, _ = schemas
    gone, stays = _session("gone"), _session("stays")
    presence.presence_join(schema=schema, session=gone)
    presence.presence_join(schema=schema, session=stays)
    # when the first leaves, then a heartbeat of it arrives late
    presence.presence_leave(schema=schema, channel=gone.channel)
    presence.presence_touch(schema=schema, channel=gone.channel)
    # then only the other is left, with no key of the gone one
    assert [s.channel for s in presence.presence_list(schema=schema)] == [stays.channel]
    assert redis_client().exists(f"relist:vinted:session:{gone.channel}") == 0


def test_a_session_whose_key_expired_is_pruned(schemas):
    # given a session whose web process died (its key expired, the index still names it)
    schema, _ = schemas
    dead, alive = _session("dead"), _session("alive")
    presence.presence_join(schema=schema, session=dead)
    presence.presence_join(schema=schema, session=alive)
    redis_client().delete(f"relist:vinted:session:{dead.channel}")
    # when
    listed = presence.presence_list(schema=schema)
    # then it is neither listed nor left in the index
    assert [s.channel for s in listed] == [alive.channel]
    index = redis_client().zrange(f"relist:vinted:sessions:{schema}", 0, -1)
    assert [c.decode() for c in index] == [alive.channel]


def test_session_keys_expire_unless_heartbeats_refresh_them(schemas):
    # given a joined session whose TTL ran down to 5 s
    schema, _ = schemas
    tab = _session("tab")
    presence.presence_join(schema=schema, session=tab)
    key = f"relist:vinted:session:{tab.channel}"
    assert 0 < redis_client().ttl(key) <= presence.SESSION_TTL_S
    redis_client().expire(key, 5)
    # when it heartbeats
    presence.presence_touch(schema=schema, channel=tab.channel)
    # then its TTL is back to the full session TTL
    assert redis_client().ttl(key) == presence.SESSION_TTL_S


def test_sessions_are_per_tenant(schemas):
    # given a session of the first tenant only
    mine, other = schemas
    presence.presence_join(schema=mine, session=_session("tab"))
    # when / then the other tenant sees nobody
    assert presence.presence_list(schema=other) == []
    assert presence.presence_pick(schema=other) is None
    assert len(presence.presence_list(schema=mine)) == 1


def test_a_message_is_published_to_the_most_recent_session_that_still_listens(schemas):
    # given two sessions: an older one whose consumer listens, a newer ghost (its web process
    # died: nobody subscribed to its channel)
    schema, _ = schemas
    live, ghost = _session("live"), _session("ghost")
    presence.presence_join(schema=schema, session=live)
    presence.presence_join(schema=schema, session=ghost)
    listener = presence.redis_client().pubsub()
    listener.subscribe(live.channel)
    assert listener.get_message(timeout=1)["type"] == "subscribe"
    # when
    reached = presence.presence_publish(schema=schema, message=b"payload")
    # then the live session got it, exactly once, and the ghost is gone from presence
    assert reached is not None
    assert reached.channel == live.channel
    assert listener.get_message(timeout=1)["data"] == b"payload"
    assert listener.get_message(timeout=0.2) is None
    assert [s.channel for s in presence.presence_list(schema=schema)] == [live.channel]
    listener.close()


def test_a_message_nobody_listens_to_reaches_no_session(schemas):
    # given only a ghost
    schema, _ = schemas
    presence.presence_join(schema=schema, session=_session("ghost"))
    # when / then
    assert presence.presence_publish(schema=schema, message=b"payload") is None
    assert presence.presence_list(schema=schema) == []


def test_a_touch_says_whether_the_session_is_still_known(schemas):
    # given a session that heartbeats, then is forgotten (a worker's command went unacked)
    schema, _ = schemas
    tab = _session("tab")
    presence.presence_join(schema=schema, session=tab)
    assert presence.presence_touch(schema=schema, channel=tab.channel) is True
    presence.presence_leave(schema=schema, channel=tab.channel)
    # when it heartbeats again
    known = presence.presence_touch(schema=schema, channel=tab.channel)
    # then the touch reports it unknown, and does not resurrect a half session
    assert known is False
    assert presence.presence_list(schema=schema) == []
