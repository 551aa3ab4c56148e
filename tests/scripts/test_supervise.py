"""scripts/supervise.py: a child that dies is started again; a stop reaches the child."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scripts import pgbouncer

ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


def _pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers; its state in /proc says it is gone.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_child_is_restarted_and_a_stop_reaches_it(tmp_path):
    # given a supervised sleeper
    pidfile, log = tmp_path / "child.pid", tmp_path / "supervise.log"
    stderr = log.open("w")
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "scripts.supervise", "--pidfile", str(pidfile), "--min-delay",
         "0.1", "--stop-timeout", "5", "--", sys.executable, "-c", "import time; time.sleep(600)"],
        cwd=ROOT, stderr=stderr,
    )  # fmt: skip
    try:
        first = _wait(lambda: _pid(pidfile))
        # when the child is SIGKILLed
        os.kill(first, signal.SIGKILL)
        # then a new one runs
        second = _wait(lambda: (pid := _pid(pidfile)) != first and pid)
        assert _alive(second)
        # when the supervisor is told to stop
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=20)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        stderr.close()
    # then the child went with it, and the restart was logged
    assert not _alive(second)
    assert "restart #1" in log.read_text()


def test_the_pooled_url_names_a_socket_directory_per_server_and_database():
    # given two servers, and two databases on one of them
    urls = [
        "postgres://postgres@127.0.0.1:5432/relist",
        "postgres://postgres@127.0.0.1:5433/relist",
        "postgres://postgres@127.0.0.1:5432/relist_demo",
    ]
    # when
    pooled = [pgbouncer.pooled_url(url) for url in urls]
    # then each has its own pgbouncer, and the database name is kept
    assert len({url.split("@", 1)[1].split(":", 1)[0] for url in pooled}) == 3
    assert pooled[0].endswith(f":{pgbouncer.SOCKET_PORT}/relist")
