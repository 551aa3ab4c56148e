"""Run one process and start it again whenever it exits, until told to stop.

    python -m scripts.supervise [--name N] [--pidfile F] [--pooled] -- command args...

Under honcho one exiting process stops the whole system, and nothing restarted a worker that
died (SIGKILL, OOM, an unrecoverable broker error). Every Procfile entry runs under this:
honcho sees a process that never exits, and a dead child is back after `--min-delay`
(1 s, doubling while it keeps dying within `--stable-after` seconds, capped at `--max-delay`).

The child runs in its own process group; when it dies its group is killed too (a prefork
worker's pool processes). If the supervisor itself is SIGKILLed, the kernel kills the child
(PR_SET_PDEATHSIG). SIGTERM or SIGINT to the supervisor is passed on to the child's group
(Celery's warm shutdown), which gets `--stop-timeout` seconds before SIGKILL; then the
supervisor exits with the child's code.

`--pooled` points DATABASE_URL at the system's pgbouncer (scripts/pgbouncer.py, the Procfile's
`pgbouncer`) when it answers within `--pool-wait` seconds, and leaves it direct otherwise.
`--pidfile` holds the current child's pid (the chaos bench kills it).
"""

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scripts import pgbouncer

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the supervisor dies, even by SIGKILL (a process
    manager's last resort), so no worker outlives its supervisor and keeps consuming."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _log(name: str, message: str) -> None:
    sys.stderr.write(f"supervise[{name}]: {message}\n")
    sys.stderr.flush()


def pooled_environment(env: dict[str, str], *, wait_s: float, name: str) -> dict[str, str]:
    url = env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relist")
    if env.get("RELIST_PGBOUNCER", "1") == "0" or pgbouncer.binary() is None:
        _log(name, "no pgbouncer: connecting to PostgreSQL directly")
        return env
    pooled = pgbouncer.pooled_url(url)
    host, port = str(pgbouncer.socket_dir_for(url)), pgbouncer.SOCKET_PORT
    deadline = time.monotonic() + wait_s
    while not pgbouncer.answers(host=host, port=port):
        if time.monotonic() > deadline:
            _log(name, f"pgbouncer does not answer on {host}: connecting directly")
            return env
        time.sleep(0.1)
    return {**env, "DATABASE_URL": pooled, "RELIST_DATABASE_URL_DIRECT": url}


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.name = args.name or Path(args.command[0]).name
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.exit_code = 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signum)

    def _write_pid(self, pid: int | None) -> None:
        if self.args.pidfile:
            path = Path(self.args.pidfile)
            if pid is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(f"{pid}\n")

    def _reap_group(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        env = dict(os.environ)
        if self.args.pooled:
            env = pooled_environment(env, wait_s=self.args.pool_wait, name=self.name)
        delay = self.args.min_delay
        restarts = 0
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(
                self.args.command,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            self._write_pid(self.child.pid)
            code = self._wait()
            self._reap_group(self.child.pid)
            self.exit_code = code
            if self.stopping:
                break
            ran = time.monotonic() - started
            delay = self.args.min_delay if ran >= self.args.stable_after else delay
            restarts += 1
            _log(self.name, f"exited with {code} after {ran:.1f}s; restart #{restarts} in "
                 f"{delay:.1f}s")  # fmt: skip
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.05)
            delay = min(delay * 2, self.args.max_delay)
        self._write_pid(None)
        return self.exit_code

    def _wait(self) -> int:
        assert self.child is not None
        while True:
            try:
                code = self.child.wait(timeout=0.5)
                return code
            except subprocess.TimeoutExpired:
                if self.stopping:
                    return self._stop_child()

    def _stop_child(self) -> int:
        assert self.child is not None
        try:
            return self.child.wait(timeout=self.args.stop_timeout)
        except subprocess.TimeoutExpired:
            _log(self.name, f"still running {self.args.stop_timeout:.0f}s after the stop: SIGKILL")
            self._reap_group(self.child.pid)
            return self.child.wait(timeout=10)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.supervise", description=__doc__)
    parser.add_argument("--name", help="for the log lines (default: the command's name)")
    parser.add_argument("--pidfile", help="holds the current child's pid")
    parser.add_argument("--pooled", action="store_true", help="DATABASE_URL through pgbouncer")
    parser.add_argument("--pool-wait", type=float, default=10.0)
    parser.add_argument("--min-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=30.0)
    parser.add_argument("--stable-after", type=float, default=60.0)
    parser.add_argument("--stop-timeout", type=float, default=30.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command given (python -m scripts.supervise -- command args...)")
    return args


def main(argv: list[str] | None = None) -> int:
    return Supervisor(parse(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
