"""Run the benchmarks of DESIGN §6 (orchestration overhead, latency-bound throughput, queries
per job) and print the figures. See bench/__init__.py for usage."""

import argparse
import contextlib
import importlib
import io
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass

from bench import database, report
from bench.env import BENCH_DB, BROKER_DB, LOG_DIR, REDIS_DB, TENANT_SCHEMA, BenchEnv
from bench.measure import RunResult
from bench.procs import SandboxProcess, install_cleanup, stop_all
from bench.report import rule, say

PHASES = ("a", "b", "c", "latency", "queries")


@dataclass(frozen=True)
class Options:
    jobs: int
    pool: str
    concurrency: int
    latency_ms: int
    latency_pool: str
    latency_concurrency: int
    latency_jobs: int
    count_jobs: int
    profile_jobs: int
    phases: frozenset[str]
    keep_db: bool
    rounds: int


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (defaults below ÷)")
    parser.add_argument("--jobs", type=int, help="jobs per throughput run (default 10000)")
    parser.add_argument("--pool", default="prefork", help="worker pool for (a), (b), (c)")
    parser.add_argument("--concurrency", type=int, default=2, help="for (a), (b), (c)")
    parser.add_argument("--latency-ms", type=int, default=200, help="sandbox latency per call")
    parser.add_argument("--latency-pool", default="threads")
    parser.add_argument("--latency-concurrency", type=int, default=32)
    parser.add_argument("--latency-jobs", type=int, help="default 500 (quick: 200)")
    parser.add_argument("--count-jobs", type=int, default=20, help="jobs whose queries are counted")
    parser.add_argument("--profile-jobs", type=int, help="default 200 (quick: 100)")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}"
    )
    parser.add_argument("--keep-db", action="store_true", help=f"keep {BENCH_DB} afterwards")
    parser.add_argument(
        "--rounds", type=int, default=2, help="a b c repeated, interleaved (a b c a b c)"
    )
    args = parser.parse_args(argv)
    phases = frozenset(p.strip() for p in args.phases.split(",") if p.strip())
    if unknown := phases - set(PHASES):
        parser.error(f"unknown phases: {sorted(unknown)}")
    return Options(
        jobs=args.jobs or (1000 if args.quick else 10_000),
        pool=args.pool,
        concurrency=args.concurrency,
        latency_ms=args.latency_ms,
        latency_pool=args.latency_pool,
        latency_concurrency=args.latency_concurrency,
        latency_jobs=args.latency_jobs or (200 if args.quick else 500),
        count_jobs=args.count_jobs,
        profile_jobs=args.profile_jobs or (100 if args.quick else 200),
        phases=phases,
        keep_db=args.keep_db,
        rounds=max(args.rounds, 1),
    )


def _warmup(opts: Options, concurrency: int | None = None) -> int:
    return max(20, 10 * (concurrency or opts.concurrency))


def _prepare(opts: Options) -> tuple[BenchEnv, SandboxProcess, str]:
    rule("setup")
    database.flush_redis()
    database.recreate_database()
    sandbox = SandboxProcess(env=dict(os.environ))
    env = BenchEnv(ebay_base_url=sandbox.base_url)
    env.apply()
    migrate_s = database.migrate_shared(env.for_subprocess())
    import django  # noqa: PLC0415 - only once the bench environment is in place

    django.setup()
    from bench.bare import bare_table_create  # noqa: PLC0415
    from bench.engine import tenant_setup  # noqa: PLC0415

    _log_to_file()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the tenant's migration progress
        tenant_setup(sandbox)
    bare_table_create(env)
    token = sandbox.issue_tokens()["access_token"]
    say(
        f"  database {BENCH_DB} (shared migrations {migrate_s:.1f} s, tenant {TENANT_SCHEMA!r} "
        f"provisioned {time.perf_counter() - started:.1f} s); Redis broker db {BROKER_DB}, "
        f"REDIS_URL db {REDIS_DB}; eBay sandbox subprocess at {sandbox.base_url}"
    )
    pg = database.server_settings()
    probe = database.latency_probe(env.dsn)
    say(
        f"  machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {_load()}; PostgreSQL "
        + ", ".join(f"{k}={v}" for k, v in pg.items())
    )
    say(
        f"  PostgreSQL from Python: {probe['round trip']:.2f} ms per round trip, "
        f"{probe['commit']:.2f} ms per committed one-row UPDATE"
    )
    say(
        f"  workers for (a), (b), (c): --pool {opts.pool} --concurrency {opts.concurrency} "
        "--prefetch-multiplier 1, acks_late, -l info, no beat; settings "
        "config.settings.production (DEBUG off), EBAY_RATE_PER_SECOND=100000, "
        "CELERY_SKIP_CHECKS=1"
    )
    say(
        "  (c) and the latency run, as the Procfile: jobs on a worker for ebay.high,ebay; "
        "batches.enqueue_batch on a separate default worker (prefork × 1, CPU shown as "
        "'enqueuer'); (a)/(b) are published by the bench process ('bench')"
    )
    return env, sandbox, token


