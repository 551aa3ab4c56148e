"""The Vinted extension's socket (`/ws/vinted/`) in a real ASGI server: tenant by Host, origin
check, token authentication (4401 / 4403), presence, and the protocol's answers to messages that
are too large, malformed, unknown or unauthenticated — after which the socket stays usable."""

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from core.errors import TransientMarketplaceError
from marketplace.handlers.vinted.client import VintedClient
from marketplace.services import presence
from sandbox.vinted_extension import DEFAULT_ORIGIN, ExtensionAuthError
from tenants.services import (
    extension_token_authenticate,
    extension_token_issue,
    extension_token_revoke,
)
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.integration.conftest import simulator_for, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("vinted_clean")]

LIMIT = settings.VINTED_MAX_MESSAGE_BYTES


def _host(tenant) -> str:
    return tenant.domains.get(is_primary=True).domain


@contextmanager
def _socket(
    asgi_server, host: str, *, origin: str | None = DEFAULT_ORIGIN
) -> Iterator[ClientConnection]:
    """A raw socket to the server, as the simulator opens it: the tenant's host in the URI (so
    in the Host header), the TCP connection to loopback."""
    sock = socket.create_connection(("127.0.0.1", asgi_server.port), timeout=5)
    with connect(
        f"ws://{host}/ws/vinted/",
        sock=sock,
        origin=Origin(origin) if origin else None,
        open_timeout=5,
        close_timeout=2,
        ping_interval=None,
        max_size=None,
        proxy=None,
    ) as ws:
        yield ws


def _send(ws: ClientConnection, message: dict) -> None:
    ws.send(json.dumps(message))


def _recv(ws: ClientConnection) -> dict:
    return json.loads(ws.recv(timeout=5))


def _close_code(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    return closed.value.rcvd.code


@contextmanager
def _authenticated(asgi_server, token: str, tenant) -> Iterator[ClientConnection]:
    with _socket(asgi_server, _host(tenant)) as ws:
        _send(ws, {"type": "auth", "token": token})
        assert _recv(ws)["type"] == "auth_ok"
        yield ws


def _still_usable(ws: ClientConnection) -> dict:
    _send(ws, {"type": "ping", "ts": 42})
    return _recv(ws)


def _token_of_a_member(tenant) -> str:
    user = UserFactory()
    MembershipFactory(user=user, tenant=tenant)
    return extension_token_issue(tenant=tenant, user=user, name="browser")[1]


# --- connection, authentication, presence -----------------------------------------------------


def test_an_extension_authenticates_and_is_present_until_it_leaves(
    asgi_server, extension_token, live_tenant
):
    # given
    user_id = extension_token_authenticate(raw=extension_token).user_id
    # when
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        # then the server knows one session of this tenant, for the token's user
        [session] = presence.presence_list(schema="test_shop_a")
        assert (sim.tenant, session.session_id, session.user_id) == (
            "test_shop_a",
            sim.session_id,
            user_id,
        )
    # and the session leaves presence when the extension closes
    wait_for(lambda: presence.presence_list(schema="test_shop_a") == [], timeout=5)


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("chrome-extension://abcdefghijklmnopabcdefghijklmnop", id="chrome-extension"),
        pytest.param("moz-extension://0b4c5d2e-9f51-4c8e-b0b3-6f2f0ad3c1a7", id="moz-extension"),
        pytest.param("http://shop-a.test.localhost", id="page-of-an-allowed-host"),
        pytest.param(None, id="no-origin-server-side-client"),
    ],
)
def test_allowed_origins_pass_the_origin_check(asgi_server, extension_token, live_tenant, origin):
    # given / when
    with _socket(asgi_server, _host(live_tenant), origin=origin) as ws:
        _send(ws, {"type": "auth", "token": extension_token})
        # then
        assert _recv(ws)["type"] == "auth_ok"


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("http://evil.example", id="foreign-page"),
        pytest.param("https://evil.example:8443", id="foreign-page-with-port"),
        pytest.param("null", id="null-origin"),
    ],
)
def test_a_foreign_origin_is_refused_with_4003(asgi_server, live_tenant, origin):
    # given / when
    with _socket(asgi_server, _host(live_tenant), origin=origin) as ws:
        # then
        assert _close_code(ws) == 4003
    assert presence.presence_list(schema="test_shop_a") == []


