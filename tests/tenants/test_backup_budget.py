"""check_backup_budget: whether pg_dump's locks fit the server's lock table, and what to set."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tenants.backups import CATALOG_LOCKS, BackupBudget


def _budget(**changes: int) -> BackupBudget:
    values = {
        "max_locks_per_transaction": 64,
        "max_connections": 100,
        "max_prepared_transactions": 0,
        "tenants": 0,
        "tables_per_tenant": 12,
        "other_tables": 40,
    }
    return BackupBudget(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "fits", "max_tenants"),
    [
        ({"tenants": 400}, True, 410),
        ({"tenants": 410}, True, 410),
        ({"tenants": 411}, False, 410),
        ({"tenants": 3000}, False, 410),
        ({"tenants": 3000, "max_locks_per_transaction": 512}, True, 3396),
        ({"tenants": 600, "max_prepared_transactions": 100}, True, 836),
    ],
    ids=["default-400", "default-limit", "default-over", "3000", "3000-raised", "prepared"],
)
def test_verdict_for_given_settings(changes, fits, max_tenants):
    # given the server's settings and the tenants / when the budget is judged
    budget = _budget(**changes)

    # then pg_dump fits while its locks stay within 80 % of the lock table
    assert (budget.fits, budget.max_tenants) == (fits, max_tenants)
    assert budget.locks_needed() == CATALOG_LOCKS + 40 + 12 * changes["tenants"]


@pytest.mark.parametrize(
    ("tenants", "setting"), [(100, 64), (1000, 192), (3000, 512), (10000, 1536)]
)
def test_the_setting_to_change_fits_what_it_was_computed_for(tenants, setting):
    # given a tenant count / when the setting is asked for
    advised = _budget().setting_for(tenants)

    # then it is the smallest multiple of 64 that fits, and it does fit
    assert advised == setting
    assert _budget(tenants=tenants, max_locks_per_transaction=advised).fits
    assert (
        advised == 64 or not _budget(tenants=tenants, max_locks_per_transaction=advised - 64).fits
    )


def test_the_command_reads_the_server_and_passes_today(test_tenants, db):
    # given the test database (a few tenants, the server's default lock settings or more)
    out = StringIO()

    # when the budget is checked
    call_command("check_backup_budget", stdout=out)

    # then it reports the lock table, the tenants and tables counted, and fits
    text = out.getvalue()
    assert "lock table: max_locks_per_transaction" in text
    with connection.cursor() as cursor:  # the tables of one tenant schema, as pg_dump sees them
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'test_shop_a'")
        per_tenant = cursor.fetchone()[0]
    assert f"tenants x {per_tenant} tables" in text
    assert "pg_dump fits." in text


def test_the_command_names_the_setting_when_pg_dump_would_not_fit(db):
    # given settings too small for 3,000 tenants
    arguments = ["--tenants", "3000", "--max-locks", "64", "--max-connections", "100"]

    # when checked / then it fails and says what to set (for twice as many tenants)
    with pytest.raises(CommandError, match=r"NOT fit: set max_locks_per_transaction = (\d+)") as e:
        call_command("check_backup_budget", *arguments, "--max-prepared", "0", stdout=StringIO())
    advised = int(str(e.value).split("= ")[1].split(" ")[0])
    assert advised % 64 == 0
    assert advised * 100 * 0.8 >= 6000 * 12
