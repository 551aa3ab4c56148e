"""GET /metrics on the public host: the product's own series, fed by the engine's hooks and read
from PostgreSQL and Redis at scrape time."""

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app as celery_app
from core import metrics
from core.errors import TransientMarketplaceError
from marketplace.engine.lifecycle import job_defer, job_retry_or_fail
from marketplace.handlers.http import MarketplaceHttpClient
from marketplace.models import MarketplaceJob
from marketplace.services import presence
from tests.factories.marketplace import make_job, make_job_in
from tests.operators import PUBLIC_HOST, host_client


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of one GET /metrics on the public host, by (name, sorted labels)."""
    response = host_client(host=PUBLIC_HOST).get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def fresh_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scrape recomputes the levels (no cache between the test's two scrapes)."""
    monkeypatch.setattr(metrics, "CACHE_S", -1.0)


@pytest.mark.django_db
def test_a_transition_counts_once_with_marketplace_action_and_statuses(tenant):
    # given a pending eBay publish job
    job = make_job(marketplace="ebay", action="publish")
    labels = {"marketplace": "ebay", "action": "publish", "from_status": "pending"}
    before = _value("relist_job_transitions_total", **labels, to_status="running")

    # when it is claimed
    make_job_in("running", marketplace="ebay", action="publish")

    # then the pending → running counter moved by one
    assert _value("relist_job_transitions_total", **labels, to_status="running") == before + 1
    assert job.status == "pending"


@pytest.mark.django_db
def test_a_job_that_ends_after_running_observes_its_duration(tenant):
    # given the number of completed eBay publishes timed so far
    labels = {"marketplace": "ebay", "action": "publish", "outcome": "completed"}
    before = _value("relist_job_duration_seconds_count", **labels)

    # when a job runs to completion
    make_job_in("completed", marketplace="ebay", action="publish")

    # then one more duration was observed
    assert _value("relist_job_duration_seconds_count", **labels) == before + 1


@pytest.mark.django_db
def test_retries_count_their_reason_and_whether_attempts_were_left(tenant):
    # given two running Etsy jobs: one with attempts left, one without
    with_attempts = make_job_in("running", marketplace="etsy", action="publish")
    last_attempt = make_job_in("running", marketplace="etsy", action="publish")
    MarketplaceJob.objects.filter(pk=last_attempt.pk).update(max_retries=0)
    last_attempt.max_retries = 0
    retry = {"marketplace": "etsy", "reason": "rate_limited", "outcome": "retry"}
    exhausted = {**retry, "outcome": "exhausted"}
    before = [_value("relist_job_retries_total", **labels) for labels in (retry, exhausted)]
    error = TransientMarketplaceError("etsy POST /listings → 429: slow down", status=429)

    # when a 429 is handled for each, as the runner does
    for job in (with_attempts, last_attempt):
        job_retry_or_fail(job=job, error_code=str(error.code), message=error.message)
        metrics.record_transient_error(job=job, error=error)

    # then one retry and one exhaustion are counted, under "rate_limited"
    assert (with_attempts.status, last_attempt.status) == ("pending", "failed")
    assert _value("relist_job_retries_total", **retry) == before[0] + 1
    assert _value("relist_job_retries_total", **exhausted) == before[1] + 1


@pytest.mark.django_db
def test_deferrals_are_counted_by_kind(tenant):
    # given a running Vinted job
    job = make_job_in("running", marketplace="vinted", action="publish")
    labels = {"marketplace": "vinted", "reason": "extension_offline"}
    before = _value("relist_job_deferrals_total", **labels)

    # when it waits for the extension
    job_defer(job=job, reason="Waiting for the Vinted extension to connect.", delay_s=300)

    # then the deferral is counted as an offline extension
    assert _value("relist_job_deferrals_total", **labels) == before + 1
    assert metrics.deferral_kind("The daily ebay budget of 5000 calls is spent.") == "rate_budget"


class _Flaky(BaseHTTPRequestHandler):
    answers = [503, 200]

    def do_GET(self) -> None:
        status = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Token:
    def access_token(self) -> str:
        return "t"

    def refresh(self, *, stale_token: str) -> str:
        return "t"


