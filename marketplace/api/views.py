from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace import selectors
from marketplace.api.serializers import JobDetailSerializer, JobSerializer
from marketplace.services import jobs as job_services
from marketplace.states import EventActor


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return selectors.job_detail_queryset()
        return selectors.job_list().select_related("batch")

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return JobDetailSerializer if self.action != "list" else JobSerializer

    def _act(self, service, pk: str) -> Response:  # type: ignore[no-untyped-def]
        job = service(job_id=int(pk), actor=EventActor.USER, user=self.request.user)
        job = selectors.job_detail_queryset().get(pk=job.pk)
        return Response(JobDetailSerializer(job).data)

    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        return self._act(job_services.job_pause, pk)

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        return self._act(job_services.job_resume, pk)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._act(job_services.job_cancel, pk)

    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        return self._act(job_services.job_retry, pk)
