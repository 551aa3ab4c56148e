"""The API's only request parser: JSON that PostgreSQL can store.

DRF's JSONParser trusts whatever `json.loads` returns. Three kinds of valid JSON still broke the
request path: nesting deep enough to exhaust the interpreter's stack (RecursionError, a 500), and
strings with a NUL or a lone UTF-16 surrogate (`"\\u0000"`, `"\\ud800"`), which PostgreSQL refuses
in text and jsonb (a DataError at save, a 500). They are refused here, once, for every endpoint:
too deep as 400 `parse_error`, unstorable strings as 400 `validation_failed` naming the field; a
body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused as 413 before it is read.
"""

import codecs
import json
import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

# Deeper than any request the API documents (input_data is a few levels); far under the stack.
MAX_JSON_DEPTH = 64
# PostgreSQL stores neither NUL (text, jsonb) nor unpaired surrogates (not valid UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def body_limit() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


NUL_MESSAGE = "Strings may not contain the NUL character."
SURROGATE_MESSAGE = "Strings may not contain unpaired surrogates."
_TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels."


def _unstorable(value: str) -> str | None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def check_storable(data: Any) -> None:
    """Raise ParseError if `data` nests deeper than MAX_JSON_DEPTH, ValidationError (naming the
    top-level field) if it holds a string, key or value, that PostgreSQL cannot store.
    Iterative: the depth check must not itself recurse."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "non_field_errors")]
    while stack:
        value, depth, field = stack.pop()
        if isinstance(value, str):
            message = _unstorable(value)
            if message is not None:
                raise exceptions.ValidationError({field: [message]})
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise exceptions.ParseError(_TOO_DEEP)
        if isinstance(value, dict):
            for key, item in value.items():
                name = key if depth == 1 and isinstance(data, dict) else field
                stack.append((key, depth, name))
                stack.append((item, depth + 1, name))
        else:
            stack.extend((item, depth + 1, field) for item in value)


def _read_limited(stream: Any, limit: int | None) -> bytes:
    if limit is None:
        return stream.read()
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = body_limit()
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if limit is not None and length and str(length).isdigit() and int(length) > limit:
            raise PayloadTooLarge()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(_read_limited(stream, limit), encoding)
            parse_constant = _refuse_constant if api_settings.STRICT_JSON else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise exceptions.ParseError(_TOO_DEEP) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        check_storable(data)
        return data


def _refuse_constant(name: str) -> None:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")
