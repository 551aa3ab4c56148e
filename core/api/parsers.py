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
# In the JSON text: the only ways to write those characters (raw ones are invalid JSON/UTF-8).
_ESCAPES = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


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


def check_storable(data: Any, *, strings: bool = True) -> None:
    """Raise ParseError if `data` nests deeper than MAX_JSON_DEPTH, ValidationError (naming the
    top-level field) if `strings` and it holds a string, key or value, that PostgreSQL cannot
    store. Iterative: the depth check must not itself recurse. Scalars are never stacked, so a
    list of 10,000 ids costs one pass."""
    if isinstance(data, dict):
        stack = [(item, 2, key) for key, item in data.items()]
        children: Any = data.keys() if strings else ()
        _check_level(children, stack, 1, "non_field_errors", strings)
    else:
        stack = [(data, 1, "non_field_errors")]
    while stack:
        value, depth, field = stack.pop()
        if type(value) is str:
            if strings and (message := _unstorable(value)) is not None:
                raise exceptions.ValidationError({field: [message]})
            continue
        if type(value) is dict:
            if strings:
                _check_level(value.keys(), stack, depth, field, strings)
            _check_level(value.values(), stack, depth, field, strings)
        elif type(value) is list:
            _check_level(value, stack, depth, field, strings)


def _check_level(items: Any, stack: list, depth: int, field: str, strings: bool) -> None:
    """Stack the containers among `items` (children of a container at `depth`); check strings."""
    for item in items:
        kind = type(item)
        if kind is dict or kind is list:
            if depth >= MAX_JSON_DEPTH:
                raise exceptions.ParseError(_TOO_DEEP)
            stack.append((item, depth + 1, field))
        elif kind is str and strings and (message := _unstorable(item)) is not None:
            raise exceptions.ValidationError({field: [message]})


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
        if isinstance(data, dict | list):
            # A NUL or a surrogate can only come from a \\u escape: no escape, no string walk.
            check_storable(data, strings=_ESCAPES.search(text) is not None)
        elif isinstance(data, str) and _unstorable(data) is not None:
            raise exceptions.ValidationError({"non_field_errors": [_unstorable(data)]})
        return data


def _refuse_constant(name: str) -> None:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")
