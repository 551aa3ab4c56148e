"""The provision_tenant and remove_tenant commands, and cloning from the template. Provisioning
commits (a schema other connections must see): those tests run in autocommit (like
`live_tenant`) and remove what they made at the end, even when they fail. The refusals run
inside the usual rolled-back test transaction."""

import re
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists

from core.errors import TenantNotFound
from marketplace.models import MarketplaceJob
from tenants.cloning import spare_schemas_fill, template_refresh
from tenants.context import tenant_context
from tenants.migrating import migration_target
from tenants.models import (
    Domain,
    Membership,
    MembershipRole,
    SchemaTemplate,
    SpareSchema,
    Tenant,
)
from tenants.services import tenant_delete, tenant_provision
from tenants.tasks import fill_spare_schemas_task
from tests.factories.marketplace import make_job

SCHEMA = "test_provisioned"


@dataclass
class Leftovers:
    """What a test made outside any transaction, to remove afterwards."""

    schemas: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)


@pytest.fixture
def committed(test_tenants, django_db_blocker) -> Iterator[Leftovers]:
    """Autocommit in the public schema; drops the schemas and users listed, and any spare
    schema, whatever happens."""
    leftovers = Leftovers()
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        try:
            yield leftovers
        finally:
            connection.set_schema_to_public()
            for schema in leftovers.schemas:
                with suppress(TenantNotFound):
                    tenant_delete(schema_name=schema)
            spares = list(SpareSchema.objects.values_list("schema_name", flat=True))
            SpareSchema.objects.all().delete()
            with connection.cursor() as cursor:
                for schema in leftovers.schemas + spares:
                    cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                # Raw: deleting a user through the ORM from `public` fails while tenant tables
                # point at users (see test_isolation's xfail); these users own nothing else.
                cursor.execute(
                    "DELETE FROM auth_user WHERE username = ANY(%s)", [leftovers.usernames]
                )


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_catalog.pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def test_provision_then_remove_a_tenant(committed, no_broker):
    # given a schema name that is free
    committed.schemas.append(SCHEMA)
    committed.usernames.append("test-owner")
    out = StringIO()

    # when the tenant is provisioned with an owner
    call_command(
        "provision_tenant",
        SCHEMA,
        "--name",
        "Provisioned shop",
        "--owner",
        "test-owner",
        "--owner-email",
        "owner@example.com",
        "--owner-password",
        "s3cret-pass",
        stdout=out,
    )

    # then the schema exists, migrated, with its domain and its owner
    tenant = Tenant.objects.get(schema_name=SCHEMA)
    assert schema_exists(SCHEMA)
    assert {"marketplace_marketplacejob", "batches_batchjob", "django_migrations"} <= _tables(
        SCHEMA
    )
    assert tenant.name == "Provisioned shop"
    assert list(tenant.domains.values_list("domain", "is_primary")) == [
        ("test-provisioned.localhost", True)
    ]
    owner = Membership.objects.select_related("user").get(tenant=tenant)
    assert (owner.user.username, owner.user.email, owner.role) == (
        "test-owner",
        "owner@example.com",
        MembershipRole.OWNER,
    )
    assert owner.user.check_password("s3cret-pass")
    assert re.fullmatch(
        r"Provisioned test_provisioned at test-provisioned\.localhost on default in \d+\.\d\ds\n",
        out.getvalue(),
    )
    # and the new shop works: a job can be made in it
    with tenant_context(SCHEMA):
        job = make_job()
        assert MarketplaceJob.objects.filter(pk=job.pk).count() == 1

    # when it is removed
    removed = StringIO()
    call_command("remove_tenant", SCHEMA, "--yes", stdout=removed)

    # then its schema, row, domain and memberships are gone; the owner's account stays
    assert not schema_exists(SCHEMA)
    assert _tables(SCHEMA) == set()
    assert not Tenant.objects.filter(schema_name=SCHEMA).exists()
    assert not Domain.objects.filter(domain="test-provisioned.localhost").exists()
    assert not Membership.objects.filter(user__username="test-owner").exists()
    assert get_user_model().objects.filter(username="test-owner").exists()
    assert removed.getvalue() == f"Removed {SCHEMA}\n"


