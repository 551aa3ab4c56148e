"""The top-up's next pending jobs of a marketplace, in (priority, id) order, without sorting the
tenant's whole backlog (sql.TOP_UP).

Created with IF NOT EXISTS: migrate_tenants resumes per schema, and a schema whose migration
records were lost (tests/tenants/test_migrating.py makes such schemas) must take the migration
again without failing on an index it already has."""

from django.conf import settings
from django.db import migrations, models

INDEX = models.Index(
    condition=models.Q(("status", "pending")),
    fields=["marketplace", "priority", "id"],
    name="job_pending_next_idx",
)


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0002_users_do_nothing"),
        ("catalogue", "0002_seed_action_types"),
        ("marketplace", "0007_merge_engine_and_mappings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'CREATE INDEX IF NOT EXISTS "job_pending_next_idx" ON '
                    '"marketplace_marketplacejob" ("marketplace", "priority", "id") '
                    "WHERE \"status\" = 'pending'",
                    reverse_sql='DROP INDEX IF EXISTS "job_pending_next_idx"',
                )
            ],
            state_operations=[migrations.AddIndex(model_name="marketplacejob", index=INDEX)],
        ),
    ]
