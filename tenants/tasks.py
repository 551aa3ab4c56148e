from celery import shared_task


@shared_task(
    name="tenants.fill_spare_schemas", ignore_result=True, soft_time_limit=240, time_limit=270
)
def fill_spare_schemas_task() -> int:
    """Keep RELIST_TENANT_SPARE_SCHEMAS spare schemas ready (beat, on the maintenance queue)."""
    from tenants.cloning import spare_schemas_fill  # noqa: PLC0415

    return spare_schemas_fill()