def test_remove_without_confirmation_keeps_the_tenant(tenant, other_tenant, monkeypatch):
    # given a tenant (inside the test transaction: even a wrong DROP SCHEMA would roll back)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    tables_before = _tables(other_tenant.schema_name)
    assert "marketplace_marketplacejob" in tables_before

    # when its removal is not confirmed
    with pytest.raises(CommandError, match=r"^Aborted\.$"):
        call_command("remove_tenant", other_tenant.schema_name, stdout=StringIO())

    # then nothing was dropped
    assert schema_exists(other_tenant.schema_name)
    assert Tenant.objects.filter(pk=other_tenant.pk).exists()
    assert _tables(other_tenant.schema_name) == tables_before


@pytest.mark.parametrize(
    "schema_name",
    ["Shop_a", "1shop", "pg_shop", "public", "s", "shop-a", "shop;drop", "a" * 64, ""],
    ids=[
        "upper-case",
        "leading-digit",
        "pg-prefix",
        "public",
        "too-short",
        "hyphen",
        "semicolon",
        "too-long",
        "empty",
    ],
)
def test_bad_schema_names_are_refused(db, schema_name):
    # given the tenants and schemas that exist
    tenants_before = list(Tenant.objects.values_list("schema_name", flat=True))
    schemas_before = _schemas()

    # when a tenant with a bad schema name is asked for
    with pytest.raises(CommandError, match=r"^Schema names are 2-63 lower-case letters"):
        call_command("provision_tenant", schema_name, stdout=StringIO())

    # then nothing is created
    assert list(Tenant.objects.values_list("schema_name", flat=True)) == tenants_before
    assert _schemas() == schemas_before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["test_shop_a"], "^This tenant exists already."),
        (["test_fresh_shop", "--domain", "shop-a.test.localhost"], "^This domain is taken."),
    ],
    ids=["existing-schema", "taken-domain"],
)
def test_duplicates_are_refused(tenant, arguments, message):
    # given the session's tenants
    tenants_before = list(Tenant.objects.values_list("schema_name", flat=True))

    # when a tenant or a domain that exists is asked for again
    with pytest.raises(CommandError, match=message):
        call_command("provision_tenant", *arguments, stdout=StringIO())

    # then nothing is created
    assert list(Tenant.objects.values_list("schema_name", flat=True)) == tenants_before
    assert not schema_exists("test_fresh_shop")


@pytest.mark.parametrize(
    ("schema_name", "message"),
    [("no_such_shop", "No tenant with schema 'no_such_shop'."), ("public", "The public schema")],
    ids=["unknown", "public"],
)
def test_remove_refuses_what_is_not_a_tenant(db, schema_name, message):
    # given / when removing a schema that is no tenant / then it is refused, nothing removed
    tenants_before = Tenant.objects.count()
    with pytest.raises(CommandError, match=f"^{re.escape(message)}"):
        call_command("remove_tenant", schema_name, "--yes", stdout=StringIO())
    assert schema_exists("public")
    assert Tenant.objects.count() == tenants_before