def _log_to_file() -> None:
    """Keep the job logs at the workers' level (INFO, so their cost shows in the in-process
    profile) but write them to var/bench/bench-process.log instead of the figures."""
    from core.logging import StructuredFormatter  # noqa: PLC0415

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(LOG_DIR / "bench-process.log", mode="w")
    handler.setFormatter(StructuredFormatter())
    root.addHandler(handler)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _bare_runs(opts: Options, env: BenchEnv, sandbox: SandboxProcess, token: str):
    from bench import bare  # noqa: PLC0415

    results: dict[str, RunResult] = {}
    rule(f"(a)/(b) bare Celery, {opts.pool} × {opts.concurrency}")
    worker = bare.start_bare_worker(
        env, pool=opts.pool, concurrency=opts.concurrency, token=token, name="bench-bare"
    )
    try:
        meter = bare.bare_meter(worker, sandbox)
        if "a" in opts.phases:
            say(f"  load average before (a): {_load()}")
            results["a"] = bare.run_noop(env, jobs=opts.jobs, warmup=_warmup(opts), meter=meter)
            report.run_line(results["a"])
        if "b" in opts.phases:
            say(f"  load average before (b): {_load()}")
            results["b"] = bare.run_bare_publish(
                env, sandbox, jobs=opts.jobs, warmup=_warmup(opts), prefix="BARE", meter=meter
            )
            report.run_line(results["b"])
    finally:
        worker.stop()
    return results


def _relist_run(
    opts: Options, env: BenchEnv, sandbox: SandboxProcess, number: int = 1
) -> RunResult:
    from bench import engine  # noqa: PLC0415

    rule(f"(c) eBay publish batch through Relist, {opts.pool} × {opts.concurrency}")
    workers = engine.RelistWorkers(
        env, pool=opts.pool, concurrency=opts.concurrency, name="bench-relist"
    )
    try:
        engine.run_batch(env, sandbox, jobs=_warmup(opts), prefix=f"WARMC{number}R", name="warm-up")
        say(f"  load average before (c): {_load()}")
        result = engine.run_batch(
            env,
            sandbox,
            jobs=opts.jobs,
            prefix=f"C{number}R",  # SKUs are unique: one prefix per round
            name="(c) Relist eBay publish batch",
            meter=workers.meter(sandbox),
        )
    finally:
        workers.stop()
    report.run_line(result)
    return result


