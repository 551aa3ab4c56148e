from rest_framework.routers import SimpleRouter

from marketplace.api.views.connections import ConnectionViewSet
from marketplace.api.views.jobs import JobViewSet
from marketplace.api.views.mappings import (
    CategoryMappingViewSet,
    CategoryViewSet,
    ValueMappingViewSet,
)
from marketplace.api.views.products import ProductViewSet
from marketplace.api.views.readiness import ReadinessViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("jobs", JobViewSet, basename="job")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("readiness", ReadinessViewSet, basename="readiness")
router.register("categories", CategoryViewSet, basename="category")
router.register("category-mappings", CategoryMappingViewSet, basename="category-mapping")
router.register("value-mappings", ValueMappingViewSet, basename="value-mapping")

urlpatterns = router.urls
