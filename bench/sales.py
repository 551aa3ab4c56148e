"""Sold once, gone everywhere, at many tenants (issue 13's benchmark).

    .venv/bin/python -m bench sales                       # 20 then 100 tenants
    .venv/bin/python -m bench sales --tenants 10 --sales 10 --period 60   # a quick look
    .venv/bin/python -m bench sales --redis redis://127.0.0.1:6401       # another Redis server

The run starts its own world on this machine: database `relist_bench_sales` (re-created, dropped
at the end unless --keep-db), two Redis databases, the eBay and Etsy sandboxes (`python -m
sandbox all`), daphne for the extension socket, one Vinted simulator per tenant (a fleet in its
own process, bench/sales_sims.py), the Procfile's Celery workers (incl. the .high queues) and
beat, with a short sale sync interval (RELIST_SALE_SYNC_INTERVAL_S) and poll
(RELIST_SALE_SYNC_POLL_S).

At each tenant count (--tenants 20,100: the first 20 are connected and measured, then 80 more
join and all 100 are measured) every tenant is connected to eBay, Etsy and Vinted and publishes
--products products to all three through a batch, as production does. Then --sales buyers
purchase a random unsold product of a random connected tenant on a random marketplace (the
sandboxes' purchase control call, the simulator's seed_order), at random moments over --period
seconds. Every product has one unit and sells once, so sales of one product are never closer
than the sync interval. A second buyer tries each sold product on another HTTP marketplace
(eBay or Etsy) once the target (interval + 30 s) has passed: the marketplace accepts only a
listing still live, which would be an oversell.

Printed per tenant count: sale -> delisted everywhere latency (the purchase to the latest
finished_at of the other marketplaces' delist jobs) p50 / p95 / max, sale detection latency,
sales not delisted within --timeout, OversellAlert rows, second buyers accepted, and marketplace
calls spent on order syncs per tenant per hour (the sandboxes' call counters of the order
endpoints, the simulators' my_orders commands, over the measured window, scaled to an hour).
"""

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench import database
from bench.env import ENCRYPTION_KEY, LOG_DIR, PG_HOST, PG_PORT, PG_USER
from bench.procs import CeleryWorker, Managed, install_cleanup, stop_all
from bench.relay_setup import DAPHNE_WS_LIMITS, _free_port
from bench.report import rule, say

DB = "relist_bench_sales"
BROKER_DB, REDIS_DB = 12, 13
SCHEMA = "bench_sales_{n:03d}"
DOMAIN = "sales-{n:03d}.bench.localhost"
SELLER = "bench-seller-{n:03d}"
MARKETPLACES = ("ebay", "etsy", "vinted")
HTTP_MARKETPLACES = ("ebay", "etsy")
# The Procfile's workers: (name, queues, pool, concurrency).
WORKERS = (
    ("sales-ebay", "ebay.high,ebay", "threads", 16),
    ("sales-etsy", "etsy.high,etsy", "threads", 8),
    ("sales-vinted", "vinted.high,vinted", "threads", 8),
    ("sales-default", "default,maintenance", "prefork", 2),
)


@dataclass(frozen=True)
class Options:
    tenants: list[int]
    products: int
    sales: int | None
    period_s: float
    interval_s: int
    poll_s: float
    timeout_s: float
    redis: str
    keep_db: bool
    seed: int

    @property
    def target_s(self) -> float:
        return self.interval_s + 30.0


