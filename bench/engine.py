"""(c) and the latency run: eBay publish batches through Relist itself. Django is set up in the
bench process (bench.env); the jobs run on a real `celery -A config worker` subprocess."""

import time
from decimal import Decimal
from typing import Any

import psycopg

from bench.cpu import CpuMeter, Span
from bench.env import TENANT_SCHEMA, BenchEnv
from bench.measure import Poller, RunResult
from bench.procs import CeleryWorker, SandboxProcess

JOB_QUEUES = "ebay.high,ebay"  # as the Procfile's worker_ebay
DEFAULT_QUEUES = "default,maintenance"  # as the Procfile's worker_default
CALLS_PER_PUBLISH = 3  # PUT inventory_item, POST offer, POST offer/{id}/publish
# The eBay sandbox seller's seeded business policies and inventory location (sandbox.ebay.account).
BENCH_EBAY_SETUP = {
    "fulfillment_policy_id": "6200000001",
    "payment_policy_id": "6200000002",
    "return_policy_id": "6200000003",
    "merchant_location_key": "default-warehouse",
}


class RelistWorkers:
    """The Procfile's topology: the jobs run on a worker for the eBay queues (the pool and
    concurrency under test); batches.enqueue_batch runs on a separate `default` worker
    (prefork, as worker_default), so enqueueing never takes a job slot."""

    def __init__(
        self, env: BenchEnv, *, pool: str, concurrency: int, name: str, slots: int | None = None
    ) -> None:
        # `slots`: the bench tenant's worker slots and trigger window per marketplace
        # (RELIST_TENANT_SLOTS_PER_MARKETPLACE, RELIST_TENANT_TRIGGER_WINDOW); None keeps the
        # defaults (4), which cap one tenant alone at 4 jobs at once by design (fairness).
        fairness = (
            {
                "RELIST_TENANT_SLOTS_PER_MARKETPLACE": str(slots),
                "RELIST_TENANT_TRIGGER_WINDOW": str(slots),
            }
            if slots is not None
            else {}
        )
        # Every process of the system reads the same settings, as in a deployment: the enqueuer
        # admits a batch's first triggers into the window, so it must know the window's size
        # (with the default there, a raised window filled only as the first 4 jobs finished).
        self.default = CeleryWorker(
            app="config",
            queues=DEFAULT_QUEUES,
            pool="prefork",
            concurrency=1,
            env=env.for_subprocess(fairness),
            name=f"{name}-default",
        )
        try:
            self.jobs = CeleryWorker(
                app="config",
                queues=JOB_QUEUES,
                pool=pool,
                concurrency=concurrency,
                env=env.for_subprocess(fairness),
                name=name,
            )
        except BaseException:
            self.default.stop()
            raise

    def meter(self, sandbox: SandboxProcess) -> CpuMeter:
        return CpuMeter(
            groups={"workers": self.jobs.process.pid, "enqueuer": self.default.process.pid},
            pids={"sandbox": sandbox.process.pid},
        )

    def stop(self) -> None:
        self.jobs.stop()
        self.default.stop()


def tenant_setup(sandbox: SandboxProcess) -> None:
    """Provision the bench tenant and connect it to the sandbox's eBay seller."""
    from marketplace.models import MarketplaceConnection  # noqa: PLC0415
    from marketplace.services.connections import TokenGrant, connection_store  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415
    from tenants.services import tenant_provision  # noqa: PLC0415

    tenant_provision(schema_name=TENANT_SCHEMA, name="Bench shop")
    tokens = sandbox.issue_tokens()
    with tenant_context(TENANT_SCHEMA):
        connection_store(
            marketplace="ebay",
            grant=TokenGrant(
                access_token=tokens["access_token"],
                expires_in=int(tokens["expires_in"]),
                refresh_token=tokens["refresh_token"],
                refresh_token_expires_in=int(tokens["refresh_token_expires_in"]),
            ),
        )
        # The sandbox seller's business policies and location, as connect time reads them
        # (issue 12: offers are published with them; readiness refuses a batch without).
        MarketplaceConnection.objects.filter(marketplace="ebay").update(setup=BENCH_EBAY_SETUP)


