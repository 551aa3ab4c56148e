"""The public index of due work: one row per tenant that has non-terminal jobs.

Beat reads this table (never Redis, never every schema) to know which tenants to sweep. A row is
written in the same transaction that creates or re-opens a job (job_create, batch_create,
resume, retry), so a lost Redis loses nothing; the sweep deletes it, under its row lock, when the
tenant has nothing left, so a job created meanwhile can never be forgotten."""

from django.db import models


class DueWork(models.Model):
    schema_name = models.CharField(max_length=63, primary_key=True)
    # The sweep visits a tenant once `wake_at` passed; set to "now" by new work and to the next
    # sweep by the sweep itself.
    wake_at = models.DateTimeField()

    class Meta:
        db_table = "engine_duework"
        indexes = [models.Index(fields=("wake_at",), name="duework_wake_idx")]

    def __str__(self) -> str:
        return f"{self.schema_name} @ {self.wake_at}"
