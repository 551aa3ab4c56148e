"""Vinted through the extension: a real ASGI server, a real worker, the simulator over a real
socket, the channel layer on the real Redis."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from core.errors import JobDeferred, PermanentMarketplaceError, TransientMarketplaceError
from marketplace.handlers.base import WAITING_FOR_EXTENSION
from marketplace.handlers.vinted.client import VintedClient
from marketplace.models import Listing, MarketplaceJob
from marketplace.services import presence, relay
from marketplace.services.ratelimit import redis_client
from marketplace.states import JobStatus
from sandbox.vinted_extension import ExtensionSimulator, Fault, VintedAccount
from tenants.services import extension_token_issue
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.integration.conftest import simulator_for, wait_for, wait_terminal

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("celery_worker", "vinted_clean"),
]


def _vinted_job(ebay_server, *, images: int = 2) -> MarketplaceJob:
    product = ProductFactory()
    for position in range(images):
        ProductImageFactory(
            product=product, url=ebay_server.image_url(f"photo{position}"), position=position
        )
    return make_job(marketplace="vinted", product_id=product.pk)


def test_publish_through_the_extension(asgi_server, extension_token, live_tenant, ebay_server):
    # given
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        # when
        job = wait_terminal(_vinted_job(ebay_server).pk)
        # then
        assert job.status == JobStatus.COMPLETED
        names = list(job.tasks.order_by("position").values_list("name", flat=True))
        assert names == ["upload_photo_1", "upload_photo_2", "create_item"]
        assert sim.count_items_with_marker(job.product.marker) == 1
        listing = Listing.objects.get(product=job.product, marketplace="vinted")
        assert int(listing.external_id) == sim.items_created[0]


def test_offline_jobs_wait_then_run_when_the_extension_connects(
    asgi_server, extension_token, live_tenant, ebay_server
):
    # given: no extension connected
    jobs = [_vinted_job(ebay_server, images=1) for _ in range(3)]
    wait_for(
        lambda: all(
            MarketplaceJob.objects.filter(pk=j.pk, status_reason=WAITING_FOR_EXTENSION).exists()
            for j in jobs
        )
    )
    assert [j.attempts for j in MarketplaceJob.objects.filter(pk__in=[j.pk for j in jobs])] == [
        0,
        0,
        0,
    ]
    # when
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        done = [wait_terminal(j.pk) for j in jobs]
        # then
        assert [j.status for j in done] == [JobStatus.COMPLETED] * 3
        assert [j.attempts for j in done] == [1, 1, 1]
        assert len(sim.items_created) == 3


# --- the relay from a worker-like caller (this process) to a connected simulator -------------

USER_PATH = "/api/v2/users/current"


def _client(timeout_s: float = 5.0, tenant: str = "test_shop_a") -> VintedClient:
    return VintedClient(tenant=tenant, timeout_s=timeout_s)


def _recording(sim: ExtensionSimulator) -> list[dict]:
    """Keep a copy of every command the simulator receives, as it received it."""
    received: list[dict] = []
    handle = sim.commands.handle

    async def recording(ws, command):
        received.append(dict(command))
        await handle(ws, command)

    sim.commands.handle = recording
    return received


def _token_of_a_member(tenant) -> str:
    user = UserFactory()
    MembershipFactory(user=user, tenant=tenant)
    return extension_token_issue(tenant=tenant, user=user, name="browser")[1]


def test_the_extension_receives_the_documented_command(asgi_server, extension_token, live_tenant):
    # given
    sim = simulator_for(asgi_server, extension_token, live_tenant)
    received = _recording(sim)
    with sim:
        # when
        body = _client(timeout_s=7.5).call(
            "GET", "/api/v2/wardrobe/51000001/items", params={"page": 1, "per_page": 96}
        )
    # then the answer is Vinted's body, and the command had exactly the protocol's fields
    assert body == {
        "items": [],
        "pagination": {"current_page": 1, "total_pages": 0, "total_entries": 0, "per_page": 96},
    }
    [command] = received
    assert uuid.UUID(command["id"]).version == 4
    assert command == {
        "type": "command",
        "id": command["id"],
        "action": "api_call",
        "method": "GET",
        "path": "/api/v2/wardrobe/51000001/items",
        "body": None,
        "params": {"page": 1, "per_page": 96},
        "timeout_ms": 7500,
    }
    assert (sim.acks_sent, sim.results_sent) == (1, 1)


@pytest.mark.parametrize(
    ("fault", "error_class", "status", "retry_after"),
    [
        pytest.param(Fault.error_status(404), PermanentMarketplaceError, 404, None, id="404"),
        pytest.param(Fault.error_status(500), TransientMarketplaceError, 500, None, id="500"),
        pytest.param(Fault.rate_limited(7), TransientMarketplaceError, 429, 7.0, id="429"),
        pytest.param(Fault.network_error(), TransientMarketplaceError, None, None, id="network"),
    ],
)
def test_an_error_result_maps_to_the_retry_policy(
    asgi_server, extension_token, live_tenant, settings, fault, error_class, status, retry_after
):
    # given an extension whose next call fails on Vinted's side (one try: the mapping of one
    # answer, not the inline retries of reads, tested in test_call_retries)
    settings.RELIST_SAFE_CALL_RETRIES = 0
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(fault, method="GET", path="users/current")
        # when
        with pytest.raises(error_class) as error:
            _client().call("GET", USER_PATH)
    # then
    assert type(error.value) is error_class
    assert error.value.status == status
    assert getattr(error.value, "retry_after", None) == retry_after
    assert error.value.message.startswith(f"vinted GET {USER_PATH} → {status or 0}: ")


def test_a_slow_answer_beyond_the_timeout_is_a_retryable_timeout(
    asgi_server, extension_token, live_tenant, settings
):
    # given an extension that acknowledges at once but answers after 3 s (one try)
    settings.RELIST_SAFE_CALL_RETRIES = 0
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(Fault.slow(3000), method="GET", path="users/current")
        started = time.monotonic()
        # when the step allows half a second
        with pytest.raises(TransientMarketplaceError) as error:
            _client(timeout_s=0.5).call("GET", USER_PATH)
        elapsed = time.monotonic() - started
    # then it is a timeout (from the worker's clock or the browser's), without waiting the 3 s
    assert "timeout" in error.value.message
    assert (error.value.status, error.value.ambiguous) == (None, False)
    assert elapsed < 2.0


def test_no_ack_means_the_extension_is_gone(asgi_server, extension_token, live_tenant):
    # given an extension that swallows the next command (a hung tab)
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(Fault.no_ack())
        started = time.monotonic()
        # when
        with pytest.raises(JobDeferred) as deferred:
            _client().call("POST", "/api/v2/photos", body={"photo_url": "http://127.0.0.1/a.jpg"})
        # then after the ack timeout the job is deferred, and the session is forgotten
        assert time.monotonic() - started >= settings.VINTED_ACK_TIMEOUT_S
        assert deferred.value.reason == WAITING_FOR_EXTENSION
        assert presence.presence_list(schema="test_shop_a") == []
        assert (sim.commands_received, sim.acks_sent) == (1, 0)


def test_a_live_extension_forgotten_after_a_missed_ack_comes_back_at_its_next_heartbeat(
    asgi_server, extension_token, live_tenant
):
    # given a connected extension that heartbeats, and misses one ack (a slow moment)
    with simulator_for(asgi_server, extension_token, live_tenant, heartbeat_s=0.2) as sim:
        sim.faults.add(Fault.no_ack())
        with pytest.raises(JobDeferred):
            _client().call("GET", USER_PATH)
        # when its socket keeps heartbeating
        wait_for(lambda: presence.presence_list(schema="test_shop_a"), timeout=5)
        # then it is present again, on the same socket, and serves the next command
        [session] = presence.presence_list(schema="test_shop_a")
        assert (session.session_id, sim.connections) == (sim.session_id, 1)
        assert _client().call("GET", USER_PATH) == {
            "user": {"id": 51_000_001, "login": "relist_sim"}
        }


def test_a_socket_dropped_before_the_ack_defers_then_the_reconnected_extension_serves(
    asgi_server, extension_token, live_tenant
):
    # given an extension whose tab crashes on the next command, then comes back
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(Fault.drop_before_ack())
        # when
        with pytest.raises(JobDeferred):
            _client().call("GET", USER_PATH)
        wait_for(lambda: sim.connections == 2 and presence.presence_list(schema="test_shop_a"))
        # then the next command reaches the new session
        assert _client().call("GET", USER_PATH) == {
            "user": {"id": 51_000_001, "login": "relist_sim"}
        }
        assert len(presence.presence_list(schema="test_shop_a")) == 1


def test_a_socket_dropped_after_the_call_ran_is_an_ambiguous_retryable_error(
    asgi_server, extension_token, live_tenant
):
    # given an extension that applies the next call, then loses the socket before answering
    with simulator_for(asgi_server, extension_token, live_tenant, fetch_photos=False) as sim:
        sim.faults.add(Fault.drop_after_commit(), method="POST", path="photos")
        # when
        with pytest.raises(TransientMarketplaceError) as error:
            _client().call("POST", "/api/v2/photos", body={"photo_url": "http://127.0.0.1/a.jpg"})
        # then the caller knows the call may have been applied
        assert error.value.message == (
            "vinted POST /api/v2/photos: the extension disconnected mid-command"
        )
        assert error.value.ambiguous is True
        assert len(sim.account.photos) == 1


def _turn_is_free(tenant: str = "test_shop_a") -> bool:
    return redis_client().exists(f"relist:vinted:turn:{tenant}") == 0


def test_a_socket_dropped_mid_command_answers_the_worker_at_once_and_frees_the_turn(
    asgi_server, extension_token, live_tenant
):
    # given an extension that applies the next write, then loses the socket, and a step that
    # would wait 30 s for its result
    with simulator_for(asgi_server, extension_token, live_tenant, fetch_photos=False) as sim:
        sim.faults.add(Fault.drop_after_commit(), method="POST", path="photos")
        started = time.monotonic()
        # when
        with pytest.raises(TransientMarketplaceError) as error:
            _client(timeout_s=30).call(
                "POST", "/api/v2/photos", body={"photo_url": "http://127.0.0.1/a.jpg"}
            )
        # then the worker hears it from the closing session, not from its own clock
        assert time.monotonic() - started < 15
        assert "disconnected mid-command" in error.value.message
        assert error.value.ambiguous is True
        # and the shop's turn is free for the next command at once
        assert _turn_is_free()
        wait_for(lambda: sim.connections == 2)
        assert _client().call("GET", USER_PATH)["user"]["login"] == "relist_sim"


def test_a_web_process_killed_mid_command_is_noticed_within_the_liveness_period(
    own_asgi_server, extension_token, live_tenant
):
    # given a web process whose sessions keep a 1-s liveness key, and an extension connected to
    # it whose next write takes 20 s
    server = own_asgi_server(VINTED_LIVENESS_S="1")
    sim = simulator_for(server, extension_token, live_tenant, fetch_photos=False, reconnect=False)
    sim.faults.add(Fault.slow(20_000), method="POST", path="photos")
    with sim, ThreadPoolExecutor(1) as worker:
        started = time.monotonic()
        call = worker.submit(
            _client(timeout_s=30).call,
            "POST",
            "/api/v2/photos",
            body={"photo_url": "http://127.0.0.1/a.jpg"},
        )
        [session] = presence.presence_list(schema="test_shop_a")
        wait_for(lambda: relay._replies().exists(relay.alive_key(session.channel)) == 1)
        # when the web process dies without a word (no disconnect runs, presence stays)
        server.kill()
        # then the waiting worker learns it long before its 30-s timeout: retryable, ambiguous
        with pytest.raises(TransientMarketplaceError) as error:
            call.result(timeout=25)
        assert time.monotonic() - started < 15
        assert "disconnected mid-command" in error.value.message
        assert error.value.ambiguous is True
        assert _turn_is_free()
    # and the next command finds that nobody listens on the dead session's channel: the job
    # waits for an extension, and the ghost leaves presence
    assert len(presence.presence_list(schema="test_shop_a")) == 1
    with pytest.raises(JobDeferred):
        _client().call("GET", USER_PATH)
    assert presence.presence_list(schema="test_shop_a") == []
    assert sim.commands_received == 1


def test_a_session_whose_consumer_crashes_mid_command_still_answers_the_worker(
    asgi_server, extension_token, live_tenant
):
    # given a write in flight (acknowledged, its Vinted call taking 20 s)
    with (
        simulator_for(asgi_server, extension_token, live_tenant, fetch_photos=False) as sim,
        ThreadPoolExecutor(1) as worker,
    ):
        sim.faults.add(Fault.slow(20_000), method="POST", path="photos")
        started = time.monotonic()
        call = worker.submit(
            _client(timeout_s=30).call,
            "POST",
            "/api/v2/photos",
            body={"photo_url": "http://127.0.0.1/a.jpg"},
        )
        [session] = presence.presence_list(schema="test_shop_a")
        wait_for(lambda: relay._replies().exists(relay.alive_key(session.channel)) == 1)
        # when its consumer dies of an error (here: an event it cannot handle)
        broken = get_channel_layer(relay.LAYER).serialize({"type": "vinted.command"})
        assert relay._replies().publish(session.channel, broken) == 1
        # then the waiting worker is answered at once: retryable, ambiguous
        with pytest.raises(TransientMarketplaceError) as error:
            call.result(timeout=25)
        assert time.monotonic() - started < 15
        assert "disconnected mid-command" in error.value.message
        assert error.value.ambiguous is True
        assert _turn_is_free()


def test_a_result_with_integers_beyond_64_bits_arrives_intact(
    asgi_server, extension_token, live_tenant
):
    # given an extension whose answer carries a number no 64-bit integer holds
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(
            Fault.error_status(422, body={"id": 2**70}), method="GET", path="users/current"
        )
        # when
        with pytest.raises(PermanentMarketplaceError) as error:
            _client().call("GET", USER_PATH)
    # then
    assert error.value.details == {"id": 2**70}


def test_one_command_reaches_exactly_one_of_two_tabs(asgi_server, extension_token, live_tenant):
    # given two tabs of the same browser, logged in to the same Vinted account
    account = VintedAccount()
    first = simulator_for(
        asgi_server, extension_token, live_tenant, account=account, fetch_photos=False
    )
    second = simulator_for(
        asgi_server, extension_token, live_tenant, account=account, fetch_photos=False
    )
    with first, second:
        assert len(presence.presence_list(schema="test_shop_a")) == 2
        # when ten photos are uploaded
        ids = [
            _client().call(
                "POST", "/api/v2/photos", body={"photo_url": f"http://127.0.0.1/{n}.jpg"}
            )["id"]
            for n in range(10)
        ]
        # then each command ran once: ten commands received in all, ten photos, none twice
        assert first.commands_received + second.commands_received == 10
        assert len(account.photos) == 10
        assert sorted(ids) == sorted(account.photos)


def test_a_tenants_commands_never_reach_another_tenants_extension(
    asgi_server, extension_token, live_tenant, other_tenant, ebay_server
):
    # given both tenants' extensions connected
    shop_a = simulator_for(asgi_server, extension_token, live_tenant)
    shop_b = simulator_for(asgi_server, _token_of_a_member(other_tenant), other_tenant)
    with shop_a, shop_b:
        # when each tenant's worker sends commands, and shop A publishes a product
        for _ in range(5):
            _client(tenant="test_shop_a").call("GET", USER_PATH)
        for _ in range(3):
            _client(tenant="test_shop_b").call("GET", USER_PATH)
        job = wait_terminal(_vinted_job(ebay_server, images=1).pk)
        # then every command reached its own tenant's extension only
        assert job.status == JobStatus.COMPLETED
        assert (shop_a.commands_received, shop_b.commands_received) == (5 + 2, 3)
        assert len(shop_a.items_created) == 1
        assert shop_b.items_created == []
        assert shop_b.account.photos == {}


# --- jobs through the worker ------------------------------------------------------------------


def test_the_socket_dropped_mid_publish_retries_and_creates_exactly_one_item(
    asgi_server, extension_token, live_tenant, ebay_server
):
    # given an extension that creates the item, then loses the socket before answering
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(Fault.drop_after_commit(), method="POST", path=r"item_upload/items$")
        # when
        job = wait_terminal(_vinted_job(ebay_server, images=1).pk)
        # then the job retried once, found the item by its marker and adopted it
        assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)
        assert sim.drops == 1
        assert sim.count_items_with_marker(job.product.marker) == 1
        assert len(sim.items_created) == 1
        create = job.tasks.get(name="create_item")
        assert (create.attempts, create.result["adopted"]) == (2, True)
        listing = Listing.objects.get(product=job.product, marketplace="vinted")
        assert int(listing.external_id) == sim.items_created[0]


def test_a_permanent_error_result_fails_the_job_at_once(
    asgi_server, extension_token, live_tenant, ebay_server
):
    # given an extension whose item creation Vinted refuses
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(
            Fault.error_status(422, error="Validation failed"), method="POST", path="items$"
        )
        # when
        job = wait_terminal(_vinted_job(ebay_server, images=1).pk)
        # then
        assert (job.status, job.attempts, job.error_code) == (
            JobStatus.FAILED,
            1,
            "marketplace_permanent",
        )
        assert job.error_message.startswith(
            "vinted POST /api/v2/item_upload/items → 422: Validation failed"
        )
        assert sim.items_created == []
        assert not Listing.objects.filter(product=job.product, marketplace="vinted").exists()


def test_a_transient_error_result_is_retried_and_the_item_created_once(
    asgi_server, extension_token, live_tenant, ebay_server
):
    # given an extension whose first item creation gets a 503
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(Fault.error_status(503), method="POST", path="items$")
        # when
        job = wait_terminal(_vinted_job(ebay_server, images=1).pk)
        # then
        assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)
        assert len(sim.items_created) == 1
        assert sim.count_items_with_marker(job.product.marker) == 1


def test_a_hung_extension_makes_the_job_wait_without_using_an_attempt(
    asgi_server, extension_token, live_tenant, ebay_server
):
    # given an extension that never acknowledges
    with simulator_for(asgi_server, extension_token, live_tenant) as hung:
        hung.faults.add(Fault.no_ack(), times=None)
        # when a publish runs
        job = _vinted_job(ebay_server, images=1)
        wait_for(
            lambda: MarketplaceJob.objects.filter(
                pk=job.pk, status=JobStatus.PENDING, status_reason=WAITING_FOR_EXTENSION
            ).exists()
        )
        # then it waits for an extension, with no attempt used
        assert MarketplaceJob.objects.get(pk=job.pk).attempts == 0
        assert hung.acks_sent == 0
    # and when a working extension connects, it completes
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        done = wait_terminal(job.pk)
        assert (done.status, done.attempts) == (JobStatus.COMPLETED, 1)
        assert len(sim.items_created) == 1


@pytest.mark.slow
def test_an_extension_idle_for_longer_than_the_redis_read_timeout_stays_served(
    asgi_server, extension_token, live_tenant
):
    # given an extension connected, then idle for 7 s (no command reaches its consumer: the
    # consumer's channel-layer read outlasts redis-py's 5 s socket timeout)
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        time.sleep(7)
        # when
        body = _client().call("GET", USER_PATH)
        # then the same connection serves the command
        assert body == {"user": {"id": 51_000_001, "login": "relist_sim"}}
        assert (sim.connections, sim.close_codes) == (1, [])


@pytest.mark.slow
def test_a_vinted_call_slower_than_the_redis_read_timeout_completes(
    asgi_server, extension_token, live_tenant
):
    # given an extension whose next Vinted call takes 6 s (a slow photo upload, say)
    with simulator_for(asgi_server, extension_token, live_tenant) as sim:
        sim.faults.add(Fault.slow(6000), method="GET", path="users/current")
        # when the step allows 15 s
        body = _client(timeout_s=15).call("GET", USER_PATH)
        # then the answer arrives over the same connection
        assert body == {"user": {"id": 51_000_001, "login": "relist_sim"}}
        assert (sim.connections, sim.close_codes) == (1, [])
