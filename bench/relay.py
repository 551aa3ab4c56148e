"""The extension relay benchmark (DESIGN §6): round trip worker → socket → simulator → worker.

    .venv/bin/python -m bench relay                # 1,000 round trips, then 100 tenants
    .venv/bin/python -m bench relay --fresh        # re-create the database (re-provisions)
    .venv/bin/python -m bench relay --phases 1 --commands 5000 --count-redis

A round trip is `VintedClient.call` from a worker-like thread of this process: pacer turn
(spacing 0), one script that picks the session and PUBLISHes the command (pub/sub channel
layer), the extension's ack and result pushed by the consumer onto the command's reply list and
BLPOPped by the worker (marketplace.services.relay). The other side is
real: a daphne process serving config.asgi, and the extensions (a SimulatorFleet) in their own
process, on loopback. (1) measures latency with one tenant and one worker thread; (2) measures
commands/s with 100 tenants, 100 connected simulators and N concurrent worker threads (each
thread serves its share of tenants; one command at a time per tenant, as the pacer allows).

The database `relist_bench_relay` is kept between runs (100 tenants take minutes to provision);
Redis db 7 (REDIS_URL and the channel layer) is flushed at every start.
"""

import argparse
import collections
import cProfile
import io
import pstats
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.cpu import CpuMeter, Span
from bench.env import ROOT
from bench.procs import install_cleanup, stop_all
from bench.relay_redis import redis_commands_per_call
from bench.relay_setup import (
    SCHEMA,
    DaphneProcess,
    FleetProcess,
    load_average,
    prepare,
    relay_env,
    relay_redis,
)
from bench.report import rule, say

CALL = ("GET", "/api/v2/users/current")
TARGET_P50_MS = 3.0
TARGET_P99_MS = 10.0


@dataclass(frozen=True)
class Options:
    commands: int
    warmup: int
    tenants: int
    per_tenant: int
    threads: tuple[int, ...]
    phases: frozenset[str]
    fresh: bool
    profile: bool
    count_redis: bool


def _parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench relay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--commands", type=int, default=1000, help="round trips measured in (1)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls before each run")
    parser.add_argument("--tenants", type=int, default=100, help="tenants and simulators in (2)")
    parser.add_argument("--per-tenant", type=int, default=50, help="commands per tenant in (2)")
    parser.add_argument(
        "--threads", default="8,100", help="worker threads in (2), comma-separated runs"
    )
    parser.add_argument(
        "--phases", default="1,2", help='comma-separated subset of 1,2 ("" = set up only)'
    )
    parser.add_argument("--fresh", action="store_true", help="drop and re-create the database")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of (1)")
    parser.add_argument(
        "--count-redis",
        action="store_true",
        help="count Redis commands per round trip with MONITOR (slows Redis for everyone briefly)",
    )
    args = parser.parse_args(argv)
    phases = frozenset(p.strip() for p in args.phases.split(",") if p.strip())
    if unknown := phases - {"1", "2"}:
        parser.error(f"unknown phases: {sorted(unknown)}")
    threads = tuple(int(t) for t in args.threads.split(",") if t.strip())
    if not all(1 <= t <= args.tenants for t in threads):
        parser.error("--threads must be between 1 and --tenants (one command at a time per tenant)")
    return Options(
        commands=args.commands,
        warmup=args.warmup,
        tenants=args.tenants,
        per_tenant=args.per_tenant,
        threads=threads,
        phases=phases,
        fresh=args.fresh,
        profile=not args.no_profile,
        count_redis=args.count_redis,
    )


# --- calls ------------------------------------------------------------------------------------


def _client(schema: str) -> Any:
    from marketplace.handlers.vinted.client import VintedClient  # noqa: PLC0415

    return VintedClient(tenant=schema, timeout_s=10.0)


