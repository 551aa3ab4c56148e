"""The Vinted extension simulator against a real WebSocket server playing Relist's side."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.vinted_extension import (
    ExtensionAuthError,
    ExtensionHandshakeError,
    ExtensionSimulator,
    Fault,
    FaultKind,
    FaultPlan,
    SimulatorFleet,
)
from tests.sandbox.vinted_server_fixture import FakeRelistServer, PhotoServer

TOKENS = {"tok-shop1": "shop1", "tok-shop2": "shop2"}
DOMAINS = {"shop1.localhost": "shop1", "shop2.localhost": "shop2"}
USER_ID = 51_000_001
FIRST_ITEM = 4_000_000_001
FIRST_PHOTO = 17_000_000_001
REPO_ROOT = Path(__file__).resolve().parents[2]

SimFactory = Callable[..., ExtensionSimulator]


@pytest.fixture
def server() -> Iterator[FakeRelistServer]:
    relist = FakeRelistServer(tokens=TOKENS, domains=DOMAINS).start()
    yield relist
    relist.stop()


@pytest.fixture(scope="module")
def photos() -> Iterator[PhotoServer]:
    photo_server = PhotoServer().start()
    yield photo_server
    photo_server.stop()


@pytest.fixture
def make_sim(server: FakeRelistServer) -> Iterator[SimFactory]:
    sims: list[ExtensionSimulator] = []

    def factory(
        token: str = "tok-shop1", *, host: str = "shop1.localhost:8000", **options: Any
    ) -> ExtensionSimulator:
        options.setdefault("reconnect_delay_s", 0.02)
        sim = ExtensionSimulator(server.url, token, host=host, **options)
        sims.append(sim)
        return sim.start_in_thread(timeout=3.0)

    yield factory
    for sim in sims:
        sim.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> ExtensionSimulator:
    return make_sim()


def item_payload(photo_ids: list[int], **overrides: Any) -> dict[str, Any]:
    item = {
        "title": "Levi's 501 jeans",
        "description": "Blue, worn twice. [ref:SKU123]",
        "price": "12.50",
        "currency": "EUR",
        "catalog_id": 5,
        "status_id": 2,
        "assigned_photos": [{"id": photo_id, "orientation": 0} for photo_id in photo_ids],
        **overrides,
    }
    return {"item": item, "feedback_id": None, "upload_session_id": "9b1c7c1e-upload"}


def sim_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vinted-")]


# --- connection and auth ------------------------------------------------------------------------


def test_authenticates_with_token_and_sends_host_and_origin(server, sim):
    # given a simulator started for shop1 (fixture), connecting to 127.0.0.1
    # when the server inspects the accepted connection
    session = server.wait_sessions(1)[0]
    # then the Host header is the tenant's, verbatim, and the first frame is the auth message
    assert session.host == "shop1.localhost:8000"
    assert session.origin == "chrome-extension://relist-sim"
    assert session.path == "/ws/vinted/"
    assert session.received[0] == {
        "type": "auth",
        "token": "tok-shop1",
        "extension_version": "1.0.0",
    }
    assert (sim.session_id, sim.tenant, sim.connected, sim.connections) == (
        "sess-1",
        "shop1",
        True,
        1,
    )


def test_host_without_port_and_custom_origin_are_sent_verbatim(server, make_sim):
    # given a Firefox-style origin and a Host without port
    # when the simulator connects
    sim = make_sim("tok-shop2", host="shop2.localhost", origin="moz-extension://4f2a")
    # then both headers arrive unchanged
    session = server.wait_sessions(1)[0]
    assert (session.host, session.origin, sim.tenant) == (
        "shop2.localhost",
        "moz-extension://4f2a",
        "shop2",
    )


@pytest.mark.parametrize(
    ("token", "host", "code"),
    [("tok-unknown", "shop1.localhost", 4401), ("tok-shop2", "shop1.localhost", 4403)],
    ids=["bad-token-4401", "other-tenant-token-4403"],
)
def test_refused_token_raises_with_close_code_and_never_retries(
    server, make_sim, token, host, code
):
    # given a token the server refuses
    # when the simulator is started from sync code
    with pytest.raises(ExtensionAuthError) as refused:
        make_sim(token, host=host)
    # then the close code reaches the caller and no second attempt was made
    assert refused.value.code == code
    assert len(server.sessions) == 1
    assert sim_threads() == []


def test_token_revoked_while_connected_stops_reconnecting(server, sim):
    # given a connected simulator
    server.wait_sessions(1)
    # when the server closes the session with 4401
    server.close_session(4401, "token revoked")
    # then the simulator records the refusal and does not reconnect
    assert server.wait_until(lambda: sim.failure is not None)
    assert isinstance(sim.failure, ExtensionAuthError)
    assert sim.failure.code == 4401
    assert len(server.sessions) == 1


def test_async_api_runs_until_stop(server):
    # given a simulator driven from an asyncio program
    sim = ExtensionSimulator(server.url, "tok-shop1", host="shop1.localhost")

    async def scenario() -> None:
        task = asyncio.create_task(sim.run())
        await sim.wait_connected(3.0)
        sim.stop()
        await task

    # when it connects and is stopped
    asyncio.run(scenario())
    # then it closed cleanly with 1000
    assert server.wait_until(lambda: server.sessions[0].closed)
    assert (sim.connections, server.sessions[0].closed_code) == (1, 1000)


def test_context_manager_closes_cleanly_and_joins_the_thread(server):
    # given a simulator used as a context manager
    with ExtensionSimulator(server.url, "tok-shop1", host="shop1.localhost") as sim:
        # when the block runs, it is authenticated; when it exits, the simulator stops
        inside = (sim.connected, sim_threads())
    # then the server saw a normal close and the thread is gone
    assert inside == (True, ["vinted-sim:shop1.localhost"])
    assert server.wait_until(lambda: server.sessions[0].closed)
    assert (server.sessions[0].closed_code, sim.connected, sim_threads()) == (1000, False, [])


def test_refused_origin_raises_handshake_error(server, make_sim):
    # given an origin that is not a browser extension's
    # when the simulator connects
    with pytest.raises(ExtensionHandshakeError) as refused:
        make_sim(origin="https://evil.example")
    # then the HTTP refusal reaches the caller and no session exists
    assert (refused.value.status, server.sessions, sim_threads()) == (403, [], [])


def test_unreachable_server_fails_fast_without_reconnect_and_retries_with_it():
    # given a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{probe.getsockname()[1]}/ws/vinted/"
    one_shot = ExtensionSimulator(url, "tok-shop1", reconnect=False)
    retrying = ExtensionSimulator(url, "tok-shop1", reconnect_delay_s=0.02)
    # when each is started
    # then without reconnect the connection error surfaces, with it the start times out
    with pytest.raises(ConnectionRefusedError):
        one_shot.start_in_thread(timeout=2.0)
    with pytest.raises(TimeoutError, match=r"not authenticated within 0\.3 s"):
        retrying.start_in_thread(timeout=0.3)
    assert sim_threads() == []


# --- Vinted calls -------------------------------------------------------------------------------


def test_command_is_acked_then_answered(server, sim):
    # given a connected simulator
    # when the server asks for the current user
    command_id = server.send_command("GET", "/api/v2/users/current")
    result = server.wait_result(command_id)
    # then an ack precedes the result, which carries Vinted's body
    assert server.wait_ack(command_id) == {"type": "ack", "id": command_id}
    assert result == {
        "type": "result",
        "id": command_id,
        "ok": True,
        "status": 200,
        "body": {"user": {"id": USER_ID, "login": "relist_sim"}},
    }
    kinds = [message["type"] for message in server.current.received]
    assert kinds == ["auth", "ack", "result"]
    assert server.wait_until(lambda: sim.results_sent == 1)  # counted once the send returned
    assert (sim.commands_received, sim.acks_sent) == (1, 1)


def test_photo_upload_fetches_the_url_then_item_is_created(server, sim, photos):
    # given a photo served over HTTP
    # when the server uploads it and creates an item with it
    photo = server.call(
        "POST", "/api/v2/photos", {"photo_url": photos.url("photo-1.jpg"), "type": "item"}
    )
    created = server.call("POST", "/api/v2/item_upload/items", item_payload([FIRST_PHOTO]))
    # then the photo was really fetched and the item is live in the wardrobe
    assert photo["body"] == {
        "id": FIRST_PHOTO,
        "image_no": 1,
        "url": f"https://images1.vinted.net/t/sim/f800/{FIRST_PHOTO}.jpeg",
        "temp_uuid": None,
        "width": 800,
        "height": 1200,
    }
    assert sim.account.photos[FIRST_PHOTO]["size_bytes"] == len(PhotoServer.PHOTO)
    item = created["body"]["item"]
    assert (created["ok"], created["status"]) == (True, 200)
    assert item["id"] == FIRST_ITEM
    assert item["url"] == f"https://www.vinted.fr/items/{FIRST_ITEM}-levi-s-501-jeans"
    assert item["price"] == {"amount": "12.50", "currency_code": "EUR"}
    assert item["photos"] == [
        {"id": FIRST_PHOTO, "image_no": 1, "url": photo["body"]["url"], "is_main": True}
    ]
    assert (item["status"], item["catalog_id"], item["status_id"]) == ("active", 5, 2)
    assert sim.items_created == [FIRST_ITEM]
    assert sim.count_items_with_marker("[ref:SKU123]") == 1
    assert list(sim.wardrobe) == [FIRST_ITEM]


def test_unreachable_photo_answers_400_and_stores_nothing(server, sim, photos):
    # given a photo URL that answers 404
    # when the server asks to upload it
    result = server.call("POST", "/api/v2/photos", {"photo_url": photos.url("missing.jpg")})
    # then the call fails like Vinted's upload would, with no photo stored
    assert {k: v for k, v in result.items() if k != "id"} == {
        "type": "result",
        "ok": False,
        "status": 400,
        "error": "photo could not be fetched",
        "body": {"code": 400, "message": "photo could not be fetched"},
    }
    assert sim.account.photos == {}


def test_invalid_item_answers_422_with_every_error_and_creates_nothing(server, sim):
    # given an item with a blank title and description, a zero price and an unknown photo
    payload = item_payload([999], title="", description=" ", price="0")
    # when the server tries to create it
    result = server.call("POST", "/api/v2/item_upload/items", payload)
    # then Vinted's validation body lists each field and nothing was created
    assert (result["ok"], result["status"], result["error"]) == (False, 422, "Validation failed")
    assert result["body"] == {
        "code": 99,
        "message": "Validation failed",
        "message_code": "validation_error",
        "errors": [
            {"field": "title", "value": "can't be blank"},
            {"field": "description", "value": "can't be blank"},
            {"field": "price", "value": "must be greater than 0"},
            {"field": "assigned_photos", "value": "photo 999 not found"},
        ],
    }
    assert (sim.items_created, sim.wardrobe) == ([], {})


def test_wardrobe_pages_newest_first(server, sim):
    # given five listings already on Vinted
    for number in range(1, 6):
        sim.account.seed_item(title=f"Item {number}", description="seeded")
    # when the server reads page 2 by params and page 3 by query string, two per page
    page_2 = server.call(
        "GET",
        f"/api/v2/wardrobe/{USER_ID}/items",
        params={"page": 2, "per_page": 2, "order": "newest_first"},
    )
    page_3 = server.call("GET", f"/api/v2/wardrobe/{USER_ID}/items?page=3&per_page=2")
    # then items come newest first with Vinted's pagination object
    assert [item["id"] for item in page_2["body"]["items"]] == [FIRST_ITEM + 2, FIRST_ITEM + 1]
    assert page_2["body"]["pagination"] == {
        "current_page": 2,
        "total_pages": 3,
        "total_entries": 5,
        "per_page": 2,
    }
    assert [item["id"] for item in page_3["body"]["items"]] == [FIRST_ITEM]
    assert sim.items_created == []  # seeds predate Relist


def test_update_changes_fields_and_unknown_item_is_404(server, sim):
    # given a listing
    item_id = sim.account.seed_item(title="Old title", description="d", price="10.00")["id"]
    # when the server updates its title and price, then updates an unknown id
    updated = server.call(
        "PUT", f"/api/v2/item_upload/items/{item_id}", {"item": {"title": "New title", "price": 20}}
    )
    missing = server.call("PUT", "/api/v2/item_upload/items/4000000999", {"item": {"title": "x"}})
    # then only the sent fields changed, and the unknown id is a 404
    item = updated["body"]["item"]
    assert (item["title"], item["description"], item["price"]["amount"]) == (
        "New title",
        "d",
        "20.00",
    )
    assert item["url"] == f"https://www.vinted.fr/items/{item_id}-new-title"
    assert (missing["status"], missing["error"]) == (404, "item not found")


def test_delete_removes_the_item_and_later_calls_are_404(server, sim):
    # given a listing
    item_id = sim.account.seed_item(title="To delete")["id"]
    # when the server deletes it, then reads and deletes it again
    deleted = server.call("POST", f"/api/v2/items/{item_id}/delete")
    read = server.call("GET", f"/api/v2/items/{item_id}")
    again = server.call("POST", f"/api/v2/items/{item_id}/delete")
    # then the first delete succeeds and the item is gone
    assert (deleted["status"], deleted["body"]) == (200, {"code": 0})
    assert (read["ok"], read["status"], read["error"]) == (False, 404, "item not found")
    assert (again["status"], again["body"]) == (404, {"code": 404, "message": "item not found"})
    assert (sim.wardrobe, list(sim.account.deleted_items)) == ({}, [item_id])


def test_my_orders_lists_seeded_sales(server, sim):
    # given a listing that was sold
    item_id = sim.account.seed_item(title="Sold jacket")["id"]
    order = sim.account.seed_order(title="Sold jacket", price="15.00", item_id=item_id)
    # when the server syncs sold orders
    result = server.call(
        "GET",
        "/api/v2/my_orders",
        params={"type": "sold", "status": "all", "page": 1, "per_page": 20},
    )
    # then the order is listed and the item is closed as sold
    assert result["body"] == {
        "my_orders": [
            {
                "transaction_id": 9_000_000_001,
                "conversation_id": 10_000_000_001,
                "title": "Sold jacket",
                "price": {"amount": "15.00", "currency_code": "EUR"},
                "status": "completed",
                "date": order["date"],
                "item_id": item_id,
                "buyer": {"id": 61_000_001, "login": "sim_buyer"},
            }
        ],
        "pagination": {"current_page": 1, "total_pages": 1, "total_entries": 1, "per_page": 20},
    }
    assert sim.wardrobe[item_id]["status"] == "sold"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("GET", "/api/v2/unknown", "api_call"), (404, "not found")),
        (("DELETE", "/api/v2/photos", "api_call"), (405, "method not allowed")),
        (("GET", "/api/v2/users/current", "open_tab"), (400, "unknown action")),
    ],
    ids=["unknown-path-404", "wrong-method-405", "unknown-action-400"],
)
def test_unsupported_commands_are_answered_with_an_error(server, sim, command, expected):
    # given a command the extension cannot serve
    method, path, action = command
    # when the server sends it
    result = server.call(method, path, action=action)
    # then it is acked and answered ok:false rather than ignored
    assert (result["ok"], result["status"], result["error"]) == (False, *expected)
    assert sim.acks_sent == 1


# --- heartbeat and server errors ----------------------------------------------------------------


def test_server_ping_is_answered_with_the_same_ts(server, sim):
    # given a connected simulator
    # when the server pings it
    server.send({"type": "ping", "ts": 1234})
    # then the pong echoes ts
    assert server.wait_until(lambda: list(server.messages_of_type("pong")) != [])
    assert list(server.messages_of_type("pong")) == [{"type": "pong", "ts": 1234}]
    assert sim.pings_received == 1


def test_simulator_sends_its_own_pings(server, make_sim):
    # given a simulator with a 50 ms heartbeat
    sim = make_sim(heartbeat_s=0.05)
    # when a few intervals pass
    assert server.wait_until(lambda: sim.pings_sent >= 2 and sim.pongs_received >= 2)
    # then its pings are bare {"type":"ping"} frames, each answered
    pings = list(server.messages_of_type("ping"))
    assert pings[:2] == [{"type": "ping"}, {"type": "ping"}]


def test_server_error_is_recorded_and_the_socket_stays_open(server, sim):
    # given a connected simulator
    error = {"type": "error", "code": "message_too_large", "message": "over 10 MB"}
    # when the server reports an error, then sends a command
    server.send(error)
    assert server.wait_until(lambda: sim.errors != [])
    result = server.call("GET", "/api/v2/users/current")
    # then the error is recorded and the same session keeps serving
    assert sim.errors == [error]
    assert (result["status"], len(server.sessions), sim.connections) == (200, 1, 1)


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            Fault.error_status(500),
            {
                "status": 500,
                "error": "Internal Server Error",
                "body": {"code": 500, "message": "Internal Server Error"},
            },
        ),
        (
            Fault.rate_limited(retry_after_s=7),
            {
                "status": 429,
                "error": "Too Many Requests",
                "body": {"code": 429, "message": "Too Many Requests"},
                "headers": {"Retry-After": "7"},
            },
        ),
        (
            Fault.datadome_block(),
            {
                "status": 403,
                "error": "blocked by DataDome",
                "body": {
                    "url": "https://geo.captcha-delivery.com/captcha/?initialCid=sim&hash=sim&cid=sim"
                },
            },
        ),
        (Fault.network_error(), {"status": 0, "error": "net::ERR_CONNECTION_RESET", "body": None}),
    ],
    ids=["500", "429-retry-after", "403-datadome", "network-status-0"],
)
def test_scripted_error_fails_one_call_without_applying_it(server, sim, fault, expected):
    # given a one-shot error scripted for item creation, and an uploaded photo
    photo_id = sim.account.add_photo(source_url="http://127.0.0.1/p.jpg")["id"]
    sim.faults.add(fault, method="POST", path=r"/item_upload/items$")
    # when the server creates the item twice
    failed = server.call("POST", "/api/v2/item_upload/items", item_payload([photo_id]))
    retried = server.call("POST", "/api/v2/item_upload/items", item_payload([photo_id]))
    # then the first fails as scripted with nothing created, and the retry succeeds
    assert {k: v for k, v in failed.items() if k not in ("type", "id", "ok")} == expected
    assert failed["ok"] is False
    assert (retried["status"], sim.items_created) == (200, [FIRST_ITEM])
    assert sim.faults.pending_rules == 0


def test_slow_fault_delays_the_result_but_not_the_ack_or_pings(server, sim):
    # given a 300 ms slow-down on the next call
    sim.faults.add(Fault.slow(300))
    # when the server sends a command and pings while it runs
    started = time.monotonic()
    command_id = server.send_command("GET", "/api/v2/users/current")
    assert server.wait_ack(command_id) is not None
    pending_at_ack = command_id not in server.results
    server.send({"type": "ping", "ts": 1})
    assert server.wait_until(lambda: list(server.messages_of_type("pong")) != [])
    pong_before_result = command_id not in server.results
    result = server.wait_result(command_id)
    answered = time.monotonic() - started
    # then the ack is immediate, the ping is not blocked and the result comes after the delay
    assert (pending_at_ack, pong_before_result) == (True, True)
    assert answered >= 0.3
    assert result is not None
    assert result["status"] == 200


def test_global_latency_applies_to_every_call(server, make_sim):
    # given a simulator with 150 ms latency
    sim = make_sim(faults=FaultPlan(latency_ms=150))
    # when the server makes a call
    started = time.monotonic()
    result = server.call("GET", "/api/v2/users/current")
    # then the answer took at least the latency
    assert time.monotonic() - started >= 0.15
    assert (result["status"], sim.faults.latency_ms) == (200, 150)


def test_call_longer_than_timeout_ms_answers_status_0_and_applies_nothing(server, sim):
    # given a call slowed beyond its command timeout
    photo_id = sim.account.add_photo(source_url="http://127.0.0.1/p.jpg")["id"]
    sim.faults.add(Fault.slow(1000))
    # when the server sends it with timeout_ms=100
    result = server.call(
        "POST", "/api/v2/item_upload/items", item_payload([photo_id]), timeout_ms=100
    )
    # then the browser-side timeout is reported and no item exists
    assert (result["ok"], result["status"], result["error"], result["body"]) == (
        False,
        0,
        "timeout after 100 ms",
        None,
    )
    assert sim.items_created == []


def test_no_ack_fault_swallows_the_command(server, sim):
    # given the next command will never be acked
    sim.faults.add(Fault.no_ack())
    # when the server sends two commands
    lost = server.send_command("GET", "/api/v2/users/current")
    assert server.wait_ack(lost, timeout=0.3) is None
    served = server.call("GET", "/api/v2/users/current")
    # then the first got neither ack nor result, the second was served on the same socket
    assert lost not in server.results
    assert (served["status"], sim.commands_received, sim.acks_sent, len(server.sessions)) == (
        200,
        2,
        1,
        1,
    )


def test_drop_before_ack_kills_the_socket_applies_nothing_and_reconnects(server, sim):
    # given the next item creation drops the socket before acking
    photo_id = sim.account.add_photo(source_url="http://127.0.0.1/p.jpg")["id"]
    sim.faults.add(Fault.drop_before_ack(), method="POST", path=r"/item_upload/items$")
    # when the server sends it
    command_id = server.send_command("POST", "/api/v2/item_upload/items", item_payload([photo_id]))
    first, second = server.wait_sessions(2)
    # then the first session ended abnormally without ack, nothing was created, and the
    # simulator is back on a new session that serves commands
    assert server.wait_until(lambda: first.closed)
    assert (first.closed_code, command_id in server.acks, sim.items_created) == (1006, False, [])
    assert server.call("GET", "/api/v2/users/current", session=second)["status"] == 200
    assert (sim.connections, sim.drops, sim.session_id) == (2, 1, "sess-2")


def test_drop_after_commit_loses_the_answer_but_keeps_the_item(server, sim):
    # given the next item creation is applied, then the socket drops before the result
    photo_id = sim.account.add_photo(source_url="http://127.0.0.1/p.jpg")["id"]
    sim.faults.add(Fault.drop_after_commit(), method="POST", path=r"/item_upload/items$")
    payload = item_payload([photo_id], description="Lost answer [ref:SKU-LOST]")
    # when the server sends it and the simulator reconnects
    command_id = server.send_command("POST", "/api/v2/item_upload/items", payload)
    server.wait_sessions(2)
    listed = server.call("GET", f"/api/v2/wardrobe/{USER_ID}/items")
    # then the ack came but no result, and the wardrobe holds exactly one matching item
    assert command_id in server.acks
    assert server.wait_result(command_id, timeout=0.1) is None
    assert sim.items_created == [FIRST_ITEM]
    assert sim.count_items_with_marker("[ref:SKU-LOST]") == 1
    assert [item["id"] for item in listed["body"]["items"]] == [FIRST_ITEM]


def test_random_error_rate_fails_calls_with_the_configured_status(server, make_sim):
    # given every call fails with 503
    sim = make_sim(faults=FaultPlan(seed=1, error_rate=1.0, error_status=503))
    # when the server makes a call
    result = server.call("GET", "/api/v2/users/current")
    # then it fails with 503 and the fault is logged
    assert (result["status"], result["error"]) == (503, "Service Unavailable")
    assert [(f.method, f.path, f.kind) for f in sim.faults.fired] == [
        ("GET", "/api/v2/users/current", FaultKind.ERROR)
    ]


def test_seeded_random_faults_replay_exactly():
    # given two plans with the same seed and a 50 % error rate
    first, second = FaultPlan(seed=7, error_rate=0.5), FaultPlan(seed=7, error_rate=0.5)
    # when each picks faults for twelve calls
    picks = [[plan.pick("GET", "/x") is not None for _ in range(12)] for plan in (first, second)]
    # then both give the same sequence
    expected = [True, True, False, True, False, True, True, False, True, True, True, True]
    assert picks == [expected, expected]


def test_fault_rates_over_one_are_refused():
    # given a plan
    plan = FaultPlan()
    # when rates summing over 1 are set
    # then the change is refused and the old rates stay
    with pytest.raises(ValueError, match="sum to at most 1"):
        plan.set_rates(error=0.8, slow=0.5)
    assert plan.pick("GET", "/x") is None


# --- several simulators and the CLI -------------------------------------------------------------


def test_fleet_runs_two_tenants_on_one_thread(server):
    # given two tenants' tokens and hosts
    fleet = SimulatorFleet.build(
        server.url,
        ["tok-shop1", "tok-shop2"],
        hosts=["shop1.localhost", "shop2.localhost"],
        reconnect_delay_s=0.02,
    )
    # when the fleet starts and each session gets a command
    with fleet:
        sessions = server.wait_sessions(2)
        threads = sim_threads()
        answers = [
            server.call("GET", "/api/v2/users/current", session=s)["status"] for s in sessions
        ]
    # then both authenticated in their tenant, on one shared thread, each serving its own commands
    assert sorted(session.tenant for session in sessions) == ["shop1", "shop2"]
    assert threads == ["vinted-fleet:2"]
    assert answers == [200, 200]
    assert [sim.commands_received for sim in fleet] == [1, 1]
    assert sim_threads() == []


def test_cli_serves_until_sigint(server):
    # given the CLI started against the server
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.vinted_extension",
            "--url",
            server.url,
            "--token",
            "tok-shop1",
            "--host",
            "shop1.localhost",
            "--seed",
            "1",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server.wait_sessions(1, timeout=5.0)
        answered = server.call("GET", "/api/v2/users/current")
        # when it receives Ctrl-C
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=5.0)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    # then it served, closed the socket cleanly and exited 0 after one startup line
    assert answered["status"] == 200
    assert process.returncode == 0
    assert stdout.startswith("Vinted extension simulator: ws://127.0.0.1:")
    assert server.wait_until(lambda: server.sessions[0].closed)
    assert server.sessions[0].closed_code == 1000
