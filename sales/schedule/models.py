"""Public index of scheduled order syncs: one row per (tenant, connected marketplace)."""

from django.db import models

from marketplace.states import Marketplace


class SyncSchedule(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    interval_s = models.PositiveIntegerField(default=120)
    next_run_at = models.DateTimeField()
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("tenant", "marketplace"), name="sync_schedule_unique")
        ]
        indexes = [
            models.Index(
                fields=("next_run_at",),
                name="sync_schedule_due_idx",
                condition=models.Q(enabled=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.marketplace} every {self.interval_s}s"
