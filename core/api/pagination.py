"""Cursor pagination on the primary key: every page, first or deep, is one index range scan, so a
page stays fast with a million jobs (no OFFSET, no COUNT(*)).

`page_size` is checked, not guessed: DRF's default quietly falls back to the default size for
`page_size=null`, `abc` or `0`, answering something the client did not ask for. Here anything but
a positive integer is a 400, as the schema says; a size over the maximum is capped (documented).
A cursor is opaque but forgeable: one whose position is not an id answers 404 "Invalid cursor",
as DRF does for one it cannot decode, instead of reaching the query."""

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

_MAX_ID_DIGITS = 19  # PostgreSQL bigint


class JobCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        position = cursor.position if cursor is not None else None
        if position is not None and not (
            position.isascii() and position.isdigit() and len(position) <= _MAX_ID_DIGITS  # type: ignore[arg-type,attr-defined]
        ):
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: ["A positive integer."]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "default": self.page_size}
                parameter["description"] = (
                    f"Results per page, {self.page_size} by default; more than "
                    f"{self.max_page_size} is capped at {self.max_page_size}."
                )
        return parameters
