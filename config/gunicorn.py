"""gunicorn settings for the REST API, admin and static files (Procfile `web`); sockets are
served by daphne (Procfile `sockets`). https://docs.gunicorn.org/en/stable/settings.html

Threads, because a request mostly waits on PostgreSQL and Redis; a few processes, because
serialising JSON holds the GIL. Each thread keeps its own database connection (CONN_MAX_AGE):
workers × threads connections at most."""

import gc
import os
from importlib import import_module
from typing import Any

from django.conf import settings

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Recycle a worker now and then (jittered so they do not all restart at once).
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG") or None


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the application: import the URL configurations (and with
    them every view, serializer and filter module) instead of on the first request, then move
    everything loaded so far out of the garbage collector's sight (`gc.freeze`). Those ~120,000
    long-lived objects were traversed again by every older-generation collection: ~8 % of a
    job list page's CPU, ~100 ms of a 10,000-job batch's readiness check (docs/performance.md).
    https://docs.python.org/3/library/gc.html#gc.freeze"""
    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        import_module(urlconf)
    gc.collect()
    gc.freeze()
