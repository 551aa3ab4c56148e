"""Structured logs: `event key=value …` lines carrying the tenant schema of the connection, so
every line can be attributed (and filtered) per tenant without leaking another's data.

`bind(job=…, batch=…)` adds fields to every line logged inside the block (a contextvar, so it is
per thread and per task), for code that logs on behalf of a job without passing its ids around.
A record's own `extra` wins over bound fields."""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

_bound: ContextVar[MappingProxyType[str, Any]] = ContextVar(
    "relist_log_fields", default=MappingProxyType({})
)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line emitted inside the block (nested blocks merge)."""
    token = _bound.set(MappingProxyType({**_bound.get(), **fields}))
    try:
        yield
    finally:
        _bound.reset(token)


def _current_schema() -> str | None:
    try:
        from django.db import connection  # noqa: PLC0415 - logging is configured before apps

        return getattr(connection, "schema_name", None)
    except Exception:
        return None


class StructuredFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(_bound.get())
        fields.update((key, value) for key, value in vars(record).items() if key not in _RESERVED)
        fields.setdefault("tenant", _current_schema())
        rendered = " ".join(
            f"{key}={json.dumps(value, default=str)}" for key, value in fields.items()
        )
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if rendered:
            line = f"{line} {rendered}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line
