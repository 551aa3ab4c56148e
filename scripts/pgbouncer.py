"""A pgbouncer in transaction mode in front of one PostgreSQL server, for one system.

    python -m scripts.pgbouncer run          # foreground (the Procfile's `pgbouncer`)
    python -m scripts.pgbouncer url          # print the pooled DATABASE_URL for $DATABASE_URL

The upstream is `$DATABASE_URL`. pgbouncer listens on a unix socket only, in a directory named
after the upstream server and database (/tmp/relist-pgbouncer-<hash>/.s.PGSQL.6432): every
process of a system derives the same pooled URL from the same DATABASE_URL with no port to agree
on, and two systems on two databases never collide. Tests and benches start their own on a
TCP port (`Pgbouncer`).

Server connections are capped per (database, user) by `RELIST_PGBOUNCER_POOL_SIZE` (default
10) and closed after `RELIST_PGBOUNCER_IDLE_S` idle (default 30 s): see docs/operations.md for
the budget. https://www.pgbouncer.org/config.html
"""

import argparse
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

SOCKET_PORT = 6432
# sun_path is 108 bytes with its terminating NUL (unix(7)).
SOCKET_PATH_MAX = 107
DEFAULT_POOL_SIZE = 10
DEFAULT_IDLE_S = 30


def binary() -> str | None:
    """The pgbouncer executable (Debian installs it in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def socket_dir_for(database_url: str) -> Path:
    """One pgbouncer per upstream server *and* database: two systems on one server (two
    demos, a demo and a bench) each get their own, and stopping one never cuts the other."""
    key = f"{_upstream(database_url)}/{urlsplit(database_url).path.lstrip('/')}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    directory = Path(tempfile.gettempdir()) / f"relist-pgbouncer-{digest}"
    if len(str(directory / f".s.PGSQL.{SOCKET_PORT}")) > SOCKET_PATH_MAX:
        # A unix socket path holds at most 107 bytes: a deep TMPDIR (pytest's) made pgbouncer
        # fail to listen and the system start without it. /tmp is short everywhere.
        directory = Path("/tmp") / f"relist-pgbouncer-{digest}"
    return directory


def pooled_url(database_url: str) -> str:
    """The same database through the system's pgbouncer socket."""
    parts = urlsplit(database_url)
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    host = quote(str(socket_dir_for(database_url)), safe="")
    return urlunsplit(
        (parts.scheme, f"{user}{password}@{host}:{SOCKET_PORT}", parts.path, parts.query, "")
    )


def _upstream(database_url: str) -> str:
    """host:port of the server, which names the pool (the database part may differ)."""
    parts = urlsplit(database_url)
    return f"{unquote(parts.hostname or '127.0.0.1')}:{parts.port or 5432}"