def _parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench sales", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--tenants", default="20,100", help="tenant counts measured one after the other"
    )
    parser.add_argument("--products", type=int, default=3, help="products per tenant")
    parser.add_argument("--sales", type=int, help="sales per tenant count (default: tenants)")
    parser.add_argument("--period", type=float, default=120.0, help="seconds sales are spread over")
    parser.add_argument("--interval", type=int, default=20, help="RELIST_SALE_SYNC_INTERVAL_S")
    parser.add_argument("--poll", type=float, default=2.0, help="RELIST_SALE_SYNC_POLL_S")
    parser.add_argument("--timeout", type=float, default=180.0, help="a sale not delisted by then")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server (no db)")
    parser.add_argument("--keep-db", action="store_true", help=f"keep {DB} afterwards")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.tenants.split(",") if n.strip()})
    if not counts or counts[0] < 1:
        parser.error("--tenants needs positive counts")
    return Options(
        tenants=counts,
        products=args.products,
        sales=args.sales,
        period_s=args.period,
        interval_s=args.interval,
        poll_s=args.poll,
        timeout_s=args.timeout,
        redis=args.redis.rstrip("/"),
        keep_db=args.keep_db,
        seed=args.seed,
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


# --- processes --------------------------------------------------------------------------------


class Sandboxes(Managed):
    """`python -m sandbox all`: the eBay and Etsy sandboxes on free ports, no faults."""

    def __init__(self, env: dict[str, str], *, seed: int) -> None:
        argv = [sys.executable, "-m", "sandbox", "all", "--seed", str(seed)]
        super().__init__(argv, env=env, name="sales-sandboxes")
        self.urls: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while len(self.urls) < 2:
            for line in self.log_path.read_text().splitlines():
                name, _, url = line.partition(" ")
                if name in HTTP_MARKETPLACES and url.startswith("http"):
                    self.urls[name] = url.strip()
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandboxes did not start: {self.log_tail()}")
            time.sleep(0.05)

    def root(self, marketplace: str) -> str:
        scheme, rest = self.urls[marketplace].split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"

    def control(self, marketplace: str, method: str, path: str, body: dict | None = None):
        return _http(method, f"{self.root(marketplace)}/__sandbox__/{path}", body)

    def calls(self) -> dict[str, dict[str, int]]:
        return {mp: self.control(mp, "GET", "stats")[1]["calls"] for mp in HTTP_MARKETPLACES}


class Daphne(Managed):
    def __init__(self, env: dict[str, str]) -> None:
        import socket  # noqa: PLC0415

        self.port = _free_port()
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        super().__init__(
            [*argv, *DAPHNE_WS_LIMITS, "config.asgi:application"], env=env, name="sales-daphne"
        )
        deadline = time.monotonic() + 60
        while True:
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not start: {self.log_tail()}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            time.sleep(0.1)


class Fleet(Managed):
    """bench/sales_sims.py for some tenants: their simulators and a control port."""

    def __init__(
        self, env: dict[str, str], *, url: str, tenants: list[int], tokens: dict[int, str]
    ):
        name = f"sales-sims-{tenants[0]:03d}-{tenants[-1]:03d}"
        spec_path = LOG_DIR / f"{name}-spec.json"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        spec_path.write_text(
            json.dumps([{"token": tokens[n], "host": DOMAIN.format(n=n)} for n in tenants])
        )
        argv = [sys.executable, "-m", "bench.sales_sims", "--url", url, "--spec", str(spec_path)]
        super().__init__(argv, env=env, name=name)
        self.index = {n: i for i, n in enumerate(tenants)}
        deadline = time.monotonic() + 240
        self.port = 0
        while not self.port:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith("control "):
                    self.port = int(line.split()[1])
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the simulators did not start: {self.log_tail()}")
            time.sleep(0.2)

    def sell(self, tenant: int, *, item_id: int, title: str) -> tuple[int, Any]:
        body = {"index": self.index[tenant], "item_id": item_id, "title": title}
        return _http("POST", f"http://127.0.0.1:{self.port}/sell", body)

    def stats(self) -> list[dict[str, Any]]:
        return _http("GET", f"http://127.0.0.1:{self.port}/stats")[1]


# --- the world --------------------------------------------------------------------------------


@dataclass
class Sold:
    tenant: int
    sku: str
    marketplace: str
    at: float  # wall clock, just before the buyer's call
    second_at: float = 0.0  # when the second buyer comes
    second: str = ""  # the marketplace the second buyer tries
    second_status: int | None = None
    # Filled from the database:
    detected_s: float | None = None
    delisted_s: float | None = None
    failed: str = ""


@dataclass
class Phase:
    tenants: int
    sold: list[Sold] = field(default_factory=list)
    window_s: float = 0.0
    sync_calls: dict[str, int] = field(default_factory=dict)
    other_calls: int = 0
    oversells: int = 0
    load: str = ""
    sync_jobs: int = 0
    sync_failed: int = 0


class World:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.random = random.Random(opts.seed)
        self.env: dict[str, str] = {}
        self.sandboxes: Sandboxes | None = None
        self.fleets: list[Fleet] = []
        self.fleet_of: dict[int, Fleet] = {}
        self.unsold: list[tuple[int, str]] = []  # (tenant, sku)
        self.titles: dict[tuple[int, str], str] = {}

    # -- setup ---------------------------------------------------------------------------------

    def variables(self) -> dict[str, str]:
        assert self.sandboxes is not None
        ebay, etsy = self.sandboxes.urls["ebay"], self.sandboxes.urls["etsy"]
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
            "DJANGO_DEBUG": "false",
            "RELIST_FIELD_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB}",
            "CELERY_BROKER_URL": f"{self.opts.redis}/{BROKER_DB}",
            "REDIS_URL": f"{self.opts.redis}/{REDIS_DB}",
            "CHANNELS_REDIS_URL": f"{self.opts.redis}/{REDIS_DB}",
            "EBAY_API_BASE_URL": ebay,
            "EBAY_AUTH_BASE_URL": self.sandboxes.root("ebay"),
            "ETSY_API_BASE_URL": etsy,
            "ETSY_TOKEN_URL": f"{self.sandboxes.root('etsy')}/v3/public/oauth/token",
            "RELIST_SALE_SYNC_INTERVAL_S": str(self.opts.interval_s),
            "RELIST_SALE_SYNC_POLL_S": str(self.opts.poll_s),
            "RELIST_SWEEP_INTERVAL_S": "10",
            "VINTED_MIN_SPACING_S": "0",
            "VINTED_SPACING_JITTER_S": "0",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "CELERY_SKIP_CHECKS": "1",
        }

    def start(self) -> None:
        rule("sales bench setup")
        import redis  # noqa: PLC0415

        for db in (BROKER_DB, REDIS_DB):
            redis.Redis.from_url(f"{self.opts.redis}/{db}").flushdb()
        database.recreate_database(DB)
        self.sandboxes = Sandboxes(dict(os.environ), seed=self.opts.seed)
        self.env = {**os.environ, **self.variables()}
        os.environ.update(self.variables())
        migrate_s = database.migrate_shared(self.env)
        import django  # noqa: PLC0415 - only once the bench environment is in place

        django.setup()
        _log_to_file()
        started = time.perf_counter()
        self._provision(max(self.opts.tenants))
        provision_s = time.perf_counter() - started
        say(
            f"  database {DB} (shared migrations {migrate_s:.1f} s; {max(self.opts.tenants)} "
            f"tenants provisioned in {provision_s:.1f} s, copies of the first); Redis "
            f"{self.opts.redis} dbs {BROKER_DB}/{REDIS_DB}; sandboxes {self.sandboxes.urls}"
        )
        self.daphne = Daphne({**self.env, "LOG_LEVEL": "WARNING"})
        for name, queues, pool, concurrency in WORKERS:
            CeleryWorker(
                app="config",
                queues=queues,
                pool=pool,
                concurrency=concurrency,
                env=self.env,
                name=name,
            )
        schedule = LOG_DIR / "sales-beat-schedule"
        for stale in LOG_DIR.glob("sales-beat-schedule*"):  # shelve's files of a former run
            stale.unlink()
        Managed(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "-s",
                str(schedule),
            ],
            env=self.env,
            name="sales-beat",
        )
        say(
            f"  machine: {os.cpu_count()} cores, {platform.python_implementation()} "
            f"{platform.python_version()}, load average {_load()}; settings "
            "config.settings.production; workers as the Procfile ("
            + ", ".join(f"{q} {p}×{c}" for _, q, p, c in WORKERS)
            + "), beat, daphne"
        )
        say(
            f"  sale sync interval {self.opts.interval_s} s (RELIST_SALE_SYNC_INTERVAL_S), beat "
            f"poll {self.opts.poll_s} s (RELIST_SALE_SYNC_POLL_S); target p95 < interval + 30 s "
            f"= {self.opts.target_s:.0f} s (production default 120 s -> 150 s)"
        )

    def _provision(self, count: int) -> None:
        """The first tenant as production provisions one; the others through the same service
        over a copy of the first, still empty schema (its pg_dump, renamed), since a migration
        run per schema takes seconds here and django-tenants' clone_schema slows down as the
        catalogue grows."""
        from tenants.models import Tenant  # noqa: PLC0415
        from tenants.services import tenant_provision  # noqa: PLC0415

        template = ""
        try:
            for n in range(count):
                if n == 1:
                    Tenant.auto_create_schema = False
                    template = _schema_dump(SCHEMA.format(n=0))
                if n >= 1:
                    _schema_load(template.replace(SCHEMA.format(n=0), SCHEMA.format(n=n)))
                with contextlib.redirect_stdout(io.StringIO()):
                    tenant_provision(
                        schema_name=SCHEMA.format(n=n),
                        name=f"Sales bench shop {n}",
                        domain=DOMAIN.format(n=n),
                        owner_username=f"sales_bench_owner_{n:03d}",
                    )
        finally:
            Tenant.auto_create_schema = True

    def connect(self, tenants: list[int]) -> None:
        """eBay and Etsy OAuth grants, an extension token and a simulator per tenant."""
        from marketplace.services.connections import TokenGrant, connection_store  # noqa: PLC0415
        from tenants.context import tenant_context  # noqa: PLC0415
        from tenants.models import Membership, Tenant  # noqa: PLC0415
        from tenants.services import extension_token_issue  # noqa: PLC0415

        assert self.sandboxes is not None
        tokens: dict[int, str] = {}
        for n in tenants:
            grants = {}
            for mp in HTTP_MARKETPLACES:
                status, body = self.sandboxes.control(
                    mp, "POST", "tokens", {"user": SELLER.format(n=n)}
                )
                if status != 200:
                    raise RuntimeError(f"{mp} tokens: {status} {body}")
                grants[mp] = body
            with tenant_context(SCHEMA.format(n=n)):
                for mp, body in grants.items():
                    connection_store(
                        marketplace=mp,
                        grant=TokenGrant(
                            access_token=body["access_token"],
                            expires_in=int(body["expires_in"]),
                            refresh_token=body.get("refresh_token"),
                            refresh_token_expires_in=body.get("refresh_token_expires_in"),
                        ),
                        account_id=str(body.get("shop_id", "")),
                    )
            tenant = Tenant.objects.get(schema_name=SCHEMA.format(n=n))
            owner = Membership.objects.get(tenant=tenant).user
            tokens[n] = extension_token_issue(tenant=tenant, user=owner, name="bench simulator")[1]
        fleet = Fleet(
            {k: v for k, v in self.env.items() if k != "DJANGO_SETTINGS_MODULE"},
            url=f"ws://127.0.0.1:{self.daphne.port}/ws/vinted/",
            tenants=tenants,
            tokens=tokens,
        )
        self.fleets.append(fleet)
        self.fleet_of.update(dict.fromkeys(tenants, fleet))

    def publish(self, tenants: list[int]) -> float:
        """M products per tenant, one publish batch per tenant to all three marketplaces."""
        from batches.models import BatchJob  # noqa: PLC0415
        from batches.services import batch_create  # noqa: PLC0415
        from marketplace.models import Product, ProductImage  # noqa: PLC0415
        from tenants.context import tenant_context  # noqa: PLC0415

        assert self.sandboxes is not None
        image = f"{self.sandboxes.root('ebay')}/__sandbox__/images/jacket.jpg"
        started = time.monotonic()
        batches: dict[int, int] = {}
        for n in tenants:
            with tenant_context(SCHEMA.format(n=n)):
                products = Product.objects.bulk_create(
                    Product(
                        sku=f"S{n:03d}-{k:02d}",
                        title=f"Bench jacket {n}-{k}",
                        description="Good condition.",
                        price=Decimal("19.99"),
                        currency="EUR",
                        quantity=1,
                        condition="used_good",
                        brand="Bench",
                        size="M",
                    )
                    for k in range(self.opts.products)
                )
                ProductImage.objects.bulk_create(
                    ProductImage(product=p, url=image, position=0) for p in products
                )
                batch = batch_create(
                    product_ids=[p.pk for p in products],
                    marketplaces=list(MARKETPLACES),
                    action="publish",
                )
                batches[n] = batch.pk
                for p in products:
                    self.unsold.append((n, p.sku))
                    self.titles[(n, p.sku)] = p.title
        terminal = ("completed", "failed", "partially_failed", "cancelled")
        deadline = time.monotonic() + 600
        waiting = dict(batches)
        while waiting:
            for n, pk in list(waiting.items()):
                with tenant_context(SCHEMA.format(n=n)):
                    batch = BatchJob.objects.get(pk=pk)
                if batch.status in terminal:
                    if batch.status != "completed":
                        raise RuntimeError(f"tenant {n}: publish batch ended {batch.status}")
                    del waiting[n]
            if time.monotonic() > deadline:
                raise RuntimeError(f"publish batches still running: {sorted(waiting)}")
            time.sleep(1.0)
        return time.monotonic() - started

    # -- one measured phase --------------------------------------------------------------------

    def _sync_calls(self) -> dict[str, int]:
        """Order-endpoint calls so far: eBay getOrders, Etsy receipts, Vinted my_orders."""
        assert self.sandboxes is not None
        calls = self.sandboxes.calls()
        counts = {
            "ebay": sum(n for route, n in calls["ebay"].items() if "/sell/fulfillment/" in route),
            "etsy": sum(n for route, n in calls["etsy"].items() if "/receipts" in route),
            "vinted": 0,
        }
        counts["all_http"] = sum(sum(c.values()) for c in calls.values())
        for fleet in self.fleets:
            for sim in fleet.stats():
                counts["vinted"] += sum(
                    n for path, n in sim["by_path"].items() if "/my_orders" in path
                )
        return counts

    def run_phase(self, tenants: int) -> Phase:
        opts = self.opts
        phase = Phase(tenants=tenants)
        count = min(opts.sales or tenants, len(self.unsold))
        picks = self.random.sample(self.unsold, count)
        for pick in picks:
            self.unsold.remove(pick)
        moments = sorted(self.random.uniform(0, opts.period_s) for _ in picks)
        rule(f"{tenants} tenants: {count} sales over {opts.period_s:.0f} s")
        say(f"  load average before: {_load()}")
        before, window_start = self._sync_calls(), time.monotonic()
        started = time.time()
        second_buyers = threading.Thread(
            target=self._second_buyers, args=(phase, count), daemon=True
        )
        for (n, sku), moment in zip(picks, moments, strict=True):
            time.sleep(max(0.0, started + moment - time.time()))
            phase.sold.append(self._sell(n, sku))
            if len(phase.sold) == 1:
                second_buyers.start()
        say(f"  all {count} purchases made; load average {_load()}")
        self._wait_delisted(phase)
        second_buyers.join(timeout=opts.target_s + 60)
        if any(s.second_status == 200 for s in phase.sold):
            time.sleep(opts.interval_s + 30)  # let the syncs find the double sale
        after = self._sync_calls()
        phase.window_s = time.monotonic() - window_start
        phase.sync_calls = {k: after[k] - before[k] for k in ("ebay", "etsy", "vinted")}
        phase.other_calls = (
            after["all_http"]
            - before["all_http"]
            - phase.sync_calls["ebay"]
            - phase.sync_calls["etsy"]
        )
        phase.load = _load()
        self._collect(phase, since=started)
        return phase

    def _sell(self, n: int, sku: str) -> Sold:
        assert self.sandboxes is not None
        marketplace = self.random.choice(MARKETPLACES)
        others = [mp for mp in HTTP_MARKETPLACES if mp != marketplace]
        sold = Sold(tenant=n, sku=sku, marketplace=marketplace, at=time.time())
        sold.second = self.random.choice(others)
        sold.second_at = sold.at + self.opts.target_s
        if marketplace == "vinted":
            item_id = self._listing_id(n, sku, "vinted")
            status, body = self.fleet_of[n].sell(n, item_id=item_id, title=self.titles[(n, sku)])
        else:
            body_in = {"sku": sku, "quantity": 1, "user": SELLER.format(n=n)}
            status, body = self.sandboxes.control(marketplace, "POST", "purchase", body_in)
        if status != 200:
            raise RuntimeError(f"purchase of {sku} on {marketplace} refused: {status} {body}")
        return sold

    def _second_buyers(self, phase: Phase, planned: int) -> None:
        """Once a sale's target time has passed, a buyer tries it on another marketplace."""
        assert self.sandboxes is not None
        deadline = time.time() + self.opts.period_s + self.opts.target_s + 120
        tried = 0
        while tried < planned and time.time() < deadline:
            for sold in list(phase.sold):
                if sold.second_status is None and time.time() >= sold.second_at:
                    body = {"sku": sold.sku, "quantity": 1, "user": SELLER.format(n=sold.tenant)}
                    status = self.sandboxes.control(sold.second, "POST", "purchase", body)[0]
                    sold.second_status = status
                    tried += 1
            time.sleep(0.5)

    def _listing_id(self, n: int, sku: str, marketplace: str) -> int:
        from marketplace.models import Listing  # noqa: PLC0415
        from tenants.context import tenant_context  # noqa: PLC0415

        with tenant_context(SCHEMA.format(n=n)):
            return int(Listing.objects.get(product__sku=sku, marketplace=marketplace).external_id)

    def _state(self, sold: Sold) -> None:
        """Detection and delisted-everywhere times of one sale, from its Sale and actions."""
        from sales.models import Sale, SaleAction  # noqa: PLC0415
        from tenants.context import tenant_context  # noqa: PLC0415

        with tenant_context(SCHEMA.format(n=sold.tenant)):
            sale = Sale.objects.filter(product__sku=sold.sku, marketplace=sold.marketplace).first()
            if sale is None:
                return
            sold.detected_s = sale.detected_at.timestamp() - sold.at
            actions = list(SaleAction.objects.filter(sale=sale).select_related("job"))
        delists = [a for a in actions if a.kind == "delist"]
        jobs = [a.job for a in delists if a.job is not None]
        if len(delists) != len(MARKETPLACES) - 1 or len(jobs) != len(delists):
            sold.failed = "actions: " + ", ".join(
                f"{a.marketplace} {a.kind} {a.outcome}" for a in actions
            )
            return
        gave_up = [j for j in jobs if j.status in ("failed", "expired", "cancelled")]
        if gave_up:
            sold.failed = "; ".join(
                f"{j.marketplace} {j.status}: {j.error_message[:80]}" for j in gave_up
            )
            return
        ended = [j.finished_at for j in jobs if j.status == "completed" and j.finished_at]
        if len(ended) == len(jobs):
            sold.delisted_s = max(at.timestamp() for at in ended) - sold.at

    def _wait_delisted(self, phase: Phase) -> None:
        while True:
            pending = [s for s in phase.sold if s.delisted_s is None and not s.failed]
            for sold in pending:
                self._state(sold)
            pending = [s for s in phase.sold if s.delisted_s is None and not s.failed]
            if not pending or all(time.time() > s.at + self.opts.timeout_s for s in pending):
                return
            time.sleep(2.0)

    def _collect(self, phase: Phase, *, since: float) -> None:
        from datetime import UTC, datetime  # noqa: PLC0415

        from marketplace.models import MarketplaceJob  # noqa: PLC0415
        from sales.models import OversellAlert  # noqa: PLC0415
        from tenants.context import tenant_context  # noqa: PLC0415

        for sold in phase.sold:
            if sold.delisted_s is None and not sold.failed:
                self._state(sold)
        moment = datetime.fromtimestamp(since, tz=UTC)
        for n in range(phase.tenants):
            with tenant_context(SCHEMA.format(n=n)):
                phase.oversells += OversellAlert.objects.count()
                syncs = MarketplaceJob.objects.filter(
                    action_type__code="sync_orders", created_at__gte=moment
                )
                phase.sync_jobs += syncs.count()
                phase.sync_failed += syncs.filter(status="failed").count()


