"""Shared fixtures. Tests run on the real PostgreSQL (one schema per test tenant) and Redis.

Two tenants are provisioned once per session (schema creation and migration take ~1 s each);
each test then runs inside a transaction that is rolled back, with the connection switched to
the tenant's schema. `live_tenant` is for tests whose data must be committed (another process,
such as a Celery worker or a second connection, must see it); it truncates the tenant's tables
afterwards.
"""

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test.utils import setup_databases, teardown_databases
from psycopg.errors import DeadlockDetected
from rest_framework.test import APIClient

from config.celery import app as celery_app
from marketplace.engine import dispatch
from tenants.auth import api_token_issue
from tenants.models import Domain, Tenant
from tenants.services import tenant_provision
from tests.factories.tenants import MembershipFactory, UserFactory

TENANT_SCHEMAS = {"test_shop_a": "shop-a.test.localhost", "test_shop_b": "shop-b.test.localhost"}
_TENANT_TABLE_APPS = ("marketplace_", "batches_", "sales_")
# Shared apps whose names start like a tenant app's: their tables live in public only.
_SHARED_TABLE_PREFIXES = ("sales_schedule_",)
# Seeded at provisioning (marketplace.reference_data): a live test keeps them, as a shop would.
_REFERENCE_TABLES = frozenset(
    {"marketplace_category", "marketplace_categorymapping", "marketplace_valuemapping"}
)
_TRUNCATE_ATTEMPTS = 5


def _provisioned(schema_name: str, domain: str) -> Tenant:
    tenant = Tenant.objects.filter(schema_name=schema_name).first()
    if tenant is None:
        tenant = tenant_provision(schema_name=schema_name, name=schema_name, domain=domain)
    elif not Domain.objects.filter(domain=domain).exists():
        Domain.objects.create(tenant=tenant, domain=domain, is_primary=True)
    return tenant


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """Always create the test database. pytest-django creates it only when a collected test asks
    for `db`; integration tests use committed data (`live_tenant`) instead, and must never fall
    back to the development database."""
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=verbosity, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=verbosity)


@pytest.fixture(scope="session")
def test_tenants(django_db_setup, django_db_blocker) -> dict[str, Tenant]:
    with django_db_blocker.unblock():
        return {schema: _provisioned(schema, domain) for schema, domain in TENANT_SCHEMAS.items()}


SECOND_DATABASE = "shard2"


