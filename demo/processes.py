"""Child processes of the demo: each in its own process group, stopped together, whatever stops
the demo (Ctrl-C, SIGTERM from a CI timeout, SIGHUP from a closed terminal)."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "demo"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(BaseException):
    """A stop signal arrived: unwind to the clean-up (a BaseException, like KeyboardInterrupt,
    so no `except Exception` on the way swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Stop` inside the block. Once the first one
    arrived, later ones are ignored so they cannot interrupt the clean-up."""

    def _raise(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stop(signum)

    previous = {sig: signal.signal(sig, _raise) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ignore_stop_signals() -> None:
    """From here on (the clean-up), a second Ctrl-C or SIGTERM must not interrupt anything."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"a process exited early (code {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


class Children:
    """Each child starts a new session (its own process group, away from the terminal's, so a
    Ctrl-C reaches the demo alone and the demo stops them in order); stop() signals each
    group, which reaches honcho's processes and Celery's pool children too."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []
        LOGS.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen:
        with (LOGS / f"{name}.log").open("w") as log:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((name, process))
        return process

    def python(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen:
        return self.start(name, [sys.executable, *args], env)

    def stop(self, *, grace_s: float = 15.0) -> None:
        """SIGTERM every group, newest first; SIGKILL what is still there after `grace_s`.
        A group outlives its leader (honcho may exit before a worker finishes its warm
        shutdown), so groups are checked, not only the leaders."""
        for _, process in reversed(self.processes):
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for _, process in reversed(self.processes):
            while _group_alive(process.pid) and time.monotonic() < deadline:
                process.poll()  # reap the leader, or it stays a zombie in its own group
                time.sleep(0.1)
            if _group_alive(process.pid):
                _signal_group(process.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes.clear()


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Is any process of the group still running (zombies do not count)?"""
    if not Path("/proc/self/stat").exists():  # not Linux: signal 0 (zombies count there)
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False
