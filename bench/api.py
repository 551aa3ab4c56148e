"""API figures of DESIGN §6: `python -m bench.api [--jobs-in-table 1000000] [--keep]`.

1. Creating a 10,000-job batch through the API (POST /api/batches/ over HTTP to the ASGI
   server, as the frontend does): the time until the response, then until every job has been
   handed to the broker (the batch's `enqueued_at`, written by the enqueue task on a worker).
2. The job list (GET /api/jobs/) with a million jobs in the tenant: p50/p95 per page for the
   first page, a deep page (a cursor near the oldest job), filtered first and deep pages (by
   status and marketplace, by status alone, by batch).

The table is filled first (one INSERT … SELECT), then the batches are created: their 30,000
pending jobs sit on top of the million, as in a shop that has just queued them, which is the
shape a filter on another status must walk past (docs/performance.md).

Its own database and Redis databases, and PostgreSQL's random_page_cost set on that database
(`--random-page-cost`, 1.1 by default: the SSD setting docs/operations.md asks for)."""

import argparse
import base64
import os
import statistics
import time
from urllib.parse import quote

import redis
import requests

from bench.cpu import group_cpu_seconds
from bench.database import migrate_shared, recreate_database
from bench.env import BENCH_DB, REDIS_BASE, BenchEnv
from bench.procs import Managed

# Overridable so two people can run it side by side on one machine (own database, own Redis).
_REDIS_BASE = os.environ.get("RELIST_BENCH_REDIS_BASE", REDIS_BASE)


class _ApiBenchEnv(BenchEnv):
    @property
    def broker_url(self) -> str:
        return f"{_REDIS_BASE}/{self.broker_db}"

    @property
    def redis_url(self) -> str:
        return f"{_REDIS_BASE}/{self.redis_db}"


ENV = _ApiBenchEnv(
    database=os.environ.get("RELIST_BENCH_API_DB", f"{BENCH_DB}_api"), broker_db=13, redis_db=14
)


def flush_redis(dbs: tuple[int, ...]) -> None:
    for db in dbs:
        redis.Redis.from_url(f"{_REDIS_BASE}/{db}").flushdb()


SCHEMA, DOMAIN = "benchapi", "benchapi.localhost"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--batch-jobs", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=3, help="repetitions of the batch run")
    parser.add_argument("--jobs-in-table", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per list measurement")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it exists")
    parser.add_argument(
        "--server",
        choices=("gunicorn", "daphne"),
        default="gunicorn",
        help="gunicorn: the Procfile's `web` (the production layout); daphne: one ASGI process",
    )
    parser.add_argument("--skip-batch", action="store_true", help="only the job list")
    parser.add_argument(
        "--random-page-cost",
        type=float,
        default=1.1,
        help="set on the bench database (1.1: SSD, as docs/operations.md asks; 4: the default)",
    )
    return parser.parse_args(argv)


def _web_command(server: str, port: int) -> list[str]:
    if server == "daphne":
        return [".venv/bin/daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    return [".venv/bin/gunicorn", "-c", "config/gunicorn.py", "-b", f"127.0.0.1:{port}",
            "config.wsgi:application"]  # fmt: skip


def _setup(keep: bool, random_page_cost: float) -> str:
    """Database, tenant, owner token. Returns the API token."""
    if not keep:
        recreate_database(ENV.database)
        migrate_shared(ENV.for_subprocess())
    import django  # noqa: PLC0415 - configured by ENV.apply()

    django.setup()
    from django.db import connection  # noqa: PLC0415

    with connection.cursor() as cursor:  # for every connection opened from now on
        name = connection.ops.quote_name(ENV.database)
        cursor.execute(f"ALTER DATABASE {name} SET random_page_cost = {float(random_page_cost)}")

    from tenants.auth import api_token_issue  # noqa: PLC0415
    from tenants.models import Membership, Tenant  # noqa: PLC0415
    from tenants.services import tenant_provision  # noqa: PLC0415

    tenant = Tenant.objects.filter(schema_name=SCHEMA).first() or tenant_provision(
        schema_name=SCHEMA, name="API bench", domain=DOMAIN, owner_username="bench"
    )
    owner = Membership.objects.get(tenant=tenant, role="owner").user
    return api_token_issue(user=owner, name="bench")[1]


