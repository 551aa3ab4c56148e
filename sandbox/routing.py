"""Requests, responses and routing for the sandbox servers; the socket side is in server.py."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote

JSON_CONTENT_TYPE = "application/json"


class InvalidBody(ValueError):
    """The request body cannot be read as the declared format; the server answers 400."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case and without parameters."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        if not self.body:
            raise InvalidBody("the request body is empty")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidBody(f"the request body is not valid JSON: {exc}") from None

    def form(self) -> dict[str, str | list[str]]:
        """An urlencoded body; a repeated key gives a list, a single key its value."""
        try:
            parsed = parse_qs(
                self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
            )
        except UnicodeDecodeError:
            raise InvalidBody("the form body is not UTF-8") from None
        return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}

    def fields(self) -> dict[str, Any]:
        """A JSON object or an urlencoded form, whichever the Content-Type declares."""
        if self.content_type == JSON_CONTENT_TYPE:
            data = self.json()
            if not isinstance(data, dict):
                raise InvalidBody("the JSON body must be an object")
            return data
        return dict(self.form())

    def bearer_token(self) -> str | None:
        scheme, _, token = (self.header("Authorization") or "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def basic_credentials(self) -> tuple[str, str] | None:
        scheme, _, encoded = (self.header("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        return (user, password) if colon else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return cls(status, body, {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status)

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", {"Location": location})


class HttpError(Exception):
    """Raised by a route handler to answer with `response` at once (auth, validation, 404)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request], Response]

# "{name}" matches one path segment; "{name:regex}" narrows it, e.g. "{listing_id:\d+}".
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^}]+))?\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # the path with placeholders, as reported in the per-route call counters
    pattern: re.Pattern[str]
    handler: Handler


@dataclass(frozen=True)
class Match:
    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...]  # methods of other routes on this path: a 405 instead of a 404

    @property
    def template(self) -> str:
        return self.route.template if self.route else "(unmatched)"


class Router:
    """Method + path template → handler; the first route added wins."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        regex, position = [], 0
        for placeholder in _PLACEHOLDER.finditer(template):
            regex.append(re.escape(template[position : placeholder.start()]))
            regex.append(f"(?P<{placeholder[1]}>{placeholder[2] or '[^/]+'})")
            position = placeholder.end()
        regex.append(re.escape(template[position:]))
        display = _PLACEHOLDER.sub(r"{\1}", template)
        self._routes.append(Route(method.upper(), display, re.compile("".join(regex)), handler))

    def match(self, method: str, path: str) -> Match:
        allowed: list[str] = []
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return Match(route, params, ())
            allowed.append(route.method)
        return Match(None, {}, tuple(allowed))
