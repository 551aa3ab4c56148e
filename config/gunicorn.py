"""gunicorn settings for the REST API, admin and static files (Procfile `web`); sockets are
served by daphne (Procfile `sockets`). https://docs.gunicorn.org/en/stable/settings.html

Threads, because a request mostly waits on PostgreSQL and Redis; a few processes, because
serialising JSON holds the GIL. Each thread keeps its own database connection (CONN_MAX_AGE):
workers × threads connections at most."""

import os

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
