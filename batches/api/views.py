from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from batches import selectors
from batches import services as batch_services
from batches.api.filters import BatchFilter
from batches.api.serializers import (
    BatchCreatedSerializer,
    BatchCreateSerializer,
    BatchSerializer,
)
from batches.models import BatchJob
from core.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotency_key_from
from core.api.schema import errors
from core.users import acting_user
from marketplace.services.idempotency import Answer, idempotent_create
from marketplace.states import EventActor


@extend_schema_view(
    list=extend_schema(summary="List batches, newest first (cursor pagination)."),
    retrieve=extend_schema(summary="A batch with its counters, status and progress."),
)
class BatchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BatchSerializer
    filterset_class = BatchFilter
    lookup_field = "batch_id"
    lookup_value_regex = r"[A-Za-z0-9_]+"

    def get_queryset(self) -> QuerySet[BatchJob]:
        return selectors.batch_list()

    @extend_schema(
        summary="Create a batch: one job per ready product × marketplace (enqueued after commit).",
        description=(
            "Readiness is checked first (POST /api/readiness/). With not_ready=refuse (the "
            "default) any pair that is not ready refuses the whole batch: 422 with "
            "error.details.not_ready listing {product_id, marketplace, ready, reasons}. With "
            "not_ready=skip those pairs get no job and come back under `skipped`."
        ),
        request=BatchCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: BatchCreatedSerializer, **errors(422)},
    )
    def create(self, request: Request) -> Response:
        key = idempotency_key_from(request)
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payload = {
            "product_ids": data["product_ids"],
            "marketplaces": data["marketplaces"],
            "action": data["action"],
            "priority": data.get("priority"),
            "not_ready": data["not_ready"],
        }

        def create_batch() -> Answer:
            # The answer is the batch's summary: its jobs are bulk-inserted, never rendered.
            created = batch_services.batch_create_checked(
                **payload, idempotency_key=key, created_by=acting_user(request)
            )
            body = {**BatchSerializer(created.batch).data, "skipped": [
                r.as_dict() for r in created.skipped[: batch_services.MAX_REPORTED_NOT_READY]
            ]}  # fmt: skip
            return status.HTTP_201_CREATED, body

        if key is None:
            code, body = create_batch()
        else:
            code, body = idempotent_create(
                scope="batches",
                key=key,
                payload=payload,
                create=create_batch,
                user=acting_user(request),
            )
        return Response(body, status=code)

    @extend_schema(
        operation_id="batches_cancel",
        summary="Cancel: pending and paused jobs now, running ones at their next step.",
        request=None,
        responses={200: BatchSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, batch_id: str) -> Response:
        batch = self.get_object()
        batch = batch_services.batch_cancel(
            batch_pk=batch.pk, actor=EventActor.USER, user=acting_user(request)
        )
        return Response(BatchSerializer(batch).data)