def _signature(schema: str) -> dict[str, set]:
    """What a schema is made of, with its own name taken out so two schemas compare."""
    queries = {
        "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default,
                      is_identity, character_maximum_length
                      FROM information_schema.columns WHERE table_schema = %(s)s""",
        "constraints": """SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
                          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s""",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s",
        "sequences": "SELECT sequencename, increment_by FROM pg_sequences WHERE schemaname = %(s)s",
        "migrations": f'SELECT app, name FROM "{schema}".django_migrations',
        "content_types": f'SELECT app_label, model FROM "{schema}".django_content_type',
    }
    signature = {}
    with connection.cursor() as cursor:
        for kind, sql in queries.items():
            cursor.execute(sql, {"s": schema})
            signature[kind] = {
                tuple(str(value).replace(schema, "<schema>") for value in row)
                for row in cursor.fetchall()
            }
    return signature


def test_a_cloned_tenant_matches_a_migrated_one(committed, no_broker):
    # given a schema made the slow way: every migration run by django-tenants
    committed.schemas.extend(["test_migrated_ref", "test_cloned"])
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA test_migrated_ref")
    call_command("migrate_schemas", schema_name="test_migrated_ref", interactive=False, verbosity=0)

    # when a tenant is provisioned (cloned from the template)
    tenant = tenant_provision(schema_name="test_cloned", name="Cloned")

    # then it has exactly the tables, columns, constraints, indexes and records of the other
    cloned, migrated = _signature("test_cloned"), _signature("test_migrated_ref")
    assert cloned == migrated
    assert len(cloned["columns"]) > 100
    assert tenant.migration_state == migration_target().fingerprint
    # and it works: a product and a job are made in it, with their own ids
    with tenant_context("test_cloned"):
        job = make_job()
        assert MarketplaceJob.objects.filter(pk=job.pk, product__isnull=False).count() == 1


def test_provisioning_refreshes_a_stale_template(committed, no_broker):
    # given a deploy whose migrations differ from what the template was dumped at
    committed.schemas.append("test_after_deploy")
    SchemaTemplate.objects.update(migration_state="stale")

    # when a tenant is provisioned
    tenant_provision(schema_name="test_after_deploy", name="After deploy")

    # then the template was brought current first, and the tenant cloned from it
    assert SchemaTemplate.objects.get().migration_state == migration_target().fingerprint
    assert (
        _signature("test_after_deploy")["migrations"]
        == _signature(settings.RELIST_TENANT_TEMPLATE_SCHEMA)["migrations"]
    )


def test_provisioning_renames_a_spare_schema(committed, no_broker):
    # given one spare schema ready
    committed.schemas.extend(["test_migrated_ref2", "test_from_spare"])
    assert spare_schemas_fill(size=1) == 1
    spare = SpareSchema.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA test_migrated_ref2")
    call_command(
        "migrate_schemas", schema_name="test_migrated_ref2", interactive=False, verbosity=0
    )

    # when a tenant is provisioned
    tenant_provision(schema_name="test_from_spare", name="From a spare")

    # then the spare became the tenant's schema: gone under its old name, used up
    assert spare.schema_name not in _schemas()
    assert not SpareSchema.objects.exists()
    assert _signature("test_from_spare") == _signature("test_migrated_ref2")
    with tenant_context("test_from_spare"):
        job = make_job()
        assert MarketplaceJob.objects.filter(pk=job.pk).count() == 1


@pytest.fixture
def without_pg_dump(settings):
    """No pg_dump where the template is refreshed; the real template is restored afterwards."""
    settings.RELIST_PG_DUMP = "/nonexistent/pg_dump"
    SchemaTemplate.objects.update(migration_state="before-the-deploy")
    yield
    settings.RELIST_PG_DUMP = "pg_dump"
    template_refresh(force=True)


def test_without_pg_dump_provisioning_migrates_the_schema(committed, no_broker, without_pg_dump):
    # given a deploy on a host without pg_dump (the template cannot be dumped)
    committed.schemas.extend(["test_no_dump", "test_no_dump_ref"])
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA test_no_dump_ref")
    call_command("migrate_schemas", schema_name="test_no_dump_ref", interactive=False, verbosity=0)

    # when a tenant is provisioned
    tenant_provision(schema_name="test_no_dump", name="No dump")

    # then the template has no script, and the tenant was migrated instead: same schema
    assert SchemaTemplate.objects.get().ddl == ""
    assert _signature("test_no_dump") == _signature("test_no_dump_ref")


def test_the_beat_task_tops_the_spares_up(committed, settings):
    # given no spare schema and a setting of two
    settings.RELIST_TENANT_SPARE_SCHEMAS = 2

    # when the task runs twice
    made = [fill_spare_schemas_task.apply().get() for _ in range(2)]

    # then two spares were cloned by the first run, none by the second
    assert made == [2, 0]
    assert set(SpareSchema.objects.values_list("schema_name", flat=True)) <= _schemas()
    assert SpareSchema.objects.count() == 2


def test_concurrent_provisionings_take_different_spares(committed, monkeypatch):
    # given two spares, and no clone allowed
    committed.schemas.extend(["test_conc_a", "test_conc_b"])
    spare_schemas_fill(size=2)
    monkeypatch.setattr("tenants.services.schema_clone", _no_clone)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def provision(schema: str) -> None:
        try:
            barrier.wait(timeout=10)
            tenant_provision(schema_name=schema, name=schema)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    # when two tenants are provisioned at the same moment
    schemas = ("test_conc_a", "test_conc_b")
    threads = [threading.Thread(target=provision, args=(schema,)) for schema in schemas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then each got its own spare: both exist, no spare is left, nothing was cloned
    assert errors == []
    assert {"test_conc_a", "test_conc_b"} <= _schemas()
    assert Tenant.objects.filter(schema_name__in=["test_conc_a", "test_conc_b"]).count() == 2
    assert not SpareSchema.objects.exists()


def _no_clone(**kwargs):
    raise AssertionError("cloned although a spare was free")