@pytest.fixture(scope="session")
def second_database(test_tenants: dict[str, Tenant], django_db_blocker) -> Iterator[str]:
    """A second PostgreSQL cluster of the suite's own (initdb + pg_ctl on a free port, the chaos
    bench's), registered as the alias `shard2` and migrated by `migrate_tenants` as production
    would be (its public schema, the catalogue copied from the primary). Yields the alias;
    `second_database_url` has its URL for the processes a test starts. Stopped and deleted at
    the end of the session."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from bench.chaos_services import PostgresCluster
    from config.settings.base import database_settings

    # Not under pytest's temporary folder: its parent is private to this user, and PostgreSQL
    # runs as `postgres` when the suite runs as root.
    root = Path(tempfile.mkdtemp(prefix="relist-second-database-"))
    root.chmod(0o755)
    cluster = PostgresCluster(root / "pg", max_connections=40)
    try:
        cluster.init()
        cluster.start()
        cluster.create_database("relist_second")
        conf = database_settings(cluster.url("relist_second"))
        conf["CONN_MAX_AGE"] = 0
        settings.DATABASES[SECOND_DATABASE] = connections.configure_settings({"default": conf})[
            "default"
        ]
        _second_database_url[SECOND_DATABASE] = cluster.url("relist_second")
        with django_db_blocker.unblock():
            call_command("migrate_tenants", processes=1, spares=0, verbosity=0)
        yield SECOND_DATABASE
    finally:
        for alias in (SECOND_DATABASE,):
            if hasattr(connections._connections, alias):
                connections[alias].close()
                delattr(connections._connections, alias)
        settings.DATABASES.pop(SECOND_DATABASE, None)
        _second_database_url.clear()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


_second_database_url: dict[str, str] = {}


@pytest.fixture
def second_database_url(second_database: str) -> str:
    """RELIST_TENANT_DATABASES for a worker or web process that must reach `shard2`."""
    return f"{second_database}={_second_database_url[second_database]}"


@pytest.fixture
def tenant(test_tenants: dict[str, Tenant], db: None) -> Iterator[Tenant]:
    """The tenant under test, with the connection in its schema."""
    current = test_tenants["test_shop_a"]
    connection.set_tenant(current)
    yield current
    connection.set_schema_to_public()


@pytest.fixture
def other_tenant(test_tenants: dict[str, Tenant]) -> Tenant:
    return test_tenants["test_shop_b"]


def truncate_tenant_tables(tenant: Tenant) -> None:
    connection.set_tenant(tenant)
    tables = [
        table
        for table in connection.introspection.table_names()
        if table.startswith(_TENANT_TABLE_APPS)
        and not table.startswith(_SHARED_TABLE_PREFIXES)
        and table not in _REFERENCE_TABLES
    ]
    statement = (
        f"TRUNCATE {', '.join(f'{tenant.schema_name}.{t}' for t in tables)} "
        "RESTART IDENTITY CASCADE"
    )
    # The session's worker process may still be reading these tables (a trigger for a job the
    # test already saw end): TRUNCATE takes its locks table by table, so PostgreSQL may pick it
    # as a deadlock's victim. The worker's side retries on its own; this side tries again.
    for attempt in range(_TRUNCATE_ATTEMPTS):
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
            return
        except OperationalError as error:
            if not isinstance(error.__cause__, DeadlockDetected):
                raise
            if attempt == _TRUNCATE_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


@pytest.fixture
def live_tenant(test_tenants: dict[str, Tenant], django_db_blocker) -> Iterator[Tenant]:
    """The tenant under test with autocommit: rows are visible to other connections."""
    current = test_tenants["test_shop_a"]
    with django_db_blocker.unblock():
        connection.set_tenant(current)
        try:
            yield current
        finally:
            for schema_tenant in test_tenants.values():
                truncate_tenant_tables(schema_tenant)
            connection.set_schema_to_public()


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Nothing leaves the process. Celery messages are recorded instead of sent: with committed
    data, a worker outside the test (the integration suite's session worker, say) would
    otherwise race the test's own calls. Live updates are off whatever Redis' subscriber
    counters say (a run that died with a socket open leaves them up). Yields the (task name,
    args) sent."""
    sent: list[tuple[str, Any]] = []

    def record(name: str, args: Any = None, **kwargs: Any) -> None:
        sent.append((name, args))

    def record_trigger(publisher: Any, *, job_id: int, queue: str, eta: Any) -> None:
        record(dispatch.RUN_JOB_TASK, (job_id,))

    monkeypatch.setattr(celery_app, "send_task", record)
    # Job triggers are published in bulk, by Celery's message functions rather than send_task.
    monkeypatch.setattr(dispatch._TriggerPublisher, "publish", record_trigger)
    monkeypatch.setattr("marketplace.services.live.has_subscribers", lambda schema: False)
    return sent


def tenant_host(tenant: Tenant) -> str:
    return tenant.domains.get(is_primary=True).domain


class TenantAPIClient(APIClient):
    """Puts the connection back in the test's schema after each request: the middleware leaves
    it in the schema of the host it served, which would silently re-scope the test's next
    queries (in production every request starts from `public`)."""

    def request(self, **kwargs: Any) -> Any:
        previous = connection.tenant
        try:
            return super().request(**kwargs)
        finally:
            connection.set_tenant(previous)


def client_for(*, host: str, user=None) -> TenantAPIClient:
    """A client addressed to `host`, authenticated with a new API token of `user` when given."""
    client = TenantAPIClient(HTTP_HOST=host)
    if user is not None:
        _, raw = api_token_issue(user=user, name="test client")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def member(tenant: Tenant):
    """A user who is a member (role member) of `tenant`."""
    user = UserFactory()
    MembershipFactory(user=user, tenant=tenant)
    return user


@pytest.fixture
def api_client(tenant: Tenant, member) -> APIClient:
    """An API client authenticated as `member`, addressed to `tenant`'s host."""
    return client_for(host=tenant_host(tenant), user=member)


@pytest.fixture
def make_client(db: None) -> Callable[..., TenantAPIClient]:
    """Build clients for other hosts and users: `make_client(host=..., user=...)`."""
    return client_for
