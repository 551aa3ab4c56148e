"""Authentication for the frontend: log in (username + password -> a token for this device),
log out (revoke the token in use), list and revoke one's own tokens.

Served on the shop's host like the rest of the API: only a member of the shop may log in there,
and anyone else gets the same answer as a wrong password. `authenticate()` goes through
django-axes, so the API login and the admin login share one lockout; the `login` throttle scope
limits attempts per IP on top of it.
"""

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from core.api.schema import errors
from core.errors import AuthenticationFailed
from tenants.api.serializers import ApiTokenSerializer, IssuedApiTokenSerializer, LoginSerializer
from tenants.auth import TokenAuth, api_token_issue, api_token_list, api_token_revoke
from tenants.models import ApiToken, Membership


class LoginRateThrottle(AnonRateThrottle):
    scope = "login"


class LoginView(APIView):
    authentication_classes: list[type] = []  # a stale token in the client must not block login
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        operation_id="auth_login",
        summary="Log in: a new token for this device (shown once).",
        request=LoginSerializer,
        responses={201: IssuedApiTokenSerializer, **errors(400, 401, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        tenant = getattr(request._request, "tenant", None)
        if tenant is None:
            raise Http404
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        membership = (
            Membership.objects.filter(user_id=user.pk, tenant_id=tenant.pk).first()
            if user is not None
            else None
        )
        if membership is None:
            raise AuthenticationFailed("Wrong username or password.")
        token, raw = api_token_issue(user=user, name=data.get("name", ""))  # type: ignore[arg-type]
        # What django.contrib.auth.login() would announce (no session here): sets last_login
        # and lets django-axes reset the user's failure count.
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        body = {
            **ApiTokenSerializer(token).data,
            "token": raw,
            "user": {"id": user.pk, "username": user.get_username(), "role": membership.role},  # type: ignore[union-attr]
        }
        return Response(body, status=status.HTTP_201_CREATED)


class LogoutView(APIView):
    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: revoke the token this request was sent with.",
        request=None,
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, TokenAuth):
            token = ApiToken.objects.filter(pk=request.auth.token_id).first()
            if token is not None:
                api_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        operation_id="auth_tokens_list", summary="Your live tokens (one per device), newest first."
    ),
    destroy=extend_schema(
        operation_id="auth_tokens_revoke",
        summary="Revoke one of your tokens: the device using it is logged out.",
    ),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    lookup_value_regex = r"\d+"
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return ApiToken.objects.none()
        return api_token_list(user=self.request.user)  # type: ignore[arg-type]

    def perform_destroy(self, instance: ApiToken) -> None:
        api_token_revoke(token=instance)