def answers(*, host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        if host.startswith("/"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(timeout)
                sock.connect(f"{host}/.s.PGSQL.{port}")
        else:
            socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


class Pgbouncer:
    """One pgbouncer process with its config in `directory`.

    `port` is a TCP port on 127.0.0.1 (tests, benches) or None (unix socket only, in
    `directory`). Root cannot run pgbouncer: it then runs as the `postgres` user (or nobody)."""

    def __init__(
        self,
        *,
        upstream_host: str,
        upstream_port: int,
        directory: Path,
        port: int | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        idle_s: int = DEFAULT_IDLE_S,
        user: str = "postgres",
        max_client_conn: int = 2000,
    ) -> None:
        self.directory = Path(directory)
        self.port = port
        self.user = user
        self.process: subprocess.Popen[bytes] | None = None
        self.settings: dict[str, Any] = {
            "listen_addr": "127.0.0.1" if port else "",
            "listen_port": port or SOCKET_PORT,
            "unix_socket_dir": str(self.directory),
            "auth_type": "trust",
            "auth_file": str(self.directory / "userlist.txt"),
            "pool_mode": "transaction",
            "default_pool_size": pool_size,
            "min_pool_size": 0,
            "reserve_pool_size": 0,
            "max_client_conn": max_client_conn,
            "server_idle_timeout": idle_s,
            "server_lifetime": 3600,
            # Re-sent on each server switch; search_path is not among them, hence SET LOCAL.
            "ignore_startup_parameters": "extra_float_digits,options",
            "admin_users": user,
            "stats_users": user,
        }
        self.upstream = f"host={upstream_host} port={upstream_port} user={user}"

    @property
    def host(self) -> str:
        return "127.0.0.1" if self.port else str(self.directory)

    @property
    def listen_port(self) -> int:
        return int(self.settings["listen_port"])

    def url_for(self, database: str) -> str:
        host = self.host if self.port else quote(self.host, safe="")
        return f"postgres://{self.user}@{host}:{self.listen_port}/{database}"

    def write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = ["[databases]", f"* = {self.upstream}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in self.settings.items()]
        config = self.directory / "pgbouncer.ini"
        config.write_text("\n".join(lines) + "\n")
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        if os.geteuid() == 0:
            owner = _run_as()
            for path in (self.directory, config, self.directory / "userlist.txt"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        return config

    def argv(self) -> list[str]:
        executable = binary()
        if executable is None:
            raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
        argv = [executable]
        if os.geteuid() == 0:
            argv += ["-u", _run_as().pw_name]
        return [*argv, str(self.write_config())]

    def start(self, *, log: Any = None, timeout: float = 15.0) -> "Pgbouncer":
        self.process = subprocess.Popen(
            self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not answers(host=self.host, port=self.listen_port):
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("pgbouncer does not answer")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # pgbouncer: SIGINT = safe shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

    def __enter__(self) -> "Pgbouncer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_as() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("pgbouncer cannot run as root and there is no postgres/nobody user")


def for_database_url(database_url: str) -> Pgbouncer:
    """The system's pgbouncer for DATABASE_URL, sized from the environment."""
    parts = urlsplit(database_url)
    return Pgbouncer(
        upstream_host=unquote(parts.hostname or "127.0.0.1"),
        upstream_port=parts.port or 5432,
        directory=socket_dir_for(database_url),
        pool_size=int(os.environ.get("RELIST_PGBOUNCER_POOL_SIZE", DEFAULT_POOL_SIZE)),
        idle_s=int(os.environ.get("RELIST_PGBOUNCER_IDLE_S", DEFAULT_IDLE_S)),
        user=parts.username or "postgres",
    )


def _run(database_url: str) -> int:
    """Foreground, for a process manager. Without the binary, say so and idle: the other
    processes then connect directly (scripts.supervise --pooled checks for the socket)."""
    if binary() is None:
        print("pgbouncer is not installed: processes connect to PostgreSQL directly", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        return 0
    bouncer = for_database_url(database_url)
    if answers(host=bouncer.host, port=bouncer.listen_port):
        # Another process of the same system (or a restarted one) runs it: watch it, and exit
        # when it is gone so the supervisor starts this one in its place.
        print(f"a pgbouncer already serves {bouncer.host}: sharing it", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while answers(host=bouncer.host, port=bouncer.listen_port, timeout=2.0):
            time.sleep(2.0)
        print("the shared pgbouncer is gone", flush=True)
        return 1
    argv = bouncer.argv()
    print(f"pgbouncer on {bouncer.host} -> {bouncer.upstream}", flush=True)
    child = subprocess.Popen(argv)

    def stop(_signum: int, _frame: Any) -> None:
        child.send_signal(signal.SIGINT)  # pgbouncer: SIGINT = safe shutdown

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        return child.wait()
    finally:
        # Its socket and config live in a folder of its own: a stopped system leaves nothing.
        shutil.rmtree(bouncer.directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.pgbouncer", description=__doc__)
    parser.add_argument("command", choices=("run", "url"))
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/relist")
    if args.command == "url":
        print(pooled_url(database_url))
        return 0
    return _run(database_url)


if __name__ == "__main__":
    sys.exit(main())
