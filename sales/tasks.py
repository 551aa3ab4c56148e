"""Celery entrypoints of the sales domain."""

from celery import shared_task


@shared_task(name="sales.sync_due", ignore_result=True, soft_time_limit=50, time_limit=55)
def sync_due_task() -> int:
    from sales.services.sync import sale_syncs_run_due  # noqa: PLC0415

    return sale_syncs_run_due()
