"""One schema per shop: rows made in one tenant are invisible from another, and tenant_context
fails loudly (never falling back to `public`) when the tenant or its schema is missing."""

import pytest
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from batches.models import BatchJob
from core.errors import TenantNotFound, TenantUnavailable
from marketplace.models import JobEvent, MarketplaceJob, Product
from tenants.context import tenant_context
from tests.factories.marketplace import make_batch, make_job, make_job_in
from tests.factories.tenants import TenantFactory, UserFactory


def test_rows_of_one_tenant_are_invisible_from_another(tenant, other_tenant):
    # given a product, a batch, a job and its events made in tenant A
    with tenant_context(tenant.schema_name):
        batch = make_batch(products=2)
        job = make_job_in("running")

    # when tenant B's tables are read
    with tenant_context(other_tenant.schema_name):
        seen_from_b = (
            Product.objects.count(),
            BatchJob.objects.count(),
            MarketplaceJob.objects.count(),
            JobEvent.objects.count(),
            MarketplaceJob.objects.filter(pk=job.pk).exists(),
        )

    # then B sees none of them, while A still sees all of them
    assert seen_from_b == (0, 0, 0, 0, False)
    with tenant_context(tenant.schema_name):
        assert (Product.objects.count(), BatchJob.objects.count()) == (3, 1)
        assert MarketplaceJob.objects.filter(batch=batch).count() == 2
        assert JobEvent.objects.filter(job_id=job.pk).count() == 1


def _job_id_sequence_moved_to(value: int) -> None:
    """Set the current schema's job id sequence so that the next id is `value` + 1."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
            [MarketplaceJob._meta.db_table, value],
        )


def _job_id_sequence_last() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [MarketplaceJob._meta.db_table])
        cursor.execute(f"SELECT last_value FROM {cursor.fetchone()[0]}")
        return int(cursor.fetchone()[0])


def test_same_ids_in_two_tenants_are_different_rows(tenant, other_tenant):
    # given each schema's own id sequence at the same point (only ever moved forward)
    last = []
    for schema in (tenant.schema_name, other_tenant.schema_name):
        with tenant_context(schema):
            last.append(_job_id_sequence_last())
    for schema in (tenant.schema_name, other_tenant.schema_name):
        with tenant_context(schema):
            _job_id_sequence_moved_to(max(last) + 1)
    # and a job in A and a job in B, which therefore get the same id
    with tenant_context(tenant.schema_name):
        job_a = make_job_in("paused", marketplace="ebay")
    with tenant_context(other_tenant.schema_name):
        job_b = make_job_in("pending", marketplace="etsy")
    assert job_a.pk == job_b.pk == max(last) + 2

    # when each tenant reads the job of that id
    with tenant_context(tenant.schema_name):
        seen_a = MarketplaceJob.objects.filter(pk=job_a.pk).values_list("marketplace", "status")
        seen_a = list(seen_a)
    with tenant_context(other_tenant.schema_name):
        seen_b = MarketplaceJob.objects.filter(pk=job_b.pk).values_list("marketplace", "status")
        seen_b = list(seen_b)

    # then each gets its own row, and only its own
    assert seen_a == [("ebay", "paused")]
    assert seen_b == [("etsy", "pending")]


def test_tenant_context_restores_the_previous_schema(tenant, other_tenant):
    # given the connection in tenant A
    assert connection.schema_name == tenant.schema_name

    # when a block runs in B, and another one in B raises
    with tenant_context(other_tenant.schema_name) as entered:
        inside = connection.schema_name
    with pytest.raises(RuntimeError), tenant_context(other_tenant.schema_name):
        raise RuntimeError("boom")

    # then the blocks ran in B, and the connection is back in A after each
    assert (entered.pk, inside) == (other_tenant.pk, other_tenant.schema_name)
    assert connection.schema_name == tenant.schema_name


@pytest.mark.parametrize("schema_name", ["no_such_shop", "public"], ids=["unknown", "public"])
def test_tenant_context_on_a_schema_that_is_no_tenant_raises(tenant, schema_name):
    # given the connection in tenant A
    # when a block asks for a schema that is not a tenant
    with pytest.raises(TenantNotFound) as raised, tenant_context(schema_name):
        pytest.fail("the block must not run")

    # then it fails loudly (404 code), and the connection stays in A, not in public
    assert (raised.value.code, raised.value.http_status) == ("tenant_not_found", 404)
    assert raised.value.details == {"tenant": schema_name}
    assert connection.schema_name == tenant.schema_name


def test_tenant_context_on_a_tenant_without_schema_raises(tenant):
    # given a tenant row whose schema does not exist (failed provisioning, dropped schema)
    orphan = TenantFactory(schema_name="test_orphan_shop")

    # when a block asks for it
    with pytest.raises(TenantUnavailable) as raised, tenant_context(orphan.schema_name):
        pytest.fail("the block must not run")

    # then it fails loudly (503 code) instead of reading `public`, and A is restored
    assert (raised.value.code, raised.value.http_status) == ("tenant_unavailable", 503)
    assert raised.value.details == {"tenant": "test_orphan_shop"}
    assert connection.schema_name == tenant.schema_name


def test_deleting_a_user_in_public_leaves_tenant_rows_alone(tenant):
    # given a user who created a job in A
    user = UserFactory()
    job = make_job(created_by=user)

    # when an operator deletes the user (the admin runs in the public schema)
    with schema_context(get_public_schema_name()):
        user.delete()

    # then the account is gone and the tenant's job is untouched
    assert not type(user).objects.filter(pk=job.created_by_id).exists()
    assert MarketplaceJob.objects.get(pk=job.pk).status == "pending"