def test_a_host_that_names_no_tenant_is_closed_with_4404(asgi_server, extension_token, live_tenant):
    # given / when
    with _socket(asgi_server, "nobody.test.localhost") as ws:
        # then
        assert _close_code(ws) == 4404


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("rlx_not-a-token", id="unknown"),
        pytest.param("", id="empty"),
    ],
)
def test_a_bad_token_is_refused_with_4401(asgi_server, live_tenant, token):
    # given
    sim = simulator_for(asgi_server, token, live_tenant, reconnect=False)
    # when
    with pytest.raises(ExtensionAuthError) as refused:
        sim.start_in_thread()
    # then
    assert refused.value.code == 4401
    assert presence.presence_list(schema="test_shop_a") == []


def test_a_revoked_token_is_refused_with_4401(asgi_server, extension_token, live_tenant):
    # given
    extension_token_revoke(token=extension_token_authenticate(raw=extension_token))
    sim = simulator_for(asgi_server, extension_token, live_tenant, reconnect=False)
    # when
    with pytest.raises(ExtensionAuthError) as refused:
        sim.start_in_thread()
    # then
    assert refused.value.code == 4401
    assert presence.presence_list(schema="test_shop_a") == []


def test_revoking_a_connected_extensions_token_ends_its_session(
    asgi_server, extension_token, live_tenant
):
    # given a connected extension that heartbeats every 0.2 s
    with simulator_for(asgi_server, extension_token, live_tenant, heartbeat_s=0.2) as sim:
        assert len(presence.presence_list(schema="test_shop_a")) == 1
        # when its token is revoked
        extension_token_revoke(token=extension_token_authenticate(raw=extension_token))
        # then its next heartbeat is answered with a 4401 close, and it stops reconnecting
        wait_for(lambda: sim.failure is not None, timeout=5)
        assert isinstance(sim.failure, ExtensionAuthError)
        assert (sim.failure.code, sim.close_codes, sim.connections) == (4401, [4401], 1)
        wait_for(lambda: presence.presence_list(schema="test_shop_a") == [], timeout=5)


def test_another_tenants_token_is_refused_with_4403(asgi_server, live_tenant, other_tenant):
    # given a valid token of shop B, presented at shop A's host
    token_of_b = _token_of_a_member(other_tenant)
    sim = simulator_for(asgi_server, token_of_b, live_tenant, reconnect=False)
    # when
    with pytest.raises(ExtensionAuthError) as refused:
        sim.start_in_thread()
    # then neither tenant has a session
    assert refused.value.code == 4403
    assert presence.presence_list(schema="test_shop_a") == []
    assert presence.presence_list(schema="test_shop_b") == []


def test_a_socket_that_never_authenticates_is_closed_with_4408(asgi_server, live_tenant):
    # given / when a socket that says nothing
    with _socket(asgi_server, _host(live_tenant)) as ws:
        # then the server closes it after its auth timeout
        assert _close_code(ws) == 4408


def test_a_second_auth_is_refused_and_the_session_goes_on(
    asgi_server, extension_token, live_tenant
):
    # given
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        # when
        _send(ws, {"type": "auth", "token": extension_token})
        # then
        assert _recv(ws)["code"] == "already_authenticated"
        assert _still_usable(ws) == {"type": "pong", "ts": 42}
        assert len(presence.presence_list(schema="test_shop_a")) == 1


# --- messages the server refuses, after which the socket stays usable ---------------------------


