import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ValidationFailed
from tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Provision a tenant: create and migrate its schema, add its domain and its owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema_name", help="PostgreSQL schema, e.g. shop1")
        parser.add_argument("--name", help="Display name (default: the schema name)")
        parser.add_argument("--domain", help="Host served for it (default: <schema>.localhost)")
        parser.add_argument("--owner", help="Username of the owner (created when missing)")
        parser.add_argument("--owner-email", default="")
        parser.add_argument("--owner-password")
        parser.add_argument(
            "--database",
            default="default",
            help="Database alias for its schema (default, or one of RELIST_TENANT_DATABASES)",
        )

    def handle(self, *args: object, **options: str) -> None:
        started = time.perf_counter()
        try:
            tenant = tenant_provision(
                schema_name=options["schema_name"],
                name=options["name"] or options["schema_name"],
                domain=options["domain"],
                owner_username=options["owner"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                database=options["database"],
            )
        except ValidationFailed as error:
            raise CommandError(f"{error.message} {error.details}") from error
        domain = tenant.domains.get(is_primary=True).domain
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Provisioned {tenant.schema_name} at {domain} on {tenant.database} "
                f"in {elapsed:.2f}s"
            )
        )
