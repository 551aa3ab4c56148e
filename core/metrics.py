"""Prometheus metrics: every series of the product, defined here and only here.

Two kinds of series:

* Events counted where they happen (transitions, retries, deferrals, marketplace calls, job and
  step durations). Engine code calls the small `record_*` / `observe_*` functions below, one line
  per call site, so the engine never touches prometheus_client itself.
* Levels computed when /metrics is scraped (jobs by status, Celery queue depths, extension
  sessions), by `SnapshotCollector`, with bounded work: one SQL statement over at most
  `RELIST_METRICS_MAX_TENANTS` tenants that have work, one Redis pipeline, one bounded SCAN;
  the result is cached for `RELIST_METRICS_CACHE_S` so several scrapers cost one computation.

Workers are separate processes. With `PROMETHEUS_MULTIPROC_DIR` set (an empty directory shared by
every process of one host, wiped when the system starts; it must be in the environment before
any process imports prometheus_client), every process writes its counters there and /metrics on
the web process adds them up (prometheus_client's multiprocess mode). Without it, /metrics shows
the web process's own counters and the scrape-time levels only.
https://prometheus.github.io/client_python/multiprocess/
"""

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.queues import CeleryQueue, broker_lists

if TYPE_CHECKING:
    from marketplace.models import MarketplaceJob, MarketplaceTask

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
MAX_TENANTS = int(os.environ.get("RELIST_METRICS_MAX_TENANTS", "200"))
CACHE_S = float(os.environ.get("RELIST_METRICS_CACHE_S", "10"))
# Durations of marketplace calls are sub-second to a minute (extension commands); jobs run from
# a second to hours when retries back off.
CALL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
JOB_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)

JOB_TRANSITIONS = Counter(
    "relist_job_transitions",
    "Job state changes, by marketplace, action, from and to status.",
    ["marketplace", "action", "from_status", "to_status"],
)
JOB_DURATION = Histogram(
    "relist_job_duration_seconds",
    "From a job's first claim to its end (retries and their waits included), by outcome.",
    ["marketplace", "action", "outcome"],
    buckets=JOB_BUCKETS,
)
STEP_DURATION = Histogram(
    "relist_step_duration_seconds",
    "One step of a job, from its start to its recorded result, by step name and outcome.",
    ["step", "outcome"],
    buckets=CALL_BUCKETS,
)
RETRIES = Counter(
    "relist_job_retries",
    "Transient errors of running jobs, by marketplace, reason (rate_limited, server_error, "
    "timeout, network, worker_lost …) and outcome (retry scheduled, or attempts exhausted).",
    ["marketplace", "reason", "outcome"],
)
DEFERRALS = Counter(
    "relist_job_deferrals",
    "Jobs put back without using an attempt (extension offline, rate budget spent …).",
    ["marketplace", "reason"],
)
MARKETPLACE_CALLS = Counter(
    "relist_marketplace_calls",
    "Calls to a marketplace (HTTP or through the extension), by the answer's status.",
    ["marketplace", "status"],
)
MARKETPLACE_CALL_DURATION = Histogram(
    "relist_marketplace_call_duration_seconds",
    "Time of one HTTP call to a marketplace, answer or network error.",
    ["marketplace"],
    buckets=CALL_BUCKETS,
)

_action_codes: dict[int, str] = {}
# The queues whose depth is reported: every queue of core.queues.
QUEUES: list[str] = [queue.value for queue in CeleryQueue]


# --- event hooks: one line at each call site ------------------------------------------------


def record_bulk_transition(*, from_statuses: Iterable[str], to_status: str) -> None:
    """A bulk transition (batch cancel, expiry sweep): its rows are read without marketplace
    and action, so they are counted under marketplace="any", action="any"."""
    grouped: dict[str, int] = {}
    for status in from_statuses:
        grouped[status] = grouped.get(status, 0) + 1
    for from_status, count in grouped.items():
        JOB_TRANSITIONS.labels("any", "any", from_status, to_status).inc(count)


def record_job_transition(
    *,
    marketplace: str,
    action: str,
    from_status: str,
    to_status: str,
    count: int = 1,
    duration_s: float | None = None,
) -> None:
    JOB_TRANSITIONS.labels(marketplace, action, from_status, to_status).inc(count)
    if duration_s is not None:
        JOB_DURATION.labels(marketplace, action, to_status).observe(max(duration_s, 0.0))


def job_transitioned(job: "MarketplaceJob", *, from_status: str, now: datetime) -> None:
    """A job moved from `from_status` to its current status at `now`. A job that ends after
    running gets its duration observed (from its first claim)."""
    ended_after_running = from_status == "running" and job.is_terminal and job.started_at
    record_job_transition(
        marketplace=job.marketplace,
        action=job_action(job),
        from_status=from_status,
        to_status=job.status,
        duration_s=(now - job.started_at).total_seconds()
        if ended_after_running and job.started_at
        else None,
    )


