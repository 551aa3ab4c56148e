"""Etsy's error shape, money type and request-field parsing, shared by the Etsy routes.

Etsy Open API v3 errors are `{"error": "<message>"}`; OAuth errors add `error_description`.
https://developers.etsy.com/documentation/essentials/requests
"""

from __future__ import annotations

from typing import Any, NoReturn

from sandbox.routing import HttpError, Request, Response

PREFIX = "/v3/application"
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


def fail(status: int, message: str) -> NoReturn:
    raise HttpError(Response.json({"error": message}, status))


def oauth_fail(status: int, error: str, description: str) -> NoReturn:
    raise HttpError(Response.json({"error": error, "error_description": description}, status))


def money(cents: int, currency: str = "USD") -> dict[str, Any]:
    """Etsy's Money: an integer amount over a divisor."""
    return {"amount": cents, "divisor": 100, "currency_code": currency}


def as_int(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A form string or JSON number as an int in range, else a 400 naming the field."""
    try:
        number = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        fail(400, f"Invalid value for {name}: expected an integer, {bounds}.")
    return number


def as_price(name: str, value: Any) -> int:
    """A price given as a decimal number, in cents; Etsy accepts 0.20 to 50000.00."""
    try:
        cents = round(float(value) * 100)
    except (TypeError, ValueError):
        cents = -1
    if isinstance(value, bool) or not 20 <= cents <= 5_000_000:
        fail(400, f"Invalid value for {name}: expected a price from 0.20 to 50000.00.")
    return cents


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    fail(400, f"Invalid value for {name}: expected true or false.")


def as_list(name: str, value: Any) -> list[str]:
    """A JSON array, a repeated form field, or a comma-separated string."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    fail(400, f"Invalid value for {name}: expected a list of strings.")


def page(request: Request) -> tuple[int, int]:
    """(limit, offset) as Etsy pages: limit 1-100, default 25."""
    limit = as_int("limit", request.arg("limit", str(DEFAULT_LIMIT)), minimum=1, maximum=MAX_LIMIT)
    return limit, as_int("offset", request.arg("offset", "0"))


def results(items: list[dict[str, Any]], limit: int, offset: int) -> Response:
    """Etsy's list answer: the total count and one page of results."""
    return Response.json({"count": len(items), "results": items[offset : offset + limit]})
