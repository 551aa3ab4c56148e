"""Error views for what DRF never sees: URLs under /api/ that match no route, and the errors
Django itself renders (handler400/403/404/500). Under /api/ they answer the API's JSON shape;
elsewhere (the admin) Django's own pages."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from core.api.exception_handler import error_body

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


@csrf_exempt  # any method may miss a route; a CSRF page would be HTML and say nothing useful
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """The catch-all at the end of /api/: no HTML 404, even with DEBUG on."""
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)
    return defaults.bad_request(request, exception or Exception("bad request"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("permission_denied", "You may not perform this action."), status=403
        )
    return defaults.permission_denied(request, exception or Exception("permission denied"))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side."), status=500
        )
    return defaults.server_error(request)
