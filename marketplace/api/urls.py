from rest_framework.routers import SimpleRouter

from marketplace.api.views.connections import ConnectionViewSet
from marketplace.api.views.jobs import JobViewSet
from marketplace.api.views.products import ProductViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("jobs", JobViewSet, basename="job")
router.register("connections", ConnectionViewSet, basename="connection")

urlpatterns = router.urls
