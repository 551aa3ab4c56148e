"""Chaos bench (issue 8 §10, DESIGN §6 "Faults"): a whole system under faults, as a black box.

    .venv/bin/python -m bench chaos                          # every scenario, full size
    .venv/bin/python -m bench chaos --jobs 90 --scenario redis-restart,pg-restart
    .venv/bin/python -m bench chaos --scenario idle          # connection counts only

It starts its OWN PostgreSQL cluster (initdb/pg_ctl under a temporary directory) and its OWN
Redis, on free ports, so restarting them touches nothing else; the eBay and Etsy sandboxes;
the system as the Procfile runs it (honcho; every process under scripts/supervise, the
database behind the Procfile's pgbouncer unless --no-pgbouncer); and the Vinted extension
simulator in this process (its account counts creations). It talks to the system only as a
user would: it creates a batch of publishes over eBay, Etsy and Vinted through the REST API and
polls it until it is terminal. Setup data (tenant, products, marketplace tokens) goes through
the services, as the demo does.

Scenarios (each in a shop of its own, on a restarted system with Redis emptied, so what one
fault left behind does not weigh on the next; the fault hits when 30 % of the batch is
terminal, or after 20 s, whichever is first):
  baseline        no fault: the reference time
  faults          30 % 5xx + 5 % 429 on eBay and Etsy, 30 % errors from the extension
  kill-worker     SIGKILL one Celery worker every 10 s (scripts/supervise restarts it)
  redis-restart   Redis killed and restarted empty after 3 s: queued messages are lost
  pg-restart      PostgreSQL stopped (fast) and started again after 10 s
  socket-drop     the extension's socket dropped right after a command committed, twice
  tokens-expired  every eBay and Etsy access token expired at once

Each prints: time to all-terminal, completed share, creations per SKU from the sandbox
counters (and the extension's account), batch counters vs a recount of its jobs, and the most
PostgreSQL server connections seen. The system's settings are the demo's (sweep every 10 s,
quick retries), with marketplace rate budgets raised so pacing does not hide recovery.
"""

import argparse
import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.chaos_services import (
    PostgresCluster,
    RedisServer,
    descendants,
    free_port,
    supervised_workers,
)
from bench.env import ENCRYPTION_KEY
from bench.procs import Managed, install_cleanup, stop_all
from bench.report import rule, say

SCENARIOS = (
    "baseline", "faults", "kill-worker", "redis-restart", "pg-restart", "socket-drop",
    "tokens-expired",
)  # fmt: skip
MARKETPLACES = ("ebay", "etsy", "vinted")
DATABASE = "relist_chaos"
SWEEP_INTERVAL_S = 10
TRIGGER_SHARE, TRIGGER_AFTER_S = 0.30, 20.0


@dataclass
class Outcome:
    scenario: str
    jobs: int
    seconds: float = 0.0
    terminal: bool = False
    counters: dict[str, int] = field(default_factory=dict)
    recount: dict[str, int] = field(default_factory=dict)
    creations: dict[str, Counter] = field(default_factory=dict)
    skus: list[str] = field(default_factory=list)
    max_connections: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return self.recount.get("completed", 0)

    def duplicated(self, marketplace: str) -> int:
        return sum(1 for n in self.creations.get(marketplace, Counter()).values() if n > 1)

    def max_per_sku(self, marketplace: str) -> int:
        return max(self.creations.get(marketplace, Counter()).values(), default=0)

    @property
    def counters_match(self) -> bool:
        keys = ("completed", "failed", "cancelled", "expired")
        return all(self.counters.get(k, -1) == self.recount.get(k, 0) for k in keys)


