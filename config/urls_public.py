"""URLs served on the public host (operators and staff): no tenant data here. The API's schema
and docs are served here too (they describe the shops' API, which lives on each shop's host);
any other /api/ URL is a JSON 404."""

from django.contrib import admin
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.views import api_not_found
from core.health import health
from core.metrics import metrics_view
from marketplace.api.views.ebay_notifications import EbayAccountDeletionView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus, operators only
    path("api/schema/", SpectacularAPIView.as_view(urlconf="config.urls"), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # eBay calls this once for the whole application (marketplace account deletion).
    path(
        "api/ebay/account-deletion/",
        EbayAccountDeletionView.as_view(),
        name="ebay-account-deletion",
    ),
    re_path(r"^api/", api_not_found),
]

handler400 = "core.api.views.bad_request"
handler403 = "core.api.views.permission_denied"
handler404 = "core.api.views.not_found"
handler500 = "core.api.views.server_error"
