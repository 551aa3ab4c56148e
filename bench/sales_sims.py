"""The sales bench's Vinted extensions: one simulator per tenant in a SimulatorFleet, in its own
process (as real extensions run in browsers elsewhere), with a loopback control port through
which the bench makes a buyer purchase an item and reads the commands each simulator served.

    python -m bench.sales_sims --url ws://127.0.0.1:PORT/ws/vinted/ --spec spec.json

`spec.json` is a list of {"token", "host"}. The process prints `control <port>` once every
simulator is authenticated and serves until SIGTERM. Control calls (JSON):

    POST /sell  {"index": i, "item_id": n, "title": "..."}  -> the order seeded
    GET  /stats                                             -> per simulator: commands by path

No Django here: the simulator is a plain WebSocket client.
"""

import argparse
import json
import re
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.vinted_extension import ExtensionSimulator, SimulatorFleet

_IDS = re.compile(r"/\d+")


def _count_commands(sim: ExtensionSimulator, counts: Counter[str]) -> None:
    """Count every command the simulator receives by `METHOD path` (ids folded to {id})."""
    handler = sim.commands
    original = handler.handle

    async def counted(ws: Any, command: dict[str, Any]) -> None:
        path = str(command.get("path") or "").split("?", 1)[0]
        counts[f"{command.get('method')} {_IDS.sub('/{id}', path)}"] += 1
        await original(ws, command)

    handler.handle = counted  # type: ignore[method-assign]


def _control(fleet: SimulatorFleet, counts: list[Counter[str]]) -> type[BaseHTTPRequestHandler]:
    class Control(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path != "/stats":
                self._answer(404, {"error": "not found"})
                return
            stats = [
                {
                    "name": sim.name,
                    "connected": sim.connected,
                    "connections": sim.connections,
                    "commands_received": sim.commands_received,
                    "by_path": dict(counts[index]),
                }
                for index, sim in enumerate(fleet)
            ]
            self._answer(200, stats)

        def do_POST(self) -> None:
            if self.path != "/sell":
                self._answer(404, {"error": "not found"})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            sim = fleet[int(body["index"])]
            order = sim.account.seed_order(
                title=str(body["title"]), item_id=int(body["item_id"]), price="19.99"
            )
            self._answer(200, order)

        def log_message(self, *_args: Any) -> None:  # quiet: the bench reads its own log
            return

    return Control


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sales_sims")
    parser.add_argument("--url", required=True)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fleet = SimulatorFleet.build(
        args.url,
        [entry["token"] for entry in spec],
        hosts=[entry["host"] for entry in spec],
        seed=args.seed,
        fetch_photos=False,
        reconnect=True,
        open_timeout_s=args.timeout,
        auth_timeout_s=args.timeout,
    )
    counts: list[Counter[str]] = [Counter() for _ in spec]
    for sim, counter in zip(fleet, counts, strict=True):
        _count_commands(sim, counter)
    fleet.start(timeout=args.timeout)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _control(fleet, counts))
    threading.Thread(target=server.serve_forever, daemon=True, name="control").start()
    print(f"control {server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