def _in_thread(target: Callable[[], Any]) -> Any:
    """Run `target` in a fresh thread (a worker's thread, not the main one); return its result."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = target()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="relay-worker")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def _sequential(schema: str, count: int) -> list[float]:
    client, latencies = _client(schema), []
    for _ in range(count):
        started = time.perf_counter()
        client.call(*CALL)
        latencies.append(time.perf_counter() - started)
    return latencies


@dataclass
class ConcurrentRun:
    latencies: list[float]
    elapsed: float
    failures: list[str]  # one per worker thread that stopped on an error


def _concurrent(schemas: list[str], *, rounds: int, threads: int) -> ConcurrentRun:
    """`threads` worker threads, each serving its share of tenants round-robin, `rounds`
    commands per tenant, from a common start. A thread stops at its first error (a deferral:
    no ack within VINTED_ACK_TIMEOUT_S, so the extension is taken for gone)."""
    barrier = threading.Barrier(threads + 1)
    results: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []

    def work(index: int) -> None:
        clients = [_client(s) for s in schemas[index::threads]]
        barrier.wait()
        try:
            for _ in range(rounds):
                for client in clients:
                    started = time.perf_counter()
                    client.call(*CALL)
                    results[index].append(time.perf_counter() - started)
        except Exception as exc:  # reported with the figures
            errors.append(f"{type(exc).__name__}: {exc}")

    workers = [
        threading.Thread(target=work, args=(i,), name=f"relay-worker-{i}") for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return ConcurrentRun([x for result in results for x in result], elapsed, errors)


# --- figures ----------------------------------------------------------------------------------


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50": statistics.median(ordered) * 1000,
        "p90": cut[89] * 1000,
        "p99": cut[98] * 1000,
        "max": ordered[-1] * 1000,
        "mean": statistics.fmean(ordered) * 1000,
    }


def _latency_line(latencies: list[float]) -> str:
    p = _percentiles(latencies)
    return (
        f"p50 {p['p50']:.2f} ms, p90 {p['p90']:.2f} ms, p99 {p['p99']:.2f} ms "
        f"(mean {p['mean']:.2f} ms, max {p['max']:.2f} ms, n = {len(latencies):,})"
    )


def _exactly_once(stats: list[dict[str, Any]], sent: list[int]) -> str:
    received = [s["commands_received"] for s in stats]
    answered = [s["results_sent"] for s in stats]
    if received != sent or answered != sent or any(s["connections"] != 1 for s in stats):
        raise RuntimeError(f"simulators saw {received} (answered {answered}) for {sent} sent")
    return f"simulators received {sum(received):,} commands for {sum(sent):,} sent, each once"


def _components(schema: str, count: int) -> dict[str, float]:
    """Pieces of the round trip alone, as mean ms, in the same kind of thread."""
    from marketplace.services import presence, relay  # noqa: PLC0415
    from marketplace.services.ratelimit import VintedPacer  # noqa: PLC0415

    def mean_ms(fn: Callable[[], Any]) -> float:
        started = time.perf_counter()
        for _ in range(count):
            fn()
        return (time.perf_counter() - started) * 1000 / count

    pacer = VintedPacer(tenant=f"{schema}_probe", lease_s=15)
    replies = relay._replies()
    probe = relay.reply_key("bench-probe")

    def answer_hop() -> None:  # what the consumer's push and the worker's pop cost, unwoken
        replies.rpush(probe, b"{}")
        replies.blpop([probe], timeout=1)

    return {
        "Redis PING (one round trip, sync client)": mean_ms(replies.ping),
        "pacer take + give (2 round trips)": mean_ms(lambda: pacer.give(pacer.take())),
        "presence pick (the script, without PUBLISH)": mean_ms(
            lambda: presence.presence_pick(schema=schema)
        ),
        "answer list: RPUSH + BLPOP": mean_ms(answer_hop),
    }


def _print_components(parts: dict[str, float], mean_ms: float) -> None:
    say("  pieces measured alone (mean ms per call):")
    for name, ms in parts.items():
        say(f"      {name:52s} {ms:7.3f}")
    redis_side = (
        parts["pacer take + give (2 round trips)"]
        + parts["presence pick (the script, without PUBLISH)"]
        + parts["answer list: RPUSH + BLPOP"]
    )
    say(f"      → Redis work of a round trip (≈ sum of the above)    {redis_side:7.3f}")
    say(f"      → left for daphne, WebSocket, simulator, wake-ups    {mean_ms - redis_side:7.3f}")


def _profile(schema: str, count: int) -> dict[str, str]:
    """cProfile of the worker thread over `count` calls (the relay is sync in the worker:
    no event loop of its own); top functions by own time."""
    worker = cProfile.Profile()
    worker.enable()
    _sequential(schema, count)
    worker.disable()
    return {"worker thread": _top(worker, 8)}


def _top(profiler: cProfile.Profile, rows: int) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(rows)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    # Paths shortened to the package: site-packages/… and the project root.
    return "\n".join(
        "      " + re.sub(r"\S*/site-packages/|" + re.escape(f"{ROOT}/"), "", line)
        for line in lines[start:]
    )


# --- phases -----------------------------------------------------------------------------------


def _phase_latency(opts: Options, daphne: DaphneProcess, tokens: dict[str, str]) -> None:
    schema = SCHEMA.format(n=0)
    rule(f"(1) round trip: 1 tenant, 1 simulator, 1 worker thread, {opts.commands:,} commands")
    fleet = FleetProcess(relay_env(), url=daphne.ws_url, tokens=tokens, tenants=range(1))
    redis_counts = None
    try:
        _in_thread(lambda: _sequential(schema, opts.warmup))
        say(f"  load average before the run: {load_average()}")
        span = Span(_meter(daphne, fleet))
        started = time.perf_counter()
        latencies = _in_thread(lambda: _sequential(schema, opts.commands))
        elapsed = time.perf_counter() - started
        cpu, _ = span.end()
        parts = _in_thread(lambda: _components(schema, min(opts.commands, 1000)))
        profile = _in_thread(lambda: _profile(schema, opts.commands)) if opts.profile else None
        if opts.count_redis:
            redis_counts = redis_commands_per_call(
                lambda: _in_thread(lambda: _sequential(schema, 50)), calls=50, daphne=daphne
            )
    finally:
        stats = fleet.finish()
    sent = opts.warmup + opts.commands * (2 if opts.profile else 1) + (50 if redis_counts else 0)
    p = _percentiles(latencies)
    say(f"  {_latency_line(latencies)}")
    say(
        f"  {opts.commands:,} sequential commands in {elapsed:.2f} s = "
        f"{opts.commands / elapsed:,.1f} commands/s (concurrency 1)"
    )
    met = p["p50"] < TARGET_P50_MS and p["p99"] < TARGET_P99_MS
    say(
        f"  target p50 < {TARGET_P50_MS:.0f} ms and p99 < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'NOT met'}"
    )
    say(f"  {_exactly_once(stats, [sent])}")
    say(f"  {_cpu_line(cpu, opts.commands)}")
    _print_components(parts, p["mean"])
    if redis_counts is not None:
        say(redis_counts)
    for thread, top in (profile or {}).items():
        say(f"  cProfile of the {thread} over {opts.commands:,} calls, by own time:")
        say(top)


def _phase_throughput(opts: Options, daphne: DaphneProcess, tokens: dict[str, str]) -> None:
    schemas = [SCHEMA.format(n=n) for n in range(opts.tenants)]
    total = opts.tenants * opts.per_tenant
    rule(
        f"(2) throughput: {opts.tenants} tenants, {opts.tenants} simulators, worker threads "
        f"{'/'.join(map(str, opts.threads))} in 1 process, {total:,} commands per run"
    )
    warm_rounds = max(1, opts.warmup // opts.tenants)
    for threads in opts.threads:
        # A fresh fleet per run: a run that overloads the relay loses sessions (no ack in time).
        fleet = FleetProcess(
            relay_env(), url=daphne.ws_url, tokens=tokens, tenants=range(opts.tenants)
        )
        try:
            _concurrent(schemas, rounds=warm_rounds, threads=threads)
            load = load_average()
            span = Span(_meter(daphne, fleet))
            run = _concurrent(schemas, rounds=opts.per_tenant, threads=threads)
            cpu, _ = span.end()
        finally:
            stats = fleet.finish()
        done = len(run.latencies)
        say(
            f"  concurrency {threads} worker threads: {done:,} commands in {run.elapsed:.2f} s = "
            f"{done / run.elapsed:,.1f} commands/s (load average before: {load})"
        )
        say(f"      {_latency_line(run.latencies)}")
        say(f"      {_cpu_line(cpu, done)}")
        if run.failures:
            say(
                f"      {len(run.failures)} worker threads stopped early: "
                f"{collections.Counter(run.failures).most_common(1)[0][0]}"
            )
            received = sum(s["commands_received"] for s in stats)
            say(f"      simulators received {received:,} commands; {done:,} calls completed")
        else:
            sent = [warm_rounds + opts.per_tenant] * opts.tenants
            say(f"      {_exactly_once(stats, sent)}")


def _meter(daphne: DaphneProcess, fleet: FleetProcess) -> CpuMeter:
    return CpuMeter(groups={}, pids={"daphne": daphne.process.pid, "simulators": fleet.process.pid})


def _cpu_line(cpu: dict[str, float], calls: int) -> str:
    parts = [(part, cpu[part] * 1000 / calls) for part in ("bench", "daphne", "simulators")]
    detail = ", ".join(
        f"{'worker side (this process)' if p == 'bench' else p} {ms:.2f}" for p, ms in parts
    )
    return f"CPU ms per command: {detail}; total {sum(ms for _, ms in parts):.2f}"


def main(argv: list[str] | None = None) -> int:
    opts = _parse(sys.argv[1:] if argv is None else argv)
    install_cleanup()
    started = time.perf_counter()
    try:
        tokens = prepare(relay_env(), tenants=opts.tenants, recreate=opts.fresh)
        daphne = DaphneProcess(relay_env())
        say(
            f"  daphne (config.asgi) at {daphne.ws_url}; simulators (SimulatorFleet) in a "
            "subprocess; worker side = VintedClient.call in threads of this process"
        )
        if "1" in opts.phases:
            _phase_latency(opts, daphne, tokens)
        if "2" in opts.phases:
            _phase_throughput(opts, daphne, tokens)
    finally:
        stop_all()
        relay_redis().flushdb()
        if "django.db" in sys.modules:
            from django.db import connections  # noqa: PLC0415

            connections.close_all()
    say(f"\n  total relay bench time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
