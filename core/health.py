"""GET /health/ on every host: is this process able to do its work?

    {"status": "ok" | "degraded",
     "checks": {"database": {"ok", "latency_ms"}, "redis": {"ok", "latency_ms"},
                "workers": {"ok", "seen": [names]}}}

200 when the database and Redis answer, 503 otherwise (take this instance out of rotation).
Workers are reported but do not fail the check: with none seen the answer is "degraded" and
still 200, because the web tier can accept and store work that workers will run when they
return (pending jobs wait in PostgreSQL; beat re-dispatches them). Workers are seen through
Celery's broadcast ping, which waits `PROBE_TIMEOUT_S` for replies, so every call takes about
that long.

Probe the public host (localhost): a tenant host must resolve its tenant in the database before
any view runs, so with the database down it cannot answer this view at all.
"""

import logging
import time
from typing import Any

import redis
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.exceptions import KombuError

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 0.5


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def database_check() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("health.database_down", extra={"error": str(error)})
        return {"ok": False, "latency_ms": _elapsed_ms(started)}
    return {"ok": True, "latency_ms": _elapsed_ms(started)}


def redis_check() -> dict[str, Any]:
    started = time.perf_counter()
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=PROBE_TIMEOUT_S,
        socket_timeout=PROBE_TIMEOUT_S,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        logger.warning("health.redis_down", extra={"error": str(error)})
        return {"ok": False, "latency_ms": _elapsed_ms(started)}
    finally:
        client.close()
    return {"ok": True, "latency_ms": _elapsed_ms(started)}


def workers_check() -> dict[str, Any]:
    """Workers that answer a broadcast ping within the timeout. The broker connection is made
    once, without Celery's publish retries (which would hold the request for seconds when the
    broker is down), from the app's pool so later probes reuse it."""
    try:
        with celery_app.pool.acquire(block=True, timeout=PROBE_TIMEOUT_S) as broker:
            broker.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=PROBE_TIMEOUT_S
            )
            replies = celery_app.control.ping(timeout=PROBE_TIMEOUT_S, connection=broker)
    except (KombuError, redis.RedisError, OSError) as error:
        logger.warning("health.broker_down", extra={"error": str(error)})
        return {"ok": False, "seen": []}
    seen = sorted(name for reply in replies for name in reply)
    return {"ok": bool(seen), "seen": seen}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": database_check(),
        "redis": redis_check(),
        "workers": workers_check(),
    }
    serving = checks["database"]["ok"] and checks["redis"]["ok"]
    healthy = serving and checks["workers"]["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if serving else 503,
    )
