"""The relay bench's resources: its database (kept between runs), Redis db, tenants with extension
tokens, a daphne process and the simulators' process. See bench/relay.py."""

import contextlib
import io
import json
import logging
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis

from bench import database
from bench.env import LOG_DIR, REDIS_BASE, BenchEnv
from bench.procs import Managed
from bench.report import rule, say

RELAY_DB = os.environ.get("RELIST_BENCH_RELAY_DB", "relist_bench_relay")
RELAY_REDIS_DB = 7
# A worktree with its own Redis (RELIST_WT_REDIS_PORT) runs the bench there, so flushing the
# bench's db never touches a Redis someone else uses.
RELAY_REDIS_BASE = (
    f"redis://127.0.0.1:{port}" if (port := os.environ.get("RELIST_WT_REDIS_PORT")) else REDIS_BASE
)
SCHEMA = "bench_relay_{n:03d}"
DOMAIN = "relay-{n:03d}.bench.localhost"
PACING_OFF = {"VINTED_MIN_SPACING_S": "0", "VINTED_SPACING_JITTER_S": "0"}


def overrides(env: BenchEnv) -> dict[str, str]:
    """What the relay bench sets on top of BenchEnv, here and in daphne."""
    return {**PACING_OFF, "CHANNELS_REDIS_URL": env.redis_url}


