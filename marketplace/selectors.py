"""Read-side queries of the marketplace domain. The connection's schema is the tenant scope:
every selector runs inside the request's (or the task's) tenant schema."""

from django.db.models import Prefetch, QuerySet

from marketplace.models import JobEvent, MarketplaceJob, MarketplaceTask


def job_list(*, filters: dict[str, object] | None = None) -> QuerySet[MarketplaceJob]:
    queryset = MarketplaceJob.objects.select_related("action_type")
    return queryset.filter(**(filters or {}))


def job_detail_queryset() -> QuerySet[MarketplaceJob]:
    return job_list().prefetch_related(
        Prefetch("tasks", queryset=MarketplaceTask.objects.order_by("position")),
        Prefetch("events", queryset=JobEvent.objects.order_by("id")),
    )
