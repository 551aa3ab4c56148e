"""CPU seconds spent by each part of a run, read from /proc (Linux): the workers' process
groups, the sandbox process, the bench process itself (it publishes the messages of (a) and (b) and
calls batch_create for (c)), and the PostgreSQL backends connected to the bench database. Unlike
jobs/s, CPU per job hardly moves when other programs share the machine."""

import os
from pathlib import Path

import psycopg

from bench.env import BENCH_DB, PG_HOST, PG_PORT, PG_USER

_TICKS = os.sysconf("SC_CLK_TCK")
SESSIONS = "pg_sessions"  # not CPU: PostgreSQL sessions opened, carried in the snapshot


def _stat(pid: int) -> tuple[int, float] | None:
    """(process group, user + system CPU seconds of the process and its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw.rsplit(")", 1)[1].split()
    # after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime …
    pgrp = int(fields[2])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return pgrp, (utime + stime + cutime + cstime) / _TICKS


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] == pgid:
            pids.append(int(entry.name))
    return pids


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process of a process group (a server and its
    workers)."""
    return sum(stat[1] for pid in _group_pids(pgid) if (stat := _stat(pid)) is not None)


class CpuMeter:
    """snapshot() before and after a run; diff() gives CPU seconds per part. `groups` maps a
    part to a process group (a worker and its pool processes), `pids` a part to one process."""

    def __init__(self, *, groups: dict[str, int], pids: dict[str, int]) -> None:
        self.groups = groups
        self.pids = {**pids, "bench": os.getpid()}
        self.exclude: set[int] = set()  # backends of the bench's own pollers

    def snapshot(self) -> dict[str, dict[int, float]]:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            backends = [
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend'",
                    [BENCH_DB],
                ).fetchall()
                if pid not in self.exclude
            ]
            # Sessions ever opened on the bench database (pg_stat_database, PostgreSQL 14+).
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", [BENCH_DB]
            ).fetchone()
        parts = {part: _group_pids(pgid) for part, pgid in self.groups.items()}
        parts.update({part: [pid] for part, pid in self.pids.items()})
        parts["postgres"] = backends
        snapshot = {
            part: {pid: stat[1] for pid in pids if (stat := _stat(pid)) is not None}
            for part, pids in parts.items()
        }
        snapshot[SESSIONS] = {0: float(row[0]) if row and row[0] is not None else 0.0}
        return snapshot

    @staticmethod
    def diff(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        """Seconds per part; a process that appeared during the run counts from zero."""
        return {
            part: sum(seconds - before.get(part, {}).get(pid, 0.0) for pid, seconds in pids.items())
            for part, pids in after.items()
        }


class Span:
    """CPU per part and PostgreSQL sessions opened between construction and end()."""

    def __init__(self, meter: CpuMeter | None) -> None:
        self.meter = meter
        self.before = meter.snapshot() if meter is not None else None

    def end(self) -> tuple[dict[str, float], int | None]:
        if self.meter is None or self.before is None:
            return {}, None
        spent = self.meter.diff(self.before, self.meter.snapshot())
        sessions = spent.pop(SESSIONS, None)
        return spent, None if sessions is None else int(sessions)
