"""Tenants on two databases end to end: a real worker and a real web process that know the
second database (`second_database`, the suite's own cluster), a job of a tenant there, its live
socket, and a tenant moved between the databases with its jobs in flight."""

import json
import socket
import time
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection, connections
from websockets.sync.client import connect

from marketplace.models import MarketplaceJob
from marketplace.services.jobs import job_create
from marketplace.states import TERMINAL_JOB_STATUSES, JobStatus
from sandbox.ebay.server import EbaySandbox
from tenants.auth import api_token_issue
from tenants.context import tenant_context
from tenants.databases import primary_connection
from tenants.models import Tenant
from tenants.services import tenant_delete, tenant_provision
from tests.factories.marketplace import ProductFactory, ProductImageFactory
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.integration.conftest import ebay_connect, wait_for
from tests.integration.workers import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ON_SHARD = "test_mdb_shard"
MOVING = "test_mdb_move"


@pytest.fixture(scope="module")
def shard_worker(
    celery_worker: WorkerProcess, worker_env: dict[str, str], second_database: str
) -> Iterator[WorkerProcess]:
    """This module's worker knows shard2; the session's worker, which does not, is stopped
    meanwhile so that it takes none of these tenants' messages (started again after)."""
    from tests.conftest import _second_database_url

    celery_worker.stop()
    worker = WorkerProcess(
        {
            **worker_env,
            "RELIST_TENANT_DATABASES": f"{second_database}={_second_database_url[second_database]}",
            "CELERY_TASK_TENANT_CACHE_SECONDS": "1",
            "RELIST_TENANT_MOVE_DEFER_S": "1",
        },
        name="multidb",
    )
    yield worker
    worker.stop()
    celery_worker.start()


@pytest.fixture(scope="module")
def tenants_on_two_databases(second_database: str, django_db_blocker) -> Iterator[dict]:
    with django_db_blocker.unblock():
        made = {
            ON_SHARD: tenant_provision(
                schema_name=ON_SHARD, name=ON_SHARD, domain="mdb-shard.test.localhost",
                database=second_database,
            ),
            MOVING: tenant_provision(
                schema_name=MOVING, name=MOVING, domain="mdb-move.test.localhost"
            ),
        }  # fmt: skip
        yield made
        for schema in made:
            Tenant.objects.filter(schema_name=schema).update(moving_to="", moved_from="")
            tenant_delete(schema_name=schema)
        connection.set_schema_to_public()


@pytest.fixture
def ebay_on(ebay_server: EbaySandbox, settings, django_db_blocker):
    """Connect a tenant (by schema) to the emptied eBay sandbox, as at connect time."""
    settings.EBAY_API_BASE_URL = ebay_server.base_url
    ebay_server.reset()

    def connect_tenant(schema: str) -> None:
        with tenant_context(schema):
            ebay_connect(ebay_server)

    with django_db_blocker.unblock():
        yield connect_tenant
    ebay_server.reset()


def _publish_jobs(ebay_server: EbaySandbox, count: int, prefix: str) -> list[int]:
    ids = []
    for index in range(count):
        product = ProductFactory(sku=f"{prefix}-{index}")
        ProductImageFactory(product=product, url=ebay_server.image_url("jacket"), position=0)
        ids.append(job_create(marketplace="ebay", action="publish", product_id=product.pk).pk)
    return ids


def _statuses(schema: str, ids: list[int]) -> list[str]:
    with tenant_context(schema):
        return list(
            MarketplaceJob.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list("status", flat=True)
        )


def _all_terminal(schema: str, ids: list[int]) -> bool:
    connections.close_all()
    return all(status in TERMINAL_JOB_STATUSES for status in _statuses(schema, ids))


def test_a_job_of_a_tenant_on_the_second_database_runs_on_a_real_worker(
    shard_worker, tenants_on_two_databases, ebay_on, ebay_server
):
    # given a tenant on shard2 connected to eBay
    ebay_on(ON_SHARD)
    # when it publishes a product (the message carries its schema only)
    with tenant_context(ON_SHARD):
        ids = _publish_jobs(ebay_server, 1, "SHARD")
    wait_for(lambda: _all_terminal(ON_SHARD, ids), timeout=60)
    # then the worker ran it on shard2: completed there, created once on eBay
    assert _statuses(ON_SHARD, ids) == [JobStatus.COMPLETED]
    assert ebay_server.stats()["listings_created"] == {"SHARD-0": 1}


def test_the_live_socket_of_a_tenant_on_the_second_database_authenticates(
    own_asgi_server, second_database_url, tenants_on_two_databases, django_db_blocker
):
    # given a web process that knows shard2 and a member's API token
    server = own_asgi_server(RELIST_TENANT_DATABASES=second_database_url)
    with django_db_blocker.unblock():
        user = UserFactory()
        MembershipFactory(user=user, tenant=tenants_on_two_databases[ON_SHARD])
        _, token = api_token_issue(user=user, name="socket")
    # when it authenticates on the tenant's host
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with connect(
        f"ws://mdb-shard.test.localhost:{server.port}/ws/live/", sock=sock, proxy=None
    ) as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        answer = json.loads(ws.recv(timeout=10))
    # then it is subscribed to that tenant's feed
    assert answer == {"type": "subscribed", "tenant": ON_SHARD}


def test_a_tenant_moved_with_jobs_in_flight_runs_them_on_its_new_database(
    shard_worker, tenants_on_two_databases, ebay_on, ebay_server, second_database
):
    # given a tenant on the primary connected to eBay, with one job done before the move
    ebay_on(MOVING)
    with tenant_context(MOVING):
        done = _publish_jobs(ebay_server, 1, "BEFORE")
    wait_for(lambda: _all_terminal(MOVING, done), timeout=60)
    # and three jobs whose messages are sent just as the move starts (flagged, not yet copied)
    tenant = Tenant.objects.get(schema_name=MOVING)
    Tenant.objects.filter(pk=tenant.pk).update(moving_to=second_database)
    time.sleep(2)  # the worker's tenant cache (1 s here) has seen the flag
    connection.set_tenant(tenant)  # what a process that read the tenant before the flag does
    in_flight = _publish_jobs(ebay_server, 3, "INFLIGHT")
    connection.set_schema_to_public()

    # when the move runs (it resumes the flagged move)
    call_command("tenant_move", MOVING, second_database, settle_seconds=2, verbosity=0)

    # then every job ran, once, on the new database; nothing is left on the primary
    wait_for(lambda: _all_terminal(MOVING, done + in_flight), timeout=90)
    moved = Tenant.objects.get(pk=tenant.pk)
    assert (moved.database, moved.moving_to, moved.moved_from) == (second_database, "", "")
    assert _statuses(MOVING, done + in_flight) == [JobStatus.COMPLETED] * 4
    assert ebay_server.stats()["listings_created"] == dict.fromkeys(
        ["BEFORE-0", "INFLIGHT-0", "INFLIGHT-1", "INFLIGHT-2"], 1
    )
    with primary_connection().cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [MOVING])
        assert cursor.fetchone()[0] == 0
    assert "task.deferred_tenant_moving" in shard_worker.log_path.read_text()
