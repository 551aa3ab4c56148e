"""Structured log lines: bound fields (job, batch …) and the record's own extra, then the tenant,
in both renderings; third-party lines get no tenant they do not have."""

import json
import logging

import pytest
import structlog
from django.db import connection

from core.logging import (
    StructuredFormatter,
    bind,
    logging_config,
    task_context_bind,
    task_context_clear,
)
from tenants.context import tenant_context
from tests.conftest import tenant_host
from tests.operators import host_client


def _record(name: str = "relist", msg: str = "job.transition", **extra: object):
    record = logging.makeLogRecord({"name": name, "levelname": "INFO", "levelno": 20, "msg": msg})
    record.__dict__.update(extra)
    return record


def _line(**extra: object) -> tuple[str, dict]:
    """(logger and event, the key=value fields parsed back) of one console line."""
    line = StructuredFormatter().format(_record(**extra)).split(" INFO ", 1)[1]
    logger_name, event, *pairs = line.split(" ")
    fields = {key: json.loads(value) for key, value in (pair.split("=", 1) for pair in pairs)}
    return f"{logger_name} {event}", fields


def _json(record: logging.LogRecord) -> dict:
    return json.loads(StructuredFormatter(json_output=True).format(record))


def test_bound_fields_are_on_every_line_inside_the_block():
    # given fields bound for a job of a batch
    with bind(job=7, batch=3):
        # when a line is logged with its own extra
        inside = _line(to="paused")
    outside = _line(to="paused")

    # then the line inside carries them, the one after does not; the public schema is no tenant
    assert inside == ("relist job.transition", {"job": 7, "batch": 3, "to": "paused"})
    assert outside == ("relist job.transition", {"to": "paused"})


def test_nested_binds_merge_and_the_records_extra_wins():
    # given a batch bound, then a job inside it
    with bind(batch=3), bind(job=7, operator=1):
        # when a line names another job in its extra
        line = _line(job=8)

    # then the record's value wins over the bound one
    assert line == ("relist job.transition", {"batch": 3, "job": 8, "operator": 1})


def test_json_rendering_is_one_object_with_the_same_fields():
    # given a bound batch
    with bind(batch=3):
        # when a line is rendered for a log pipeline
        data = _json(_record(job=7, to="paused"))

    # then it is one JSON object with the event, level, logger, time and fields
    assert {key: data[key] for key in ("event", "level", "logger", "batch", "job", "to")} == {
        "event": "job.transition",
        "level": "INFO",
        "logger": "relist",
        "batch": 3,
        "job": 7,
        "to": "paused",
    }
    assert data["timestamp"].endswith("Z")
    assert "tenant" not in data


@pytest.mark.django_db
def test_a_third_party_line_in_the_public_schema_has_no_tenant_but_one_in_a_tenant_has(tenant):
    # given a library's line (as the embedded PostgreSQL logs its shutdown)
    foreign = _record(name="pgserver", msg="stopping postgres")

    # when it is logged on the public schema, then inside a tenant's schema
    connection.set_schema_to_public()
    public = _json(foreign)
    with tenant_context(tenant.schema_name):
        inside = _json(foreign)

    # then the public line names no tenant; the one inside names the schema it ran in
    assert "tenant" not in public
    assert inside["tenant"] == tenant.schema_name


def test_structlog_loggers_render_through_the_same_handlers():
    # given a handler with the JSON rendering on a logger
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(StructuredFormatter(json_output=True))
    std = logging.getLogger("relist.test_structlog")
    std.addHandler(handler)
    std.setLevel(logging.INFO)
    try:
        # when structlog's logger logs an event with keywords, inside a bound block
        with bind(batch=3):
            structlog.get_logger("relist.test_structlog").info("batch.created", jobs=12)
    finally:
        std.removeHandler(handler)

    # then the line has the event, its keywords and the bound field
    [data] = [json.loads(line) for line in lines]
    assert {key: data[key] for key in ("event", "jobs", "batch", "logger")} == {
        "event": "batch.created",
        "jobs": 12,
        "batch": 3,
        "logger": "relist.test_structlog",
    }


def test_a_celery_task_binds_its_id_name_and_job_then_clears_them():
    # given a task starting (task_prerun) with a job id
    task_context_bind(task_id="abc", task_name="marketplace.run_job", kwargs={"job_id": 42})
    try:
        during = _line()
    finally:
        task_context_clear()
    after = _line()

    # then its lines carry the task and the job; lines after it do not
    assert during[1] == {"task_id": "abc", "task": "marketplace.run_job", "job": 42}
    assert after[1] == {}


@pytest.mark.django_db
def test_a_request_binds_its_id_to_its_lines_and_answers_with_it(tenant):
    # given a handler on Django's request logger (it logs every 4xx)
    lines: list[dict] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Collect()
    handler.setFormatter(StructuredFormatter(json_output=True))
    django_request = logging.getLogger("django.request")
    django_request.addHandler(handler)
    try:
        # when a shop's host answers a 404, once with the caller's request id and once without
        client = host_client(host=tenant_host(tenant))
        given = client.get("/api/nothing-here/", HTTP_X_REQUEST_ID="req-123")
        fresh = client.get("/api/nothing-here/")
    finally:
        django_request.removeHandler(handler)

    # then each answer names its request id, the request's lines carry it and the tenant, and
    # nothing of it stays bound after the request
    assert "request_id" not in _json(_record())
    assert given["X-Request-ID"] == "req-123"
    assert len(fresh["X-Request-ID"]) == 32
    assert [(line["request_id"], line["tenant"]) for line in lines] == [
        ("req-123", tenant.schema_name),
        (fresh["X-Request-ID"], tenant.schema_name),
    ]


def test_celerys_per_task_lines_are_off_by_default_and_failures_still_log():
    # given the logging settings as production builds them, then with LOG_CELERY_TASKS=INFO
    quiet = logging_config(log_format="json", level="INFO")
    loud = logging_config(log_format="json", level="INFO", celery_tasks="INFO")
    # then Celery's "received" and "succeeded" lines are below the level by default, not errors
    for name in ("celery.worker.strategy", "celery.app.trace"):
        assert quiet["loggers"][name]["level"] == "WARNING"
        assert loud["loggers"][name]["level"] == "INFO"
    # and the running process has the default: a succeeded line is dropped, a failure is not
    trace = logging.getLogger("celery.app.trace")
    assert not trace.isEnabledFor(logging.INFO)
    assert trace.isEnabledFor(logging.ERROR)
