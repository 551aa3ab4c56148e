"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.api.parsers import PayloadTooLarge
from core.errors import ApplicationError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(data: Any) -> dict[str, Any]:
    # A serializer gives {field: [messages]}; a bare ValidationError gives a list or a string.
    # Clients read one type, so those become non-field errors.
    if isinstance(data, dict):
        return data
    return {"non_field_errors": data if isinstance(data, list) else [data]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # something read request.body past the limit
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        logger.error("api.unhandled_error", exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            "validation_failed", "The request is invalid.", _validation_details(response.data)
        )
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        details = {"retry_after": exc.wait} if isinstance(exc, exceptions.Throttled) else None  # type: ignore[attr-defined]
        response.data = error_body(str(code), str(detail or exc), details)
    return response
