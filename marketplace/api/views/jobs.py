from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotency_key_from
from core.api.schema import errors
from core.users import acting_user
from marketplace import selectors
from marketplace.api.filters import JobFilter
from marketplace.api.serializers.jobs import (
    JobCreateSerializer,
    JobDetailSerializer,
    JobSerializer,
    TaskSerializer,
    job_rows_representation,
)
from marketplace.models import MarketplaceJob
from marketplace.services import jobs as job_services
from marketplace.services.idempotency import Answer, idempotent_create
from marketplace.services.readiness import readiness_require
from marketplace.states import EventActor

JobAction = Callable[..., MarketplaceJob]


def _action_schema(name: str) -> Callable[[Any], Any]:
    return extend_schema(
        operation_id=f"jobs_{name}",
        request=None,
        responses={200: JobDetailSerializer, **errors(409)},
    )


@extend_schema_view(
    list=extend_schema(summary="List jobs, newest first (cursor pagination)."),
    retrieve=extend_schema(summary="A job with its steps, its events and its allowed actions."),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[MarketplaceJob, Any]:
        if self.action == "retrieve":
            return selectors.job_detail_queryset().select_related("batch")
        if self.action == "list":
            return selectors.job_row_list()
        return selectors.job_list()

    def list(self, request: Request) -> Response:
        """The hot read path: plain rows (selectors.job_row_list) rendered as JobSerializer
        renders a job, one SELECT per page; the schema still comes from JobSerializer."""
        with selectors.job_list_planner_costs():
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(job_rows_representation(page or []))

    def get_serializer_class(self) -> type[JobSerializer]:
        return JobSerializer if self.action == "list" else JobDetailSerializer

    @extend_schema(
        summary="Create a job (enqueued once committed).",
        request=JobCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: JobDetailSerializer, **errors(422)},
    )
    def create(self, request: Request) -> Response:
        key = idempotency_key_from(request)
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payload = {
            "marketplace": data["marketplace"],
            "action": data["action"],
            "product_id": data.get("product_id"),
            "input_data": data.get("input_data") or {},
            "priority": data.get("priority"),
        }

        def create_job() -> Answer:
            if payload["product_id"] is not None:
                # Like a batch: no job that would fail for a reason knowable now.
                readiness_require(
                    product_id=payload["product_id"],
                    marketplace=payload["marketplace"],
                    action=payload["action"],
                )
            job = job_services.job_create(
                **payload, idempotency_key=key, created_by=acting_user(request)
            )
            return status.HTTP_201_CREATED, JobDetailSerializer(job).data

        if key is None:
            code, body = create_job()
        else:
            code, body = idempotent_create(
                scope="jobs", key=key, payload=payload, create=create_job, user=acting_user(request)
            )
        return Response(body, status=code)

    @extend_schema(
        operation_id="jobs_tasks",
        summary="The job's steps, in order.",
        responses=TaskSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def tasks(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        return Response(TaskSerializer(selectors.job_task_list(job_id=job.pk), many=True).data)

    @_action_schema("pause")
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request: Request, pk: str) -> Response:
        """Pause now if pending; a running job pauses at its next step boundary."""
        return self._act(job_services.job_pause)

    @_action_schema("resume")
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request: Request, pk: str) -> Response:
        """Put a paused job back in the queue."""
        return self._act(job_services.job_resume)

    @_action_schema("cancel")
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel now if pending or paused; a running job stops at its next step boundary."""
        return self._act(job_services.job_cancel)

    @_action_schema("retry")
    @action(detail=True, methods=["post"], filter_backends=[])
    def retry(self, request: Request, pk: str) -> Response:
        """Run a failed or expired job again; steps that succeeded are kept."""
        return self._act(job_services.job_retry)

    def _act(self, service: JobAction) -> Response:
        job = self.get_object()
        job = service(job_id=job.pk, actor=EventActor.USER, user=self.request.user)
        fresh = selectors.job_detail_queryset().select_related("batch").get(pk=job.pk)
        return Response(JobDetailSerializer(fresh).data)
