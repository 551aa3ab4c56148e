"""The ASGI server (HTTP + WebSocket) as a real process, for socket tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping

from tests.integration.workers import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Daphne's own WebSocket limits (1 MiB by default) must sit above VINTED_MAX_MESSAGE_BYTES, or an
# oversized message kills the connection before the Vinted consumer can refuse it with an error
# and keep the socket (the Procfile's `web` needs the same flags).
DAPHNE_WS_LIMITS = (
    "--websocket-max-message-size",
    "4194304",
    "--websocket-max-frame-size",
    "4194304",
)


class AsgiServer:
    def __init__(self, env: Mapping[str, str], *, name: str = "asgi") -> None:
        self.port = free_port()
        self.log_path = ROOT / "var" / f"test-{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             *DAPHNE_WS_LIMITS, "config.asgi:application"],
            cwd=ROOT,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def ws_url(self, path: str = "/ws/vinted/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ASGI server exited: {self.log_path.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.1)
                continue
            return
        raise RuntimeError("ASGI server not ready")

    def kill(self) -> None:
        """SIGKILL: the web process dies without running any consumer's disconnect."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
