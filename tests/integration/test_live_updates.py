"""The frontend's live feed over a real socket: a job's changes arrive as they happen."""

import json
import socket

import pytest
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.integration.conftest import wait_terminal

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]


def _live_socket(asgi_server, tenant, token: str):
    # The tenant's host goes in the URI (the Host header); the TCP socket goes to loopback.
    host = tenant.domains.get(is_primary=True).domain
    sock = socket.create_connection(("127.0.0.1", asgi_server.port), timeout=5)
    return connect(f"ws://{host}:{asgi_server.port}/ws/live/?token={token}", sock=sock)


def _token_of_member(tenant) -> str:
    user = UserFactory()
    MembershipFactory(user=user, tenant=tenant)
    return Token.objects.create(user=user).key


def test_a_subscriber_sees_a_job_go_pending_running_completed(asgi_server, ebay, live_tenant):
    # given
    token = _token_of_member(live_tenant)
    product = ProductFactory()
    ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
    with _live_socket(asgi_server, live_tenant, token) as live:
        assert json.loads(live.recv(timeout=5)) == {"type": "subscribed", "tenant": "test_shop_a"}
        # when
        job = make_job(marketplace="ebay", product_id=product.pk)
        assert wait_terminal(job.pk).status == "completed"
        # then
        seen = []
        while len(seen) < 3:
            event = json.loads(live.recv(timeout=5))
            if event["kind"] == "job" and event["id"] == job.pk:
                seen.append(event["status"])
    assert seen == ["pending", "running", "completed"]


def test_a_token_of_another_tenant_is_refused(asgi_server, live_tenant, other_tenant):
    # given: a member of the other tenant only
    token = _token_of_member(other_tenant)
    # when
    with (
        _live_socket(asgi_server, live_tenant, token) as live,
        pytest.raises(ConnectionClosed) as closed,
    ):
        live.recv(timeout=5)
    # then
    assert closed.value.rcvd.code == 4403
