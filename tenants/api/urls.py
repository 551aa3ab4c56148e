from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api.auth_views import ApiTokenViewSet, LoginView, LogoutView
from tenants.api.views import ExtensionTokenViewSet

router = SimpleRouter()
router.register("connections/vinted/tokens", ExtensionTokenViewSet, basename="extension-token")
router.register("auth/tokens", ApiTokenViewSet, basename="api-token")

urlpatterns = [
    path("auth/login/", LoginView.as_view(), name="auth-login"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    *router.urls,
]
