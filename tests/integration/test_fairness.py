"""Fair dispatch between tenants, against a real broker and a real worker (DESIGN §3 "Fairness"):
one tenant's backlog does not hold the other's job, a spent rate budget defers instead of
sleeping (the thread runs another tenant's job meanwhile), a tenant never holds more than its
worker slots on a marketplace, and the `.high` band is capped per tenant."""

import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from marketplace.engine import dispatch
from marketplace.models import JobEvent, MarketplaceJob
from marketplace.services.ratelimit import redis_client
from marketplace.states import JobStatus
from tests.factories.marketplace import ProductFactory, ProductImageFactory, make_job
from tests.integration.conftest import ebay_connect, wait_for, wait_terminal
from tests.integration.workers import WorkerProcess, purge_broker, worker_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLOTS = 2
WINDOW = 3
EBAY_RATE = 2.0  # tokens per second: a bucket at -5 tokens is 3 s from its next call


@pytest.fixture
def fair_worker(worker_env, celery_worker) -> Iterator[Callable[[int], WorkerProcess]]:
    """Starts our own worker of `concurrency` threads, the suite's one stopped meanwhile (it
    runs with the default caps)."""
    started: list[WorkerProcess] = []

    def start(concurrency: int) -> WorkerProcess:
        celery_worker.stop()
        purge_broker()
        started.append(WorkerProcess(worker_environment(env), name="fair", concurrency=concurrency))
        return started[-1]

    env = {
        **worker_env,
        "RELIST_TENANT_SLOTS_PER_MARKETPLACE": str(SLOTS),
        "RELIST_TENANT_SLOT_RETRY_S": "0.2",
        "EBAY_RATE_PER_SECOND": str(EBAY_RATE),
        "RELIST_TENANT_TRIGGER_WINDOW": str(WINDOW),
    }
    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        if started:
            celery_worker.start()


@pytest.fixture
def two_shops(ebay, live_tenant, other_tenant, settings) -> Iterator[tuple[str, str]]:
    """Both test tenants connected to the eBay sandbox; their budgets, slots and trigger
    windows fresh, and the window of WINDOW triggers in this process too (it enqueues)."""
    settings.RELIST_TENANT_TRIGGER_WINDOW = WINDOW
    connection.set_tenant(other_tenant)
    ebay_connect(ebay)
    connection.set_tenant(live_tenant)
    shops = (live_tenant.schema_name, other_tenant.schema_name)
    _forget_fairness_keys(shops)
    yield shops
    connection.set_tenant(live_tenant)
    _forget_fairness_keys(shops)


def _forget_fairness_keys(shops: tuple[str, ...]) -> None:
    kinds = ("ratelimit", "slots", "window")
    keys = [f"relist:{kind}:{shop}:ebay" for shop in shops for kind in kinds]
    redis_client().delete(*keys, *(f"relist:window:{shop}:ebay:held" for shop in shops))


def _publish_jobs(ebay, count: int, **kwargs) -> list[int]:
    ids = []
    for _ in range(count):
        product = ProductFactory()
        ProductImageFactory(product=product, url=ebay.image_url("jacket"), position=0)
        ids.append(make_job(marketplace="ebay", product_id=product.pk, **kwargs).pk)
    return ids


def _statuses(schema: str, ids: list[int]) -> dict[str, int]:
    table = f'"{schema}"."{MarketplaceJob._meta.db_table}"'
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, count(*) FROM {table} WHERE id = ANY(%s) GROUP BY status", [ids]
        )
        return dict(cursor.fetchall())


def test_another_tenants_single_job_runs_while_a_batch_waits_and_slots_hold(
    ebay, two_shops, other_tenant, fair_worker
):
    # given a worker of 4 threads, and tenant A with 12 slow publishes queued (each eBay
    # publish call takes 0.4 s)
    shop_a, shop_b = two_shops
    fair_worker(4)
    ebay.faults.add_rule("delay", r"/publish$", method="POST", times=100, delay_ms=400)
    batch = _publish_jobs(ebay, 12)
    # when tenant B asks for one publish once A's jobs are all queued ahead of it
    connection.set_tenant(other_tenant)
    single = _publish_jobs(ebay, 1)
    # then, watched all along: A never runs more than its slots at once, its batch is released
    # a window at a time, and B's job is done while A still has jobs waiting
    most_running, most_queued, a_open_when_b_done = 0, 0, None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        a = _statuses(shop_a, batch)
        most_running = max(most_running, a.get(JobStatus.RUNNING, 0))
        most_queued = max(most_queued, dispatch.queue_backlog("ebay"))
        if a_open_when_b_done is None and _statuses(shop_b, single).get(JobStatus.COMPLETED):
            a_open_when_b_done = a.get(JobStatus.PENDING, 0) + a.get(JobStatus.RUNNING, 0)
        if a.get(JobStatus.COMPLETED, 0) == len(batch):
            break
        time.sleep(0.02)
    assert _statuses(shop_a, batch) == {JobStatus.COMPLETED: len(batch)}
    assert _statuses(shop_b, single) == {JobStatus.COMPLETED: 1}
    assert a_open_when_b_done is not None
    assert a_open_when_b_done >= len(batch) // 3
    assert 1 <= most_running <= SLOTS
    # and the queue never held more than A's window of triggers (plus B's one)
    assert most_queued <= WINDOW + 1


def test_a_spent_budget_defers_and_the_thread_runs_another_tenants_job(
    ebay, two_shops, live_tenant, other_tenant, fair_worker
):
    # given a worker of one thread, and tenant A's eBay budget spent 3 s ahead (its bucket at
    # -5 tokens at 2 per second)
    shop_a, _ = two_shops
    fair_worker(1)
    redis_client().hset(
        f"relist:ratelimit:{shop_a}:ebay", mapping={"tokens": -5, "ts": time.time()}
    )
    # when A's job is queued first, then B's, on a worker of one thread
    job_a = _publish_jobs(ebay, 1)[0]
    connection.set_tenant(other_tenant)
    job_b = _publish_jobs(ebay, 1)[0]
    # then B's job completes while A's waits deferred (pending, no attempt used) ...
    assert wait_terminal(job_b, timeout=30).status == JobStatus.COMPLETED
    connection.set_tenant(live_tenant)
    waiting = MarketplaceJob.objects.get(pk=job_a)
    assert waiting.status == JobStatus.PENDING
    assert waiting.attempts == 0
    assert waiting.status_reason == "The ebay rate budget is spent for now."
    # ... and A's job runs once its budget refilled
    assert wait_terminal(job_a, timeout=30).status == JobStatus.COMPLETED
    assert JobEvent.objects.filter(job_id=job_a, to_status=JobStatus.PENDING).exists()


def test_the_high_band_holds_only_a_few_of_one_tenants_jobs(
    ebay, live_tenant, celery_worker, settings
):
    # given no worker taking messages, and a cap of 3 high-band jobs per tenant
    settings.RELIST_TENANT_HIGH_MAX = 3
    celery_worker.stop()
    purge_broker()
    ids: list[int] = []
    try:
        # when one tenant asks for 5 priority-1 publishes
        ids = _publish_jobs(ebay, 5, priority=1)
        # then its 3 oldest went to the high band and the other 2 to the normal one
        wait_for(lambda: dispatch.queue_backlog("ebay.high") + dispatch.queue_backlog("ebay") == 5)
        assert (dispatch.queue_backlog("ebay.high"), dispatch.queue_backlog("ebay")) == (3, 2)
        assert dispatch.high_band_ids(marketplace="ebay") == set(ids[:3])
    finally:
        purge_broker()
        celery_worker.start()
