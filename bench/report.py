"""Printing: one line per finished run as it happens, then the tables."""

import sys

from bench.measure import RunResult


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def rule(title: str) -> None:
    say()
    say(f"== {title} " + "=" * max(0, 96 - len(title)))


def run_line(result: RunResult) -> None:
    steady = result.steady_rate()
    steady_text = f"{steady:,.1f}" if steady is not None else "-"
    say(
        f"  {result.name}: {result.jobs:,} jobs in {result.elapsed_s:.2f} s = "
        f"{result.jobs_per_s:,.1f} jobs/s (10–90 % drain: {steady_text} jobs/s)"
    )
    if result.cpu:
        say(f"      CPU ms/job: {cpu_text(result)}")
    if result.pg_sessions is not None:
        say(f"      PostgreSQL sessions opened during the run: {result.pg_sessions:,}")
        if result.pg_sessions > result.jobs // 2:
            say("      (so 'postgres' misses the CPU of the backends that exited during the run)")
    for key, value in result.notes.items():
        say(f"      {key}: {value}")


CPU_PARTS = ("workers", "postgres", "sandbox", "enqueuer", "bench")


def cpu_text(result: RunResult) -> str:
    parts = [(p, result.cpu_ms_per_job(p)) for p in CPU_PARTS]
    known = [(p, ms) for p, ms in parts if ms is not None]
    return ", ".join(f"{p} {ms:.2f}" for p, ms in known) + f"; total {cpu_total(result):.2f}"


def cpu_total(result: RunResult) -> float:
    return sum(ms for p in CPU_PARTS if (ms := result.cpu_ms_per_job(p)) is not None)


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    say(line)
    say("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        say("  " + "  ".join(cells))


def throughput_table(results: list[RunResult]) -> None:
    rows = []
    for r in results:
        steady = r.steady_rate()
        worker, pg = r.cpu_ms_per_job("workers"), r.cpu_ms_per_job("postgres")
        rows.append(
            [
                r.name,
                f"{r.jobs:,}",
                f"{r.elapsed_s:.2f}",
                f"{r.jobs_per_s:,.1f}",
                f"{steady:,.1f}" if steady is not None else "-",
                f"{worker:.2f}" if worker is not None else "-",
                f"{pg:.2f}" if pg is not None else "-",
                f"{cpu_total(r):.2f}" if r.cpu else "-",
                f"{r.pg_sessions:,}" if r.pg_sessions is not None else "-",
            ]
        )
    headers = ["run", "jobs", "seconds", "jobs/s", "10–90 % jobs/s"]
    headers += ["worker CPU ms/job", "PG CPU ms/job", "all CPU ms/job", "PG sessions"]
    table(headers, rows)


def ratio(label: str, numerator: float, denominator: float, target: float | None = None) -> None:
    value = numerator / denominator if denominator else float("nan")
    verdict = ""
    if target is not None:
        verdict = f"  (target ≥ {target:.2f}: {'met' if value >= target else 'NOT met'})"
    say(f"  {label} = {numerator:,.1f} / {denominator:,.1f} = {value:.3f}{verdict}")
