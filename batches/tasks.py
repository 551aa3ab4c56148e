"""Celery entrypoints for batches: parse ids, call one service."""

from celery import shared_task


@shared_task(
    name="batches.enqueue_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=300,
    time_limit=330,
)
def enqueue_batch_task(batch_pk: int) -> int:
    from batches.services import batch_enqueue_jobs  # noqa: PLC0415

    return batch_enqueue_jobs(batch_pk=batch_pk)
