"""The job's idempotency key stays unique (the same constraint, now declared in
Meta.constraints) without the varchar_pattern_ops index Django adds beside a unique CharField on
PostgreSQL: nothing searches keys by LIKE, and every job insert wrote it (~25 ms of a 10,000-job
batch's insert).

Only the index is dropped in the database (IF EXISTS: migrate_tenants resumes per schema, and a
schema whose migration records were lost takes the migration again); the unique constraint is
the one already there, under PostgreSQL's own name for it."""

from django.db import migrations, models

LIKE_INDEX = "marketplace_marketplacejob_idempotency_key_552db2be_like"


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0008_job_pending_next_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{LIKE_INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX IF NOT EXISTS "{LIKE_INDEX}" ON '
                        '"marketplace_marketplacejob" ("idempotency_key" varchar_pattern_ops)'
                    ),
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="marketplacejob",
                    name="idempotency_key",
                    field=models.CharField(max_length=200),
                ),
                migrations.AddConstraint(
                    model_name="marketplacejob",
                    constraint=models.UniqueConstraint(
                        fields=("idempotency_key",),
                        name="marketplace_marketplacejob_idempotency_key_key",
                    ),
                ),
            ],
        ),
    ]
