"""Fault injection: random rates, scripted rules, and the HTTP control API."""

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.ebay import EbaySandbox
from sandbox.etsy import EtsySandbox
from sandbox.faults import FaultAction, FaultConfigError, FaultPlan

INVENTORY = "/sell/inventory/v1"


def test_an_error_rate_of_one_fails_every_call_with_the_marketplace_s_body(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given
    ebay_sandbox.faults.configure(error_rate=1.0)

    # when
    response = ebay_put_item("SKU-1")

    # then the call failed before touching any state
    assert response.status_code == 503
    assert response.json() == {
        "errors": [
            {
                "errorId": 2003,
                "domain": "ACCESS",
                "category": "APPLICATION",
                "message": "Internal error",
                "longMessage": (
                    "There was a problem with an eBay internal system or process. Contact eBay "
                    "developer support for assistance. (Injected fault)"
                ),
            }
        ]
    }
    assert ebay_sandbox.stats()["inventory_item_puts"] == {}
    assert ebay_sandbox.faults.injected == {"status": 1}


def test_the_error_status_is_configurable(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # given
    etsy_sandbox.faults.configure(error_rate=1.0, error_status=500)

    # when
    response = http.get(f"{etsy_sandbox.base_url}/application/users/me", headers=etsy_headers)

    # then
    assert response.status_code == 500
    assert response.json() == {"error": "Injected fault"}


def test_a_rate_limit_rate_of_one_answers_429_with_retry_after(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # given
    etsy_sandbox.faults.configure(rate_limit_rate=1.0, retry_after=7)

    # when
    response = http.get(f"{etsy_sandbox.base_url}/application/users/me", headers=etsy_headers)

    # then
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"error": "Too many requests (injected fault)"}


def test_a_drop_rate_of_one_closes_the_connection_without_an_answer(
    ebay_sandbox: EbaySandbox,
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given
    ebay_sandbox.faults.configure(drop_rate=1.0)

    # when / then
    with pytest.raises(requests.ConnectionError):
        ebay_put_item("SKU-1")
    assert ebay_sandbox.stats()["inventory_item_puts"] == {}


def test_a_drop_before_rule_loses_one_call_without_side_effects(
    ebay_sandbox: EbaySandbox,
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given the next PUT of an inventory item is dropped
    ebay_sandbox.faults.add_rule("drop_before", r"/inventory_item/", method="PUT")

    # when the client calls twice
    with pytest.raises(requests.ConnectionError):
        ebay_put_item("SKU-1")
    retried = ebay_put_item("SKU-1")

    # then only the retry reached the marketplace
    assert retried.status_code == 204
    assert ebay_sandbox.stats()["inventory_item_puts"] == {"SKU-1": 1}
    assert ebay_sandbox.stats()["calls"] == {"PUT /sell/inventory/v1/inventory_item/{sku}": 2}


def test_a_drop_after_rule_commits_the_publish_but_loses_the_answer(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_offer_id: str,
) -> None:
    # given the answer of the next publish is lost
    ebay_sandbox.faults.add_rule(FaultAction.DROP_AFTER, r"/publish$", method="POST")
    offer_url = f"{ebay_sandbox.base_url}{INVENTORY}/offer/{ebay_offer_id}"

    # when the client publishes, then reconciles by reading the offer and publishing again
    with pytest.raises(requests.ConnectionError):
        http.post(f"{offer_url}/publish", headers=ebay_headers)
    offer = http.get(offer_url, headers=ebay_headers).json()
    again = http.post(f"{offer_url}/publish", headers=ebay_headers)

    # then the listing exists once, and the repeat returns it
    assert offer["status"] == "PUBLISHED"
    assert again.json()["listingId"] == offer["listing"]["listingId"]
    assert ebay_sandbox.stats()["listings_created"] == {"SKU-1": 1}


def test_a_status_rule_applies_to_the_next_n_matching_calls_only(
    etsy_sandbox: EtsySandbox, http: requests.Session, etsy_headers: dict[str, str]
) -> None:
    # given two scripted 502s with a custom body, for GET /users/me only
    etsy_sandbox.faults.add_rule(
        "status", r"/users/me$", method="GET", times=2, status=502, body={"error": "bad gateway"}
    )
    url = f"{etsy_sandbox.base_url}/application/users/me"

    # when
    other_method = http.post(url, headers=etsy_headers)
    statuses = [http.get(url, headers=etsy_headers) for _ in range(3)]

    # then
    assert other_method.status_code == 405
    assert [response.status_code for response in statuses] == [502, 502, 200]
    assert statuses[0].json() == {"error": "bad gateway"}
    assert etsy_sandbox.faults.snapshot()["rules"] == []


def test_a_rate_limit_rule_sets_its_own_retry_after(
    ebay_sandbox: EbaySandbox,
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given
    ebay_sandbox.faults.add_rule("rate_limit", r"/inventory_item/", retry_after=3)

    # when
    limited = ebay_put_item("SKU-1")
    next_call = ebay_put_item("SKU-1")

    # then
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.json()["errors"][0]["errorId"] == 2001
    assert next_call.status_code == 204


def test_latency_delays_every_api_call(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # given
    ebay_sandbox.faults.configure(latency_ms=120)
    url = f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item"

    # when
    started = time.perf_counter()
    response = http.get(url, headers=ebay_headers)
    elapsed = time.perf_counter() - started

    # then
    assert response.status_code == 200
    assert elapsed >= 0.12


def test_a_delay_rule_slows_one_call_then_answers_normally(
    ebay_sandbox: EbaySandbox, http: requests.Session, ebay_headers: dict[str, str]
) -> None:
    # given
    ebay_sandbox.faults.add_rule("delay", r"/inventory_item$", delay_ms=150)
    url = f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item"

    # when
    started = time.perf_counter()
    slow = http.get(url, headers=ebay_headers)
    slow_elapsed = time.perf_counter() - started
    normal = http.get(url, headers=ebay_headers)

    # then only the first call was delayed, and both were answered
    assert (slow.status_code, normal.status_code) == (200, 200)
    assert slow_elapsed >= 0.15
    assert ebay_sandbox.faults.injected == {"delay": 1}
    assert ebay_sandbox.faults.snapshot()["rules"] == []


def test_the_same_seed_replays_the_same_faults() -> None:
    # given two plans with the same seed and mixed rates
    settings: dict[str, Any] = {"error_rate": 0.3, "rate_limit_rate": 0.2, "drop_rate": 0.1}
    first, second = FaultPlan(seed=42, **settings), FaultPlan(seed=42, **settings)

    # when
    first_run = [first.decide("GET", "/x").action for _ in range(50)]
    second_run = [second.decide("GET", "/x").action for _ in range(50)]

    # then
    assert first_run == second_run
    assert set(first_run) == {
        None,
        FaultAction.STATUS,
        FaultAction.RATE_LIMIT,
        FaultAction.DROP_BEFORE,
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"error_rate": 1.5}, "error_rate must be a number between 0 and 1", id="rate"),
        pytest.param({"latency_ms": -1}, "latency_ms must be a non-negative integer", id="latency"),
        pytest.param(
            {"error_status": 200},
            "error_status must be an HTTP error status (400-599)",
            id="status",
        ),
        pytest.param({"colour": 1}, "unknown fault setting(s): colour", id="unknown"),
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    # given
    plan = FaultPlan()

    # when / then
    with pytest.raises(FaultConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan.configure(**settings)


def test_faults_are_driven_over_http_and_never_hit_the_control_api(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given faults set over HTTP: every API call fails, slowly, plus one scripted drop
    control = f"{ebay_sandbox.root_url}/__sandbox__"
    rule = {"action": "drop_before", "method": "POST", "path": "/offer$", "times": 1}
    configured = http.post(
        f"{control}/faults", json={"error_rate": 1.0, "latency_ms": 300, "rules": [rule]}
    )

    # when the API is called, and the control endpoints are used meanwhile
    failed = ebay_put_item("SKU-1")
    started = time.perf_counter()
    stats = http.get(f"{control}/stats")
    control_elapsed = time.perf_counter() - started
    cleared = http.delete(f"{control}/faults")
    healthy = ebay_put_item("SKU-1")

    # then
    assert configured.status_code == 200
    assert configured.json()["error_rate"] == 1.0
    assert configured.json()["rules"][0]["action"] == "drop_before"
    assert failed.status_code == 503
    assert stats.json()["faults"] == {"status": 1}
    assert control_elapsed < 0.3
    assert (
        cleared.json()["error_rate"],
        cleared.json()["latency_ms"],
        cleared.json()["rules"],
    ) == (
        0.0,
        0,
        [],
    )
    assert healthy.status_code == 204


def test_an_invalid_fault_payload_is_400(ebay_sandbox: EbaySandbox, http: requests.Session) -> None:
    # when
    response = http.post(
        f"{ebay_sandbox.root_url}/__sandbox__/faults", json={"rules": [{"action": "explode"}]}
    )

    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": "action must be one of: status, rate_limit, drop_before, drop_after, delay"
    }


def test_reset_forgets_state_counters_and_faults_but_keeps_tokens(
    ebay_sandbox: EbaySandbox,
    http: requests.Session,
    ebay_headers: dict[str, str],
    ebay_put_item: Callable[[str], requests.Response],
) -> None:
    # given an item and a pending fault
    ebay_put_item("SKU-1")
    ebay_sandbox.faults.configure(latency_ms=50)

    # when
    reset = http.post(f"{ebay_sandbox.root_url}/__sandbox__/reset")

    # then
    item = http.get(
        f"{ebay_sandbox.base_url}{INVENTORY}/inventory_item/SKU-1", headers=ebay_headers
    )
    assert reset.json() == {"reset": True}
    assert item.status_code == 404
    assert ebay_sandbox.stats()["inventory_item_puts"] == {}
    assert ebay_sandbox.faults.snapshot()["latency_ms"] == 0


def test_tokens_and_orders_are_made_over_http_for_other_processes(
    etsy_sandbox: EtsySandbox, http: requests.Session
) -> None:
    # given
    control = f"{etsy_sandbox.root_url}/__sandbox__"

    # when a demo process asks for tokens and orders, then expires the tokens
    tokens = http.post(f"{control}/tokens", json={"user": "demo-shop"}).json()
    orders = http.post(f"{control}/orders", json={"count": 3, "user": "demo-shop"}).json()
    headers = {
        "x-api-key": etsy_sandbox.keystring,
        "Authorization": f"Bearer {tokens['access_token']}",
    }
    receipts = http.get(
        f"{etsy_sandbox.base_url}/application/shops/{tokens['shop_id']}/receipts", headers=headers
    ).json()
    expired = http.post(f"{control}/tokens/expire").json()
    after = http.get(f"{etsy_sandbox.base_url}/application/users/me", headers=headers)

    # then
    assert receipts["count"] == 3
    assert sorted(receipt["receipt_id"] for receipt in receipts["results"]) == orders["created"]
    assert expired == {"expired": 1}
    assert after.status_code == 401


def test_sample_images_are_valid_jpegs(etsy_sandbox: EtsySandbox, http: requests.Session) -> None:
    # when
    response = http.get(etsy_sandbox.image_url("jumper"))

    # then
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.content[:4] == b"\xff\xd8\xff\xe0"
    assert response.content[-2:] == b"\xff\xd9"
    assert 100 < len(response.content) < 400