def _products(count: int, prefix: str) -> list[int]:
    """Ready products (canonical, one image) on a set-up eBay connection: batch creation
    checks readiness first (issue 12), and that check is part of what is measured."""
    from bench.engine import BENCH_EBAY_SETUP  # noqa: PLC0415
    from marketplace.models import (  # noqa: PLC0415
        Category,
        MarketplaceConnection,
        Product,
        ProductImage,
    )
    from tenants.context import tenant_context  # noqa: PLC0415

    with tenant_context(SCHEMA):
        MarketplaceConnection.objects.update_or_create(
            marketplace="ebay", defaults={"access_token": "bench", "setup": BENCH_EBAY_SETUP}
        )
        category = Category.objects.get(code="mens-coats-jackets")
        products = Product.objects.bulk_create(
            (
                Product(
                    sku=f"{prefix}{n:06d}",
                    title=f"Item {n}",
                    price=10,
                    category=category,
                    brand="Bench",
                    size="M",
                    colours=["blue"],
                )
                for n in range(count)
            ),
            batch_size=5000,
        )
        ProductImage.objects.bulk_create(
            (ProductImage(product=p, url=f"http://127.0.0.1:9/{p.pk}.jpg") for p in products),
            batch_size=5000,
        )
    return [p.pk for p in products]


def _enqueued_at(batch_id: str) -> float | None:
    from batches.models import BatchJob  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    with tenant_context(SCHEMA):
        value = BatchJob.objects.filter(batch_id=batch_id).values_list("enqueued_at", flat=True)
        stamp = value.first()
    return stamp.timestamp() if stamp else None


def batch_runs(session: requests.Session, api: str, *, jobs: int, runs: int) -> list[str]:
    """Returns the batches' public ids."""
    from django.conf import settings  # noqa: PLC0415

    print(f"\n1. Batch creation through the API ({jobs} jobs, {runs} runs)")
    print(
        f"   trigger window {settings.RELIST_TENANT_TRIGGER_WINDOW} per tenant and marketplace; "
        f"load average {_load()}"
    )
    print(f"{'run':>4}{'response s':>12}{'all enqueued s':>16}{'status':>8}")
    batch_ids = []
    for run in range(1, runs + 1):
        product_ids = _products(jobs, prefix=f"B{run}-{time.time_ns()}-")
        body = {"product_ids": product_ids, "marketplaces": ["ebay"], "action": "publish"}
        started = time.time()
        response = session.post(f"{api}/batches/", json=body, timeout=60)
        answered = time.time()
        batch_id = response.json()["batch_id"]
        batch_ids.append(batch_id)
        while (enqueued := _enqueued_at(batch_id)) is None and time.time() - started < 120:
            time.sleep(0.05)
        enqueued_s = f"{enqueued - started:.2f}" if enqueued else "n/a"
        print(f"{run:>4}{answered - started:>12.3f}{enqueued_s:>16}{response.status_code:>8}")
        flush_redis((ENV.broker_db,))  # the run_job messages: nobody consumes them here
        # and the window's bookkeeping, so each run starts with an empty window
        flush_redis((ENV.redis_db,))
    return batch_ids


def fill_jobs(total: int) -> float:
    """`total` jobs in the tenant's table with one INSERT … SELECT (mixed statuses)."""
    from django.db import connection  # noqa: PLC0415

    from tenants.context import tenant_context  # noqa: PLC0415

    started = time.perf_counter()
    with tenant_context(SCHEMA), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM marketplace_marketplacejob")
        have = cursor.fetchone()[0]
        if have < total:
            cursor.execute("SELECT id FROM public.catalogue_marketplaceactiontype LIMIT 1")
            action_type = cursor.fetchone()[0]
            cursor.execute(
                """
                INSERT INTO marketplace_marketplacejob
                  (marketplace, action_type_id, status, priority, attempts, max_retries,
                   expires_at, idempotency_key, input_data, result_data, error_code,
                   error_message, status_reason, pause_requested, cancel_requested,
                   created_at, updated_at, claimed_by)
                SELECT (ARRAY['ebay','etsy','vinted'])[1 + g %% 3], %s,
                       (ARRAY['completed','completed','completed','failed','pending'])[1 + g %% 5],
                       3, 1, 3, now() + interval '1 hour', 'fill:' || g || ':' || %s,
                       '{}', '{}', '', '', '', false, false, now(), now(), ''
                FROM generate_series(1, %s) AS g
                """,
                [action_type, time.time_ns(), total - have],
            )
            cursor.execute("ANALYZE marketplace_marketplacejob")
    return time.perf_counter() - started


