"""CLI: run one extension simulator against a Relist server until Ctrl-C (or SIGTERM).

    python -m sandbox.vinted_extension --url ws://127.0.0.1:8000/ws/vinted/ --token T \
        [--host shop1.localhost] [--latency-ms N] [--error-rate F] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from sandbox.vinted.account import VintedAccount
from sandbox.vinted.faults import FaultPlan
from sandbox.vinted.protocol import DEFAULT_ORIGIN, ExtensionSimulatorError
from sandbox.vinted.simulator import ExtensionSimulator

logger = logging.getLogger("sandbox.vinted")

EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3


_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _ExtraFormatter(logging.Formatter):
    """Appends the structured `extra` fields, which the stock formatter silently drops."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        line = super().format(record)
        return " ".join([line, *(f"{key}={value!r}" for key, value in extras.items())])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.vinted_extension",
        description="Simulated Relist browser extension playing a Vinted account.",
    )
    parser.add_argument("--url", required=True, help="e.g. ws://127.0.0.1:8000/ws/vinted/")
    parser.add_argument("--token", required=True, help="the tenant's extension token")
    parser.add_argument("--host", help="Host header to send (tenant domain), e.g. shop1.localhost")
    parser.add_argument("--origin", default=DEFAULT_ORIGIN)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every Vinted call")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of calls failing")
    parser.add_argument("--error-status", type=int, default=500)
    parser.add_argument("--seed", type=int, help="makes random faults and jitter reproducible")
    parser.add_argument("--user-id", type=int, default=51_000_001, help="Vinted user id")
    parser.add_argument("--login", default="relist_sim", help="Vinted login")
    parser.add_argument("--heartbeat-s", type=float, default=20.0)
    parser.add_argument("--no-fetch-photos", action="store_true", help="accept photo URLs unread")
    parser.add_argument("--no-reconnect", action="store_true")
    parser.add_argument("--log-level", default="INFO")
    return parser


async def _serve(sim: ExtensionSimulator) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # A clean 1000 close lets the server mark the extension offline at once.
        loop.add_signal_handler(signum, sim.request_stop)
    await sim.run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_ExtraFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    faults = FaultPlan(
        seed=args.seed,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        error_status=args.error_status,
    )
    sim = ExtensionSimulator(
        args.url,
        args.token,
        host=args.host,
        origin=args.origin,
        account=VintedAccount(user_id=args.user_id, login=args.login),
        faults=faults,
        fetch_photos=not args.no_fetch_photos,
        reconnect=not args.no_reconnect,
        heartbeat_s=args.heartbeat_s,
        seed=args.seed,
    )
    print(  # noqa: T201 - the one human-facing startup line; everything else is logging
        f"Vinted extension simulator: {args.url} host={args.host or '-'} "
        f"user={args.login}#{args.user_id} latency={args.latency_ms}ms "
        f"error_rate={args.error_rate} (Ctrl-C to stop)",
        flush=True,
    )
    try:
        asyncio.run(_serve(sim))
    except ExtensionSimulatorError as exc:
        # An expected refusal (revoked token, origin check): a traceback would only add noise.
        logger.error("vinted_sim.refused", extra={"error": str(exc)})
        return EXIT_REFUSED
    except OSError as exc:  # only reached with --no-reconnect
        logger.error("vinted_sim.unreachable", extra={"error": repr(exc)})
        return EXIT_UNREACHABLE
    logger.info("vinted_sim.stopped", extra={"commands": sim.commands_received})
    return 0


if __name__ == "__main__":
    sys.exit(main())
