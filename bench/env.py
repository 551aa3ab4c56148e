"""The environment of the bench process and of every worker it starts: a dedicated database and
dedicated Redis databases, production settings (DEBUG off), and an eBay rate budget high enough
that the token bucket never throttles."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "var" / "bench"

# The server DATABASE_URL names (docs/performance.md: "the benches read the same environment"),
# so a bench can run on a cluster of its own (pg_stat_statements preloaded, say); each bench
# picks its own database there.
_SERVER = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relist"))
PG_HOST = _SERVER.hostname or "127.0.0.1"
PG_PORT = _SERVER.port or 5432
PG_USER = _SERVER.username or "postgres"
# A worktree's own Redis and database name (RELIST_WT_REDIS_PORT, RELIST_BENCH_DB), so parallel
# benches on one machine never flush or drop each other's.
BENCH_DB = os.environ.get("RELIST_BENCH_DB", "relist_bench")
REDIS_BASE = f"redis://127.0.0.1:{os.environ.get('RELIST_WT_REDIS_PORT', '6379')}"
BROKER_DB, REDIS_DB = 8, 9
TENANT_SCHEMA = "bench"
# The development key of config.settings.local: the bench database is thrown away each run.
ENCRYPTION_KEY = "tRHJ2CwG0l3oKfBNGyKzUy8OeVoV6e4Cl6Z6B6GdkhM="


@dataclass(frozen=True, slots=True)
class BenchEnv:
    """The engine bench's resources by default; another bench (bench.relay) names its own
    database and Redis databases, and may have no eBay sandbox."""

    ebay_base_url: str = ""
    database: str = BENCH_DB
    broker_db: int = BROKER_DB
    redis_db: int = REDIS_DB

    @property
    def database_url(self) -> str:
        return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"

    @property
    def dsn(self) -> str:
        """The same database as a libpq conninfo, for the bare tasks' psycopg connections."""
        return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={self.database}"

    @property
    def broker_url(self) -> str:
        return f"{REDIS_BASE}/{self.broker_db}"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_BASE}/{self.redis_db}"

    def variables(self) -> dict[str, str]:
        variables = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
            "DJANGO_DEBUG": "false",
            "RELIST_FIELD_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "REDIS_URL": self.redis_url,
            "CHANNELS_REDIS_URL": self.redis_url,
            "EBAY_API_BASE_URL": self.ebay_base_url,
            "EBAY_RATE_PER_SECOND": "100000",
            "PYTHONUNBUFFERED": "1",
            # Django's system checks at worker start (URLs, admin) are not what is measured.
            "CELERY_SKIP_CHECKS": "1",
        }
        if not self.ebay_base_url:
            del variables["EBAY_API_BASE_URL"]
        return variables

    def apply(self) -> None:
        """Point this process at the bench resources (before Django is set up)."""
        os.environ.update(self.variables())

    def for_subprocess(
        self, extra: dict[str, str] | None = None, *, django: bool = True
    ) -> dict[str, str]:
        """The environment of a subprocess. Without `django`, no DJANGO_SETTINGS_MODULE: a
        Celery worker that sees one sets Django up (its Django fix-up) and so imports
        config.celery, whose tenant-schemas-celery signal handlers then run for every task."""
        env = {**os.environ, **self.variables(), **(extra or {})}
        if not django:
            env.pop("DJANGO_SETTINGS_MODULE", None)
        return env
