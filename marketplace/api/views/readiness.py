from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import errors
from marketplace.api.serializers.readiness import (
    ReadinessAnswerSerializer,
    ReadinessRequestSerializer,
)
from marketplace.services.readiness import readiness_check


class ReadinessViewSet(viewsets.ViewSet):
    @extend_schema(
        operation_id="readiness_check",
        summary="For products × marketplaces: ready, or exactly what is missing.",
        description=(
            "The same check batch creation runs. Reasons name the product field or the "
            "connection setup key at fault (e.g. no_images, category_not_mapped on etsy, "
            "setup_missing fulfillment_policy_id on ebay, not_connected)."
        ),
        request=ReadinessRequestSerializer,
        responses={200: ReadinessAnswerSerializer, **errors(422)},
    )
    def create(self, request: Request) -> Response:
        query = ReadinessRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        results = readiness_check(**query.validated_data)
        return Response(
            {"ready": all(r.ready for r in results), "results": [r.as_dict() for r in results]}
        )
