"""eBay's error bodies.

REST errors: https://developer.ebay.com/api-docs/static/handling-error-messages.html
OAuth errors: https://developer.ebay.com/api-docs/static/oauth-error-handling.html
"""

from __future__ import annotations

from typing import Any, NoReturn

from sandbox.routing import HttpError, Response

INVENTORY = "API_INVENTORY"
FULFILLMENT = "API_FULFILLMENT"

NOT_FOUND_MESSAGE = (
    "We didn't find the resource/entity you are requesting. Please verify the request"
)

INVALID_ACCESS_TOKEN: dict[str, Any] = {
    "errorId": 1001,
    "domain": "OAuth",
    "category": "REQUEST",
    "message": "Invalid access token",
    "longMessage": (
        "Invalid access token. Check the value of the Authorization HTTP request header."
    ),
}

# Errors that do not come from one API (gateway, access): status → (errorId, category, message).
_GENERIC: dict[int, tuple[int, str, str]] = {
    400: (2004, "REQUEST", "Invalid request"),
    403: (1100, "REQUEST", "Access denied"),
    404: (2002, "REQUEST", "Resource not found"),
    405: (2002, "REQUEST", "Method not allowed"),
    429: (
        2001,
        "REQUEST",
        "Too many requests. The request limit has been reached for the resource.",
    ),
}
_INTERNAL = (2003, "APPLICATION", "Internal error")
_INTERNAL_LONG = (
    "There was a problem with an eBay internal system or process. "
    "Contact eBay developer support for assistance."
)


def error_body(
    error_id: int,
    message: str,
    *,
    domain: str = INVENTORY,
    category: str = "REQUEST",
    long_message: str | None = None,
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"errorId": error_id, "domain": domain}
    if domain == INVENTORY:
        error["subdomain"] = "Selling"
    error.update(category=category, message=message)
    if long_message:
        error["longMessage"] = long_message
    if parameters:
        error["parameters"] = [{"name": name, "value": value} for name, value in parameters.items()]
    return {"errors": [error]}


def fail(status: int, error_id: int, message: str, **fields: Any) -> NoReturn:
    """Answer the current request with one eBay error."""
    raise HttpError(Response.json(error_body(error_id, message, **fields), status))


def invalid_value(field: str, detail: str = "", status: int = 400) -> NoReturn:
    """errorId 25709, which the Inventory API uses for a missing or malformed field."""
    message = f"Invalid value for {field}." + (f" {detail}" if detail else "")
    fail(status, 25709, message, parameters={"fieldName": field})


def unauthorized() -> NoReturn:
    raise HttpError(Response.json({"errors": [INVALID_ACCESS_TOKEN]}, 401))


def generic_error(status: int, message: str) -> Response:
    """The body eBay's gateway gives for errors that no API handler produced."""
    if status == 401:
        return Response.json({"errors": [INVALID_ACCESS_TOKEN]}, 401)
    error_id, category, short = _GENERIC.get(status, _INTERNAL)
    long_message = message
    if status >= 500:
        long_message = f"{_INTERNAL_LONG} ({message})"
    body = error_body(
        error_id, short, domain="ACCESS", category=category, long_message=long_message
    )
    return Response.json(body, status)


def oauth_error(status: int, error: str, description: str) -> NoReturn:
    raise HttpError(Response.json({"error": error, "error_description": description}, status))
