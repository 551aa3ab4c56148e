"""The Celery app. tenant-schemas-celery carries the active schema in every message header and
switches the worker's connection to it before the task runs:
https://github.com/maciej-gol/tenant-schemas-celery"""

import os

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


@task_prerun.connect
@task_postrun.connect
def _recycle_stale_connections(**_: object) -> None:
    from django.db import close_old_connections  # noqa: PLC0415 - apps load after this module

    close_old_connections()


@task_prerun.connect
def _bind_log_context(task_id: str, task: object, kwargs: dict | None = None, **_: object) -> None:
    from core.logging import task_context_bind  # noqa: PLC0415

    task_context_bind(task_id=task_id, task_name=getattr(task, "name", ""), kwargs=kwargs or {})


@task_postrun.connect
def _clear_log_context(**_: object) -> None:
    from core.logging import task_context_clear  # noqa: PLC0415

    task_context_clear()
