"""Abuse limits on both sockets, over a real web process of the test's own: a client IP that
failed too many authentications this minute is closed with 4429 before its token is looked up
(even a good one), on either endpoint. (A silent socket closed after the auth deadline: in
test_vinted_socket and test_live_updates.)"""

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from sandbox.vinted_extension import DEFAULT_ORIGIN
from tenants.auth import api_token_issue
from tests.factories.tenants import MembershipFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("vinted_clean")]


@contextmanager
def _socket(server, tenant, path: str) -> Iterator[ClientConnection]:
    host = tenant.domains.get(is_primary=True).domain
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with connect(f"ws://{host}{path}", sock=sock, origin=DEFAULT_ORIGIN, proxy=None) as ws:
        yield ws


def _close_code_after_auth(server, tenant, path: str, token: str) -> int:
    with _socket(server, tenant, path) as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    return closed.value.rcvd.code


def test_failed_authentications_are_limited_per_client_ip_on_both_sockets(
    own_asgi_server, live_tenant, extension_token
):
    # given a web process that allows 3 failed authentications per IP per minute
    server = own_asgi_server(SOCKET_AUTH_FAILURES_PER_MINUTE="3")
    user = UserFactory()
    MembershipFactory(user=user, tenant=live_tenant)
    api_token = api_token_issue(user=user, name="socket test")[1]
    # when a client guesses three extension tokens
    codes = [
        _close_code_after_auth(server, live_tenant, "/ws/vinted/", f"rlx_guess_{n}")
        for n in range(3)
    ]
    # then each guess was refused as a bad token
    assert codes == [4401, 4401, 4401]
    # and from then on, this minute, the IP is closed unheard on both sockets, good token or not
    assert _close_code_after_auth(server, live_tenant, "/ws/vinted/", extension_token) == 4429
    assert _close_code_after_auth(server, live_tenant, "/ws/live/", api_token) == 4429


def test_successful_authentications_do_not_spend_the_budget(
    own_asgi_server, live_tenant, extension_token
):
    # given the same limit
    server = own_asgi_server(SOCKET_AUTH_FAILURES_PER_MINUTE="3")
    # when one extension reconnects five times
    for _ in range(5):
        with _socket(server, live_tenant, "/ws/vinted/") as ws:
            ws.send(json.dumps({"type": "auth", "token": extension_token}))
            # then it is let in every time
            assert json.loads(ws.recv(timeout=5))["type"] == "auth_ok"


def test_the_default_auth_deadline_is_a_few_seconds():
    # The suite's own server shortens it; production runs with the default.
    assert settings.SOCKET_AUTH_TIMEOUT_S == 5.0
    assert settings.SOCKET_AUTH_FAILURES_PER_MINUTE == 10
