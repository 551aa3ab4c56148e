from django.apps import AppConfig


class ScheduleConfig(AppConfig):
    """The public index of (tenant, marketplace) pairs whose orders are synced on a schedule.

    Beat reads only this table, so the cost of sale detection follows the tenants that have a
    connection, never the number of schemas.
    """

    name = "sales.schedule"
    label = "sales_schedule"
