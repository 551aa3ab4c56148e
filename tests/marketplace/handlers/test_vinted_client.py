"""VintedClient, the worker side of the relay, with presence and pacing on the real Redis and the
socket round trip replaced by a recorded answer: which command is sent where, and how each
answer becomes a result, a retryable error, a permanent error or a deferral."""

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels_redis.utils import create_pool
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.errors import (
    JobDeferred,
    MarketplaceAuthError,
    PermanentMarketplaceError,
    TransientMarketplaceError,
)
from marketplace.handlers.base import WAITING_FOR_EXTENSION
from marketplace.handlers.vinted import client as vinted_client
from marketplace.handlers.vinted.client import RelayReply, VintedClient
from marketplace.services import presence
from marketplace.services.presence import ExtensionSession
from marketplace.services.ratelimit import redis_client


@pytest.fixture
def tenant_schema() -> Iterator[str]:
    """A tenant name of our own with one connected extension session; keys removed after."""
    schema = f"relay_{uuid.uuid4().hex[:8]}"
    presence.presence_join(schema=schema, session=_session(schema))
    yield schema
    client = redis_client()
    for key in client.scan_iter(f"relist:vinted:*{schema}*"):
        client.delete(key)


def _session(schema: str) -> ExtensionSession:
    return ExtensionSession(
        channel=f"specific.{schema}!tab",
        session_id=uuid.uuid4().hex,
        user_id=7,
        connected_at=1_700_000_000.0,
        last_seen=1_700_000_000.0,
    )


Sent = list[dict[str, Any]]


def _deliver_to_the_picked_session(monkeypatch) -> None:
    """No socket behind the fake sessions: a command 'reaches' the session presence picks."""

    def send(*, schema, command):
        session = presence.presence_pick(schema=schema)
        return session.channel if session else None

    monkeypatch.setattr(vinted_client.relay, "command_send", send)


@pytest.fixture
def answer(monkeypatch) -> Callable[[RelayReply], Sent]:
    """Replace the socket round trip by `reply`; returns the list of what was sent."""

    def install(reply: RelayReply) -> Sent:
        sent: Sent = []

        def roundtrip(channel, command, *, ack_s, result_s):
            sent.append(
                {"channel": channel, "command": command, "ack_s": ack_s, "result_s": result_s}
            )
            return reply

        monkeypatch.setattr(vinted_client, "_roundtrip", roundtrip)
        _deliver_to_the_picked_session(monkeypatch)
        return sent

    return install


def test_a_command_has_the_documented_fields_and_goes_to_the_session(tenant_schema, answer):
    # given an extension that answers 200
    sent = answer(RelayReply(acked=True, ok=True, status=200, body={"id": 17_000_000_001}))
    # when
    body = VintedClient(tenant=tenant_schema, timeout_s=12.5).call(
        "POST",
        "/api/v2/photos",
        body={"photo_url": "http://127.0.0.1/a.jpg", "type": "item"},
        params={"locale": "fr"},
    )
    # then the body is returned, and one command went to the tenant's session
    assert body == {"id": 17_000_000_001}
    [call] = sent
    command = call["command"]
    assert uuid.UUID(command["id"]).version == 4
    assert command == {
        "id": command["id"],
        "action": "api_call",
        "method": "POST",
        "path": "/api/v2/photos",
        "body": {"photo_url": "http://127.0.0.1/a.jpg", "type": "item"},
        "params": {"locale": "fr"},
        "timeout_ms": 12_500,
    }
    assert (call["channel"], call["ack_s"], call["result_s"]) == (
        f"specific.{tenant_schema}!tab",
        2.0,
        12.5,
    )


def test_every_command_has_its_own_id(tenant_schema, answer):
    # given
    sent = answer(RelayReply(acked=True, ok=True, status=200, body={}))
    client = VintedClient(tenant=tenant_schema, timeout_s=5)
    # when
    for _ in range(3):
        client.call("GET", "/api/v2/users/current")
    # then
    assert len({call["command"]["id"] for call in sent}) == 3


