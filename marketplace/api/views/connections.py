"""The shop's marketplace connections: status of all three, OAuth for eBay and Etsy (start,
callback, disconnect). Vinted connects through the browser extension and its tokens
(tenants.api)."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.permissions import IsTenantMember, IsTenantWriter
from core.api.schema import errors
from core.users import acting_user
from marketplace import selectors
from marketplace.api.serializers.connections import (
    AuthorizationCallbackSerializer,
    AuthorizationStartSerializer,
    ConnectionSetupChoiceSerializer,
    ConnectionSetupSerializer,
    ConnectionStateSerializer,
)
from marketplace.models import MarketplaceConnection
from marketplace.services import account_setup
from marketplace.services import connections as connection_services
from marketplace.services import oauth as oauth_services
from marketplace.states import Marketplace

_MARKETPLACE = OpenApiParameter(
    "marketplace", OpenApiTypes.STR, OpenApiParameter.PATH, enum=Marketplace.values
)
_REDIRECT_URIS = {
    Marketplace.EBAY: "EBAY_OAUTH_REDIRECT_URI",
    Marketplace.ETSY: "ETSY_OAUTH_REDIRECT_URI",
}


class ConnectionViewSet(viewsets.ViewSet):
    lookup_field = "marketplace"
    lookup_value_regex = "|".join(Marketplace.values)

    @extend_schema(
        summary="The shop's connection to each marketplace.",
        responses=ConnectionStateSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        states = selectors.connection_state_list(tenant=request.tenant)
        return Response(ConnectionStateSerializer(states, many=True).data)

    @extend_schema(
        summary="The shop's connection to one marketplace.",
        parameters=[_MARKETPLACE],
        responses=ConnectionStateSerializer,
    )
    def retrieve(self, request: Request, marketplace: str) -> Response:
        state = selectors.connection_state_get(tenant=request.tenant, marketplace=marketplace)
        return Response(ConnectionStateSerializer(state).data)

    @extend_schema(
        operation_id="connections_disconnect",
        summary="Disconnect: forget the shop's eBay or Etsy tokens.",
        parameters=[_MARKETPLACE],
        responses={204: None},
    )
    def destroy(self, request: Request, marketplace: str) -> Response:
        connection_services.connection_disconnect(marketplace=marketplace)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="connections_authorize",
        summary="Start connecting eBay or Etsy: the consent URL to send the user to.",
        parameters=[_MARKETPLACE],
        request=None,
        responses=AuthorizationStartSerializer,
    )
    @action(detail=True, methods=["post"])
    def authorize(self, request: Request, marketplace: str) -> Response:
        start = oauth_services.connection_authorize_start(
            marketplace=marketplace,
            schema_name=request.tenant.schema_name,
            user_id=acting_user(request).pk,
            redirect_uri=_redirect_uri(request, marketplace),
        )
        return Response(AuthorizationStartSerializer(start).data)

    @extend_schema(
        operation_id="connections_callback",
        summary="Where the marketplace sends the user back: exchanges the code for tokens.",
        parameters=[
            _MARKETPLACE,
            OpenApiParameter("code", OpenApiTypes.STR, required=True),
            OpenApiParameter("state", OpenApiTypes.STR, required=True),
        ],
        responses={200: ConnectionStateSerializer, **errors(422, 503)},
    )
    @action(detail=True, methods=["get"], permission_classes=[IsTenantMember, IsTenantWriter])
    def callback(self, request: Request, marketplace: str) -> Response:
        query = AuthorizationCallbackSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        oauth_services.connection_authorize_complete(
            marketplace=marketplace,
            code=query.validated_data["code"],
            state=query.validated_data["state"],
            schema_name=request.tenant.schema_name,
            user_id=acting_user(request).pk,
        )
        state = selectors.connection_state_get(tenant=request.tenant, marketplace=marketplace)
        return Response(ConnectionStateSerializer(state).data)

    @extend_schema(
        operation_id="connections_setup",
        summary="The listing setup: eBay business policies and location, Etsy profiles.",
        parameters=[_MARKETPLACE],
        responses={200: ConnectionSetupSerializer, **errors(404, 422)},
    )
    @action(detail=True, methods=["get"], url_path="setup")
    def setup(self, request: Request, marketplace: str) -> Response:  # type: ignore[override]
        connection = account_setup.connection_setup_get(marketplace=marketplace)
        return Response(_setup_body(connection))

    @extend_schema(
        operation_id="connections_setup_choose",
        summary="Choose the policies / profiles / location sent on every listing.",
        parameters=[_MARKETPLACE],
        request=ConnectionSetupChoiceSerializer,
        responses={200: ConnectionSetupSerializer, **errors(404, 422)},
    )
    @setup.mapping.patch
    def setup_choose(self, request: Request, marketplace: str) -> Response:
        body = ConnectionSetupChoiceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = account_setup.connection_setup_choose(
            marketplace=marketplace, choices=body.validated_data["setup"]
        )
        return Response(_setup_body(connection))

    @extend_schema(
        operation_id="connections_setup_refresh",
        summary="Read the setup from the marketplace again (also done at connect time).",
        parameters=[_MARKETPLACE],
        request=None,
        responses={200: ConnectionSetupSerializer, **errors(404, 422, 503)},
    )
    @action(detail=True, methods=["post"], url_path="setup/refresh")
    def setup_refresh(self, request: Request, marketplace: str) -> Response:
        connection = account_setup.connection_setup_refresh(marketplace=marketplace)
        return Response(_setup_body(connection))


def _setup_body(connection: MarketplaceConnection) -> dict[str, object]:
    return dict(
        ConnectionSetupSerializer(
            {
                "marketplace": connection.marketplace,
                "setup": connection.setup,
                "setup_options": connection.setup_options,
                "missing": account_setup.connection_setup_missing(connection),
                "setup_read_at": connection.setup_read_at,
            }
        ).data
    )


def _redirect_uri(request: Request, marketplace: str) -> str:
    """The configured one (eBay's RuName in production), else this API's callback."""
    setting = _REDIRECT_URIS.get(Marketplace(marketplace))
    if setting and (configured := getattr(settings, setting)):
        return str(configured)
    callback = reverse("connection-callback", kwargs={"marketplace": marketplace})
    return request.build_absolute_uri(callback)
