"""Database queries, commits and Redis commands per job, counted in-process; and a cProfile of
job_run. Jobs are created with batch_create and run here, one after the other, against the same
sandbox (its enqueue message goes to the bench broker, which no worker reads at that point)."""

import cProfile
import io
import itertools
import os
import pstats
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import bare_tasks
from bench.env import TENANT_SCHEMA
from bench.procs import SandboxProcess

_RUNS = itertools.count(1)


@dataclass
class JobCost:
    queries: int
    commits: int
    redis: int
    kinds: Counter[str] = field(default_factory=Counter)
    statements: list[str] = field(default_factory=list)


@dataclass
class CostReport:
    label: str
    costs: list[JobCost]

    def mean(self, attr: str) -> float:
        return statistics.fmean(getattr(cost, attr) for cost in self.costs)

    def kinds(self) -> dict[str, float]:
        total: Counter[str] = Counter()
        for cost in self.costs:
            total.update(cost.kinds)
        return {kind: n / len(self.costs) for kind, n in total.most_common()}


def _kind(sql: str) -> str:
    words = sql.lstrip().split(None, 2)
    head = words[0].upper() if words else "?"
    if head == "RELEASE":
        return "RELEASE SAVEPOINT"
    if head == "SELECT" and "FOR UPDATE" in sql.upper():
        return "SELECT FOR UPDATE"
    return head


@contextmanager
def _counting() -> Iterator[JobCost]:
    """Every statement on Django's connection, every commit (an atomic block's, or a write in
    autocommit mode), and every Redis command of the rate limiter's client."""
    from django.db import connection  # noqa: PLC0415

    from marketplace.engine.routines import WRITING_CALLS  # noqa: PLC0415
    from marketplace.services.ratelimit import redis_client  # noqa: PLC0415

    cost = JobCost(queries=0, commits=0, redis=0)

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
        cost.queries += 1
        kind = _kind(sql)
        cost.kinds[kind] += 1
        cost.statements.append(sql[:160])
        # A data-modifying WITH, or a call of one of the engine's functions that writes
        # (marketplace.engine.routines), commits like an UPDATE.
        writes = (
            kind in ("INSERT", "UPDATE", "DELETE")
            or (kind == "WITH" and any(word in sql for word in ("UPDATE ", "INSERT ", "DELETE ")))
            or sql in WRITING_CALLS
        )
        autocommit_write = not connection.in_atomic_block and writes
        if autocommit_write:
            cost.commits += 1
        return execute(sql, params, many, context)

    commit = connection.commit

    def counted_commit() -> None:
        cost.commits += 1
        commit()

    client = redis_client()
    execute_command = client.execute_command

    def counted_redis(*args: Any, **kwargs: Any) -> Any:
        cost.redis += 1
        return execute_command(*args, **kwargs)

    # Counting wrappers for the benchmark's figures, undone below.
    connection.commit = counted_commit  # type: ignore[method-assign]
    client.execute_command = counted_redis  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(wrapper):
            yield cost
    finally:
        del connection.commit
        del client.execute_command


