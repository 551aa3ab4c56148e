"""The error shape for whatever answers under /api/ without going through DRF's handler.

DRF renders its own errors (core/api/exception_handler.py), but a request can fail before it
reaches a view (a middleware meeting PostgreSQL down, a CSRF refusal) and Django then renders an
HTML page: its debug page with DEBUG on, the handler views otherwise. This middleware sits first,
so it sees every response under /api/: any error that is not JSON is replaced by the JSON shape
with the same status. It also refuses an announced body over DATA_UPLOAD_MAX_MEMORY_SIZE with 413
before anything reads it.
"""

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.api.exception_handler import error_body

API_PREFIX = "/api/"
_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}
_MESSAGES = {
    400: "The request is malformed.",
    413: "The request body is too large.",
    500: "Something went wrong on our side.",
}


def json_error(status: int) -> JsonResponse:
    message = _MESSAGES.get(status) or HTTPStatus(status).phrase + "."
    return JsonResponse(error_body(_CODES.get(status, "error"), message), status=status)


def _too_large(request: HttpRequest) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    length = request.META.get("CONTENT_LENGTH") or ""
    return limit is not None and length.isdigit() and int(length) > limit


def _reshaped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status_code < 400 or not request.path.startswith(API_PREFIX):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    replacement = json_error(response.status_code)
    for header in ("Retry-After", "WWW-Authenticate", "Allow"):
        if header in response:
            replacement[header] = response[header]
    return replacement


class ApiErrorShapeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        if request.path.startswith(API_PREFIX) and _too_large(request):
            return json_error(413)
        return _reshaped(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX) and _too_large(request):
            return json_error(413)
        return _reshaped(request, await self.get_response(request))  # type: ignore[misc]
