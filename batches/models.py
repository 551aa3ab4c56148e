from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from batches.states import BatchStatus
from marketplace.states import JobPriority, Marketplace


class BatchJob(models.Model):
    """One bulk request: an action on many products across one or more marketplaces."""

    batch_id = models.CharField(max_length=64, unique=True)
    marketplaces = ArrayField(models.CharField(max_length=16, choices=Marketplace.choices))
    action = models.CharField(max_length=32)
    priority = models.PositiveSmallIntegerField(
        choices=JobPriority.choices, default=JobPriority.NORMAL
    )
    status = models.CharField(
        max_length=20, choices=BatchStatus.choices, default=BatchStatus.PENDING
    )
    total_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    cancelled_count = models.PositiveIntegerField(default=0)
    expired_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Users live in public; a collector walking into tenant tables from there would
        # fail. The id stays as a plain reference (no constraint), like an audit log.
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When every job has been handed to the broker (creation answers before that).
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=("status", "-id"), name="batch_status_id_idx")]

    def __str__(self) -> str:
        return self.batch_id

    @property
    def processed_count(self) -> int:
        return self.completed_count + self.failed_count + self.cancelled_count + self.expired_count

    @property
    def pending_count(self) -> int:
        return self.total_count - self.processed_count

    @property
    def progress_percent(self) -> float:
        if not self.total_count:
            return 0.0
        return round(self.processed_count * 100 / self.total_count, 2)

    @property
    def is_terminal(self) -> bool:
        return self.total_count > 0 and self.processed_count >= self.total_count
