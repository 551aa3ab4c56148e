"""The frontend's live feed over a real socket (daphne): authentication without the token in the
URL (a first message, or the handshake's subprotocols), the protocol's answers to anything else,
and a job's changes arriving as they happen."""

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from marketplace.services import live as live_service
from tenants.auth import api_token_issue
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.integration.conftest import wait_terminal

pytestmark = [pytest.mark.integration]


@contextmanager
def _live_socket(
    asgi_server, tenant, *, query: str = "", subprotocols: list[str] | None = None
) -> Iterator[ClientConnection]:
    # The tenant's host goes in the URI (the Host header); the TCP socket goes to loopback.
    host = tenant.domains.get(is_primary=True).domain
    sock = socket.create_connection(("127.0.0.1", asgi_server.port), timeout=5)
    with connect(
        f"ws://{host}:{asgi_server.port}/ws/live/{query}",
        sock=sock,
        subprotocols=[Subprotocol(p) for p in subprotocols] if subprotocols else None,
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


def _token_of_member(tenant) -> str:
    user = UserFactory()
    MembershipFactory(user=user, tenant=tenant)
    return api_token_issue(user=user, name="socket test")[1]


def _subscribed(ws: ClientConnection, token: str) -> dict:
    _send(ws, {"type": "auth", "token": token})
    return _recv(ws)


SUBSCRIBED = {"type": "subscribed", "tenant": "test_shop_a"}


@pytest.mark.usefixtures("celery_worker")
def test_a_subscriber_sees_a_job_go_pending_running_completed(asgi_server, ebay, live_tenant):
    # given
    token = _token_of_member(live_tenant)
    product = ProductFactory()
    ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    with _live_socket(asgi_server, live_tenant) as live:
        assert _subscribed(live, token) == SUBSCRIBED
        # (each process, this one and the worker, remembers "nobody subscribes" for up to
        # _CACHE_S: events flow from that long after a subscription, by design)
        time.sleep(live_service._CACHE_S * 1.5)
        # when
        job = make_job(marketplace="ebay", product_id=product.pk)
        assert wait_terminal(job.pk).status == "completed"
        # then
        seen = []
        while len(seen) < 3:
            event = _recv(live)
            if event["kind"] == "job" and event["id"] == job.pk:
                seen.append(event["status"])
    assert seen == ["pending", "running", "completed"]


def test_the_token_may_travel_in_the_handshakes_subprotocols(asgi_server, live_tenant):
    # given a browser's `new WebSocket(url, ["relist.live", "relist.token." + token])`
    token = _token_of_member(live_tenant)
    # when
    with _live_socket(
        asgi_server, live_tenant, subprotocols=["relist.live", f"relist.token.{token}"]
    ) as live:
        # then the server selects the protocol (never echoing the token) and subscribes
        assert live.subprotocol == "relist.live"
        assert _recv(live) == SUBSCRIBED


def test_a_token_in_the_url_is_not_accepted(asgi_server, live_tenant):
    # given a valid token where access logs and proxies would record it
    token = _token_of_member(live_tenant)
    with _live_socket(asgi_server, live_tenant, query=f"?token={token}") as live:
        # when the client says nothing more
        # then it is not subscribed, and is closed once the auth timeout passes
        assert _close_code(live) == 4408


@pytest.mark.parametrize("how", ["message", "subprotocol"])
def test_a_token_of_another_tenant_is_refused(asgi_server, live_tenant, other_tenant, how):
    # given: a member of the other tenant only
    token = _token_of_member(other_tenant)
    offered = ["relist.live", f"relist.token.{token}"] if how == "subprotocol" else None
    # when
    with _live_socket(asgi_server, live_tenant, subprotocols=offered) as live:
        if how == "message":
            _send(live, {"type": "auth", "token": token})
        # then
        assert _close_code(live) == 4403


def test_an_unknown_token_is_refused_like_another_tenants(asgi_server, live_tenant):
    with _live_socket(asgi_server, live_tenant) as live:
        _send(live, {"type": "auth", "token": "f" * 40})
        assert _close_code(live) == 4403


def test_a_socket_that_never_authenticates_is_closed_with_4408(asgi_server, live_tenant):
    with _live_socket(asgi_server, live_tenant) as live:
        assert _close_code(live) == 4408


def test_messages_before_auth_are_refused_and_auth_still_works(asgi_server, live_tenant):
    # given
    token = _token_of_member(live_tenant)
    with _live_socket(asgi_server, live_tenant) as live:
        # when
        _send(live, {"type": "subscribe", "tenant": "test_shop_b"})
        # then
        assert _recv(live)["code"] == "unauthenticated"
        assert _subscribed(live, token) == SUBSCRIBED


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("{not json", "malformed", id="not-json"),
        pytest.param("[1]", "malformed", id="json-array"),
        pytest.param('{"type": 1}', "malformed", id="type-not-a-string"),
        pytest.param("[" * 100_000 + "]" * 100_000, "message_too_large", id="too-large"),
        pytest.param("[" * 10_000 + "]" * 10_000, "malformed", id="nested-too-deep"),
        pytest.param('{"type": "teleport"}', "unknown_type", id="unknown-type"),
        pytest.param('{"type": "auth", "token": "x"}', "already_authenticated", id="second-auth"),
    ],
)
def test_a_bad_message_gets_an_error_and_the_socket_stays_usable(
    asgi_server, live_tenant, raw, code
):
    # given a subscribed socket
    token = _token_of_member(live_tenant)
    with _live_socket(asgi_server, live_tenant) as live:
        assert _subscribed(live, token) == SUBSCRIBED
        # when
        live.send(raw)
        # then
        answer = _recv(live)
        assert (answer["type"], answer["code"]) == ("error", code)
        _send(live, {"type": "ping", "ts": 5})
        assert _recv(live) == {"type": "pong", "ts": 5}
