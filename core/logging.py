"""Structured logs through structlog, over the standard library's logging.

Every line, ours or a library's, goes through one processor chain: the record's own `extra`
fields, then the fields bound in the current context, then the tenant. Two renderings, chosen by
`LOG_FORMAT`: `json` (one object per line, for log pipelines; production's default) and
`console` (`time LEVEL logger event key=value …`, for people; development's default).

Existing calls keep working: `logger.info("job.claimed", extra={"job": 7})` gives
`{"event": "job.claimed", "job": 7, …}`. `structlog.get_logger()` works too.

Context is bound only where it is true, in contextvars (per thread, per task, per coroutine):

* `bind(job=…, batch=…)` around code acting on a job or batch (admin actions, services);
* `RequestContextMiddleware`: `request_id` (the caller's X-Request-ID or a new one) and the
  tenant of the request, for the request's duration;
* Celery's task_prerun/postrun (config.celery): task id and name, the tenant the task runs in,
  the job of `marketplace.run_job`.

A line logged where no tenant is bound gets the tenant of the database connection only when
that is a tenant's schema: the public schema is nobody's tenant, so third-party lines (a
PostgreSQL shutdown, Celery's start-up) carry no tenant at all. A record's own `extra` wins over
bound fields."""

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog
from structlog.contextvars import bind_contextvars, get_contextvars, reset_contextvars
from structlog.types import EventDict, Processor, WrappedLogger

if TYPE_CHECKING:  # settings import this module: keep Django's request machinery out of it
    from django.http import HttpRequest, HttpResponse

PUBLIC_SCHEMA = "public"


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line emitted inside the block (nested blocks merge)."""
    tokens = bind_contextvars(**fields)
    try:
        yield
    finally:
        reset_contextvars(**tokens)


def bound() -> dict[str, Any]:
    """The fields bound in the current context."""
    return get_contextvars()


# --- processors ---------------------------------------------------------------------------


def _record_extra(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Bound fields, then a standard record's extra over them (the record knows best). An
    event's own keyword arguments (structlog.get_logger) win over bound fields too."""
    record: logging.LogRecord | None = event_dict.get("_record")
    fields = dict(get_contextvars())
    if record is not None and not event_dict.get("_from_structlog"):
        fields.update((key, value) for key, value in vars(record).items() if key not in _RESERVED)
    for key, value in fields.items():
        event_dict.setdefault(key, value)
    return event_dict


def _connection_tenant(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The connection's schema as the tenant, only when it is a tenant's (not public)."""
    if "tenant" not in event_dict:
        schema = _current_schema()
        if schema and schema != PUBLIC_SCHEMA:
            event_dict["tenant"] = schema
    return event_dict


def _current_schema() -> str | None:
    try:
        from django.db import connection  # noqa: PLC0415 - logging is configured before apps

        return getattr(connection, "schema_name", None)
    except Exception:  # settings not ready (a line logged while Django starts)
        return None


_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


def _console(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    """`time LEVEL logger event key=value …`, values JSON-encoded so a line parses back."""
    head = " ".join(str(event_dict.pop(key, "") or "-") for key in ("timestamp", "level", "logger"))
    event = event_dict.pop("event", "")
    exception = event_dict.pop("exception", None)
    rendered = " ".join(
        f"{key}={json.dumps(value, default=str)}" for key, value in event_dict.items()
    )
    line = f"{head} {event}" + (f" {rendered}" if rendered else "")
    return f"{line}\n{exception}" if exception else line


def _upper_level(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    if "level" in event_dict:
        event_dict["level"] = str(event_dict["level"]).upper()
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        _upper_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _record_extra,
        _connection_tenant,
    ]


def formatter(*, json_output: bool) -> structlog.stdlib.ProcessorFormatter:
    """The logging.Formatter of every handler: renders ours and libraries' records alike."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str) if json_output else _console
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def configure_structlog() -> None:
    """structlog.get_logger() loggers hand their events to the standard library's handlers."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def json_formatter() -> logging.Formatter:
    """Factory named by settings.LOGGING (`"()": "core.logging.json_formatter"`)."""
    configure_structlog()
    return formatter(json_output=True)


def console_formatter() -> logging.Formatter:
    configure_structlog()
    return formatter(json_output=False)


class StructuredFormatter(structlog.stdlib.ProcessorFormatter):
    """The console rendering as a plain Formatter class (for handlers set up by hand)."""

    def __init__(self, *, json_output: bool = False) -> None:
        configured = formatter(json_output=json_output)
        super().__init__(
            foreign_pre_chain=configured.foreign_pre_chain,
            processors=configured.processors,
        )


# Celery's own line per task received and per task succeeded: the engine logs each job's outcome
# itself (job.completed, job.failed, ...), so at INFO they only doubled a worker's log volume and
# cost ~10 % of its CPU in the formatter. Failures still log (ERROR); LOG_CELERY_TASKS=INFO
# brings the two lines back.
_CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def logging_config(*, log_format: str, level: str, celery_tasks: str = "WARNING") -> dict[str, Any]:
    """settings.LOGGING for `LOG_FORMAT` (json | console)."""
    if log_format not in ("json", "console"):
        raise ValueError(f"LOG_FORMAT must be json or console, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": f"core.logging.{log_format}_formatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            **{name: {"level": celery_tasks} for name in _CELERY_TASK_LOGGERS},
        },
    }


# --- where context is true ------------------------------------------------------------------


_REQUEST_FIELDS = ("request_id", "tenant")


class RequestContextMiddleware:
    """Binds `request_id` and the request's tenant until the request is finished (Django logs
    a 4xx after the middleware returns, so a `with` block would end too early); answers with
    the request id in `X-Request-ID` so a caller can quote it. Place it after tenant
    resolution."""

    HEADER = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response: Callable[["HttpRequest"], "HttpResponse"]) -> None:
        self.get_response = get_response

    def __call__(self, request: "HttpRequest") -> "HttpResponse":
        request_id = _clean_request_id(request.META.get(self.HEADER)) or uuid.uuid4().hex
        fields: dict[str, Any] = {"request_id": request_id}
        schema = getattr(getattr(request, "tenant", None), "schema_name", None)
        if schema and schema != PUBLIC_SCHEMA:
            fields["tenant"] = schema
        request_context_clear()  # a previous request's, on a reused thread
        bind_contextvars(**fields)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def request_context_clear(**_: Any) -> None:
    """Also Django's request_finished receiver (connected in core.apps)."""
    structlog.contextvars.unbind_contextvars(*_REQUEST_FIELDS)


def _clean_request_id(value: str | None) -> str | None:
    """A caller's request id, if it is a sane token (it ends up in every line)."""
    if value and len(value) <= 64 and all(c.isalnum() or c in "-_." for c in value):
        return value
    return None


def task_context_bind(*, task_id: str, task_name: str, kwargs: dict[str, Any]) -> None:
    """Celery task_prerun: what is true for this task's lines. tenant-schemas-celery has
    switched the connection to the message's schema by then."""
    fields: dict[str, Any] = {"task_id": task_id, "task": task_name}
    schema = _current_schema()
    if schema and schema != PUBLIC_SCHEMA:
        fields["tenant"] = schema
    if "job_id" in kwargs:
        fields["job"] = kwargs["job_id"]
    structlog.contextvars.clear_contextvars()
    bind_contextvars(**fields)


def task_context_clear() -> None:
    structlog.contextvars.clear_contextvars()
