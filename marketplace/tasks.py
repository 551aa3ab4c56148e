"""Celery entrypoints only: parse ids, call one service. The tenant schema travels in the
message headers (tenant-schemas-celery) and the task fails loudly if it does not exist."""

from celery import shared_task
from django.utils import timezone

# Celery's countdown stays well under the broker's visibility timeout (Redis redelivers older
# unacknowledged messages); longer waits are left to beat's dispatch of due jobs.
MAX_COUNTDOWN_S = 900


@shared_task(
    name="marketplace.run_job",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
    soft_time_limit=600,
    time_limit=660,
)
def run_job_task(self, job_id: int) -> str:
    from marketplace.services.runner import job_run  # noqa: PLC0415

    outcome = job_run(job_id=job_id)
    if outcome.retry_at is not None:
        countdown = max((outcome.retry_at - timezone.now()).total_seconds(), 0.0)
        if countdown <= MAX_COUNTDOWN_S:
            raise self.retry(countdown=countdown)
    return outcome.status


@shared_task(name="marketplace.sweep", ignore_result=True, soft_time_limit=50, time_limit=55)
def sweep_task(full: bool = False) -> int:
    from marketplace.services.sweep import sweep_all  # noqa: PLC0415

    return len(sweep_all(full=full))
