"""(a) bare Celery no-op throughput and (b) bare Celery tasks making the calls of an eBay
publish, both drained by a real `celery -A bench.bare_tasks worker`."""

import psycopg
import redis

from bench import bare_tasks
from bench.cpu import CpuMeter, Span
from bench.database import BARE_TABLE_DDL
from bench.env import BenchEnv
from bench.measure import Poller, RunResult
from bench.procs import CeleryWorker, SandboxProcess

UNACKED = "unacked"  # kombu's Redis transport keeps delivered, unacknowledged messages here


def bare_meter(worker: CeleryWorker, sandbox: SandboxProcess) -> CpuMeter:
    return CpuMeter(groups={"workers": worker.process.pid}, pids={"sandbox": sandbox.process.pid})


def start_bare_worker(
    env: BenchEnv, *, pool: str, concurrency: int, token: str, name: str
) -> CeleryWorker:
    return CeleryWorker(
        app="bench.bare_tasks",
        queues=bare_tasks.QUEUE,
        pool=pool,
        concurrency=concurrency,
        env=env.for_subprocess({"BENCH_DSN": env.dsn, "BENCH_EBAY_TOKEN": token}, django=False),
        name=name,
    )


class _Published:
    """Messages still in the broker (queued or delivered but not acknowledged)."""

    def __init__(self, env: BenchEnv) -> None:
        self.client = redis.Redis.from_url(env.broker_url)
        self.count = 0

    def in_broker(self) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(bare_tasks.QUEUE)
        pipe.hlen(UNACKED)
        queued, unacked = pipe.execute()
        return int(queued) + int(unacked)


def _send_all(task_name: str, ids: list[int], published: _Published) -> None:
    task = bare_tasks.app.tasks[task_name]
    with bare_tasks.app.producer_or_acquire() as producer:
        for job_id in ids:
            task.apply_async(args=(job_id,), producer=producer, queue=bare_tasks.QUEUE)
            published.count += 1


def _drain(
    env: BenchEnv, task_name: str, ids: list[int], meter: CpuMeter | None = None
) -> tuple[float, Poller, Span]:
    """Publish one message per id with the worker running; seconds until the broker is empty."""
    published = _Published(env)
    total = len(ids)
    span = Span(meter)
    poller = Poller(
        done=lambda: published.count - published.in_broker(),
        finished=lambda n: published.count == total and n == total,
    )
    _send_all(task_name, ids, published)
    elapsed = poller.wait()
    return elapsed, poller, span


def run_noop(env: BenchEnv, *, jobs: int, warmup: int, meter: CpuMeter | None = None) -> RunResult:
    _drain(env, "bench.noop", list(range(warmup)))
    elapsed, poller, span = _drain(env, "bench.noop", list(range(jobs)), meter)
    cpu, sessions = span.end()
    return RunResult(
        "(a) bare Celery no-op", jobs, elapsed, poller.samples, cpu=cpu, pg_sessions=sessions
    )


def bare_table_create(env: BenchEnv) -> None:
    with psycopg.connect(env.dsn, autocommit=True) as conn:
        conn.execute(BARE_TABLE_DDL)


def _insert_rows(env: BenchEnv, *, count: int, prefix: str, image_url: str) -> list[int]:
    """One INSERT … SELECT for the whole run, as batch_create bulk-inserts its jobs."""
    with psycopg.connect(env.dsn, autocommit=True) as conn:
        rows = conn.execute(
            f"INSERT INTO {bare_tasks.TABLE} (sku, title, price, image_url) "
            "SELECT %s || lpad(n::text, 6, '0'), 'Bench jacket ' || n, '19.99', %s "
            "FROM generate_series(1, %s) AS n RETURNING id",
            [prefix, image_url, count],
        ).fetchall()
    return [row[0] for row in rows]


def _status_counts(env: BenchEnv, ids: list[int]) -> dict[str, int]:
    with psycopg.connect(env.dsn, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT status, count(*) FROM {bare_tasks.TABLE} WHERE id = ANY(%s) GROUP BY status",
            [ids],
        ).fetchall()
    return dict(rows)


def run_bare_publish(
    env: BenchEnv,
    sandbox: SandboxProcess,
    *,
    jobs: int,
    warmup: int,
    prefix: str,
    name: str = "(b) bare Celery + same HTTP calls",
    meter: CpuMeter | None = None,
) -> RunResult:
    image = sandbox.image_url("jacket")
    warm_ids = _insert_rows(env, count=warmup, prefix=f"{prefix}W", image_url=image)
    _drain(env, "bench.publish", warm_ids)
    # Timed like (c): from the bulk insert of the rows to the last completion.
    published = _Published(env)
    span = Span(meter)
    poller = Poller(
        done=lambda: published.count - published.in_broker(),
        finished=lambda n: published.count == jobs and n == jobs,
    )
    ids = _insert_rows(env, count=jobs, prefix=prefix, image_url=image)
    _send_all("bench.publish", ids, published)
    elapsed = poller.wait()
    cpu, sessions = span.end()
    counts = _status_counts(env, ids)
    if counts != {"done": jobs}:
        raise RuntimeError(f"bare publish: not every job is done: {counts}")
    return RunResult(name, jobs, elapsed, poller.samples, cpu=cpu, pg_sessions=sessions)
