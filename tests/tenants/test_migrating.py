"""migrate_tenants: current schemas skipped without a catalogue scan, stale ones migrated (in
parallel too), an interrupted run resumed, and no overlap with provisioning. Every test makes
its own tenants in autocommit (`committed`, which drops them afterwards)."""

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from tenants import migrating
from tenants.cloning import spare_schemas_fill
from tenants.migrating import (
    MigrationInProgress,
    migration_lock,
    migration_target,
    tenants_migrate,
)
from tenants.models import SpareSchema, Tenant
from tenants.services import tenant_provision
from tests.tenants.test_provisioning import committed  # noqa: F401 - fixture

SCHEMAS = ("test_mig_a", "test_mig_b", "test_mig_c")


@pytest.fixture
def shops(committed):  # noqa: F811
    """Three tenants provisioned and committed; all current."""
    committed.schemas.extend(SCHEMAS)
    for schema in SCHEMAS:
        tenant_provision(schema_name=schema, name=schema)
    return committed


def _state(schema: str) -> str:
    return Tenant.objects.get(schema_name=schema).migration_state


def _records(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {schema}.django_migrations")
        return set(cursor.fetchall())


def _forget(schema: str, *keys: tuple[str, str]) -> None:
    """Make a schema stale: its state row and some of its migration records are gone."""
    Tenant.objects.filter(schema_name=schema).update(migration_state="")
    with connection.cursor() as cursor:
        for app, name in keys:
            cursor.execute(
                f"DELETE FROM {schema}.django_migrations WHERE app = %s AND name = %s", [app, name]
            )


def _leaf(app: str) -> tuple[str, str]:
    return [key for key in migration_target().plan if key[0] == app][-1]


MARKETPLACE_LAST = _leaf("marketplace")
TENANTS_LAST = _leaf("tenants")


def test_current_schemas_are_skipped_with_no_catalogue_scan(shops):
    # given tenants that are all current
    # when the tenants are migrated, once with three and once with a fourth tenant more
    with CaptureQueriesContext(connection) as first:
        run = tenants_migrate(processes=1)
    shops.schemas.append("test_mig_d")
    tenant_provision(schema_name="test_mig_d", name="d")
    with CaptureQueriesContext(connection) as second:
        again = tenants_migrate(processes=1)

    # then nothing was visited: no pg_class scan, and as many queries whatever the tenant count
    statements = [query["sql"] for query in first.captured_queries + second.captured_queries]
    assert not [sql for sql in statements if "pg_class" in sql or "information_schema" in sql]
    assert not [sql for sql in statements if "django_migrations" in sql]
    assert len(first.captured_queries) == len(second.captured_queries)
    assert (run.skipped, run.migrated, run.failed) == (run.total, [], [])
    assert (again.skipped, again.total) == (run.total + 1, run.total + 1)


def test_verify_reads_each_schema_once_and_changes_nothing(shops):
    # given current tenants
    tenants = Tenant.objects.exclude(schema_name="public").count()

    # when every schema is checked rather than trusting the state rows
    with CaptureQueriesContext(connection) as queries:
        run = tenants_migrate(processes=1, verify=True)

    # then one read of django_migrations per tenant schema, no pg_class scan
    reads = [q["sql"] for q in queries.captured_queries if "django_migrations" in q["sql"]]
    assert len(reads) == tenants
    assert not [q for q in queries.captured_queries if "pg_class" in q["sql"]]
    assert (run.skipped, run.migrated, run.failed) == (tenants, [], [])


def test_a_stale_schema_gets_what_it_misses_and_its_state(shops):
    # given one schema missing a tenant-app migration and a shared-app one
    _forget("test_mig_b", MARKETPLACE_LAST, TENANTS_LAST)
    expected = _records("test_mig_a")

    # when the tenants are migrated
    out = StringIO()
    call_command(
        "migrate_tenants", "--skip-public", "--processes", "1", "--spares", "0", stdout=out
    )

    # then only that schema was migrated, through the executor, and it is current again
    assert _records("test_mig_b") == expected
    assert _state("test_mig_b") == migration_target().fingerprint
    applied = f"{MARKETPLACE_LAST[0]}.{MARKETPLACE_LAST[1]}, {TENANTS_LAST[0]}.{TENANTS_LAST[1]}"
    assert f"test_mig_b: applied {applied} (" in out.getvalue()
    assert "test_mig_a:" not in out.getvalue()
    assert "0 failed" in out.getvalue()


def test_shared_app_migrations_are_only_recorded(shops):
    # given a schema missing only a migration of an app with no tables in tenant schemas
    _forget("test_mig_c", TENANTS_LAST)

    # when the tenants are migrated
    run = tenants_migrate(processes=1)

    # then the migration is recorded without running Django's migrate
    [outcome] = run.migrated
    assert (outcome.schema_name, outcome.recorded_only) == ("test_mig_c", True)
    assert TENANTS_LAST in _records("test_mig_c")


def test_stale_schemas_run_in_parallel_processes(shops):
    # given three stale schemas
    for schema in SCHEMAS:
        _forget(schema, MARKETPLACE_LAST)

    # when two worker processes migrate them
    run = tenants_migrate(processes=2)

    # then each was migrated once and is current
    assert sorted(outcome.schema_name for outcome in run.migrated) == list(SCHEMAS)
    assert run.failed == []
    assert {_state(schema) for schema in SCHEMAS} == {migration_target().fingerprint}
    assert all(MARKETPLACE_LAST in _records(schema) for schema in SCHEMAS)


def test_an_interrupted_run_resumes_where_it_stopped(shops, monkeypatch):
    # given three stale schemas and a run that is killed on the second one
    for schema in SCHEMAS:
        _forget(schema, MARKETPLACE_LAST)
    real = migrating.schema_migrate
    calls = []

    def interrupted(**kwargs):
        calls.append(kwargs["schema_name"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(**kwargs)

    monkeypatch.setattr(migrating, "schema_migrate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tenants_migrate(processes=1)
    monkeypatch.setattr(migrating, "schema_migrate", real)

    # when the run is started again
    seen = []
    run = tenants_migrate(processes=1, progress=lambda outcome: seen.append(outcome.schema_name))

    # then the first schema is not visited again; the other two are migrated
    assert calls == ["test_mig_a", "test_mig_b"]
    assert seen == ["test_mig_b", "test_mig_c"]
    assert [outcome.schema_name for outcome in run.migrated] == ["test_mig_b", "test_mig_c"]
    assert {_state(schema) for schema in SCHEMAS} == {migration_target().fingerprint}


def test_migrating_refuses_to_start_while_a_provisioning_holds_the_lock(shops):
    # given a provisioning in progress on another connection (shared lock in its transaction)
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [migrating.LOCK_KEY])

        # when the tenants are migrated with a short wait / then it refuses, having done nothing
        _forget("test_mig_a", MARKETPLACE_LAST)
        with pytest.raises(MigrationInProgress, match="Provisioning is running"):
            tenants_migrate(processes=1, lock_timeout_s=0.2)
        assert MARKETPLACE_LAST not in _records("test_mig_a")
    finally:
        other.rollback()
        other.close()


def test_provisioning_refuses_while_a_migration_runs(shops, settings):
    # given a migration run holding the lock
    settings.RELIST_TENANT_LOCK_TIMEOUT_S = 0.2
    shops.schemas.append("test_mig_late")
    # when a tenant is provisioned / then it is refused and nothing is created
    with (
        migration_lock(timeout_s=1),
        pytest.raises(MigrationInProgress, match="Tenant migrations are running"),
    ):
        tenant_provision(schema_name="test_mig_late", name="late")
    assert not Tenant.objects.filter(schema_name="test_mig_late").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'test_mig_late'")
        assert cursor.fetchone() is None


def test_spares_cloned_before_a_change_are_replaced(shops):
    # given two spare schemas, one of them cloned before the migrations changed
    spare_schemas_fill(size=2)
    old, current = SpareSchema.objects.order_by("id")
    SpareSchema.objects.filter(pk=old.pk).update(migration_state="before-the-deploy")

    # when the tenants are migrated, then the spares refilled to two
    out = StringIO()
    call_command("migrate_tenants", "--skip-public", "--spares", "2", stdout=out)

    # then the old spare is gone (row and schema); two current spares are ready
    names = set(SpareSchema.objects.values_list("schema_name", flat=True))
    assert old.schema_name not in names
    assert current.schema_name in names
    assert len(names) == 2
    assert set(SpareSchema.objects.values_list("migration_state", flat=True)) == {
        migration_target().fingerprint
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [old.schema_name])
        assert cursor.fetchone() is None
    assert "1 spare schemas cloned from the template" in out.getvalue()


def test_a_schema_with_holes_in_its_history_is_reported_not_recorded_current(shops):
    # given a schema missing a migration whose successor is recorded (no deploy does this)
    before_last = [key for key in migration_target().plan if key[0] == "marketplace"][-2]
    _forget("test_mig_a", before_last)

    # when the tenants are migrated
    run = tenants_migrate(processes=1)

    # then the schema is reported as failed and stays stale for the next run
    [failed] = run.failed
    assert failed.schema_name == "test_mig_a"
    assert failed.error  # Django's executor skips the hole, or cannot build the state
    assert _state("test_mig_a") == ""


def test_a_worker_that_dies_leaves_its_schemas_stale_and_the_run_finishes(shops, monkeypatch):
    # given three stale schemas, and a worker process that dies on one of them
    for schema in SCHEMAS:
        _forget(schema, MARKETPLACE_LAST)
    real = migrating._migrate_and_record

    def dies_on_b(item):
        if item[0] == "test_mig_b":
            os._exit(3)  # in the forked worker: as if killed
        return real(item)

    monkeypatch.setattr(migrating, "_migrate_and_record", dies_on_b)

    # when two worker processes migrate them
    run = tenants_migrate(processes=2)

    # then the others were migrated; that one is reported failed and stays stale
    assert sorted(outcome.schema_name for outcome in run.migrated) == ["test_mig_a", "test_mig_c"]
    assert [(f.schema_name, f.error) for f in run.failed] == [
        ("test_mig_b", "the worker process died")
    ]
    assert _state("test_mig_b") == ""
    assert _state("test_mig_c") == migration_target().fingerprint