DAPHNE_WS_LIMITS = [
    "--websocket-max-message-size",
    "4194304",
    "--websocket-max-frame-size",
    "4194304",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaphneProcess(Managed):
    """The ASGI server of the Procfile's `web`, on a free loopback port, pacing off."""

    def __init__(self, env: BenchEnv) -> None:
        self.port = _free_port()
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        if profile_to := os.environ.get("RELAY_BENCH_PROFILE_DAPHNE"):
            # cProfile of the web process, written when it stops (see pstats).
            argv[1:1] = ["-m", "cProfile", "-o", profile_to]
        super().__init__(
            [*argv, *DAPHNE_WS_LIMITS, "config.asgi:application"],
            env=env.for_subprocess({**overrides(env), "LOG_LEVEL": "WARNING"}),
            name="relay-daphne",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"daphne exited: {self.log_tail()}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            time.sleep(0.1)
        raise RuntimeError(f"daphne not ready: {self.log_tail()}")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/vinted/"


class FleetProcess(Managed):
    """`python -m bench.relay_sims`: one simulator per (token, host), authenticated."""

    def __init__(self, env: BenchEnv, *, url: str, tokens: dict[str, str], tenants: range) -> None:
        name = f"relay-sims-{len(tenants)}"
        spec = [{"token": tokens[SCHEMA.format(n=n)], "host": DOMAIN.format(n=n)} for n in tenants]
        self.spec_path = LOG_DIR / f"{name}-spec.json"
        self.stats_path = LOG_DIR / f"{name}-stats.json"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.spec_path.write_text(json.dumps(spec))
        self.stats_path.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "bench.relay_sims", "--url", url]
        argv += ["--spec", str(self.spec_path), "--stats", str(self.stats_path)]
        super().__init__(argv, env=env.for_subprocess(django=False), name=name)
        deadline = time.monotonic() + 180
        while "ready " not in self.log_path.read_text(errors="replace"):
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulators did not start: {self.log_tail()}")
            time.sleep(0.1)

    def finish(self) -> list[dict[str, Any]]:
        """Stop cleanly and return each simulator's counters."""
        self.stop(timeout=30)
        return json.loads(self.stats_path.read_text())


@dataclass(frozen=True, slots=True)
class RelayEnv(BenchEnv):
    redis_base: str = RELAY_REDIS_BASE

    @property
    def broker_url(self) -> str:
        return f"{self.redis_base}/{self.broker_db}"

    @property
    def redis_url(self) -> str:
        return f"{self.redis_base}/{self.redis_db}"


def relay_env() -> BenchEnv:
    # No Celery here: the broker URL only has to point somewhere of ours.
    return RelayEnv(database=RELAY_DB, broker_db=RELAY_REDIS_DB, redis_db=RELAY_REDIS_DB)


def relay_redis() -> redis.Redis:
    return redis.Redis.from_url(f"{RELAY_REDIS_BASE}/{RELAY_REDIS_DB}")


def prepare(env: BenchEnv, *, tenants: int, recreate: bool) -> dict[str, str]:
    """Database (kept unless `recreate`), Django in this process, `tenants` tenants; returns a
    fresh extension token per tenant schema."""
    rule("relay setup")
    relay_redis().flushdb()
    fresh = recreate or not database.database_exists(RELAY_DB)
    if fresh:
        database.recreate_database(RELAY_DB)
    env.apply()
    os.environ.update(overrides(env))
    migrate_s = database.migrate_shared(env.for_subprocess())
    import django  # noqa: PLC0415 - only once the bench environment is in place

    django.setup()
    _log_to_file()
    tenant_migrate_s = _migrate_tenants_if_needed(env) if not fresh else 0.0
    started = time.perf_counter()
    created = _tenants_provision(tenants)
    provision_s = time.perf_counter() - started
    tokens = _tokens_issue(tenants)
    kept = "re-created (--fresh)" if recreate else ("created" if fresh else "kept")
    say(
        f"  database {RELAY_DB} {kept}: shared migrations {migrate_s:.1f} s, tenant migrations "
        f"{tenant_migrate_s:.1f} s; {tenants} tenants, {created} provisioned now in "
        f"{provision_s:.1f} s ({provision_s / created if created else 0:.2f} s each), "
        f"{tenants - created} reused"
    )
    say(f"  Redis db {RELAY_REDIS_DB} (REDIS_URL and channel layer), flushed; pacing {PACING_OFF}")
    say(
        f"  machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {load_average()}; "
        "settings config.settings.production"
    )
    return tokens


def _migrate_tenants_if_needed(env: BenchEnv) -> float:
    """A kept database may predate new migrations: apply them to every tenant schema."""
    from django.db import connection  # noqa: PLC0415
    from django.db.migrations.executor import MigrationExecutor  # noqa: PLC0415

    from tenants.context import tenant_context  # noqa: PLC0415
    from tenants.models import Tenant  # noqa: PLC0415

    first = Tenant.objects.exclude(schema_name="public").order_by("schema_name").first()
    if first is None:
        return 0.0
    with tenant_context(first.schema_name):
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return database.migrate_tenants(env.for_subprocess()) if pending else 0.0


def _tenants_provision(count: int) -> int:
    from tenants.models import Tenant  # noqa: PLC0415
    from tenants.services import tenant_provision  # noqa: PLC0415

    existing = set(Tenant.objects.values_list("schema_name", flat=True))
    missing = [n for n in range(count) if SCHEMA.format(n=n) not in existing]
    for n in missing:
        say(f"  provisioning {SCHEMA.format(n=n)} ({missing.index(n) + 1}/{len(missing)})")
        with contextlib.redirect_stdout(io.StringIO()):  # the schema's migration progress
            tenant_provision(
                schema_name=SCHEMA.format(n=n),
                name=f"Relay bench shop {n}",
                domain=DOMAIN.format(n=n),
                owner_username=f"relay_bench_owner_{n:03d}",
            )
    return len(missing)


def _tokens_issue(count: int) -> dict[str, str]:
    """A fresh extension token per tenant (tokens are shown once); older ones are removed."""
    from tenants.models import ExtensionToken, Membership, Tenant  # noqa: PLC0415
    from tenants.services import extension_token_issue  # noqa: PLC0415

    ExtensionToken.objects.filter(tenant__schema_name__startswith="bench_relay_").delete()
    tokens = {}
    for n in range(count):
        tenant = Tenant.objects.get(schema_name=SCHEMA.format(n=n))
        owner = Membership.objects.get(tenant=tenant).user
        tokens[tenant.schema_name] = extension_token_issue(tenant=tenant, user=owner)[1]
    return tokens


def _log_to_file() -> None:
    from core.logging import StructuredFormatter  # noqa: PLC0415

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(LOG_DIR / "relay-process.log", mode="w")
    handler.setFormatter(StructuredFormatter())
    root.addHandler(handler)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