def _schema_dump(schema: str) -> str:
    """The schema's tables, sequences and rows (the seeded ones) as SQL."""
    argv = ["pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", DB]
    argv += ["--schema", schema, "--no-owner", "--no-privileges", "--inserts"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _schema_load(sql: str) -> None:
    argv = ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", DB]
    argv += ["-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
    subprocess.run(argv, input=sql, capture_output=True, text=True, check=True)


def _log_to_file() -> None:
    from core.logging import StructuredFormatter  # noqa: PLC0415

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(LOG_DIR / "sales-process.log", mode="w")
    handler.setFormatter(StructuredFormatter())
    root.addHandler(handler)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _report(phase: Phase, opts: Options) -> None:
    delisted = [s.delisted_s for s in phase.sold if s.delisted_s is not None]
    detected = [s.detected_s for s in phase.sold if s.detected_s is not None]
    late = [s for s in phase.sold if s.delisted_s is None or s.delisted_s > opts.timeout_s]
    by_mp = {
        mp: [s.delisted_s for s in phase.sold if s.marketplace == mp and s.delisted_s is not None]
        for mp in MARKETPLACES
    }
    accepted = sum(1 for s in phase.sold if s.second_status == 200)
    tried = sum(1 for s in phase.sold if s.second_status is not None)
    hours = phase.window_s / 3600
    per_tenant_hour = {mp: n / phase.tenants / hours for mp, n in phase.sync_calls.items()}
    expected = 3600 / opts.interval_s
    say(
        f"  sales: {len(phase.sold)}; delisted everywhere: {len(delisted)}; "
        f"not within {opts.timeout_s:.0f} s: {len(late)}"
    )
    if delisted:
        say(
            f"  sale -> delisted everywhere: p50 {_pct(delisted, 0.5):.1f} s, p95 "
            f"{_pct(delisted, 0.95):.1f} s, max {max(delisted):.1f} s "
            f"(mean {statistics.mean(delisted):.1f} s)"
        )
    if detected:
        say(
            f"  sale -> detected (Sale row): p50 {_pct(detected, 0.5):.1f} s, p95 "
            f"{_pct(detected, 0.95):.1f} s, max {max(detected):.1f} s"
        )
    say(
        "  by marketplace sold on (p50 / max s): "
        + ", ".join(
            f"{mp} {len(v)} sales {_pct(v, 0.5):.1f} / {max(v, default=float('nan')):.1f}"
            for mp, v in by_mp.items()
        )
    )
    for sold in late[:5]:
        say(
            f"    not delisted: tenant {sold.tenant} {sold.sku} sold on {sold.marketplace}: "
            f"{sold.failed or 'pending'}"
        )
    over = sum(1 for s in phase.sold if s.delisted_s is not None and s.delisted_s > opts.target_s)
    say(f"  delisted later than the target ({opts.target_s:.0f} s): {over}")
    say(
        f"  oversells (OversellAlert rows): {phase.oversells}; second buyers after "
        f"{opts.target_s:.0f} s accepted: {accepted} of {tried}"
    )
    say(
        f"  order syncs: {phase.sync_jobs} sync_orders jobs in the window "
        f"({phase.sync_failed} failed); calls on order endpoints per tenant per hour over "
        f"{phase.window_s:.0f} s: "
        + ", ".join(f"{mp} {v:.0f}" for mp, v in per_tenant_hour.items())
        + f" (one sync per interval = {expected:.0f}); other eBay/Etsy calls in the window "
        f"{phase.other_calls}"
    )
    say(f"  load average after: {phase.load}")
    verdict_p95 = _pct(delisted, 0.95) < opts.target_s if delisted else False
    no_oversell = phase.oversells == 0 and accepted == 0
    say(
        f"  target: p95 < {opts.target_s:.0f} s: {'met' if verdict_p95 and not late else 'NOT met'}"
        f"; zero oversells: {'met' if no_oversell else 'NOT met'}"
    )


def _summary(phases: list[Phase], opts: Options) -> None:
    rule("summary")
    say(f"  sync interval {opts.interval_s} s, target p95 < {opts.target_s:.0f} s, zero oversells")
    say(
        f"  {'tenants':>8} {'sales':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'late':>5} "
        f"{'overs.':>6}  calls/tenant/hour (ebay etsy vinted)"
    )
    for phase in phases:
        d = [s.delisted_s for s in phase.sold if s.delisted_s is not None]
        late = sum(1 for s in phase.sold if s.delisted_s is None or s.delisted_s > opts.timeout_s)
        hours = phase.window_s / 3600
        calls = " ".join(
            f"{phase.sync_calls[mp] / phase.tenants / hours:6.0f}" for mp in MARKETPLACES
        )
        say(
            f"  {phase.tenants:>8} {len(phase.sold):>6} {_pct(d, 0.5):>7.1f} {_pct(d, 0.95):>7.1f} "
            f"{max(d, default=float('nan')):>7.1f} {late:>5} {phase.oversells:>6}  {calls}"
        )


def main(argv: list[str]) -> int:
    opts = _parse(argv)
    install_cleanup()
    started = time.perf_counter()
    world = World(opts)
    phases: list[Phase] = []
    try:
        world.start()
        connected = 0
        for count in opts.tenants:
            new = list(range(connected, count))
            rule(f"connect and publish tenants {new[0]}..{new[-1]}")
            t0 = time.monotonic()
            world.connect(new)
            say(
                f"  {len(new)} tenants connected to eBay, Etsy and Vinted in "
                f"{time.monotonic() - t0:.1f} s"
            )
            publish_s = world.publish(new)
            say(
                f"  {len(new) * opts.products} products published to 3 marketplaces "
                f"({len(new) * opts.products * 3} jobs) in {publish_s:.1f} s; "
                f"load average {_load()}"
            )
            connected = count
            phase = world.run_phase(count)
            _report(phase, opts)
            phases.append(phase)
        _summary(phases, opts)
    finally:
        stop_all()
        if "django.db" in sys.modules:
            from django.db import connections  # noqa: PLC0415

            connections.close_all()
        if not opts.keep_db:
            database.drop_database(DB)
    say(f"\n  total bench time {time.perf_counter() - started:.0f} s")
    return 0
