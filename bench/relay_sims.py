"""The relay bench's extensions: a SimulatorFleet in its own process, as real extensions run in
browsers elsewhere (in the bench process they would share its GIL with the measured workers).

    python -m bench.relay_sims --url ws://127.0.0.1:PORT/ws/vinted/ --spec spec.json \
        --stats stats.json

`spec.json` is a list of {"token", "host"}. The process prints `ready <n>` once every simulator
is authenticated, serves until SIGTERM, then writes each simulator's counters to `stats.json`.
No Django here: the simulator is a plain WebSocket client.
"""

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sandbox.vinted_extension import SimulatorFleet


def _stats(fleet: SimulatorFleet) -> list[dict[str, Any]]:
    return [
        {
            "name": sim.name,
            "commands_received": sim.commands_received,
            "acks_sent": sim.acks_sent,
            "results_sent": sim.results_sent,
            "connections": sim.connections,
            "errors": len(sim.errors),
        }
        for sim in fleet
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_sims")
    parser.add_argument("--url", required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fleet = SimulatorFleet.build(
        args.url,
        [entry["token"] for entry in spec],
        hosts=[entry["host"] for entry in spec],
        seed=1,
        fetch_photos=False,
        reconnect=False,
        open_timeout_s=args.timeout,
        auth_timeout_s=args.timeout,
    )
    fleet.start(timeout=args.timeout)
    print(f"ready {len(fleet)}", flush=True)
    while not stop.wait(0.5):
        pass
    fleet.stop()
    args.stats.write_text(json.dumps(_stats(fleet)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