def observe_step(*, step: "MarketplaceTask", outcome: str, now: datetime) -> None:
    if step.started_at is not None:
        seconds = (now - step.started_at).total_seconds()
        STEP_DURATION.labels(step.name, outcome).observe(max(seconds, 0.0))


def record_retry(*, marketplace: str, reason: str, exhausted: bool) -> None:
    RETRIES.labels(marketplace, reason or "unknown", "exhausted" if exhausted else "retry").inc()


def record_transient_error(*, job: "MarketplaceJob", error: Any) -> None:
    """After the runner handled a TransientMarketplaceError: the job is pending again (a retry
    is scheduled) or failed (attempts exhausted)."""
    record_retry(
        marketplace=job.marketplace,
        reason=retry_reason(getattr(error, "status", None)),
        exhausted=job.status == "failed",
    )


def retry_reason(status: int | None) -> str:
    if status is None:
        return "network"  # no answer: connection error, read timeout, extension timeout
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server_error"
    return str(status)


def record_deferral(*, marketplace: str, reason: str) -> None:
    DEFERRALS.labels(marketplace, deferral_kind(reason)).inc()


def record_marketplace_call(
    *, marketplace: str, status: int | str, duration_s: float | None = None
) -> None:
    MARKETPLACE_CALLS.labels(marketplace, str(status)).inc()
    if duration_s is not None:
        MARKETPLACE_CALL_DURATION.labels(marketplace).observe(duration_s)


def relay_status(reply: Any) -> str:
    """The status label of one extension command's reply (marketplace.handlers.vinted)."""
    if not reply.acked:
        return "no_ack"
    if reply.disconnected:
        return "disconnected"
    if reply.timed_out:
        return "timeout"
    return str(reply.status)


# --- label helpers ------------------------------------------------------------------------


def deferral_kind(reason: str) -> str:
    """A bounded label from a deferral's human reason."""
    lowered = reason.lower()
    if "extension" in lowered:
        return "extension_offline"
    if "budget" in lowered:
        return "rate_budget"
    if "another vinted command" in lowered:
        return "shop_busy"
    return "other"


def job_action(job: "MarketplaceJob") -> str:
    # The runner loads the action type with the job; elsewhere a per-process map (the catalogue
    # is a small, seeded table) avoids a query per transition.
    from marketplace.models import MarketplaceJob  # noqa: PLC0415 - apps load after this module

    if MarketplaceJob.action_type.is_cached(job):
        return str(job.action_type.code)
    return action_code(job.action_type_id)


def action_code(action_type_id: int | None) -> str:
    if action_type_id is None:
        return "unknown"
    if action_type_id not in _action_codes:
        from marketplace.catalogue.models import MarketplaceActionType  # noqa: PLC0415

        _action_codes.update(MarketplaceActionType.objects.values_list("id", "code"))
    return _action_codes.get(action_type_id, "unknown")


# --- scrape-time levels -------------------------------------------------------------------