class _TestClient(MarketplaceHttpClient):
    marketplace = "testmarket"


def test_marketplace_calls_are_counted_by_status_and_timed(flaky_server):
    # given a marketplace that answers 503, then 200
    client = _TestClient(base_url=flaky_server, credentials=_Token(), timeout=(2, 2))

    # when it is read once (the 503 is repeated inline: handlers.call_retries)
    client.request("GET", "/x")

    # then each answer is counted under its status, and both calls are timed
    assert _value("relist_marketplace_calls_total", marketplace="testmarket", status="503") == 1
    assert _value("relist_marketplace_calls_total", marketplace="testmarket", status="200") == 1
    assert _value("relist_marketplace_call_duration_seconds_count", marketplace="testmarket") == 2


def test_a_network_error_is_counted_as_such():
    # given nothing listening on a port
    client = _TestClient(base_url="http://127.0.0.1:9", credentials=_Token(), timeout=(1, 1))

    # when a write is sent (never repeated inline, so one call)
    with pytest.raises(TransientMarketplaceError):
        client.request("POST", "/x")

    # then the call is counted under the error's kind
    status = "ConnectionError"
    assert _value("relist_marketplace_calls_total", marketplace="testmarket", status=status) == 1


@pytest.mark.django_db
def test_the_scrape_counts_jobs_not_yet_ended_in_tenants_with_work(tenant, fresh_levels):
    # given two pending and one paused Etsy job (creating them marks the tenant in the engine's
    # due-work index, which the scrape reads)
    try:
        before = _scrape()
        for _ in range(2):
            make_job(marketplace="etsy", action="publish")
        make_job_in("paused", marketplace="etsy", action="publish")
        make_job_in("completed", marketplace="etsy", action="publish")

        # when /metrics is scraped (from the public host)
        after = _scrape()
    finally:
        connection.set_tenant(tenant)

    # then the pending and paused jobs are counted; ended ones are not levels
    def jobs(status: str, samples: dict) -> float:
        key = (("action", "publish"), ("marketplace", "etsy"), ("status", status))
        return samples.get(("relist_jobs", key), 0.0)

    assert jobs("pending", after) - jobs("pending", before) == 2
    assert jobs("paused", after) - jobs("paused", before) == 1
    assert (
        "relist_jobs",
        (("action", "publish"), ("marketplace", "etsy"), ("status", "completed")),
    ) not in after
    assert after[("relist_metrics_tenants", (("which", "counted"),))] >= 1


@pytest.mark.django_db
def test_the_scrape_reads_queue_depths_and_extension_sessions(tenant, fresh_levels, monkeypatch):
    # given three messages waiting in a queue (one no worker of the suite consumes, reported
    # like those of core.queues) and two extension tabs of a tenant
    queue_name = f"relist.metrics-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(metrics, "QUEUES", [*metrics.QUEUES, queue_name])
    schema = f"metrics_{uuid.uuid4().hex[:8]}"
    channels = [f"test.metrics!{uuid.uuid4().hex}" for _ in range(2)]
    before = _scrape()
    with celery_app.connection_for_write() as conn:
        for _ in range(3):
            celery_app.send_task(
                "relist.metrics_test_noop", queue=queue_name, connection=conn, expires=60
            )
    for channel in channels:
        presence.presence_join(
            schema=schema,
            session=presence.ExtensionSession(
                channel=channel,
                session_id=channel,
                user_id=1,
                connected_at=timezone.now().timestamp(),
                last_seen=timezone.now().timestamp(),
            ),
        )
    try:
        # when /metrics is scraped
        after = _scrape()
    finally:
        for channel in channels:
            presence.presence_leave(schema=schema, channel=channel)
        with celery_app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue_name)

    # then the queue's depth and the sessions are there
    queue = ("relist_celery_queue_length", (("queue", queue_name),))
    assert after[queue] == 3
    sessions = ("relist_extension_sessions", ())
    tenants = ("relist_extension_tenants_connected", ())
    assert after[sessions] - before[sessions] == 2
    assert after[tenants] - before[tenants] == 1
    assert {("relist_celery_queue_length", (("queue", q),)) for q in ("ebay", "ebay.high")} <= set(
        after
    )
