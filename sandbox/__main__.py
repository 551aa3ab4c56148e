"""Run the sandboxes as processes, for the demo and the benchmarks.

    python -m sandbox ebay --port 8101 [--latency-ms 200 --error-rate 0.05 --seed 7]
    python -m sandbox etsy --port 8102
    python -m sandbox all --ebay-port 8101 --etsy-port 8102

Prints one line per server, `<marketplace> <base URL>`, then serves until Ctrl-C or SIGTERM.
Faults can be changed later through `POST /__sandbox__/faults` on each server.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sandbox.ebay import EbaySandbox
from sandbox.etsy import EtsySandbox
from sandbox.faults import FaultConfigError, FaultPlan
from sandbox.server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("marketplace", choices=("ebay", "etsy", "all"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="for ebay or etsy; 0 picks a port")
    parser.add_argument("--ebay-port", type=int, default=0, help="for all")
    parser.add_argument("--etsy-port", type=int, default=0, help="for all")
    faults = parser.add_argument_group("faults (for every marketplace call)")
    faults.add_argument("--latency-ms", type=int, default=0)
    faults.add_argument("--error-rate", type=float, default=0.0)
    faults.add_argument("--error-status", type=int, default=503)
    faults.add_argument("--rate-limit-rate", type=float, default=0.0)
    faults.add_argument("--retry-after", type=int, default=1, help="seconds, on 429 answers")
    faults.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None, help="replayable faults and orders")
    parser.add_argument("--orders", type=int, default=0, help="orders to seed for the default user")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def _servers(args: argparse.Namespace) -> list[SandboxServer]:
    def plan() -> FaultPlan:
        return FaultPlan(
            error_rate=args.error_rate,
            error_status=args.error_status,
            rate_limit_rate=args.rate_limit_rate,
            retry_after=args.retry_after,
            latency_ms=args.latency_ms,
            drop_rate=args.drop_rate,
            seed=args.seed,
        )

    ebay_port = args.port if args.marketplace == "ebay" else args.ebay_port
    etsy_port = args.port if args.marketplace == "etsy" else args.etsy_port
    servers: list[SandboxServer] = []
    if args.marketplace in ("ebay", "all"):
        servers.append(EbaySandbox(args.host, ebay_port, faults=plan(), seed=args.seed))
    if args.marketplace in ("etsy", "all"):
        servers.append(EtsySandbox(args.host, etsy_port, faults=plan(), seed=args.seed))
    return servers


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        servers = _servers(args)
    except FaultConfigError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for server in servers:
            server.start()
            if args.orders:
                server.seed_orders(args.orders)
            sys.stdout.write(f"{server.marketplace} {server.base_url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
            pass
    finally:
        for server in servers:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
