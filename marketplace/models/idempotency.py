"""The first answer to a create request that carried an Idempotency-Key (DESIGN §3)."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """Replayed, status and body, for every repeat of the same request; a different request
    under the same key is refused. Lives in the tenant's schema, so keys are per shop."""

    scope = models.CharField(max_length=32)  # the endpoint: "jobs", "batches"
    key = models.CharField(max_length=200)
    # SHA-256 of the canonical JSON of the validated request body.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # Kept as text, not jsonb, so a replay has the first answer's key order byte for byte.
    response_body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,  # see MarketplaceJob.created_by
        related_name="+",
        db_constraint=False,  # users live in public; the tenant schema must not depend on them
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("scope", "key"), name="idempotency_unique_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
