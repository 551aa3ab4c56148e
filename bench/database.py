"""The bench's own database and Redis databases: re-created / flushed at every start (the relay
bench keeps its database between runs: provisioning its 100 tenants takes minutes)."""

import subprocess
import sys
import time
from collections.abc import Sequence

import psycopg
import redis

from bench.env import BENCH_DB, BROKER_DB, PG_HOST, PG_PORT, PG_USER, REDIS_BASE, REDIS_DB, ROOT

BARE_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS public.bench_bare_job (
    id bigserial PRIMARY KEY,
    sku text NOT NULL,
    title text NOT NULL,
    price text NOT NULL,
    image_url text NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    step smallint NOT NULL DEFAULT 0,
    offer_id text NOT NULL DEFAULT '',
    listing_id text NOT NULL DEFAULT '',
    started_at timestamptz,
    finished_at timestamptz
)
"""


def _admin() -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    )


def recreate_database(name: str = BENCH_DB) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str = BENCH_DB) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(name: str) -> bool:
    with _admin() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def migrate_shared(env: dict[str, str]) -> float:
    """`manage.py migrate_schemas --shared` against the bench database; returns seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--shared", "-v", "0", "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate_schemas failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def migrate_tenants(env: dict[str, str]) -> float:
    """`manage.py migrate_schemas --tenant` (every tenant schema); returns seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--tenant", "-v", "0", "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate_schemas --tenant failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def flush_redis(dbs: Sequence[int] = (BROKER_DB, REDIS_DB)) -> None:
    for db in dbs:
        redis.Redis.from_url(f"{REDIS_BASE}/{db}").flushdb()


def server_settings() -> dict[str, str]:
    """The PostgreSQL settings that decide what a commit costs, printed with the figures."""
    names = ("synchronous_commit", "fsync", "max_connections", "shared_buffers")
    with _admin() as conn:
        rows = {name: conn.execute(f"SHOW {name}").fetchone() for name in names}
        return {name: str(row[0]) if row else "?" for name, row in rows.items()}


def latency_probe(dsn: str) -> dict[str, float]:
    """Milliseconds per round trip (SELECT 1) and per committed one-row UPDATE on the bench
    database: what a query and a commit cost before any code of ours runs."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_probe (id int PRIMARY KEY, n int)")
        conn.execute("INSERT INTO bench_probe VALUES (1, 0) ON CONFLICT DO NOTHING")
        timings = {}
        for label, sql, count in (
            ("round trip", "SELECT 1", 300),
            ("commit", "UPDATE bench_probe SET n = n + 1 WHERE id = 1", 200),
        ):
            started = time.perf_counter()
            for _ in range(count):
                conn.execute(sql)
            timings[label] = (time.perf_counter() - started) * 1000 / count
        conn.execute("DROP TABLE bench_probe")
    return timings
