"""Vinted extension tokens: a member issues, lists and revokes the tokens of their own browser
extensions in the shop of the request's host. The rows live in `public`, so every query names
the tenant and the user explicitly."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.users import acting_user
from tenants import selectors
from tenants import services as tenant_services
from tenants.api.serializers import (
    ExtensionTokenIssueSerializer,
    ExtensionTokenSerializer,
    IssuedExtensionTokenSerializer,
)
from tenants.models import ExtensionToken


@extend_schema_view(
    list=extend_schema(
        operation_id="extension_tokens_list",
        summary="Your extension tokens in this shop, newest first.",
    ),
)
class ExtensionTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ExtensionTokenSerializer
    lookup_value_regex = r"\d+"
    filter_backends = []

    def get_queryset(self) -> QuerySet[ExtensionToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request tenant
            return ExtensionToken.objects.none()
        return selectors.extension_token_list(tenant=self.request.tenant, user=self.request.user)

    @extend_schema(
        operation_id="extension_tokens_issue",
        summary="Issue a token for a browser extension (shown once).",
        request=ExtensionTokenIssueSerializer,
        responses={201: IssuedExtensionTokenSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ExtensionTokenIssueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = tenant_services.extension_token_issue(
            tenant=request.tenant,
            user=acting_user(request),
            name=serializer.validated_data.get("name", ""),
        )
        token.token = raw  # type: ignore[attr-defined]
        return Response(IssuedExtensionTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="extension_tokens_revoke",
        summary="Revoke a token: the extension using it is refused from now on.",
        request=None,
        responses=ExtensionTokenSerializer,
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        token = tenant_services.extension_token_revoke(token=self.get_object())
        return Response(ExtensionTokenSerializer(token).data)