def _latency_runs(opts: Options, env: BenchEnv, sandbox: SandboxProcess, token: str):
    from bench import bare, engine  # noqa: PLC0415

    pool, conc, jobs = opts.latency_pool, opts.latency_concurrency, opts.latency_jobs
    latency_s = opts.latency_ms / 1000
    bound = conc / (engine.CALLS_PER_PUBLISH * latency_s)
    rule(f"latency run: {opts.latency_ms} ms per call, {pool} × {conc}, {jobs} jobs")
    say(f"  load average before: {_load()}")
    sandbox.set_latency(opts.latency_ms)
    say(f"  sandbox latency read back: {sandbox.latency()} ms per marketplace call")
    results: list[RunResult] = []
    try:
        # One tenant alone: its worker slots and trigger window are raised to the concurrency,
        # or the fairness cap (4 per tenant and marketplace by default) would be measured
        # instead of the engine (docs/performance.md "Latency-bound work").
        say(
            f"  the bench tenant's slots and trigger window: {conc} (default 4: one tenant alone "
            f"would be bounded at 4 ÷ ({engine.CALLS_PER_PUBLISH} × {latency_s:.3f} s) = "
            f"{4 / (engine.CALLS_PER_PUBLISH * latency_s):.1f} jobs/s)"
        )
        workers = engine.RelistWorkers(
            env, pool=pool, concurrency=conc, name="bench-relist-lat", slots=conc
        )
        try:
            engine.run_batch(env, sandbox, jobs=conc, prefix="WARML", name="warm-up")
            relist = engine.run_batch(
                env,
                sandbox,
                jobs=jobs,
                prefix="L",
                name=f"Relist batch, {pool} × {conc}",
                meter=workers.meter(sandbox),
            )
        finally:
            workers.stop()
        _check_latency(sandbox, opts.latency_ms)
        report.run_line(relist)
        results.append(relist)
        worker = bare.start_bare_worker(
            env, pool=pool, concurrency=conc, token=token, name="bench-bare-latency"
        )
        try:
            bare_result = bare.run_bare_publish(
                env,
                sandbox,
                jobs=jobs,
                warmup=conc,
                prefix="LBARE",
                name=f"bare (b) tasks, {pool} × {conc}",
                meter=bare.bare_meter(worker, sandbox),
            )
        finally:
            worker.stop()
        _check_latency(sandbox, opts.latency_ms)
        report.run_line(bare_result)
        results.append(bare_result)
    finally:
        sandbox.set_latency(0)
    say()
    say(
        f"  Little's law bound = concurrency ÷ (calls per job × latency) = {conc} ÷ "
        f"({engine.CALLS_PER_PUBLISH} × {latency_s:.3f} s) = {bound:.1f} jobs/s"
    )
    for result in results:
        report.ratio(f"{result.name} ÷ bound", result.jobs_per_s, bound, target=0.8)
    return results, bound


def _check_latency(sandbox: SandboxProcess, latency_ms: int) -> None:
    if (applied := sandbox.latency()) != latency_ms:
        raise RuntimeError(f"the sandbox latency is {applied} ms, not {latency_ms} ms")


def _query_counts(opts: Options, env: BenchEnv, sandbox: SandboxProcess, token: str) -> None:
    from bench import queries  # noqa: PLC0415

    rule("queries per job (in-process, zero-latency sandbox)")
    for cost_report in (
        queries.count_job_run(sandbox, jobs=opts.count_jobs),
        queries.count_task(sandbox, jobs=opts.count_jobs),
    ):
        say(
            f"  {cost_report.label}: {cost_report.mean('queries'):.1f} queries/job, "
            f"{cost_report.mean('commits'):.1f} commits/job, "
            f"{cost_report.mean('redis'):.1f} Redis commands/job "
            f"(mean of {len(cost_report.costs)} jobs)"
        )
        kinds = ", ".join(f"{kind} {n:.1f}" for kind, n in cost_report.kinds().items())
        say(f"      by kind: {kinds}")
    sample = queries.count_job_run(sandbox, jobs=1, warmup=1).costs[0]
    shown = [sql for sql in sample.statements if not sql.startswith("SET search_path")]
    say(
        f"  statements of one job_run, in order ({len(sample.statements) - len(shown)} "
        "`SET search_path` statements left out: django-tenants sends one before each):"
    )
    for n, sql in enumerate(shown, start=1):
        say(f"    {n:2d}. {sql[:140]}")
    per_job = queries.time_in_process(
        sandbox, jobs=max(opts.count_jobs, 50), dsn=env.dsn, token=token
    )
    say("  in-process, one job after the other, no Celery (wall / CPU ms per job):")
    for name, (wall_ms, cpu_ms) in per_job.items():
        say(f"      {name:20s} {wall_ms:7.2f} / {cpu_ms:7.2f}")
    enqueue_jobs = 200
    enqueue_queries, enqueue_ms = queries.count_enqueue(sandbox, jobs=enqueue_jobs)
    say(
        f"  batch_enqueue_jobs for {enqueue_jobs} jobs: {enqueue_queries} queries, "
        f"{enqueue_ms:.2f} ms per message"
    )
    rule(f"cProfile of job_run over {opts.profile_jobs} jobs (in-process, CPU time)")
    profile = queries.profile_job_run(sandbox, jobs=opts.profile_jobs)
    say("  top 15 by cumulative time:")
    say(profile["cumulative"])
    say()
    say("  top 15 by own time:")
    say(profile["tottime"])
    say()
    say("  where job_run's CPU goes (cumulative, profiled):")
    say(profile["breakdown"])