def _jobs(sandbox: SandboxProcess, *, count: int, prefix: str) -> list[int]:
    from batches.services import batch_create  # noqa: PLC0415
    from bench.engine import products_create  # noqa: PLC0415
    from marketplace.models import MarketplaceJob  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    prefix = f"{prefix}{next(_RUNS)}N"  # SKUs are unique per tenant
    ids = products_create(count=count, prefix=prefix, image_url=sandbox.image_url("jacket"))
    with tenant_context(TENANT_SCHEMA):
        batch = batch_create(product_ids=ids, marketplaces=["ebay"], action="publish")
        return list(
            MarketplaceJob.objects.filter(batch_id=batch.pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def count_job_run(sandbox: SandboxProcess, *, jobs: int, warmup: int = 2) -> CostReport:
    """marketplace.engine.runner.job_run inside the tenant, as the task body runs it."""
    from marketplace.engine.runner import job_run  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    ids = _jobs(sandbox, count=jobs + warmup, prefix="QRUN")
    costs = []
    with tenant_context(TENANT_SCHEMA):
        for n, job_id in enumerate(ids):
            with _counting() as cost:
                outcome = job_run(job_id=job_id)
            if outcome.status != "completed":
                raise RuntimeError(f"job {job_id} ended {outcome.status}")
            if n >= warmup:
                costs.append(cost)
    return CostReport("job_run (task body)", costs)


def count_task(sandbox: SandboxProcess, *, jobs: int, warmup: int = 2) -> CostReport:
    """The whole Celery task as a worker runs it: the message names the tenant schema, the
    connection starts in public (tenant-schemas-celery switches it before the task and back
    after), then marketplace.run_job calls job_run."""
    from django.db import connection  # noqa: PLC0415

    from config.celery import app  # noqa: PLC0415
    from marketplace.tasks import run_job_task as registered  # noqa: PLC0415

    run_job_task = app.tasks[registered.name]  # Relist's TenantTask, not a proxy

    ids = _jobs(sandbox, count=jobs + warmup, prefix="QTASK")
    connection.set_schema_to_public()
    costs = []
    for n, job_id in enumerate(ids):
        with _counting() as cost:
            result = run_job_task.apply(args=(job_id,), headers={"_schema_name": TENANT_SCHEMA})
        if result.result != "completed":
            raise RuntimeError(f"task for job {job_id} returned {result.result!r}")
        if n >= warmup:
            costs.append(cost)
    return CostReport("marketplace.run_job task", costs)


def time_in_process(
    sandbox: SandboxProcess, *, jobs: int, dsn: str, token: str
) -> dict[str, tuple[float, float]]:
    """(wall, CPU) milliseconds per job, run one after the other in this process (no Celery,
    no concurrency): the body of the bare task (b) and Relist's job_run, same sandbox."""
    from bench.bare import _insert_rows  # noqa: PLC0415
    from bench.env import BenchEnv  # noqa: PLC0415
    from marketplace.engine.runner import job_run  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    os.environ["BENCH_DSN"], os.environ["BENCH_EBAY_TOKEN"] = dsn, token
    env = BenchEnv(ebay_base_url=sandbox.base_url)
    bare_ids = _insert_rows(env, count=jobs + 1, prefix="TBARE", image_url=sandbox.image_url("x"))
    bare_tasks.publish.run(bare_ids[0])  # connects
    timings = {"bare task (b) body": _timed(bare_tasks.publish.run, bare_ids[1:])}
    relist_ids = _jobs(sandbox, count=jobs + 1, prefix="TRUN")
    with tenant_context(TENANT_SCHEMA):
        job_run(job_id=relist_ids[0])
        timings["job_run"] = _timed(lambda pk: job_run(job_id=pk), relist_ids[1:])
    return timings


def _timed(run: Callable[[int], Any], ids: list[int]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for pk in ids:
        run(pk)
    return (
        (time.perf_counter() - wall) * 1000 / len(ids),
        (time.process_time() - cpu) * 1000 / len(ids),
    )


def count_enqueue(sandbox: SandboxProcess, *, jobs: int) -> tuple[int, float]:
    """Queries issued by batches.services.batch_enqueue_jobs for a batch of `jobs` jobs, and
    its milliseconds per message (the messages go to the idle bench broker)."""
    from batches.services import batch_create, batch_enqueue_jobs  # noqa: PLC0415
    from bench.engine import products_create  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    prefix = f"ENQ{next(_RUNS)}N"
    ids = products_create(count=jobs, prefix=prefix, image_url=sandbox.image_url("jacket"))
    with tenant_context(TENANT_SCHEMA):
        batch = batch_create(product_ids=ids, marketplaces=["ebay"], action="publish")
        started = time.perf_counter()
        with _counting() as cost:
            sent = batch_enqueue_jobs(batch_pk=batch.pk)
        per_message = (time.perf_counter() - started) * 1000 / max(sent, 1)
    return cost.queries, per_message


# What the profile is broken down into: (label, file suffix, function name).
_RUNNER = "marketplace/engine/runner.py"
BREAKDOWN = (
    ("job_run", _RUNNER, "job_run"),
    ("  load (job, product, images, listing, steps)", _RUNNER, "_load"),
    ("  claim + plan + start (1st statement)", _RUNNER, "_claim"),
    ("  handler.run_step (3 eBay calls)", "handlers/ebay/handler.py", "run_step"),
    ("    credentials read (once per call)", "services/connections.py", "access_token"),
    ("    rate limiter (Redis EVALSHA)", "services/ratelimit.py", "acquire"),
    ("    requests Session.request", "requests/sessions.py", "request"),
    ("      proxy settings from os.environ", "requests/sessions.py", "merge_environment_settings"),
    ("  step boundaries (1 statement each)", _RUNNER, "_boundary"),
    ("  completion (1 statement + handler.finish)", _RUNNER, "_complete"),
    ("  job_transition (ORM rare paths only)", "engine/transitions.py", "job_transition"),
    ("  SET search_path before statements", "postgresql_backend/base.py", "_handle_search_path"),
    ("  COMMIT", "django/db/backends/base/base.py", "commit"),
    ("  PostgreSQL round trips (psycopg wait)", "psycopg/connection.py", "wait"),
    ("  trigger window, top-up, next trigger", "engine/dispatch.py", "jobs_top_up"),
    ("  worker slot take", _RUNNER, "_slot_take"),
    ("  logging (INFO records written)", "logging/__init__.py", "_log"),
)


def profile_job_run(sandbox: SandboxProcess, *, jobs: int, top: int = 15) -> dict[str, str]:
    """cProfile of job_run over `jobs` jobs, in CPU time: top entries by cumulative and by own
    time, and the named parts of BREAKDOWN in CPU ms per job and share of job_run."""
    from marketplace.engine.runner import job_run  # noqa: PLC0415
    from tenants.context import tenant_context  # noqa: PLC0415

    ids = _jobs(sandbox, count=jobs + 1, prefix="PROF")
    # CPU time, not wall time: on a shared machine the wall clock mostly measures waiting for
    # a core (and for PostgreSQL, Redis and the sandbox, which run in other processes).
    profiler = cProfile.Profile(time.process_time)
    with tenant_context(TENANT_SCHEMA):
        job_run(job_id=ids[0])  # warm
        profiler.enable()
        for job_id in ids[1:]:
            job_run(job_id=job_id)
        profiler.disable()
    out = {}
    for key in ("cumulative", "tottime"):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats(key).print_stats(top)
        out[key] = _trim(buffer.getvalue())
    out["breakdown"] = _breakdown(pstats.Stats(profiler), jobs)
    return out


def _breakdown(stats: pstats.Stats, jobs: int) -> str:
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    cumulative: dict[tuple[str, str], tuple[float, int]] = {}
    for (filename, _line, function), (_cc, calls, _tt, cum, _callers) in table.items():
        for _label, suffix, name in BREAKDOWN:
            if function == name and filename.endswith(suffix):
                seconds, count = cumulative.get((suffix, name), (0.0, 0))
                cumulative[(suffix, name)] = (seconds + cum, count + calls)
    total = cumulative.get((_RUNNER, "job_run"), (0.0, 0))[0] or 1.0
    lines = [f"  {'part':52s} {'ms/job':>8s} {'calls/job':>9s} {'of job_run':>10s}"]
    for label, suffix, name in BREAKDOWN:
        seconds, calls = cumulative.get((suffix, name), (0.0, 0))
        lines.append(
            f"  {label:52s} {seconds * 1000 / jobs:8.2f} {calls / jobs:9.1f} "
            f"{seconds * 100 / total:9.1f}%"
        )
    return "\n".join(lines)


def _trim(text: str) -> str:
    """pstats output without its preamble, with paths shortened to the project or package."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    kept = [line for line in lines[start:] if line.strip()]
    return "\n".join(_short(line) for line in kept)


def _short(line: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in line:
            head, _, tail = line.partition(marker)
            prefix = head.rsplit(" ", 1)[0] + " " if " " in head else ""
            return prefix + tail
    return line
