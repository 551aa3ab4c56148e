"""A real Celery worker process for integration tests, on the test database and the test broker."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
ALL_QUEUES = "default,maintenance,ebay,ebay.high,etsy,etsy.high,vinted,vinted.high"


def worker_environment(extra: Mapping[str, str]) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "CHANNELS_REDIS_URL": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"],
        "RELIST_RETRY_BACKOFF_SCALE_S": "0.05",
        # Long steps heartbeat often, so tests can use a stale threshold of a few seconds.
        "RELIST_HEARTBEAT_EVERY_S": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def purge_broker() -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


class WorkerProcess:
    """`celery worker` in its own process group, logging to var/test-worker-<name>.log."""

    def __init__(self, env: Mapping[str, str], *, name: str, concurrency: int = 4) -> None:
        self.env, self.name, self.concurrency = dict(env), name, concurrency
        self.log_path = ROOT / "var" / f"test-worker-{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-n", f"{self.name}@%h", "-Q", ALL_QUEUES, "--pool", "threads",
            "--concurrency", str(self.concurrency), "--prefetch-multiplier", "1",
            "--without-gossip", "--without-mingle", "-l", "info",
        ]  # fmt: skip
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as when a machine dies: no clean shutdown, messages stay unacknowledged."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