# `python -m bench NAME …`: each runs on its own database/Redis (see its module docstring).
SUBCOMMANDS = {
    "tenants": "many tenants: provisioning, migrations, sweeps",
    "chaos": "the whole system under faults, on its own PostgreSQL and Redis",
    "relay": "the extension relay round trip",
    "sales": "sale to delisted everywhere, over many tenants",
    "fairness": "one tenant's single job behind another's batch; throughput spread over tenants",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in SUBCOMMANDS:  # benches with their own environment and options
        return int(importlib.import_module(f"bench.{argv[0]}").main(argv[1:]))
    opts = _parse(argv)
    install_cleanup()
    started = time.perf_counter()
    try:
        env, sandbox, token = _prepare(opts)
        # Interleaved (a b c a b c …): the machine's load drifts over minutes, and each round's
        # ratio compares runs made next to each other.
        rounds: list[dict[str, RunResult]] = []
        for number in range(1, opts.rounds + 1):
            rule(f"round {number} of {opts.rounds}")
            results: dict[str, RunResult] = {}
            if opts.phases & {"a", "b"}:
                results.update(_bare_runs(opts, env, sandbox, token))
            if "c" in opts.phases:
                results["c"] = _relist_run(opts, env, sandbox, number)
            rounds.append(results)
        latency = _latency_runs(opts, env, sandbox, token) if "latency" in opts.phases else None
        if "queries" in opts.phases:
            _query_counts(opts, env, sandbox, token)
        for number, results in enumerate(rounds, start=1):
            _summary(opts, results, None, title=f"summary, round {number}")
        _summary(opts, {}, latency, title="summary, latency run")
    finally:
        stop_all()
        database.flush_redis()
        if "django.db" in sys.modules:
            from django.db import connections  # noqa: PLC0415

            connections.close_all()
        if not opts.keep_db:
            database.drop_database()
    say(f"\n  total bench time {time.perf_counter() - started:.0f} s")
    return 0


def _summary(
    opts: Options, results: dict[str, RunResult], latency, *, title: str = "summary"
) -> None:
    if not results and latency is None:
        return
    rule(title)
    if results:
        say(f"  throughput, workers --pool {opts.pool} --concurrency {opts.concurrency}:")
        report.throughput_table(list(results.values()))
    if "c" in results and "b" in results:
        say()
        report.ratio("c ÷ b", results["c"].jobs_per_s, results["b"].jobs_per_s, target=0.8)
        c_steady, b_steady = results["c"].steady_rate(), results["b"].steady_rate()
        if c_steady and b_steady:
            report.ratio("c ÷ b (10–90 % drain rates)", c_steady, b_steady)
        b_cpu, c_cpu = report.cpu_total(results["b"]), report.cpu_total(results["c"])
        if b_cpu and c_cpu:
            # Load-independent: on a CPU-bound machine jobs/s scale as 1 / CPU per job.
            report.ratio("c ÷ b from all CPU ms/job (b's ÷ c's)", b_cpu, c_cpu)
    if "c" in results and "a" in results:
        report.ratio("c ÷ a", results["c"].jobs_per_s, results["a"].jobs_per_s)
    if latency is not None:
        runs, bound = latency
        say()
        say(
            f"  latency run ({opts.latency_ms} ms per call, --pool {opts.latency_pool} "
            f"--concurrency {opts.latency_concurrency}), bound {bound:.1f} jobs/s:"
        )
        report.throughput_table(runs)
        for run in runs:
            report.ratio(f"{run.name} ÷ bound", run.jobs_per_s, bound, target=0.8)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("\n  interrupted; subprocesses stopped")
        sys.exit(130)
