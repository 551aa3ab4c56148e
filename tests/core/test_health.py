"""GET /health/: 200 while the database and Redis answer (workers only make it "degraded"),
503 when either is down; every probe is bounded by a short timeout."""

import time
from dataclasses import dataclass, field

import pytest
from celery import Celery
from django.db import OperationalError

from config.celery import app as celery_app
from core import health as health_module
from tests.conftest import tenant_host
from tests.operators import PUBLIC_HOST, host_client

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@dataclass
class FakePing:
    """Workers answering the broadcast ping; the broker connection itself stays real."""

    names: list[str] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def __call__(self, *, timeout: float, connection: object = None) -> list[dict]:
        self.timeouts.append(timeout)
        return [{name: {"ok": "pong"}} for name in self.names]


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> FakePing:
    ping = FakePing()
    monkeypatch.setattr(celery_app.control, "ping", ping)
    return ping


def _shape(body: dict) -> dict:
    """The body with latencies replaced by their type."""
    return {
        "status": body["status"],
        "checks": {
            name: {
                key: type(value) if key == "latency_ms" else value for key, value in check.items()
            }
            for name, check in body["checks"].items()
        },
    }


def test_all_up_with_workers_is_ok(db, workers):
    # given the database and Redis up, and two workers answering the ping
    workers.names.extend(["celery@ebay-1", "celery@default-1"])

    # when the public host is probed
    response = host_client(host=PUBLIC_HOST).get("/health/")

    # then it is 200 "ok", naming the workers, after pinging them for at most half a second
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert _shape(response.json()) == {
        "status": "ok",
        "checks": {
            "database": {"ok": True, "latency_ms": float},
            "redis": {"ok": True, "latency_ms": float},
            "workers": {"ok": True, "seen": ["celery@default-1", "celery@ebay-1"]},
        },
    }
    assert workers.timeouts == [0.5]


def test_no_worker_is_degraded_but_still_serving(db, workers):
    # given the database and Redis up and no worker answering

    # when the public host is probed
    response = host_client(host=PUBLIC_HOST).get("/health/")

    # then it is "degraded" but 200: work is accepted and waits in PostgreSQL for workers
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["workers"] == {"ok": False, "seen": []}


def test_tenant_host_answers_too(tenant, workers):
    # when a tenant's host is probed, without credentials
    response = host_client(host=tenant_host(tenant)).get("/health/")

    # then it answers like the public host
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True


def test_redis_down_is_503(db, workers, settings):
    # given Redis unreachable
    settings.REDIS_URL = CLOSED_PORT_REDIS

    # when the public host is probed
    response = host_client(host=PUBLIC_HOST).get("/health/")

    # then it is 503 and says Redis is the cause
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["checks"]["redis"]["ok"], body["checks"]["database"]["ok"]) == (
        "degraded",
        False,
        True,
    )


def test_database_down_is_503(db, workers, monkeypatch):
    # given a database that refuses every query from the health check
    class RefusingConnection:
        def cursor(self) -> None:
            raise OperationalError("connection refused")

    monkeypatch.setattr(health_module, "connection", RefusingConnection())

    # when the public host (which needs no database to route) is probed
    response = host_client(host=PUBLIC_HOST).get("/health/")

    # then it is 503 and says the database is the cause
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["checks"]["database"]["ok"], body["checks"]["redis"]["ok"]) == (
        "degraded",
        False,
        True,
    )


def test_unreachable_broker_answers_fast_with_no_workers(db, monkeypatch):
    # given a Celery app whose broker does not listen (Celery's own retries take seconds)
    monkeypatch.setattr(health_module, "celery_app", Celery("probe", broker=CLOSED_PORT_REDIS))

    # when the public host is probed
    started = time.perf_counter()
    response = host_client(host=PUBLIC_HOST).get("/health/")
    elapsed = time.perf_counter() - started

    # then workers are reported unseen within a second, and the web tier still serves
    assert response.status_code == 200
    assert response.json()["checks"]["workers"] == {"ok": False, "seen": []}
    assert elapsed < 1.0


def test_only_get_is_allowed(db):
    # when the health endpoint is posted to / then it is refused
    assert host_client(host=PUBLIC_HOST).post("/health/").status_code == 405
