from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import TenantNotFound
from tenants.services import tenant_delete


class Command(BaseCommand):
    help = "Delete a tenant and drop its schema (irreversible)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema_name")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation")

    def handle(self, *args: object, **options: object) -> None:
        schema_name = str(options["schema_name"])
        if not options["yes"]:
            answer = input(f"Drop schema {schema_name!r} and all its data? [y/N] ")
            if answer.strip().lower() != "y":
                raise CommandError("Aborted.")
        try:
            tenant_delete(schema_name=schema_name)
        except TenantNotFound as error:
            raise CommandError(error.message) from error
        self.stdout.write(self.style.SUCCESS(f"Removed {schema_name}"))