def test_no_extension_connected_defers_without_sending(answer):
    # given a tenant without any session
    sent = answer(RelayReply(acked=True, ok=True, status=200))
    # when
    with pytest.raises(JobDeferred) as deferred:
        VintedClient(tenant=f"offline_{uuid.uuid4().hex[:8]}").call("GET", "/api/v2/users/current")
    # then the job waits for the extension, visibly, and nothing was sent
    assert deferred.value.reason == WAITING_FOR_EXTENSION
    assert sent == []


def test_no_ack_removes_the_session_and_defers(tenant_schema, answer):
    # given a session that never acknowledges
    answer(RelayReply(acked=False))
    # when
    with pytest.raises(JobDeferred) as deferred:
        VintedClient(tenant=tenant_schema).call("POST", "/api/v2/item_upload/items", body={})
    # then the extension is treated as gone
    assert deferred.value.reason == WAITING_FOR_EXTENSION
    assert presence.presence_list(schema=tenant_schema) == []


def test_a_disconnect_before_the_ack_is_an_offline_extension(tenant_schema, answer):
    # given a session that closed before acknowledging
    answer(RelayReply(acked=False, disconnected=True))
    # when / then
    with pytest.raises(JobDeferred):
        VintedClient(tenant=tenant_schema).call("POST", "/api/v2/item_upload/items", body={})
    assert presence.presence_list(schema=tenant_schema) == []


@pytest.mark.parametrize(
    ("method", "ambiguous"),
    [
        pytest.param("POST", True, id="create-may-have-happened"),
        pytest.param("GET", False, id="read"),
    ],
)
def test_a_disconnect_after_the_ack_is_retryable_and_ambiguous_for_writes(
    tenant_schema, answer, method, ambiguous
):
    # given a session that acknowledged, then closed
    answer(RelayReply(acked=True, disconnected=True))
    # when
    with pytest.raises(TransientMarketplaceError) as error:
        VintedClient(tenant=tenant_schema).call(method, "/api/v2/item_upload/items")
    # then
    assert error.value.message == (
        f"vinted {method} /api/v2/item_upload/items: the extension disconnected mid-command"
    )
    assert error.value.ambiguous is ambiguous
    assert error.value.status is None


def test_no_result_within_the_step_timeout_is_a_retryable_timeout(tenant_schema, answer):
    # given a session that acknowledged and never answered
    answer(RelayReply(acked=True, timed_out=True))
    # when
    with pytest.raises(TransientMarketplaceError) as error:
        VintedClient(tenant=tenant_schema, timeout_s=0.5).call("GET", "/api/v2/users/current")
    # then
    assert error.value.message == (
        "vinted GET /api/v2/users/current: extension command timeout after 0.5s"
    )
    assert (error.value.status, error.value.retry_after, error.value.ambiguous) == (
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        pytest.param(0, TransientMarketplaceError, id="0-browser-network-error"),
        pytest.param(408, TransientMarketplaceError, id="408"),
        pytest.param(429, TransientMarketplaceError, id="429"),
        pytest.param(500, TransientMarketplaceError, id="500"),
        pytest.param(503, TransientMarketplaceError, id="503"),
        pytest.param(400, PermanentMarketplaceError, id="400"),
        pytest.param(404, PermanentMarketplaceError, id="404"),
        pytest.param(422, PermanentMarketplaceError, id="422"),
        pytest.param(401, MarketplaceAuthError, id="401-session-expired"),
    ],
)
def test_error_results_map_to_the_retry_policy(tenant_schema, answer, status, error_class):
    # given
    answer(RelayReply(acked=True, ok=False, status=status, error="nope", body={"code": status}))
    # when
    with pytest.raises(error_class) as error:
        VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current")
    # then
    assert type(error.value) is error_class
    assert error.value.message.startswith(f"vinted GET /api/v2/users/current → {status}: nope")
    assert error.value.status == (status or None)


