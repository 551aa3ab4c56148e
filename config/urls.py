"""URLs served on a tenant's host. Everything under /api/ answers JSON, errors included: the
catch-all closes the list, and the handlers cover what Django renders itself."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.views import api_not_found
from core.health import health

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("marketplace.api.urls")),
    path("", include("batches.api.urls")),
    path("", include("sales.api.urls")),
    path("", include("tenants.api.urls")),
    path("schema/", SpectacularAPIView.as_view(urlconf="config.urls"), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^", api_not_found),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/", include(api_urlpatterns)),
]

handler400 = "core.api.views.bad_request"
handler403 = "core.api.views.permission_denied"
handler404 = "core.api.views.not_found"
handler500 = "core.api.views.server_error"
