from rest_framework.routers import DefaultRouter

from marketplace.api.views import JobViewSet

router = DefaultRouter()
router.register("jobs", JobViewSet, basename="job")

urlpatterns = router.urls
