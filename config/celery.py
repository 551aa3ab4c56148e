"""The Celery app. tenant-schemas-celery carries the active schema in every message header and
switches the worker's connection to it before the task runs:
https://github.com/maciej-gol/tenant-schemas-celery"""

import os
import time

from celery.signals import task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp

from config import broker

broker.install()  # a worker survives a Redis restart: see config/broker.py

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# tenant-schemas-celery's task class, which also routes a task to its tenant's database and defers
# the tasks of a tenant moving between databases (tenants/celery.py).
app = CeleryApp("relist", task_cls="tenants.celery:TenantDatabaseTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fix-up closes the database connections around every task unless this is set:
# each job paid two new PostgreSQL sessions (measured by bench/). Keep them, and let Django's
# CONN_MAX_AGE and health checks decide when to recycle, as in a web request.
# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
app.conf.update(CELERY_DB_REUSE_MAX=1_000_000)
app.autodiscover_tasks()


# A connection that ended a task this recently is known good: the next task skips Django's
# health check (CONN_HEALTH_CHECKS: a `SELECT 1` round trip before the first query after every
# close_old_connections, i.e. one per task). One idle for longer is checked, as Django does. If
# the database restarts inside this window, the task's first statement fails instead of the
# check: marketplace.run_job retries its message (tasks.py) and the postrun hook below drops
# the broken connection, as for any connection error during a task.
KNOWN_GOOD_FOR_S = 1.0


@task_prerun.connect
def _recycle_stale_connections(**_: object) -> None:
    from django.db import close_old_connections, connections  # noqa: PLC0415 - apps load later

    close_old_connections()
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        ended = getattr(conn, "relist_task_ended_at", None)
        if conn.connection is not None and ended is not None and now - ended < KNOWN_GOOD_FOR_S:
            conn.health_check_done = True  # type: ignore[attr-defined]


@task_postrun.connect
def _recycle_broken_connections(**_: object) -> None:
    from django.db import close_old_connections, connections  # noqa: PLC0415 - apps load later

    close_old_connections()  # checks and drops a connection that saw an error
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        conn.relist_task_ended_at = now if conn.connection is not None else None  # type: ignore[attr-defined]


@task_prerun.connect
def _bind_log_context(task_id: str, task: object, kwargs: dict | None = None, **_: object) -> None:
    from core.logging import task_context_bind  # noqa: PLC0415

    task_context_bind(task_id=task_id, task_name=getattr(task, "name", ""), kwargs=kwargs or {})


@task_postrun.connect
def _clear_log_context(**_: object) -> None:
    from core.logging import task_context_clear  # noqa: PLC0415

    task_context_clear()
