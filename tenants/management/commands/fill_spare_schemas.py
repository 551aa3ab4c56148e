import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.cloning import spare_schemas_fill
from tenants.migrating import MigrationInProgress


class Command(BaseCommand):
    help = "Clone the tenant template until N spare schemas are ready for provisioning."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=settings.RELIST_TENANT_SPARE_SCHEMAS)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            made = spare_schemas_fill(size=int(options["size"]))
        except MigrationInProgress as error:
            raise CommandError(error.message) from error
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{made} spare schemas cloned in {elapsed:.2f}s")
