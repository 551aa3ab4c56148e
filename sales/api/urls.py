from django.urls import path
from rest_framework.routers import SimpleRouter

from sales.api.views import (
    DelistPolicyViewSet,
    LinkReviewViewSet,
    ListingViewSet,
    OrderViewSet,
    OversellAlertViewSet,
    PendingActionViewSet,
    SaleViewSet,
)

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("listings", ListingViewSet, basename="listing")
router.register("sales", SaleViewSet, basename="sale")
router.register("pending-actions", PendingActionViewSet, basename="pending-action")
router.register("oversell-alerts", OversellAlertViewSet, basename="oversell-alert")
router.register("link-reviews", LinkReviewViewSet, basename="link-review")

policy = DelistPolicyViewSet.as_view({"get": "list"})
policy_detail = DelistPolicyViewSet.as_view({"put": "update"})

urlpatterns = [
    *router.urls,
    path("delist-policies/", policy, name="delist-policy-list"),
    path("delist-policies/<str:marketplace>/", policy_detail, name="delist-policy-detail"),
]
