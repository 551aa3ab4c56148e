"""Subprocesses of the bench: the eBay sandbox and Celery workers. Each runs in its own session
(process group) so that stopping it also stops its children (prefork pool processes); every one
started is registered and stopped at exit, on Ctrl-C and on SIGTERM."""

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.env import LOG_DIR, ROOT

_RUNNING: list["Managed"] = []


class Managed:
    """A subprocess in its own process group, logging to a file under var/bench/."""

    def __init__(self, argv: list[str], *, env: dict[str, str], name: str) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path: Path = LOG_DIR / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _RUNNING.append(self)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the group (a warm shutdown for Celery), SIGKILL if it lingers."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Pool children may outlive a parent that was killed; the group id is still ours.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        if self in _RUNNING:
            _RUNNING.remove(self)


def stop_all() -> None:
    for managed in reversed(list(_RUNNING)):
        managed.stop(timeout=10)


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)


def install_cleanup() -> None:
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # SIGINT raises KeyboardInterrupt: the finally blocks and atexit stop the subprocesses.


class SandboxProcess(Managed):
    """`python -m sandbox ebay` on a free port; its first output line is `ebay <base URL>`."""

    def __init__(self, *, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "sandbox", "ebay", "--port", "0", "--seed", "1"]
        super().__init__(argv, env=env, name="sandbox-ebay")
        self.latency_ms = 0
        self.base_url = self._wait_url()
        # The control API and the images live at the root URL; base_url adds the API prefix.
        scheme, rest = self.base_url.split("://", 1)
        self.root_url = f"{scheme}://{rest.split('/', 1)[0]}"

    def _wait_url(self, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text().splitlines():
                if line.startswith("ebay "):
                    return line.split(" ", 1)[1].strip()
            if not self.alive():
                raise RuntimeError(f"the sandbox exited: {self.log_tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"the sandbox did not start: {self.log_tail()}")

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.root_url}/__sandbox__/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def issue_tokens(self) -> dict[str, Any]:
        return self.control("POST", "tokens", {})

    def set_latency(self, latency_ms: int) -> None:
        self.latency_ms = latency_ms
        self.control("POST", "faults", {"latency_ms": latency_ms})

    def latency(self) -> int:
        """The latency the sandbox applies now (read back from it)."""
        return int(self.control("GET", "faults")["latency_ms"])

    def reset(self) -> None:
        """Forget items, offers, listings and counters; issued tokens stay valid. The
        sandbox's reset also clears its faults, so the latency set here is put back."""
        self.control("POST", "reset")
        if self.latency_ms:
            self.control("POST", "faults", {"latency_ms": self.latency_ms})

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def image_url(self, name: str) -> str:
        return f"{self.root_url}/__sandbox__/images/{name}.jpg"


class CeleryWorker(Managed):
    """A real `celery worker` subprocess; `app` is `config` (Relist) or `bench.bare_tasks`."""

    def __init__(
        self,
        *,
        app: str,
        queues: str,
        pool: str,
        concurrency: int,
        env: dict[str, str],
        name: str,
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "-n",
            f"{name}@%h",
            "-Q",
            queues,
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--prefetch-multiplier",
            "1",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ]
        super().__init__(argv, env=env, name=name)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text(errors="replace"):
                return
            if not self.alive():
                raise RuntimeError(f"worker {self.name} exited: {self.log_tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready: {self.log_tail()}")
