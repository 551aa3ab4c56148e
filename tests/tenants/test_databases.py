"""Tenants on two databases: the suite's own second PostgreSQL cluster (`second_database`,
alias shard2) next to the primary. Data is committed (other connections must see it), so each
test cleans what it made."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from core.errors import TenantUnavailable
from marketplace.models import MarketplaceJob, Product
from marketplace.states import JobStatus
from marketplace.tasks import sweep_task
from tenants.context import tenant_context
from tenants.databases import (
    PRIMARY,
    UnknownDatabase,
    active_database,
    database_use,
    primary_connection,
)
from tenants.migrating import tenants_migrate
from tenants.models import Tenant
from tenants.services import tenant_delete, tenant_provision
from tests.conftest import client_for, truncate_tenant_tables
from tests.factories.marketplace import ProductFactory, make_job, marketplaces_connect
from tests.factories.tenants import MembershipFactory, UserFactory

pytestmark = [pytest.mark.slow]

SHARD_SCHEMA = "test_shard_shop"
SHARD_HOST = "shard-shop.test.localhost"


@pytest.fixture(scope="module")
def shard_tenant(second_database: str, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        tenant = tenant_provision(
            schema_name=SHARD_SCHEMA, name="Shard shop", domain=SHARD_HOST, database=second_database
        )
        yield tenant
        tenant_delete(schema_name=SHARD_SCHEMA)


@pytest.fixture
def committed(shard_tenant: Tenant, test_tenants, django_db_blocker) -> Iterator[Tenant]:
    """Autocommit on both databases; the shard tenant's and shop A's tables emptied after."""
    with django_db_blocker.unblock():
        yield shard_tenant
        for schema in (SHARD_SCHEMA, "test_shop_a"):
            with tenant_context(schema) as tenant:
                truncate_tenant_tables(tenant)
        connection.set_schema_to_public()


def _shard_rows(sql: str) -> list[tuple]:
    with connections["shard2"].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_the_shard_tenant_schema_lives_on_the_second_database_only(committed):
    # given a tenant provisioned on shard2 / then its schema is there and not on the primary
    exists = "SELECT count(*) FROM pg_namespace WHERE nspname = %s"
    with connections["shard2"].cursor() as cursor:
        cursor.execute(exists, [SHARD_SCHEMA])
        on_shard = cursor.fetchone()[0]
    with primary_connection().cursor() as cursor:
        cursor.execute(exists, [SHARD_SCHEMA])
        on_primary = cursor.fetchone()[0]
    assert (committed.database, on_shard, on_primary) == ("shard2", 1, 0)


def test_tenant_context_switches_the_database_and_public_models_stay_on_the_primary(committed):
    users_on_primary = User.objects.count()
    # when code runs in the shard tenant's context
    with tenant_context(SHARD_SCHEMA):
        inside = (active_database(), connection.settings_dict["PORT"], User.objects.count())
        product = ProductFactory(sku="CTX-1")
    # then `default` was the shard, users were read from the primary, and it is restored
    assert inside[0] == "shard2"
    assert inside[1] == connections["shard2"].settings_dict["PORT"]
    assert inside[2] == users_on_primary
    assert active_database() == PRIMARY
    assert _shard_rows(f"SELECT sku FROM {SHARD_SCHEMA}.marketplace_product") == [("CTX-1",)]
    assert product.pk is not None


def test_a_shard_tenant_is_served_over_http_and_sees_only_its_own_rows(committed):
    # given a member of the shard tenant, and a product of shop A on the primary
    user = UserFactory()
    MembershipFactory(user=user, tenant=committed)
    with tenant_context("test_shop_a"):
        ProductFactory(sku="PRIMARY-ONLY")
    client = client_for(host=SHARD_HOST, user=user)

    # when they create a product and list the products over the API
    created = client.post(
        "/api/products/",
        {"sku": "SHARD-1", "title": "Jacket", "price": "12.00", "currency": "EUR"},
        format="json",
    )
    listed = client.get("/api/products/")

    # then it is written on the shard, and the list shows it alone
    assert created.status_code == 201, created.content
    assert [item["sku"] for item in listed.json()["results"]] == ["SHARD-1"]
    assert _shard_rows(f"SELECT sku FROM {SHARD_SCHEMA}.marketplace_product") == [("SHARD-1",)]
    assert active_database() == PRIMARY
    with tenant_context("test_shop_a"):
        assert list(Product.objects.values_list("sku", flat=True)) == ["PRIMARY-ONLY"]


def test_a_member_of_a_primary_tenant_gets_404_on_the_shard_tenant(committed, test_tenants):
    # given a member of shop A only
    user = UserFactory()
    MembershipFactory(user=user, tenant=test_tenants["test_shop_a"])
    # when they call the shard tenant's API / then it does not exist for them
    response = client_for(host=SHARD_HOST, user=user).get("/api/products/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_moving_tenant_answers_503_and_its_context_is_refused(committed):
    Tenant.objects.filter(pk=committed.pk).update(moving_to=PRIMARY)
    try:
        user = UserFactory()
        MembershipFactory(user=user, tenant=committed)
        response = client_for(host=SHARD_HOST, user=user).get("/api/products/")
        with pytest.raises(TenantUnavailable), tenant_context(SHARD_SCHEMA):
            pass
    finally:
        Tenant.objects.filter(pk=committed.pk).update(moving_to="")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "tenant_unavailable")
    assert response["Retry-After"] == "60"
    assert active_database() == PRIMARY


def test_the_sweep_visits_a_due_tenant_of_the_second_database(committed, no_broker):
    # given an overdue pending job of the shard tenant (its due-work row on the shard)
    with tenant_context(SHARD_SCHEMA):
        marketplaces_connect(["ebay"])
        job = make_job()
        MarketplaceJob.objects.filter(pk=job.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    due = _shard_rows(
        f"SELECT schema_name FROM public.engine_duework WHERE schema_name = '{SHARD_SCHEMA}'"
    )
    # when beat's sweep runs
    sweep_task()
    # then it visited the tenant on its database: the job expired there
    with tenant_context(SHARD_SCHEMA):
        status = MarketplaceJob.objects.get(pk=job.pk).status
    assert due == [(SHARD_SCHEMA,)]
    assert status == JobStatus.EXPIRED


def test_migrate_tenants_migrates_a_shard_schema_on_its_own_database(committed):
    # given the shard schema missing the record of a shared app's migration (recorded only,
    # nothing to create in a tenant schema), and its state row stale
    record = ("tenants", "0006_tenant_database")
    with connections["shard2"].cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SHARD_SCHEMA}.django_migrations WHERE app = %s AND name = %s", record
        )
    Tenant.objects.filter(pk=committed.pk).update(migration_state="")
    # when tenant migrations run
    run = tenants_migrate(processes=1)
    # then the shard schema was read and completed on the shard, and recorded current
    migrated = {outcome.schema_name: outcome for outcome in run.migrated}
    assert not run.failed
    assert migrated[SHARD_SCHEMA].applied == ["tenants.0006_tenant_database"]
    assert migrated[SHARD_SCHEMA].recorded_only
    assert Tenant.objects.get(pk=committed.pk).migration_state != ""
    assert _shard_rows(
        f"SELECT app, name FROM {SHARD_SCHEMA}.django_migrations "
        "WHERE app = 'tenants' AND name = '0006_tenant_database'"
    ) == [record]


def test_unknown_database_aliases_are_refused_clearly(committed):
    with pytest.raises(UnknownDatabase, match="No database 'nowhere' is configured"):
        tenant_provision(schema_name="test_nowhere", name="x", database="nowhere")
    with pytest.raises(CommandError, match="No database 'nowhere' is configured"):
        call_command("tenant_move", SHARD_SCHEMA, "nowhere")
    assert not Tenant.objects.filter(schema_name="test_nowhere").exists()
    assert Tenant.objects.get(pk=committed.pk).database == "shard2"


def test_database_use_restores_the_previous_database_when_nested(second_database):
    with database_use(second_database):
        with database_use(PRIMARY):
            inner = active_database()
        middle = active_database()
    assert (inner, middle, active_database()) == (PRIMARY, "shard2", PRIMARY)


def _schemas_named(schema: str) -> tuple[int, int]:
    """(on the primary, on shard2) schemas called `schema`."""
    query = "SELECT count(*) FROM pg_namespace WHERE nspname = %s"
    counts = []
    for wrapper in (primary_connection(), connections["shard2"]):
        with wrapper.cursor() as cursor:
            cursor.execute(query, [schema])
            counts.append(cursor.fetchone()[0])
    return counts[0], counts[1]


def test_a_tenant_moves_to_the_primary_and_back_with_its_rows(committed):
    # given a product of the shard tenant
    with tenant_context(SHARD_SCHEMA):
        ProductFactory(sku="TRAVELS")
    # when it moves to the primary
    call_command("tenant_move", SHARD_SCHEMA, PRIMARY, settle_seconds=0, verbosity=0)
    on_primary = Tenant.objects.get(pk=committed.pk)
    with tenant_context(SHARD_SCHEMA):
        skus_on_primary = list(Product.objects.values_list("sku", flat=True))
    schemas_after_first = _schemas_named(SHARD_SCHEMA)
    # and back to shard2
    call_command("tenant_move", SHARD_SCHEMA, "shard2", settle_seconds=0, verbosity=0)
    # then its rows went along both times, and only one copy exists each time
    back = Tenant.objects.get(pk=committed.pk)
    assert (on_primary.database, on_primary.moving_to, on_primary.moved_from) == (PRIMARY, "", "")
    assert skus_on_primary == ["TRAVELS"]
    assert schemas_after_first == (1, 0)
    assert (back.database, back.moving_to, back.moved_from) == ("shard2", "", "")
    assert _schemas_named(SHARD_SCHEMA) == (0, 1)
    assert _shard_rows(f"SELECT sku FROM {SHARD_SCHEMA}.marketplace_product") == [("TRAVELS",)]


def test_an_interrupted_move_resumes_over_its_stale_copy_or_is_aborted(committed):
    # given a move to the primary that died after a partial copy
    Tenant.objects.filter(pk=committed.pk).update(moving_to=PRIMARY)
    with primary_connection().cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SHARD_SCHEMA}")
        cursor.execute(f"CREATE TABLE {SHARD_SCHEMA}.half_copied (id int)")
    # when it is aborted
    call_command("tenant_move", SHARD_SCHEMA, abort=True, verbosity=0)
    # then the tenant stays on shard2, available, and the partial copy is gone
    tenant = Tenant.objects.get(pk=committed.pk)
    assert (tenant.database, tenant.moving_to) == ("shard2", "")
    assert _schemas_named(SHARD_SCHEMA) == (0, 1)
    # and another move to the primary cannot start while one to elsewhere is flagged
    Tenant.objects.filter(pk=committed.pk).update(moving_to="elsewhere")
    try:
        with pytest.raises(CommandError, match="is in progress"):
            call_command("tenant_move", SHARD_SCHEMA, PRIMARY, settle_seconds=0, verbosity=0)
    finally:
        Tenant.objects.filter(pk=committed.pk).update(moving_to="")


def test_a_move_gives_up_while_a_job_runs_and_leaves_the_tenant_where_it_was(committed, no_broker):
    # given a job of the shard tenant running with a fresh heartbeat
    with tenant_context(SHARD_SCHEMA):
        marketplaces_connect(["ebay"])
        job = make_job()
        MarketplaceJob.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING, heartbeat_at=timezone.now()
        )
    # when a move that may not wait for it runs
    with pytest.raises(CommandError, match=r"1 job\(s\) of 'test_shard_shop' still running"):
        call_command(
            "tenant_move",
            SHARD_SCHEMA,
            PRIMARY,
            settle_seconds=0,
            drain_seconds=0,
            verbosity=0,
        )
    # then nothing moved and the shop is available again
    tenant = Tenant.objects.get(pk=committed.pk)
    assert (tenant.database, tenant.moving_to) == ("shard2", "")
    assert _schemas_named(SHARD_SCHEMA) == (0, 1)
