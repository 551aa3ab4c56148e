"""Read-side queries of batches, always inside the request's (or task's) tenant schema."""

from django.db.models import QuerySet, Subquery

from batches.models import BatchJob


def batch_list() -> QuerySet[BatchJob]:
    return BatchJob.objects.all()


def batch_pk_subquery(*, batch_id: str) -> Subquery:
    """The pk of the batch with public id `batch_id`, as a scalar subquery: a job filter on it
    stays one SELECT and lets PostgreSQL walk the (batch, -id) index of that batch's jobs."""
    return Subquery(BatchJob.objects.filter(batch_id=batch_id).values("pk")[:1])
