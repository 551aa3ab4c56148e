import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.catalogue.services import catalogue_replicate
from tenants.cloning import spare_schemas_fill
from tenants.databases import PRIMARY, database_use, tenant_database_aliases
from tenants.migrating import MigrationInProgress, SchemaOutcome, tenants_migrate


class Command(BaseCommand):
    help = (
        "Migrate public (on every database), the tenant template and every tenant schema that "
        "is not current, skipping current ones without visiting them; resumable; exclusive "
        "with provisioning."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--processes",
            type=int,
            default=settings.RELIST_MIGRATE_PROCESSES,
            help="Schemas migrated in parallel (one process and connection each).",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Check every schema's django_migrations (one query each) instead of trusting "
            "the state recorded in public.",
        )
        parser.add_argument(
            "--skip-public", action="store_true", help="Do not migrate the public schema first."
        )
        parser.add_argument(
            "--spares",
            type=int,
            default=settings.RELIST_TENANT_SPARE_SCHEMAS,
            help="Spare schemas to have ready after the run (cloned from the template).",
        )
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=settings.RELIST_TENANT_LOCK_TIMEOUT_S,
            help="Seconds to wait for a provisioning in progress.",
        )

    def _migrate_public(self, *, verbosity: int) -> None:
        """The shared apps on every database: the primary's public holds the public data; the
        others' hold what their tenant schemas reference in SQL (the catalogue, copied from
        the primary's, and the due-work index of their own tenants). docs/tenants.md"""
        for alias in tenant_database_aliases():
            if verbosity >= 1 and alias != PRIMARY:
                self.stdout.write(f"Database {alias}: public schema")
            with database_use(alias):
                call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
            if alias != PRIMARY:
                catalogue_replicate(database=alias)

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        if not options["skip_public"]:
            self._migrate_public(verbosity=verbosity)

        def progress(outcome: SchemaOutcome) -> None:
            if outcome.error:
                self.stderr.write(f"{outcome.schema_name}: FAILED {outcome.error}")
            elif outcome.applied and verbosity >= 1:
                how = "recorded" if outcome.recorded_only else "applied"
                self.stdout.write(
                    f"{outcome.schema_name}: {how} {', '.join(outcome.applied)} "
                    f"({outcome.seconds:.2f}s)"
                )

        try:
            run = tenants_migrate(
                processes=int(options["processes"]),
                verify=bool(options["verify"]),
                lock_timeout_s=float(options["lock_timeout"]),
                progress=progress,
            )
        except MigrationInProgress as error:
            raise CommandError(error.message) from error
        summary = (
            f"{run.total} tenant schemas: {run.skipped} current, {len(run.migrated)} migrated, "
            f"{len(run.failed)} failed in {run.seconds:.2f}s"
        )
        if run.failed:
            self.stderr.write(summary)
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(summary))
        made = spare_schemas_fill(size=int(options["spares"]))
        if made and verbosity >= 1:
            self.stdout.write(f"{made} spare schemas cloned from the template")
