from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from tenants.models import Tenant
from tenants.moving import settle_seconds, tenant_move, tenant_move_abort


class Command(BaseCommand):
    help = (
        "Move a tenant's schema to another database (an alias of settings.DATABASES): the shop "
        "is under maintenance meanwhile; safe to interrupt, run again to resume. "
        "docs/tenants.md#moving-a-tenant"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema_name", help="The tenant's schema, e.g. shop1")
        parser.add_argument(
            "database", nargs="?", help="Target alias: default or one of RELIST_TENANT_DATABASES"
        )
        parser.add_argument(
            "--abort",
            action="store_true",
            help="Give up a move that has not switched yet: the tenant stays where it was.",
        )
        parser.add_argument(
            "--settle-seconds",
            type=float,
            default=None,
            help="Wait after flagging the tenant, so every process sees it (default: the "
            f"longest tenant cache + 5 s, now {settle_seconds():.0f} s).",
        )
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=None,
            help="How long to wait for its running jobs (RELIST_TENANT_MOVE_DRAIN_S).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema = options["schema_name"]
        try:
            if options["abort"]:
                tenant = tenant_move_abort(schema_name=schema)
                self.stdout.write(f"{schema} stays on {tenant.database}; no move in progress")
                return
            if not options["database"]:
                raise CommandError("Name the target database (or pass --abort).")
            report = tenant_move(
                schema_name=schema,
                database=options["database"],
                settle_s=options["settle_seconds"],
                drain_s=options["drain_seconds"],
                progress=self.stdout.write,
            )
        except ApplicationError as error:
            flagged = Tenant.objects.filter(schema_name=schema).exclude(moving_to="").first()
            hint = (
                f" {schema} is still under maintenance (moving to {flagged.moving_to}): run the "
                f"command again to resume, or pass --abort."
                if flagged is not None
                else ""
            )
            raise CommandError(error.message + hint) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"{schema}: {report.source} -> {report.target}, {report.rows} rows "
                f"in {report.seconds:.2f}s"
            )
        )
