"""Where a relay round trip talks to Redis: every command on the relay's Redis db during a few
calls, by process and by command (MONITOR; opt-in, as it slows Redis for everyone while on)."""

import collections
import os
import threading
from collections.abc import Callable
from typing import Any

from bench.relay_setup import RELAY_REDIS_DB, DaphneProcess, relay_redis


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of `pid`'s sockets (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def redis_commands_per_call(run: Callable[[], Any], *, calls: int, daphne: DaphneProcess) -> str:
    """Run `run` (which makes `calls` round trips) under MONITOR; a report of the commands."""
    client = relay_redis()
    seen: list[tuple[int, str]] = []
    listening, stop = threading.Event(), threading.Event()

    def monitor() -> None:
        with client.monitor() as feed:
            listening.set()
            for command in feed.listen():
                if stop.is_set():
                    return
                if command["db"] == RELAY_REDIS_DB:
                    name = command["command"].split(" ", 1)[0].upper()
                    port = command["client_port"]  # empty for commands run inside a script
                    seen.append((int(port) if port.isdigit() else 0, name))

    thread = threading.Thread(target=monitor, name="relay-monitor", daemon=True)
    thread.start()
    listening.wait(5)
    run()
    stop.set()
    relay_redis().ping()  # wakes the monitor up
    thread.join(5)
    owners = {
        "bench worker process": _local_ports(os.getpid()),
        "daphne": _local_ports(daphne.process.pid),
        "inside Lua scripts (no round trip)": {0},
    }
    by_owner: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for port, name in seen:
        owner = next((o for o, ports in owners.items() if port in ports), "other")
        by_owner[owner][name] += 1
    from_clients = sum(1 for port, _ in seen if port)
    lines = [
        f"  Redis commands per round trip (MONITOR over {calls} calls, db {RELAY_REDIS_DB}): "
        f"{from_clients / calls:.1f} sent by clients (one network round trip each), "
        f"{(len(seen) - from_clients) / calls:.1f} run inside their Lua scripts"
    ]
    for owner, counts in sorted(by_owner.items()):
        detail = ", ".join(f"{name} {n / calls:.1f}" for name, n in counts.most_common())
        lines.append(f"      {owner}: {sum(counts.values()) / calls:.1f} ({detail})")
    return "\n".join(lines)
