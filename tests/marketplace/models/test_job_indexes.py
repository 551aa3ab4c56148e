"""What a job insert writes: the idempotency key is unique through one index, without the
LIKE (varchar_pattern_ops) index Django adds beside a unique CharField (migration 0009)."""

import pytest
from django.db import IntegrityError, connection, transaction

from marketplace.models import MarketplaceJob
from tests.factories.marketplace import make_job


def _indexes_on_idempotency_key() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = %s AND indexdef LIKE %s",
            [MarketplaceJob._meta.db_table, "%(idempotency_key%"],
        )
        return [row[0].split(" USING ")[1] for row in cursor.fetchall()]


def test_idempotency_key_has_one_unique_index_and_no_like_index(tenant):
    # given the tenant's migrated schema / when its indexes are read / then one, unique
    assert _indexes_on_idempotency_key() == ["btree (idempotency_key)"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef LIKE 'CREATE UNIQUE INDEX%%' FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = %s AND indexdef LIKE %s",
            [MarketplaceJob._meta.db_table, "%(idempotency_key)%"],
        )
        assert cursor.fetchall() == [(True,)]


def test_a_second_job_with_the_same_key_is_refused_by_the_database(tenant, no_broker):
    # given a job stored under a key
    job = make_job(idempotency_key="order-42")
    copy = MarketplaceJob.objects.get(pk=job.pk)
    copy.pk = None
    # when the same key is inserted again, bypassing the service's own lookup
    # then PostgreSQL refuses it, and nothing was added
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save(force_insert=True)
    assert MarketplaceJob.objects.filter(idempotency_key="order-42").count() == 1