class ChaosSystem:
    """The services, the sandboxes, the system under test and the extension simulator."""

    def __init__(self, *, root: Path, pgbouncer: bool, sweep_s: int) -> None:
        self.root = root
        self.pg = PostgresCluster(root / "pg")
        self.redis = RedisServer(root)
        self.ebay_port, self.etsy_port, self.web_port = free_port(), free_port(), free_port()
        self.pgbouncer = pgbouncer
        self.sweep_s = sweep_s
        self.system: Managed | None = None
        self.sandboxes: Managed | None = None
        self.simulator: Any = None
        self.api_token = ""
        self.schema, self.domain = "", ""
        self.tenants = 0

    # --- environment ---------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        ebay, etsy = f"http://127.0.0.1:{self.ebay_port}", f"http://127.0.0.1:{self.etsy_port}"
        env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "chaos-bench-only-not-a-secret",
            "DJANGO_DEBUG": "false",
            "RELIST_FIELD_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "DATABASE_URL": self.pg.url(DATABASE),
            "CELERY_BROKER_URL": self.redis.url(0),
            "REDIS_URL": self.redis.url(1),
            "CHANNELS_REDIS_URL": self.redis.url(2),
            "EBAY_API_BASE_URL": ebay,
            "EBAY_AUTH_BASE_URL": ebay,
            "ETSY_API_BASE_URL": f"{etsy}/v3",
            "ETSY_TOKEN_URL": f"{etsy}/v3/public/oauth/token",
            # The demo's settings: quick retries, gentle pacing, a sweep every 10 s.
            "VINTED_MIN_SPACING_S": "0.05",
            "VINTED_SPACING_JITTER_S": "0.05",
            "RELIST_RETRY_BACKOFF_SCALE_S": "0.25",
            "RELIST_SWEEP_INTERVAL_S": str(self.sweep_s),
            # Budgets above what the batch needs: pacing would hide the recovery times.
            "EBAY_RATE_PER_SECOND": "500",
            "ETSY_RATE_PER_SECOND": "500",
            "ETSY_RATE_PER_DAY": "10000000",
            "RELIST_PGBOUNCER": "1" if self.pgbouncer else "0",
            "PYTHONUNBUFFERED": "1",
        }
        return {**os.environ, **env}

    # --- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        self.pg.init().start()
        self.pg.create_database(DATABASE)
        self.redis.start()
        env = self.environment()
        os.environ.update(env)
        self.sandboxes = Managed(
            [sys.executable, "-m", "sandbox", "all", "--ebay-port", str(self.ebay_port),
             "--etsy-port", str(self.etsy_port), "--seed", "11"],
            env=env, name="chaos-sandboxes",
        )  # fmt: skip
        _wait_port(self.ebay_port)
        _wait_port(self.etsy_port)
        self._seed()
        say(f"  PostgreSQL :{self.pg.port} and Redis :{self.redis.port} of our own under "
            f"{self.root}; sandboxes :{self.ebay_port} :{self.etsy_port}; setup "
            f"{time.monotonic() - started:.1f} s")  # fmt: skip
        self.start_system()

    def _seed(self) -> None:
        import django  # noqa: PLC0415 - once the environment points at our services

        django.setup()
        from django.core.management import call_command  # noqa: PLC0415

        with contextlib.redirect_stdout(open(os.devnull, "w")):  # migration progress
            call_command("migrate_schemas", verbosity=0)
        self.new_tenant()

    def new_tenant(self) -> None:
        """A shop of its own for the next scenario, so the jobs a fault left behind in the
        previous one are not counted (and do not hold its extension's command lock)."""
        from django.db import connections  # noqa: PLC0415

        from marketplace.services.account_setup import connection_setup_refresh  # noqa: PLC0415
        from marketplace.services.connections import connection_store  # noqa: PLC0415
        from tenants.auth import api_token_issue  # noqa: PLC0415
        from tenants.context import tenant_context  # noqa: PLC0415
        from tenants.models import Membership  # noqa: PLC0415
        from tenants.services import extension_token_issue, tenant_provision  # noqa: PLC0415

        connections.close_all()  # a restart may have broken the bench's own connection
        self.tenants += 1
        self.schema, self.domain = f"chaos{self.tenants}", f"chaos{self.tenants}.localhost"
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # migration progress
            tenant = tenant_provision(
                schema_name=self.schema, name=f"Chaos shop {self.tenants}", domain=self.domain,
                owner_username=f"chaos{self.tenants}",
            )  # fmt: skip
        owner = Membership.objects.select_related("user").get(tenant=tenant, role="owner").user
        _, self.api_token = api_token_issue(user=owner, name="chaos bench")
        _, self.extension_token = extension_token_issue(tenant=tenant, user=owner, name="sim")
        ebay = self.sandbox("ebay", "POST", "tokens", {})
        etsy = self.sandbox("etsy", "POST", "tokens", {})
        with tenant_context(self.schema):
            connection_store(marketplace="ebay", grant=_grant(ebay))
            connection_store(marketplace="etsy", grant=_grant(etsy),
                             account_id=str(etsy["shop_id"]))  # fmt: skip
            # As at connect time: the policies / profiles every listing is sent with.
            connection_setup_refresh(marketplace="ebay")
            connection_setup_refresh(marketplace="etsy")

    def fresh(self) -> None:
        """Between scenarios: the system stopped, Redis emptied, a new shop, the system and
        its extension started again."""
        self.stop_system()
        with contextlib.suppress(Exception):
            import redis  # noqa: PLC0415

            redis.Redis.from_url(self.redis.url(0)).flushall()
        self.new_tenant()
        self.start_system()

    def start_system(self) -> None:
        from sandbox.vinted.account import VintedAccount  # noqa: PLC0415
        from sandbox.vinted.faults import FaultPlan  # noqa: PLC0415
        from sandbox.vinted_extension import ExtensionSimulator  # noqa: PLC0415

        started = time.monotonic()
        self.system = Managed(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", str(self.web_port)],
            env=self.environment(), name=f"chaos-system-{self.schema}",
        )  # fmt: skip
        _wait_port(self.web_port, timeout=90)
        # honcho gives each Procfile entry the next hundred: `sockets` (daphne) is web + 100.
        sockets_port = self.web_port + 100
        _wait_port(sockets_port, timeout=90)
        deadline = time.monotonic() + 120
        while self.system.log_tail(10**7).count(" ready.") < 4:
            if time.monotonic() > deadline or not self.system.alive():
                raise RuntimeError(f"the workers did not start: {self.system.log_tail()}")
            time.sleep(0.2)
        if not hasattr(self, "account"):  # one Vinted account for the run: it counts creations
            self.account = VintedAccount()
            self.vinted_faults = FaultPlan(seed=11)
        self.simulator = ExtensionSimulator(
            f"ws://127.0.0.1:{sockets_port}/ws/vinted/", self.extension_token,
            host=f"{self.domain}:{sockets_port}", account=self.account, faults=self.vinted_faults,
            fetch_photos=False, seed=11,
        ).start_in_thread(timeout=30)  # fmt: skip
        say(f"  system up (honcho over the Procfile, pgbouncer "
            f"{'on' if self.pgbouncer else 'off'}) in {time.monotonic() - started:.1f} s; "
            f"log var/bench/chaos-system-{self.schema}.log")  # fmt: skip

    def stop_system(self) -> None:
        if self.simulator is not None:
            with contextlib.suppress(Exception):
                self.simulator.stop()
            self.simulator = None
        if self.system is not None:
            tree = descendants(self.system.process.pid)  # supervisors run in own sessions
            self.system.stop(timeout=45)
            for pid in tree:  # nothing of this system may linger (and consume the queues)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self.system = None

    def stop(self) -> None:
        self.stop_system()
        if self.sandboxes is not None:
            self.sandboxes.stop()
        self.redis.kill()
        with contextlib.suppress(Exception):
            from django.db import connections  # noqa: PLC0415

            connections.close_all()
        self.pg.destroy()

    # --- talking to it -------------------------------------------------------------------------

    def sandbox(self, marketplace: str, method: str, path: str, body: Any = None) -> Any:
        port = self.ebay_port if marketplace == "ebay" else self.etsy_port
        response = requests.request(
            method, f"http://127.0.0.1:{port}/__sandbox__/{path}", json=body, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Host": self.domain, "Authorization": f"Bearer {self.api_token}"}
        return requests.request(
            method, f"http://127.0.0.1:{self.web_port}/api/{path}", headers=headers, timeout=30,
            **kwargs,
        )  # fmt: skip

    def connections(self) -> int:
        try:
            return self.pg.connections(DATABASE)
        except Exception:
            return 0

    def workers(self) -> dict[int, str]:
        assert self.system is not None
        return supervised_workers(self.system.process.pid)


def _grant(tokens: dict[str, Any]) -> Any:
    from marketplace.services.connections import TokenGrant  # noqa: PLC0415

    return TokenGrant(
        access_token=tokens["access_token"],
        expires_in=int(tokens["expires_in"]),
        refresh_token=tokens.get("refresh_token"),
        refresh_token_expires_in=tokens.get("refresh_token_expires_in"),
    )


def _wait_port(port: int, timeout: float = 30.0) -> None:
    import socket  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# --- scenarios ---------------------------------------------------------------------------------


class Fault:
    """What a scenario does to the system; `hit` runs once at the trigger, `tick` every poll."""

    def __init__(self, system: ChaosSystem, outcome: Outcome) -> None:
        self.system, self.outcome = system, outcome

    def before(self) -> None: ...

    def hit(self) -> None: ...

    def tick(self, elapsed: float) -> None: ...

    def note(self, text: str, elapsed: float) -> None:
        self.outcome.events.append(f"{elapsed:6.1f}s {text}")


class FaultRates(Fault):
    def before(self) -> None:
        for marketplace in ("ebay", "etsy"):
            self.system.sandbox(
                marketplace, "POST", "faults", {"error_rate": 0.30, "rate_limit_rate": 0.05}
            )
        self.system.vinted_faults.set_rates(error=0.30)


class KillWorker(Fault):
    every_s = 10.0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.next_at = self.every_s
        self.kills = 0

    def tick(self, elapsed: float) -> None:
        if elapsed < self.next_at:
            return
        self.next_at += self.every_s
        workers = sorted(self.system.workers().items())
        if not workers:
            self.note("no worker to kill (all restarting)", elapsed)
            return
        pid, cmd = workers[self.kills % len(workers)]
        name = cmd.split(" -n ", 1)[-1].split("@", 1)[0] if " -n " in cmd else str(pid)
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker and its pool (its own process group)
        except ProcessLookupError:
            self.note(f"worker {name} (pid {pid}) was already gone", elapsed)
            return
        self.kills += 1
        self.note(f"SIGKILL worker {name} (pid {pid})", elapsed)


class RestartRedis(Fault):
    def hit(self) -> None:
        self.system.redis.restart(down_s=3.0)


class RestartPostgres(Fault):
    def hit(self) -> None:
        self.system.pg.restart(down_s=10.0)


class DropSocket(Fault):
    def hit(self) -> None:
        from sandbox.vinted.faults import Fault as SimFault  # noqa: PLC0415
        from sandbox.vinted.faults import FaultKind  # noqa: PLC0415

        self.system.vinted_faults.add(SimFault(kind=FaultKind.DROP_AFTER_COMMIT), times=1)
        time.sleep(8)
        self.system.vinted_faults.add(SimFault(kind=FaultKind.DROP_AFTER_COMMIT), times=1)


class ExpireTokens(Fault):
    def hit(self) -> None:
        for marketplace in ("ebay", "etsy"):
            self.system.sandbox(marketplace, "POST", "tokens/expire", {})


FAULTS: dict[str, type[Fault]] = {
    "baseline": Fault,
    "faults": FaultRates,
    "kill-worker": KillWorker,
    "redis-restart": RestartRedis,
    "pg-restart": RestartPostgres,
    "socket-drop": DropSocket,
    "tokens-expired": ExpireTokens,
}


def _products(system: ChaosSystem, scenario: str, count: int) -> tuple[list[int], list[str]]:
    from decimal import Decimal  # noqa: PLC0415

    from django.db import connections  # noqa: PLC0415

    from marketplace.models import Category, Product, ProductImage  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    connections.close_all()  # a restart may have broken the bench's own connection
    run = f"{scenario[:5].upper()}-{time.strftime('%H%M%S')}-{random.randint(100, 999)}"
    ids, skus = [], []
    with tenant_context(system.schema):
        for n in range(count):
            product = Product.objects.create(
                sku=f"{run}-{n:04d}", title=f"Levi's denim jacket {n}", description="Worn once.",
                price=Decimal("20.00") + n, currency="EUR", brand="Levi's", size="M",
                category=Category.objects.get(code="mens-coats-jackets"),
                condition="used_very_good", colours=["blue"], material="Cotton", weight_g=700,
            )  # fmt: skip
            ProductImage.objects.create(
                product=product,
                url=f"http://127.0.0.1:{system.ebay_port}/__sandbox__/images/c{n}.jpg",
                position=0,
            )
            ids.append(product.pk)
            skus.append(product.sku)
    return ids, skus


def _reset_faults(system: ChaosSystem) -> None:
    for marketplace in ("ebay", "etsy"):
        system.sandbox(marketplace, "DELETE", "faults")
    system.vinted_faults.clear()


def run_scenario(system: ChaosSystem, scenario: str, *, jobs: int, timeout: float) -> Outcome:
    products = max(1, -(-jobs // len(MARKETPLACES)))
    outcome = Outcome(scenario=scenario, jobs=products * len(MARKETPLACES))
    _reset_faults(system)
    ids, outcome.skus = _products(system, scenario, products)
    fault = FAULTS[scenario](system, outcome)
    fault.before()
    started = time.monotonic()
    response = system.api(
        "POST", "batches/",
        json={"product_ids": ids, "marketplaces": list(MARKETPLACES), "action": "publish"},
    )  # fmt: skip
    response.raise_for_status()
    batch = response.json()
    batch_id = batch["batch_id"]
    hit_thread: threading.Thread | None = None
    last_sample = 0.0
    while (elapsed := time.monotonic() - started) < timeout:
        with contextlib.suppress(requests.RequestException, ValueError):
            answer = system.api("GET", f"batches/{batch_id}/")
            if answer.status_code == 200:
                batch = answer.json()
        done_share = batch.get("progress_percent", 0) / 100
        if hit_thread is None and (done_share >= TRIGGER_SHARE or elapsed >= TRIGGER_AFTER_S):
            if type(fault).hit is not Fault.hit:
                fault.note(f"{scenario} at {done_share:.0%} terminal", elapsed)
            hit_thread = threading.Thread(target=fault.hit, daemon=True)
            hit_thread.start()
        fault.tick(elapsed)
        if elapsed - last_sample >= 1.0:
            outcome.max_connections = max(outcome.max_connections, system.connections())
            last_sample = elapsed
        if batch.get("is_terminal") and (hit_thread is None or not hit_thread.is_alive()):
            outcome.terminal = True
            break
        time.sleep(0.5)
    outcome.seconds = time.monotonic() - started
    if hit_thread is not None:
        hit_thread.join(timeout=60)
    _reset_faults(system)
    outcome.counters = {
        key.removesuffix("_count"): int(batch.get(key, 0))
        for key in ("completed_count", "failed_count", "cancelled_count", "expired_count")
    }
    outcome.recount = _recount(system, batch_id)
    outcome.creations = _creations(system, outcome.skus)
    return outcome


def _recount(system: ChaosSystem, batch_id: str) -> dict[str, int]:
    """The batch's jobs by status, read one by one through the API."""
    statuses: Counter = Counter()
    url: str | None = f"jobs/?batch_id={batch_id}&page_size=200"
    for _ in range(10_000):
        if url is None:
            break
        response = system.api("GET", url)
        response.raise_for_status()
        page = response.json()
        statuses.update(job["status"] for job in page["results"])
        following = page.get("next")
        url = following.split("/api/", 1)[1] if following else None
    return dict(statuses)


def _creations(system: ChaosSystem, skus: list[str]) -> dict[str, Counter]:
    wanted = set(skus)
    found: dict[str, Counter] = {}
    for marketplace in ("ebay", "etsy"):
        stats = system.sandbox(marketplace, "GET", "stats")
        created = _find_key(stats, "listings_created")
        found[marketplace] = Counter({s: n for s, n in created.items() if s in wanted})
    vinted: Counter = Counter()
    for sku in skus:
        count = system.account.count_items_with_marker(f"[ref:{sku}]", include_deleted=True)
        if count:
            vinted[sku] = count
    found["vinted"] = vinted
    return found


def _find_key(tree: Any, key: str) -> dict[str, int]:
    if isinstance(tree, dict):
        if key in tree and isinstance(tree[key], dict):
            return tree[key]
        for value in tree.values():
            if found := _find_key(value, key):
                return found
    return {}


# --- report ------------------------------------------------------------------------------------


def _report(outcome: Outcome) -> None:
    share = outcome.completed / outcome.jobs if outcome.jobs else 0.0
    other = outcome.jobs - sum(outcome.recount.get(k, 0) for k in ("completed", "failed"))
    state = "all terminal" if outcome.terminal else "NOT all terminal (timeout)"
    say(f"  {outcome.jobs} jobs: {state} in {outcome.seconds:.1f} s; completed "
        f"{share:.1%} ({outcome.completed}), failed {outcome.recount.get('failed', 0)}, "
        f"other {other}")  # fmt: skip
    per_sku = ", ".join(
        f"{m} {len(outcome.creations[m])} SKUs created, max {outcome.max_per_sku(m)} per SKU"
        f"{f', {outcome.duplicated(m)} SKUs TWICE' if outcome.duplicated(m) else ''}"
        for m in MARKETPLACES
    )
    say(f"  creations: {per_sku}")
    verdict = "==" if outcome.counters_match else "!="
    say(f"  batch counters {outcome.counters} {verdict} recount {outcome.recount}")
    say(f"  PostgreSQL server connections, most seen: {outcome.max_connections}")
    for event in outcome.events[:12]:
        say(f"    {event}")
    if len(outcome.events) > 12:
        say(f"    … {len(outcome.events) - 12} more events")


def _summary(outcomes: list[Outcome]) -> None:
    rule("summary")
    say(f"  {'scenario':<16}{'jobs':>6}{'seconds':>9}{'terminal':>10}{'completed':>11}"
        f"{'max/SKU':>9}{'counters':>10}{'PG conns':>10}")  # fmt: skip
    baseline = next((o for o in outcomes if o.scenario == "baseline"), None)
    for o in outcomes:
        max_sku = max(o.max_per_sku(m) for m in MARKETPLACES)
        share = o.completed / o.jobs if o.jobs else 0.0
        say(f"  {o.scenario:<16}{o.jobs:>6}{o.seconds:>9.1f}{'yes' if o.terminal else 'NO':>10}"
            f"{share:>11.1%}{max_sku:>9}{'==' if o.counters_match else '!=':>10}"
            f"{o.max_connections:>10}")  # fmt: skip
    if baseline is not None:
        say()
        for o in outcomes:
            if o is not baseline and o.scenario != "faults":
                say(f"  {o.scenario}: {o.seconds - baseline.seconds:+.1f} s beyond the no-fault "
                    f"time (target: under {6 * SWEEP_INTERVAL_S} s for 300 jobs)")  # fmt: skip
    say(
        "  targets: max/SKU == 1 (never twice), counters == recount, >= 99 % completed at "
        "30 % 5xx, terminal within two sweep intervals of the fault plus the work"
    )


def _idle(system: ChaosSystem, seconds: float) -> tuple[int, int]:
    """Most and last connection count over `seconds` of an idle system."""
    from django.db import connections  # noqa: PLC0415

    connections.close_all()
    most = last = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        last = system.connections()
        most = max(most, last)
        time.sleep(1)
    return most, last


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__)
    parser.add_argument("--scenario", default=",".join(SCENARIOS),
                        help="comma-separated scenarios (see above), or idle")  # fmt: skip
    parser.add_argument("--jobs", type=int, help="jobs per scenario (default 1000 for faults, "
                        "300 for the others)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per scenario")
    parser.add_argument("--idle-s", type=float, default=20.0, help="idle connection sampling")
    parser.add_argument("--no-pgbouncer", action="store_true", help="processes connect directly")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenario.split(",") if s.strip()]
    if unknown := set(chosen) - set(SCENARIOS) - {"idle"}:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    args.scenarios = [s for s in chosen if s != "idle"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    install_cleanup()
    logging.getLogger().setLevel(logging.WARNING)  # the simulator's and services' INFO lines
    root = Path(tempfile.mkdtemp(prefix="relist-chaos-"))
    root.chmod(0o755)  # PostgreSQL runs as its own user below it
    system = ChaosSystem(root=root, pgbouncer=not args.no_pgbouncer, sweep_s=SWEEP_INTERVAL_S)
    outcomes: list[Outcome] = []
    try:
        rule("setup")
        say(f"  machine: {os.cpu_count()} cores, load average {_load()}")
        system.start()
        most, last = _idle(system, args.idle_s)
        say(f"  idle system: {most} PostgreSQL server connections at most over {args.idle_s:.0f}"
            f" s, {last} at the end (pgbouncer {'on' if system.pgbouncer else 'off'})")  # fmt: skip
        for n, scenario in enumerate(args.scenarios):
            jobs = args.jobs or (1000 if scenario == "faults" else 300)
            if n:
                system.fresh()
            rule(f"{scenario} (load average {_load()}, shop {system.schema})")
            outcome = run_scenario(system, scenario, jobs=jobs, timeout=args.timeout)
            _report(outcome)
            outcomes.append(outcome)
        if outcomes:
            rule("idle again, after the batches")
            most, last = _idle(system, args.idle_s)
            say(f"  idle system after work: {most} PostgreSQL server connections at most over "
                f"{args.idle_s:.0f} s, {last} at the end (threads keep their client "
                f"connections; pgbouncer {'on' if system.pgbouncer else 'off'})")  # fmt: skip
            _summary(outcomes)
    finally:
        system.stop()
        stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if all(o.terminal for o in outcomes) else 1


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