def test_a_403_is_permanent_and_says_how_to_unblock(tenant_schema, answer):
    # given DataDome's block
    answer(RelayReply(acked=True, ok=False, status=403, error="blocked by DataDome"))
    # when
    with pytest.raises(PermanentMarketplaceError) as error:
        VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current")
    # then
    assert type(error.value) is PermanentMarketplaceError
    assert "solve the challenge" in error.value.message


def test_a_permanent_error_keeps_vinteds_body_as_details(tenant_schema, answer):
    # given a validation error
    body = {"code": 99, "message": "Validation failed", "errors": [{"field": "title"}]}
    answer(RelayReply(acked=True, ok=False, status=422, error="Validation failed", body=body))
    # when
    with pytest.raises(PermanentMarketplaceError) as error:
        VintedClient(tenant=tenant_schema).call("POST", "/api/v2/item_upload/items", body={})
    # then
    assert error.value.details == body


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="canonical"),
        pytest.param({"retry-after": "7"}, 7.0, id="lower-case"),
        pytest.param({"Retry-After": "soon"}, None, id="unparsable"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_a_429_honours_retry_after(tenant_schema, answer, headers, retry_after):
    # given
    answer(RelayReply(acked=True, ok=False, status=429, error="Too Many Requests", headers=headers))
    # when
    with pytest.raises(TransientMarketplaceError) as error:
        VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current")
    # then
    assert (error.value.status, error.value.retry_after) == (429, retry_after)


def test_the_turn_is_given_back_whatever_the_outcome(tenant_schema, answer):
    # given a call that fails
    answer(RelayReply(acked=True, ok=False, status=500, error="boom"))
    # when
    with pytest.raises(TransientMarketplaceError):
        VintedClient(tenant=tenant_schema).call("GET", "/api/v2/users/current")
    # then the next command of the shop is not blocked
    assert redis_client().exists(f"relist:vinted:turn:{tenant_schema}") == 0


@pytest.mark.parametrize(
    ("method", "ambiguous"),
    [pytest.param("POST", True, id="write"), pytest.param("GET", False, id="read")],
)
@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(RedisTimeoutError("Timeout reading from 127.0.0.1:6379"), id="redis-timeout"),
        pytest.param(TimeoutError("Timeout reading from 127.0.0.1:6379"), id="builtin-timeout"),
    ],
)
def test_a_relay_failure_is_a_retryable_error(
    tenant_schema, monkeypatch, method, ambiguous, failure
):
    # given a relay whose Redis read fails mid-command
    def failing(channel, command, *, ack_s, result_s):
        raise failure

    monkeypatch.setattr(vinted_client, "_roundtrip", failing)
    _deliver_to_the_picked_session(monkeypatch)
    # when
    with pytest.raises(TransientMarketplaceError) as error:
        VintedClient(tenant=tenant_schema).call(method, "/api/v2/item_upload/items")
    # then the job retries (reconciling a write first), and the shop's turn is free
    assert error.value.message == (
        f"vinted {method} /api/v2/item_upload/items: the relay failed "
        "(Timeout reading from 127.0.0.1:6379)"
    )
    assert error.value.ambiguous is ambiguous
    assert redis_client().exists(f"relist:vinted:turn:{tenant_schema}") == 0


def test_the_channel_layers_redis_reads_outlast_its_blocking_pop():
    # given the configured channel layer, whose receive blocks in BZPOPMIN for brpop_timeout s
    layer = get_channel_layer()
    # when a connection of its pool is made
    connection = create_pool(layer.hosts[0]).make_connection()
    # then its reads wait longer: a read that times out first raises in every idle consumer
    # (closing the extension's socket with 1011) and in a worker waiting for a slow result
    assert (connection.socket_timeout, layer.brpop_timeout) == (30, 5)