def test_a_command_before_auth_gets_an_error_and_auth_still_works(
    asgi_server, extension_token, live_tenant
):
    # given a socket that did not authenticate
    with _socket(asgi_server, _host(live_tenant)) as ws:
        # when it sends protocol messages
        _send(ws, {"type": "result", "id": "x", "ok": True, "status": 200, "body": {}})
        refused = _recv(ws)
        # then they are refused, and authentication still works afterwards
        assert (refused["type"], refused["code"]) == ("error", "unauthenticated")
        assert presence.presence_list(schema="test_shop_a") == []
        _send(ws, {"type": "auth", "token": extension_token})
        assert _recv(ws)["type"] == "auth_ok"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param("[1, 2, 3]", id="json-array"),
        pytest.param('"ping"', id="json-string"),
        pytest.param("{}", id="no-type"),
        pytest.param('{"type": 7}', id="type-not-a-string"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-too-deep"),
        pytest.param('{"type": "ping", "n": ' + "9" * 5000 + "}", id="integer-too-long"),
        pytest.param(b"\xff\xfe\x00binary", id="binary-not-utf8"),
    ],
)
def test_a_malformed_message_gets_an_error_and_the_socket_stays_usable(
    asgi_server, extension_token, live_tenant, raw
):
    # given
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        # when
        ws.send(raw)
        answer = _recv(ws)
        # then
        assert (answer["type"], answer["code"]) == ("error", "malformed")
        assert _still_usable(ws) == {"type": "pong", "ts": 42}


def test_an_unknown_type_gets_an_error_and_the_socket_stays_usable(
    asgi_server, extension_token, live_tenant
):
    # given
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        # when
        _send(ws, {"type": "teleport", "id": "x"})
        # then
        assert _recv(ws) == {
            "type": "error",
            "code": "unknown_type",
            "message": "Unknown message type 'teleport'.",
        }
        assert _still_usable(ws) == {"type": "pong", "ts": 42}


@pytest.mark.parametrize(
    "as_bytes", [pytest.param(False, id="text"), pytest.param(True, id="binary")]
)
def test_a_message_over_the_size_limit_is_refused_whole(
    asgi_server, extension_token, live_tenant, as_bytes
):
    # given a result one byte over the limit (as a photo sent inline would be)
    message = _padded({"type": "ping", "ts": 1}, LIMIT + 1)
    # when
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        ws.send(message.encode() if as_bytes else message)
        answer = _recv(ws)
        # then it is refused with an error (never truncated nor answered), and the socket lives
        assert (answer["type"], answer["code"]) == ("error", "message_too_large")
        assert str(LIMIT) in answer["message"]
        assert _still_usable(ws) == {"type": "pong", "ts": 42}


def test_a_message_of_exactly_the_size_limit_is_accepted(asgi_server, extension_token, live_tenant):
    # given
    message = _padded({"type": "ping", "ts": 7}, LIMIT)
    # when
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        ws.send(message)
        # then
        assert _recv(ws) == {"type": "pong", "ts": 7}


def _padded(message: dict, size: int) -> str:
    empty = json.dumps({**message, "pad": ""})
    padded = json.dumps({**message, "pad": "x" * (size - len(empty))})
    assert len(padded.encode()) == size
    return padded


@pytest.mark.parametrize("kind", ["ack", "result"])
def test_an_answer_to_an_unknown_command_gets_an_error_and_the_socket_stays_usable(
    asgi_server, extension_token, live_tenant, kind
):
    # given
    unknown = "0b4c5d2e-0000-4000-8000-000000000000"
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        # when an answer arrives for a command nobody waits for (late, or never sent)
        _send(ws, {"type": kind, "id": unknown, "ok": True, "status": 200})
        # then the extension is told, and the socket goes on
        assert _recv(ws) == {
            "type": "error",
            "code": "unknown_request",
            "message": f"No command {unknown!r} is waiting for an answer.",
        }
        assert _still_usable(ws) == {"type": "pong", "ts": 42}


