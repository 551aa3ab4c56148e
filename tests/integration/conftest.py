"""Integration fixtures: the sandboxes on loopback, and a real Celery worker process on the test
database and broker. Data must be committed for the worker to see it: tests use `live_tenant`."""

import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from marketplace.models import MarketplaceJob
from marketplace.services.account_setup import connection_setup_refresh
from marketplace.services.connections import TokenGrant, connection_store
from marketplace.services.ratelimit import redis_client
from marketplace.states import TERMINAL_JOB_STATUSES
from sandbox.ebay.server import EbaySandbox
from sandbox.etsy.server import EtsySandbox
from sandbox.vinted_extension import ExtensionSimulator
from tenants.services import extension_token_issue
from tests.factories.tenants import MembershipFactory, UserFactory
from tests.integration.servers import AsgiServer
from tests.integration.workers import WorkerProcess, purge_broker, worker_environment


@pytest.fixture(scope="session")
def ebay_server() -> Iterator[EbaySandbox]:
    with EbaySandbox(seed=7) as server:
        yield server


@pytest.fixture(scope="session")
def etsy_server() -> Iterator[EtsySandbox]:
    with EtsySandbox(seed=7) as server:
        yield server


@pytest.fixture(scope="session")
def worker_env(ebay_server: EbaySandbox, etsy_server: EtsySandbox, test_tenants) -> dict[str, str]:
    return worker_environment(
        {
            "EBAY_API_BASE_URL": ebay_server.base_url,
            "ETSY_API_BASE_URL": etsy_server.base_url,
            "ETSY_TOKEN_URL": etsy_server.token_url,
        }
    )


@pytest.fixture(scope="session")
def celery_worker(worker_env: dict[str, str], django_db_blocker) -> Iterator[WorkerProcess]:
    with django_db_blocker.unblock():
        purge_broker()
    worker = WorkerProcess(worker_env, name="session")
    yield worker
    worker.stop()


@pytest.fixture
def ebay(ebay_server: EbaySandbox, live_tenant, settings) -> Iterator[EbaySandbox]:
    """The eBay sandbox, emptied, with the live tenant connected to it and its business
    policies and location read from it, as at connect time."""
    settings.EBAY_API_BASE_URL = ebay_server.base_url
    ebay_server.reset()
    ebay_connect(ebay_server)
    yield ebay_server
    ebay_server.reset()


def ebay_connect(ebay_server: EbaySandbox) -> None:
    """Connect the current tenant to the eBay sandbox with fresh tokens, and read its business
    policies and location, as at connect time."""
    tokens = ebay_server.issue_tokens()
    connection_store(
        marketplace="ebay",
        grant=TokenGrant(
            access_token=tokens["access_token"],
            expires_in=tokens["expires_in"],
            refresh_token=tokens["refresh_token"],
            refresh_token_expires_in=tokens["refresh_token_expires_in"],
        ),
    )
    connection_setup_refresh(marketplace="ebay")


@pytest.fixture
def etsy(etsy_server: EtsySandbox, live_tenant, settings) -> Iterator[EtsySandbox]:
    """The Etsy sandbox, emptied, with the live tenant's shop connected to it and its
    shipping and processing profiles read from it, as at connect time."""
    settings.ETSY_API_BASE_URL = etsy_server.base_url
    settings.ETSY_TOKEN_URL = etsy_server.token_url
    etsy_server.reset()
    # The Etsy budget counts calls per day in Redis: a day of test runs must not spend it.
    budget_keys = list(
        redis_client().scan_iter(f"relist:ratelimit:{live_tenant.schema_name}:etsy*")
    )
    if budget_keys:
        redis_client().delete(*budget_keys)
    tokens = etsy_server.issue_tokens()
    connection_store(
        marketplace="etsy",
        grant=TokenGrant(
            access_token=tokens["access_token"],
            expires_in=tokens["expires_in"],
            refresh_token=tokens["refresh_token"],
        ),
        account_id=str(tokens["shop_id"]),
    )
    connection_setup_refresh(marketplace="etsy")
    yield etsy_server
    etsy_server.reset()


def wait_for(predicate: Callable[[], bool], *, timeout: float = 20.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


def wait_terminal(job_id: int, *, timeout: float = 20.0) -> MarketplaceJob:
    def done() -> bool:
        connection.close_if_unusable_or_obsolete()
        return MarketplaceJob.objects.filter(pk=job_id, status__in=TERMINAL_JOB_STATUSES).exists()

    wait_for(done, timeout=timeout)
    return MarketplaceJob.objects.get(pk=job_id)


@pytest.fixture(scope="session")
def asgi_server(worker_env: dict[str, str]) -> Iterator[AsgiServer]:
    # A short auth timeout, so the test of a silent socket does not wait the default 5 s; a
    # budget of failed authentications no sequence of tests spends (its own test has its own
    # server).
    server = AsgiServer(
        {**worker_env, "SOCKET_AUTH_TIMEOUT_S": "2", "SOCKET_AUTH_FAILURES_PER_MINUTE": "10000"}
    )
    yield server
    server.stop()


@pytest.fixture
def own_asgi_server(worker_env: dict[str, str]) -> Iterator[Callable[..., AsgiServer]]:
    """A web process of the test's own, with settings of its own (started on demand, stopped
    or killed by the test, always reaped)."""
    started: list[AsgiServer] = []

    def start(**settings: str) -> AsgiServer:
        server = AsgiServer({**worker_env, **settings}, name=f"asgi-own-{len(started)}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def extension_token(live_tenant) -> str:
    """A token for the Vinted extension of a member of the live tenant. (Users stay: deleting
    one would cascade into tenant tables; the test database is dropped at the end.)"""
    user = UserFactory()
    MembershipFactory(user=user, tenant=live_tenant)
    _, raw = extension_token_issue(tenant=live_tenant, user=user, name="test browser")
    return raw


@pytest.fixture
def vinted_clean(live_tenant) -> Iterator[None]:
    """No presence or pacing state left over from another test."""
    client = redis_client()
    patterns = ("relist:vinted:*", "relist:socket:*")
    for pattern in patterns:
        for key in client.scan_iter(pattern):
            client.delete(key)
    yield
    for pattern in patterns:
        for key in client.scan_iter(pattern):
            client.delete(key)


def simulator_for(server: AsgiServer, token: str, tenant, **options) -> ExtensionSimulator:
    host = tenant.domains.get(is_primary=True).domain
    return ExtensionSimulator(server.ws_url(), token, host=host, **options)
