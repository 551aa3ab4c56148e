from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.backups import DUMP_SHARE, backup_budget_read
from tenants.databases import UnknownDatabase, tenant_database_check


class Command(BaseCommand):
    help = (
        "Say whether pg_dump of the whole database fits in PostgreSQL's lock table, and the "
        "max_locks_per_transaction to set when it does not. Exits 1 when it does not fit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenants", type=int, help="Check for this many tenants instead")
        parser.add_argument(
            "--database", default="default", help="The database to check (each is dumped alone)"
        )
        parser.add_argument("--max-locks", type=int, dest="max_locks_per_transaction")
        parser.add_argument("--max-connections", type=int, dest="max_connections")
        parser.add_argument("--max-prepared", type=int, dest="max_prepared_transactions")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant_database_check(options["database"])
        except UnknownDatabase as error:
            raise CommandError(error.message) from error
        budget = backup_budget_read(
            database=options["database"],
            tenants=options["tenants"],
            max_locks_per_transaction=options["max_locks_per_transaction"],
            max_connections=options["max_connections"],
            max_prepared_transactions=options["max_prepared_transactions"],
        )
        needed = budget.locks_needed()
        self.stdout.write(
            f"lock table: max_locks_per_transaction {budget.max_locks_per_transaction} x "
            f"(max_connections {budget.max_connections} + max_prepared_transactions "
            f"{budget.max_prepared_transactions}) = {budget.lock_table} locks\n"
            f"pg_dump needs ~{needed} locks: {budget.tenants} tenants x "
            f"{budget.tables_per_tenant} tables + {budget.other_tables} other tables + catalogue\n"
            f"room for ~{budget.max_tenants} tenants at {DUMP_SHARE:.0%} of the lock table"
        )
        if not budget.fits:
            raise CommandError(
                f"pg_dump would NOT fit: set max_locks_per_transaction = "
                f"{budget.setting_for(budget.tenants * 2)} (room for twice as many tenants; "
                "needs a restart), or back up physically (pg_basebackup + WAL archiving)."
            )
        message = "pg_dump fits."
        if budget.max_tenants < 2 * budget.tenants:
            message += (
                f" Room for less than twice as many tenants: plan max_locks_per_transaction = "
                f"{budget.setting_for(budget.tenants * 2)} or physical backups."
            )
        self.stdout.write(self.style.SUCCESS(message))
