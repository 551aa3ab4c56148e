"""eBay's Marketplace Account Deletion endpoint: public (eBay calls it, without a user), on
the public host, once for the whole application.
https://developer.ebay.com/marketplace-account-deletion

GET ?challenge_code=… is eBay validating the endpoint; POST is a notification. eBay signs each
notification (X-EBAY-SIGNATURE); verifying it needs eBay's Notification API public key, which
this endpoint does not fetch yet, so a forged notice can only disconnect an account (its tokens
are forgotten; the shop connects again), never read anything."""

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from marketplace.services.account_deletion import (
    ebay_account_data_delete,
    ebay_deletion_challenge_response,
)

TOPIC = "MARKETPLACE_ACCOUNT_DELETION"


class EbayAccountDeletionView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ebay_account_deletion_challenge",
        summary="eBay validates the endpoint: answers the challenge hash.",
        parameters=[OpenApiParameter("challenge_code", OpenApiTypes.STR, required=True)],
        responses={
            200: inline_serializer(
                "EbayChallengeResponse", {"challengeResponse": serializers.CharField()}
            )
        },
    )
    def get(self, request: Request) -> Response:
        code = request.query_params.get("challenge_code", "")
        token = settings.EBAY_DELETION_VERIFICATION_TOKEN
        if not code or not token:
            raise ValidationFailed(
                "challenge_code is required and the verification token must be configured.",
                details={"challenge_code": bool(code), "configured": bool(token)},
            )
        endpoint = settings.EBAY_DELETION_ENDPOINT_URL or request.build_absolute_uri(request.path)
        answer = ebay_deletion_challenge_response(
            challenge_code=code, verification_token=token, endpoint_url=endpoint
        )
        return Response({"challengeResponse": answer}, content_type="application/json")

    @extend_schema(
        operation_id="ebay_account_deletion_notify",
        summary="An eBay user's account was deleted: forget their data in every shop.",
        request=OpenApiTypes.OBJECT,
        responses={204: None, **{}},
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        topic = (body.get("metadata") or {}).get("topic")
        data = (body.get("notification") or {}).get("data") or {}
        if topic != TOPIC or not isinstance(data, dict):
            raise ValidationFailed(
                f"Expected a {TOPIC} notification.", details={"topic": topic or ""}
            )
        ebay_account_data_delete(
            user_id=str(data.get("userId") or ""), username=str(data.get("username") or "")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