class SnapshotCollector(Collector):
    """Levels read at scrape time; a failing source is logged and skipped, never a 500."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_S:
                self._cached = (time.monotonic(), list(self._compute()))
            yield from self._cached[1]

    def _compute(self) -> Iterator[Metric]:
        for source in (_job_levels, _queue_lengths, _extension_sessions):
            try:
                yield from source()
            except Exception:
                logger.exception("metrics.source_failed", extra={"source": source.__name__})


def _job_levels() -> Iterator[Metric]:
    """Non-terminal jobs by marketplace, action and status, over the tenants that have work
    (the engine's due-work index, one per database holding tenants), at most MAX_TENANTS of
    them, in one statement per database. Terminal states are counted by
    relist_job_transitions_total (rate() of it), not re-counted here."""
    from tenants.databases import database_use, tenant_database_aliases  # noqa: PLC0415

    jobs = GaugeMetricFamily(
        "relist_jobs",
        "Jobs not yet ended, by marketplace, action and status (tenants with work only).",
        labels=["marketplace", "action", "status"],
    )
    tenants = GaugeMetricFamily(
        "relist_metrics_tenants",
        "Tenants with work, and how many of them relist_jobs counted (bounded per scrape).",
        labels=["which"],
    )
    totals: dict[tuple[str, str, str], float] = {}
    with_work = counted = 0
    for alias in tenant_database_aliases():
        with database_use(alias):
            found, rows = _job_levels_of_database(alias, budget=MAX_TENANTS - counted)
        with_work += found
        counted += min(found, MAX_TENANTS - counted)
        for marketplace, action, status, count in rows:
            key = (marketplace, action, status)
            totals[key] = totals.get(key, 0.0) + float(count)
    for key, count in totals.items():
        jobs.add_metric(list(key), count)
    tenants.add_metric(["with_work"], with_work)
    tenants.add_metric(["counted"], counted)
    yield jobs
    yield tenants


def _job_levels_of_database(alias: str, *, budget: int) -> tuple[int, list[tuple]]:
    """(tenants with work on this database, rows counted over at most `budget` of them)."""
    from django.db import connection  # noqa: PLC0415
    from django_tenants.utils import get_public_schema_name  # noqa: PLC0415

    from marketplace.catalogue.models import MarketplaceActionType  # noqa: PLC0415
    from marketplace.models import MarketplaceJob  # noqa: PLC0415
    from tenants.models import Tenant  # noqa: PLC0415

    with connection.cursor() as cursor:  # the engine's due-work index (public.engine_duework)
        cursor.execute("SELECT schema_name FROM public.engine_duework ORDER BY 1 LIMIT 10000")
        with_work = [row[0] for row in cursor.fetchall()]
    existing = set(
        Tenant.objects.filter(schema_name__in=with_work, database=alias).values_list(
            "schema_name", flat=True
        )
    )
    schemas = [schema for schema in with_work if schema in existing][: max(budget, 0)]
    if not schemas:
        return len(existing), []
    quote = connection.ops.quote_name
    job_table, action_table = (
        quote(MarketplaceJob._meta.db_table),
        quote(MarketplaceActionType._meta.db_table),
    )
    public = quote(get_public_schema_name())
    parts = [
        f"SELECT j.marketplace, a.code, j.status, count(*) AS n FROM {quote(schema)}."
        f"{job_table} j JOIN {public}.{action_table} a ON a.id = j.action_type_id "
        "WHERE j.status IN ('pending', 'running', 'paused') GROUP BY 1, 2, 3"
        for schema in schemas
    ]
    sql = f"SELECT marketplace, code, status, sum(n) FROM ({' UNION ALL '.join(parts)}) t "
    sql += "GROUP BY 1, 2, 3"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return len(existing), list(cursor.fetchall())


def _queue_lengths() -> Iterator[Metric]:
    """LLEN of every Celery queue of core.queues, priority sub-queues included (kombu keeps
    `queue\\x06\\x16N` lists for priorities), in one pipeline on the broker."""
    from config.celery import app as celery_app  # noqa: PLC0415

    gauge = GaugeMetricFamily(
        "relist_celery_queue_length", "Messages waiting in each Celery queue.", labels=["queue"]
    )
    with celery_app.pool.acquire(block=True, timeout=2) as broker:
        channel = broker.default_channel
        keys = {queue: broker_lists(channel, queue) for queue in QUEUES}
        pipe = channel.client.pipeline()
        for names in keys.values():
            for name in names:
                pipe.llen(name)
        lengths = iter(pipe.execute())
        for queue, names in keys.items():
            gauge.add_metric([queue], float(sum(next(lengths) for _ in names)))
    yield gauge


def _extension_sessions() -> Iterator[Metric]:
    """Live extension sessions (keys with a TTL, so crashed web processes leave no ghost) and
    the number of tenants with at least one."""
    import json  # noqa: PLC0415

    from marketplace.services import presence  # noqa: PLC0415
    from marketplace.services.ratelimit import redis_client  # noqa: PLC0415

    client = redis_client()
    keys = list(client.scan_iter(match=presence._SESSION.format(channel="*"), count=1000))
    schemas: set[str] = set()
    for start in range(0, len(keys), 1000):
        for raw in client.mget(keys[start : start + 1000]):
            if raw is not None:
                schemas.add(json.loads(raw).get("schema", ""))
    sessions = GaugeMetricFamily(
        "relist_extension_sessions", "Vinted extension sessions connected (all tenants)."
    )
    sessions.add_metric([], float(len(keys)))
    tenants = GaugeMetricFamily(
        "relist_extension_tenants_connected", "Tenants with at least one extension session."
    )
    tenants.add_metric([], float(len(schemas)))
    yield sessions
    yield tenants


_snapshot = SnapshotCollector()


class _DefaultRegistry(Collector):
    """This process's own series, when not in multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def registry() -> CollectorRegistry:
    """The registry one scrape renders: every process's events plus the levels."""
    scrape = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        MultiProcessCollector(scrape)
    else:
        scrape.register(_DefaultRegistry())
    scrape.register(_snapshot)
    return scrape


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics on the public host, in Prometheus's text format."""
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
