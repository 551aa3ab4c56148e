from datetime import timedelta

from django.db import models

from marketplace.states import JobPriority, Marketplace


class MarketplaceActionType(models.Model):
    """What can be done on a marketplace, with its execution defaults (public schema)."""

    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    default_priority = models.PositiveSmallIntegerField(
        choices=JobPriority.choices, default=JobPriority.NORMAL
    )
    max_retries = models.PositiveSmallIntegerField(default=5)
    expiry = models.DurationField(default=timedelta(hours=1))
    step_timeout = models.DurationField(default=timedelta(seconds=60))
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("marketplace", "code"), name="action_type_unique")
        ]
        ordering = ("marketplace", "code")

    def __str__(self) -> str:
        return f"{self.marketplace}:{self.code}"