def test_an_answer_without_an_id_gets_an_error(asgi_server, extension_token, live_tenant):
    # given
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        # when
        _send(ws, {"type": "ack", "id": ["not", "an", "id"]})
        # then
        assert _recv(ws)["code"] == "unknown_request"
        assert _still_usable(ws) == {"type": "pong", "ts": 42}


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(
            {"ok": False, "status": "five hundred", "error": "x"}, id="status-not-a-number"
        ),
        pytest.param(
            {"ok": False, "status": 500, "headers": ["Retry-After", "1"]},
            id="headers-not-an-object",
        ),
    ],
)
def test_a_malformed_result_fails_the_command_and_the_socket_stays_usable(
    asgi_server, extension_token, live_tenant, settings, result
):
    # given a command on its way to a raw extension (one try: a read is otherwise repeated)
    settings.RELIST_SAFE_CALL_RETRIES = 0
    with (
        _authenticated(asgi_server, extension_token, live_tenant) as ws,
        ThreadPoolExecutor(1) as worker,
    ):
        call = worker.submit(
            VintedClient(tenant="test_shop_a", timeout_s=5).call, "GET", "/api/v2/users/current"
        )
        command = _recv(ws)
        _send(ws, {"type": "ack", "id": command["id"]})
        # when the extension answers with a malformed result
        _send(ws, {"type": "result", "id": command["id"], **result})
        # then the worker gets a retryable error at once, not a timeout
        with pytest.raises(TransientMarketplaceError) as error:
            call.result(timeout=4)
        assert "timeout" not in error.value.message
        # and the extension is told, and can go on
        answer = _recv(ws)
        assert (answer["type"], answer["code"]) == ("error", "malformed")
        assert _still_usable(ws) == {"type": "pong", "ts": 42}


def test_a_ping_is_answered_with_its_timestamp_and_refreshes_presence(
    asgi_server, extension_token, live_tenant
):
    # given
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        [before] = presence.presence_list(schema="test_shop_a")
        # when
        _send(ws, {"type": "ping", "ts": 1_700_000_000_123})
        # then
        assert _recv(ws) == {"type": "pong", "ts": 1_700_000_000_123}
        wait_for(
            lambda: presence.presence_list(schema="test_shop_a")[0].last_seen > before.last_seen,
            timeout=5,
        )


def test_presence_lost_by_redis_comes_back_at_the_next_heartbeat(
    asgi_server, extension_token, live_tenant
):
    # given a connected extension whose presence Redis forgot (a restart without persistence)
    with _authenticated(asgi_server, extension_token, live_tenant) as ws:
        [before] = presence.presence_list(schema="test_shop_a")
        presence.presence_leave(schema="test_shop_a", channel=before.channel)
        assert presence.presence_list(schema="test_shop_a") == []
        # when it heartbeats
        _send(ws, {"type": "ping", "ts": 1})
        assert _recv(ws) == {"type": "pong", "ts": 1}
        # then it is present again, as the same session
        wait_for(lambda: len(presence.presence_list(schema="test_shop_a")) == 1, timeout=5)
        [after] = presence.presence_list(schema="test_shop_a")
        assert (after.channel, after.session_id) == (before.channel, before.session_id)


def test_the_token_may_travel_in_the_handshakes_subprotocols(
    asgi_server, extension_token, live_tenant
):
    # given an extension offering ["relist.vinted", "relist.token.<token>"]
    sock = socket.create_connection(("127.0.0.1", asgi_server.port), timeout=5)
    with connect(
        f"ws://{_host(live_tenant)}/ws/vinted/",
        sock=sock,
        origin=Origin(DEFAULT_ORIGIN),
        subprotocols=[Subprotocol("relist.vinted"), Subprotocol(f"relist.token.{extension_token}")],
        proxy=None,
    ) as ws:
        # then the server selects the protocol (never echoing the token) and authenticates
        assert ws.subprotocol == "relist.vinted"
        assert _recv(ws)["type"] == "auth_ok"
        assert len(presence.presence_list(schema="test_shop_a")) == 1
