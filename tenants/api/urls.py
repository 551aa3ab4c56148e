from rest_framework.routers import SimpleRouter

from tenants.api.views import ExtensionTokenViewSet

router = SimpleRouter()
router.register("connections/vinted/tokens", ExtensionTokenViewSet, basename="extension-token")

urlpatterns = router.urls
