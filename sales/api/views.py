"""Orders, listings, the sale tracker, pending actions, oversell alerts and delist policies."""

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import errors
from core.users import acting_user
from marketplace.models import Listing, Order
from marketplace.states import Marketplace
from sales import selectors
from sales.api.filters import ListingFilter, OrderFilter, SaleFilter
from sales.api.serializers import (
    DelistPolicySerializer,
    LinkReviewSerializer,
    ListingSerializer,
    OrderSerializer,
    OversellAlertSerializer,
    SaleActionSerializer,
    SaleSerializer,
)
from sales.models import DelistPolicy, LinkReview, OversellAlert, Sale, SaleAction
from sales.services import fanout, imports


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Marketplace orders with their lines, linked to listings and products."""

    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.order_list()


class ListingViewSet(viewsets.ReadOnlyModelViewSet):
    """Per product per marketplace: status, external id, url and when it was last synced."""

    serializer_class = ListingSerializer
    filterset_class = ListingFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Listing]:
        return selectors.listing_list()


class SaleViewSet(viewsets.ReadOnlyModelViewSet):
    """The sale tracker: per sale, per other marketplace, what Relist did and when."""

    serializer_class = SaleSerializer
    filterset_class = SaleFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Sale]:
        return selectors.sale_list()


class PendingActionViewSet(viewsets.ReadOnlyModelViewSet):
    """Delists and quantity updates held for a person to confirm (they expire)."""

    serializer_class = SaleActionSerializer
    filterset_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[SaleAction]:
        return selectors.pending_action_list()

    @extend_schema(request=None, responses={200: SaleActionSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        done = fanout.sale_action_confirm(action_id=int(pk), user=acting_user(request))
        return Response(SaleActionSerializer(done).data)

    @extend_schema(request=None, responses={200: SaleActionSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        done = fanout.sale_action_reject(action_id=int(pk), user=acting_user(request))
        return Response(SaleActionSerializer(done).data)


class OversellAlertViewSet(viewsets.ReadOnlyModelViewSet):
    """The same last unit sold twice: both orders, for the seller to cancel one."""

    serializer_class = OversellAlertSerializer
    filterset_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[OversellAlert]:
        return selectors.oversell_alert_list()

    @extend_schema(request=None, responses={200: OversellAlertSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        alert = self.get_object()
        if alert.resolved_at is None:
            alert.resolved_at = timezone.now()
            alert.save(update_fields=["resolved_at", "updated_at"])
        return Response(OversellAlertSerializer(alert).data)


class DelistPolicyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per marketplace: a sale elsewhere delists automatically, waits for a person, or nothing."""

    serializer_class = DelistPolicySerializer
    queryset = DelistPolicy.objects.none()  # the list is built from every marketplace
    pagination_class = None
    filterset_class = None
    lookup_field = "marketplace"
    lookup_value_regex = "|".join(Marketplace.values)

    def list(self, request: Request) -> Response:
        policies = selectors.delist_policies()
        return Response([{"marketplace": mp, "mode": mode} for mp, mode in policies.items()])

    @extend_schema(request=DelistPolicySerializer, responses={200: DelistPolicySerializer})
    def update(self, request: Request, marketplace: str) -> Response:
        if marketplace not in Marketplace.values:
            raise Http404
        serializer = DelistPolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = fanout.delist_policy_set(
            marketplace=marketplace, mode=serializer.validated_data["mode"]
        )
        return Response({"marketplace": policy.marketplace, "mode": policy.mode})


class LinkReviewViewSet(viewsets.ReadOnlyModelViewSet):
    """Imported items linked to a product by title and price only: confirm, or split them off."""

    serializer_class = LinkReviewSerializer
    filterset_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[LinkReview]:
        return LinkReview.objects.filter(status=LinkReview.Status.PENDING).select_related("listing")

    @extend_schema(request=None, responses={200: LinkReviewSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        return Response(LinkReviewSerializer(imports.link_review_confirm(review_id=int(pk))).data)

    @extend_schema(request=None, responses={200: LinkReviewSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def split(self, request: Request, pk: str) -> Response:
        return Response(LinkReviewSerializer(imports.link_review_split(review_id=int(pk))).data)
