"""Structured logs: `event key=value …` lines carrying the tenant schema of the connection, so
every line can be attributed (and filtered) per tenant without leaking another's data."""

import json
import logging
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _current_schema() -> str | None:
    try:
        from django.db import connection  # noqa: PLC0415 - logging is configured before apps

        return getattr(connection, "schema_name", None)
    except Exception:
        return None


class StructuredFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            key: value for key, value in vars(record).items() if key not in _RESERVED
        }
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