def products_create(*, count: int, prefix: str, image_url: str) -> list[int]:
    """`count` products with one image each, inside the bench tenant (bulk inserts)."""
    from marketplace.models import Category, Product, ProductImage  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    with tenant_context(TENANT_SCHEMA):
        category = Category.objects.get(code="mens-coats-jackets")  # seeded at provisioning
        products = Product.objects.bulk_create(
            (
                Product(
                    sku=f"{prefix}{n:06d}",
                    title=f"Bench jacket {n}",
                    price=Decimal("19.99"),
                    currency="EUR",
                    quantity=1,
                    condition="used_good",
                    brand="Bench",
                    size="M",
                    category=category,
                    colours=["blue"],
                )
                for n in range(1, count + 1)
            ),
            batch_size=2000,
        )
        ProductImage.objects.bulk_create(
            (ProductImage(product=product, url=image_url, position=0) for product in products),
            batch_size=2000,
        )
    return [product.pk for product in products]


def _batch_table() -> str:
    from batches.models import BatchJob  # noqa: PLC0415

    return f'"{TENANT_SCHEMA}"."{BatchJob._meta.db_table}"'


class _BatchWatch:
    """Polls one batch row over its own connection (the poller runs in a thread)."""

    def __init__(self, env: BenchEnv) -> None:
        self.conn = psycopg.connect(env.dsn, autocommit=True)
        self.table = _batch_table()
        self.batch_pk: int | None = None
        self.status = "pending"

    def processed(self) -> int:
        if self.batch_pk is None:
            return 0
        row = self.conn.execute(
            f"SELECT status, completed_count + failed_count + cancelled_count + expired_count "
            f"FROM {self.table} WHERE id = %s",
            [self.batch_pk],
        ).fetchone()
        assert row is not None, f"batch {self.batch_pk} is gone"
        self.status = row[0]
        return int(row[1])

    def finished(self, _n: int) -> bool:
        return self.status in ("completed", "failed", "partially_failed", "cancelled")

    def close(self) -> None:
        self.conn.close()


def run_batch(
    env: BenchEnv,
    sandbox: SandboxProcess,
    *,
    jobs: int,
    prefix: str,
    name: str,
    meter: CpuMeter | None = None,
) -> RunResult:
    """Time one publish batch from batch_create to status completed; verify the sandbox saw
    exactly one listing per SKU."""
    from batches.models import BatchJob  # noqa: PLC0415
    from batches.services import batch_create  # noqa: PLC0415
    from marketplace.models import Product  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    product_ids = products_create(count=jobs, prefix=prefix, image_url=sandbox.image_url("jacket"))
    sandbox.reset()  # counters of this run only
    watch = _BatchWatch(env)
    if meter is not None:
        meter.exclude.add(watch.conn.info.backend_pid)
    with tenant_context(TENANT_SCHEMA):
        span = Span(meter)
        poller = Poller(done=watch.processed, finished=watch.finished)
        wall_start = time.time()
        batch = batch_create(product_ids=product_ids, marketplaces=["ebay"], action="publish")
        created_s = time.perf_counter() - poller.start
        watch.batch_pk = batch.pk
        elapsed = poller.wait()
        cpu, sessions = span.end()
        watch.close()
        final = BatchJob.objects.get(pk=batch.pk)
        skus = set(Product.objects.filter(pk__in=product_ids).values_list("sku", flat=True))
        enqueued_s = (
            final.enqueued_at.timestamp() - wall_start if final.enqueued_at else float("nan")
        )
    if final.status != "completed" or final.completed_count != jobs:
        raise RuntimeError(
            f"{name}: batch {final.batch_id} ended {final.status} with "
            f"{final.completed_count}/{jobs} completed, {final.failed_count} failed"
        )
    listings = _listings_check(sandbox.stats(), skus)
    return RunResult(
        name,
        jobs,
        elapsed,
        poller.samples,
        cpu=cpu,
        pg_sessions=sessions,
        notes={
            "batch_create_s": f"{created_s:.3f}",
            "all_enqueued_s": f"{enqueued_s:.3f}",
            "listings": listings,
        },
    )


def _listings_check(stats: dict[str, Any], skus: set[str]) -> str:
    created: dict[str, int] = stats["listings_created"]
    ours = {sku: n for sku, n in created.items() if sku in skus}
    exact = set(ours) == skus and all(n == 1 for n in ours.values()) and len(created) == len(skus)
    line = (
        f"sandbox listings_created: {sum(created.values())} for {len(skus)} SKUs, "
        f"max per SKU {max(created.values(), default=0)}, "
        f"offers_created {sum(stats['offers_created'].values())}"
    )
    if not exact:
        raise RuntimeError(f"not exactly one listing per SKU: {line}")
    return line + " — exactly one per SKU"