def _timed(
    session: requests.Session, url: str, count: int, web_pgid: int
) -> tuple[float, float, int, float]:
    """p50 and p95 ms, rows of the last page, and the web server's CPU ms per request."""
    samples = []
    cpu_before = group_cpu_seconds(web_pgid)
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url, timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    cpu_ms = (group_cpu_seconds(web_pgid) - cpu_before) * 1000 / count
    rows = len(response.json()["results"])
    quantiles = statistics.quantiles(samples, n=100)
    return statistics.median(samples), quantiles[94], rows, cpu_ms


def _deep_cursor(position: int) -> str:
    """DRF's cursor for "after id `position`" in the -id ordering."""
    return quote(base64.b64encode(f"p={position}".encode()).decode())


def list_runs(
    session: requests.Session,
    api: str,
    *,
    total: int,
    count: int,
    web_pgid: int,
    batch_ids: list[str],
) -> None:
    deep = max(total // 10, 1)
    cases = [
        ("first page", f"{api}/jobs/"),
        ("deep page (id < 10%)", f"{api}/jobs/?cursor={_deep_cursor(deep)}"),
        ("filtered first page", f"{api}/jobs/?status=failed&marketplace=ebay"),
        (
            "filtered deep page",
            f"{api}/jobs/?status=failed&marketplace=ebay&cursor={_deep_cursor(deep)}",
        ),
        ("status first page", f"{api}/jobs/?status=failed"),
    ]
    if batch_ids:  # the oldest of the bench's batches, with another batch on top of it
        cases.append(("batch first page", f"{api}/jobs/?batch_id={batch_ids[0]}"))
    print(f"\n2. Job list with {total:,} jobs in the tenant ({count} requests each, 50 per page)")
    print(f"   load average {_load()}")
    print(f"{'case':<26}{'p50 ms':>9}{'p95 ms':>9}{'rows':>6}{'web CPU ms/req':>16}")
    for name, url in cases:
        p50, p95, rows, cpu_ms = _timed(session, url, count, web_pgid)
        print(f"{name:<26}{p50:>9.1f}{p95:>9.1f}{rows:>6}{cpu_ms:>16.2f}")
    print(f"   load average {_load()}")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    opts = _parse(argv)
    ENV.apply()
    flush_redis((ENV.broker_db, ENV.redis_db))
    token = _setup(opts.keep, opts.random_page_cost)
    env = ENV.for_subprocess()
    from demo.processes import free_port, wait_port  # noqa: PLC0415

    port = free_port()
    # The bench is one client hammering one host: the throttles would answer 429.
    relaxed = {f"RELIST_THROTTLE_{scope}": "1000000/min" for scope in ("USER", "IP")}
    web = Managed(_web_command(opts.server, port), env={**env, **relaxed}, name="api-web")
    worker = Managed(
        [".venv/bin/celery", "-A", "config", "worker", "-Q", "default", "-c", "1",
         "--without-gossip", "--without-mingle", "-l", "warning"],
        env=env,
        name="api-worker",
    )  # fmt: skip
    try:
        wait_port(port, process=web.process)
        api = f"http://127.0.0.1:{port}/api"
        session = requests.Session()
        session.headers.update({"Host": DOMAIN, "Authorization": f"Bearer {token}"})
        for _ in range(20):  # warm every web process (and its database connections)
            session.get(f"{api}/jobs/", timeout=30).raise_for_status()
        layout = (
            "daphne (1 process)" if opts.server == "daphne" else "gunicorn (config/gunicorn.py)"
        )
        print(f"Relist API bench: {layout}, PostgreSQL and Redis on loopback")
        print(f"random_page_cost {opts.random_page_cost} on {ENV.database}")
        filled = fill_jobs(opts.jobs_in_table)
        print(f"(filled the jobs table to {opts.jobs_in_table:,} rows in {filled:.1f}s)")
        batch_ids = []
        if not opts.skip_batch:
            batch_ids = batch_runs(session, api, jobs=opts.batch_jobs, runs=opts.batches)
        list_runs(
            session,
            api,
            total=opts.jobs_in_table,
            count=opts.requests,
            web_pgid=web.process.pid,
            batch_ids=batch_ids,
        )
    finally:
        worker.stop()
        web.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
