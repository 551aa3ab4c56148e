"""Behind pgbouncer in transaction mode (one server connection shared by every client), no
tenant's search_path ever reaches another client, and jobs of two tenants run through it.

The test starts its own pgbouncer (Debian's package) on a free loopback port, with its config
in a temporary directory."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django_tenants.postgresql_backend.base import DatabaseWrapper as StockTenantWrapper

from marketplace.models import Listing, MarketplaceJob
from marketplace.states import JobStatus
from scripts.pgbouncer import Pgbouncer, binary
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import ebay_connect, wait_for
from tests.integration.servers import free_port
from tests.integration.workers import WorkerProcess, worker_environment

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(binary() is None, reason="pgbouncer is not installed (apt-get install "
                       "pgbouncer; scripts/ensure-services.sh does it)"),
]  # fmt: skip

SCHEMAS = ("test_shop_a", "test_shop_b")


@pytest.fixture(scope="module")
def bouncer(tmp_path_factory: pytest.TempPathFactory, django_db_setup) -> Iterator[Pgbouncer]:
    """One server connection for everyone: any session state would be seen by the next client."""
    settings = connection.settings_dict
    directory: Path = tmp_path_factory.mktemp("pgbouncer")
    with (directory / "pgbouncer.log").open("w") as log:
        server = Pgbouncer(
            upstream_host=settings["HOST"] or "127.0.0.1",
            upstream_port=int(settings["PORT"] or 5432),
            directory=directory,
            port=free_port(),
            pool_size=1,
        )
        server.start(log=log)
        yield server
        server.stop()


@pytest.fixture
def unblocked(django_db_blocker) -> Iterator[None]:
    """These clients are connections of their own, outside any test transaction."""
    with django_db_blocker.unblock():
        yield


def _pooled_client(bouncer: Pgbouncer, wrapper_class=None) -> BaseDatabaseWrapper:
    settings = {**connection.settings_dict, "HOST": bouncer.host, "PORT": bouncer.listen_port}
    if wrapper_class is None:
        wrapper = connections.create_connection("default")
        wrapper.settings_dict = settings
        return wrapper
    return wrapper_class(settings, alias="default")


def _seen(wrapper: BaseDatabaseWrapper) -> tuple[str, int]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_schema(), pg_backend_pid()")
        return cursor.fetchone()


def _interleave(clients: list[BaseDatabaseWrapper]) -> list[tuple[str, str, int]]:
    """Each client in its own tenant, statements alternating between them, in autocommit and
    in transactions: (expected schema, seen schema, server pid)."""
    for client, schema in zip(clients, SCHEMAS, strict=True):
        client.set_schema(schema)
    seen = []
    for _ in range(5):
        for client, schema in zip(clients, SCHEMAS, strict=True):
            seen.append((schema, *_seen(client)))
        for client, schema in zip(clients, SCHEMAS, strict=True):
            client.set_autocommit(False)
            seen.append((schema, *_seen(client)))
            client.commit()
            client.set_autocommit(True)
    return seen


def test_two_tenants_never_see_each_others_search_path(bouncer, test_tenants, unblocked):
    # given two pooled clients in two tenants, one server connection behind them
    clients = [_pooled_client(bouncer) for _ in SCHEMAS]
    try:
        # when they alternate statements and transactions
        seen = _interleave(clients)
    finally:
        for client in clients:
            client.close()
    # then each saw its own schema, on the one shared server session
    assert [(expected, schema) for expected, schema, _ in seen] == [
        (expected, expected) for expected, _, _ in seen
    ]
    assert len({pid for _, _, pid in seen}) == 1


def test_the_session_scoped_backend_would_leak(bouncer, test_tenants, unblocked):
    # given django-tenants' own backend (SET search_path once per session) behind the same pool
    clients = [_pooled_client(bouncer, StockTenantWrapper) for _ in SCHEMAS]
    try:
        # when
        seen = _interleave(clients)
    finally:
        for client in clients:
            client.close()
    # then a client ran in the other tenant's schema: what the transaction-scoped backend stops
    assert any(expected != schema for expected, schema, _ in seen)


def _publish_jobs(ebay_server, count: int) -> dict[int, str]:
    jobs = {}
    for _ in range(count):
        product = ProductFactory()
        ProductImageFactory(product=product, url=ebay_server.image_url("jacket"), position=0)
        jobs[make_job(marketplace="ebay", product_id=product.pk).pk] = product.sku
    return jobs


def test_jobs_of_two_tenants_run_through_one_pooled_server_connection(
    bouncer, ebay, live_tenant, other_tenant, worker_env, celery_worker
):
    # given the suite's worker stopped, and one on pgbouncer (4 threads, 1 server connection)
    celery_worker.stop()
    pooled_env = {**worker_env, "DATABASE_URL": bouncer.url_for(connection.settings_dict["NAME"])}
    worker = WorkerProcess(worker_environment(pooled_env), name="pgbouncer", concurrency=4)
    try:
        # when each tenant publishes 6 products
        jobs = {live_tenant.schema_name: _publish_jobs(ebay, 6)}
        connection.set_tenant(other_tenant)
        ebay_connect(ebay)
        jobs[other_tenant.schema_name] = _publish_jobs(ebay, 6)
        done = {}
        for tenant in (live_tenant, other_tenant):
            connection.set_tenant(tenant)
            ids = list(jobs[tenant.schema_name])
            wait_for(
                lambda ids=ids: (
                    MarketplaceJob.objects.filter(
                        pk__in=ids, status__in=("completed", "failed")
                    ).count()
                    == len(ids)
                ),
                timeout=60,
            )
            done[tenant.schema_name] = (
                sorted(MarketplaceJob.objects.filter(pk__in=ids).values_list("status", flat=True)),
                sorted(Listing.objects.values_list("product__sku", flat=True)),
            )
    finally:
        connection.set_tenant(live_tenant)
        worker.stop()
        celery_worker.start()
    # then every job completed in its own tenant, and each SKU was created once on eBay
    for schema, skus in jobs.items():
        assert done[schema] == ([JobStatus.COMPLETED] * 6, sorted(skus.values()))
    created = ebay.stats()["listings_created"]
    assert created == {sku: 1 for skus in jobs.values() for sku in skus.values()}
