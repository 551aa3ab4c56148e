"""Move a tenant's schema from one database to another (`manage.py tenant_move`).

The steps, each safe to interrupt; running the command again resumes (docs/tenants.md):

1. **Flag.** `Tenant.moving_to = target` on the primary. From then on the API answers 503
   `tenant_unavailable`, sockets refuse the host, workers send the tenant's tasks again later
   (tenants/celery.py) and the sweep skips it. The command waits `settle_s` (the longest
   tenant cache of any process, plus a margin for requests in flight) so that every process
   sees the flag, then until no job of the tenant is running with a fresh heartbeat.
2. **Fence.** On the source, one transaction takes EXCLUSIVE locks on every table of the
   schema: a late writer (one that resolved the tenant before the flag) waits; readers and
   pg_dump (ACCESS SHARE) do not.
3. **Copy.** A copy left on the target by an interrupted run is dropped; `pg_dump --schema`
   of the source is piped into `psql --single-transaction` on the target, and every table's
   row count is compared.
4. **Switch.** The fence's transaction drops the source schema (not yet committed), the
   primary's row becomes `database = target, moving_to = '', moved_from = source` (committed),
   then the fence commits: the late writers waiting on it get an error, never a write into a
   copy nobody reads. The tenant's due-work row goes to the target, due now, so the sweep
   re-sends its pending jobs' triggers at once.
5. **Clean.** `moved_from` is cleared; if the command died before the fence committed, the
   next run drops the source schema it names.

Jobs are rows, and messages only triggers: a task deferred during the move runs afterwards on
the target; one that failed against the fence is re-sent by the sweep; a running job whose
worker was lost is recovered there. Nothing is lost, at the cost of the shop answering 503
for the settle time plus the copy.
"""

import contextlib
import logging
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from core.errors import Conflict
from tenants.cloning import libpq_environment
from tenants.context import tenant_get
from tenants.databases import PRIMARY, tenant_database_check
from tenants.migrating import LOCK_KEY
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# How often the drain looks at the tenant's running jobs.
_DRAIN_POLL_S = 0.5
# Seconds added to the caches' TTL: a request or task that resolved the tenant just before the
# flag finishes within it.
_IN_FLIGHT_MARGIN_S = 5.0
_JOB_TABLE = "marketplace_marketplacejob"
_DUEWORK_TABLE = "public.engine_duework"


class MoveRefused(Conflict):
    """The move cannot start or go on (another move, jobs that do not end, a failed copy)."""


@dataclass
class MoveReport:
    schema_name: str
    source: str
    target: str
    rows: int = 0
    seconds: float = 0.0
    resumed: bool = False


def settle_seconds() -> float:
    """How long every process may still act on what it read before the flag was set."""
    return (
        max(
            float(settings.RELIST_TENANT_CACHE_TTL_S),
            float(settings.CELERY_TASK_TENANT_CACHE_SECONDS),
        )
        + _IN_FLIGHT_MARGIN_S
    )


def tenant_move(
    *,
    schema_name: str,
    database: str,
    settle_s: float | None = None,
    drain_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> MoveReport:
    """Move the tenant's schema to `database` (see the module doc); resumes an interrupted
    move to the same database. Raises UnknownDatabase, TenantNotFound or MoveRefused."""
    tenant_database_check(database)
    say = progress or (lambda message: None)
    started = time.perf_counter()
    with _move_session(schema_name) as primary:
        tenant = tenant_get(schema_name=schema_name)
        if tenant.moved_from:
            _leftover_drop(tenant, say)
        if tenant.moving_to and tenant.moving_to != database:
            raise MoveRefused(
                f"A move of {schema_name!r} to {tenant.moving_to!r} is in progress: finish it "
                f"(tenant_move {schema_name} {tenant.moving_to}) or abort it (--abort).",
                details={"tenant": schema_name, "moving_to": tenant.moving_to},
            )
        report = MoveReport(
            schema_name=schema_name,
            source=tenant.database,
            target=database,
            resumed=bool(tenant.moving_to),
        )
        if tenant.database == database:
            say(f"{schema_name} is on {database} already")
            return report
        _flag(tenant, database)
        say(f"{schema_name}: under maintenance, waiting for every process to see it")
        time.sleep(settle_seconds() if settle_s is None else settle_s)
        _drain(tenant, settings.RELIST_TENANT_MOVE_DRAIN_S if drain_s is None else drain_s)
        report.rows = _copy_and_switch(tenant, target=database, primary=primary, say=say)
        _leftover_drop(Tenant.objects.get(pk=tenant.pk), say)
    report.seconds = time.perf_counter() - started
    logger.info(
        "tenant.moved",
        extra={
            "tenant": schema_name,
            "source": report.source,
            "target": database,
            "rows": report.rows,
            "seconds": round(report.seconds, 3),
        },
    )
    return report


def tenant_move_abort(*, schema_name: str) -> Tenant:
    """Give up a move that has not switched: the tenant stays where it was, its copy on the
    target (if any) is dropped and the maintenance flag cleared."""
    with _move_session(schema_name):
        tenant = tenant_get(schema_name=schema_name)
        if not tenant.moving_to:
            return tenant
        target = tenant.moving_to
        if target in settings.DATABASES and target != tenant.database:
            _schema_drop(target, schema_name)
        Tenant.objects.filter(pk=tenant.pk).update(moving_to="")
        logger.info("tenant.move_aborted", extra={"tenant": schema_name, "target": target})
        return Tenant.objects.get(pk=tenant.pk)


@contextmanager
def _move_session(schema_name: str) -> Iterator[BaseDatabaseWrapper]:
    """A connection of its own on the primary, holding for the whole move the shared
    migration lock (a migration run never sees a schema half moved) and the tenant's own move
    lock (two moves of one tenant never run at once)."""
    holder = connections.create_connection(PRIMARY)
    try:
        with holder.cursor() as cursor:
            timeout_ms = int(settings.RELIST_TENANT_LOCK_TIMEOUT_S * 1000)
            cursor.execute(f"SET lock_timeout = '{timeout_ms}ms'")
            try:
                cursor.execute("SELECT pg_advisory_lock_shared(%s)", [LOCK_KEY])
            except OperationalError as error:
                raise MoveRefused("Tenant migrations are running; try again later.") from error
            cursor.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", [f"relist-move:{schema_name}"]
            )
            if not cursor.fetchone()[0]:
                raise MoveRefused(
                    f"Another tenant_move of {schema_name!r} is running.",
                    details={"tenant": schema_name},
                )
        yield holder
    finally:
        # Released explicitly: a closed session's locks go only when its server process has
        # exited, which a move started right after may beat.
        with contextlib.suppress(DatabaseError), holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        holder.close()


def _flag(tenant: Tenant, target: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(moving_to=target)
    tenant.moving_to = target


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _drain(tenant: Tenant, drain_s: float) -> None:
    """Wait until none of the tenant's jobs runs with a fresh heartbeat; a job whose worker is
    gone (stale heartbeat) is recovered by the sweep on the target afterwards."""
    stale_before = timedelta(seconds=float(settings.RELIST_STALE_HEARTBEAT_S))
    deadline = time.monotonic() + drain_s
    source = connections.create_connection(tenant.database)
    try:
        while True:
            with source.cursor() as cursor:
                cursor.execute(
                    f"SELECT count(*) FROM {_quote(tenant.schema_name)}.{_JOB_TABLE} "
                    "WHERE status = 'running' AND heartbeat_at > %s",
                    [timezone.now() - stale_before],
                )
                running = int(cursor.fetchone()[0])
            if running == 0:
                return
            if time.monotonic() >= deadline:
                Tenant.objects.filter(pk=tenant.pk).update(moving_to="")
                raise MoveRefused(
                    f"{running} job(s) of {tenant.schema_name!r} still running after "
                    f"{drain_s:.0f}s; the tenant stays on {tenant.database!r}.",
                    details={"tenant": tenant.schema_name, "running": running},
                )
            time.sleep(_DRAIN_POLL_S)
    finally:
        source.close()


def _copy_and_switch(
    tenant: Tenant, *, target: str, primary: BaseDatabaseWrapper, say: Callable[[str], None]
) -> int:
    schema = tenant.schema_name
    source = connections.create_connection(tenant.database)
    try:
        source.set_autocommit(False)
        with source.cursor() as fence:
            tables = _fence(fence, schema)
            _schema_drop(target, schema)  # a copy left by an interrupted run
            say(f"{schema}: copying {len(tables)} tables from {tenant.database} to {target}")
            _dump_into(source=source.settings_dict, target=target, schema=schema)
            rows = _counts_compare(fence, target=target, schema=schema, tables=tables)
            fence.execute(f"SELECT wake_at FROM {_DUEWORK_TABLE} WHERE schema_name = %s", [schema])
            had_work = fence.fetchone() is not None
            fence.execute(f"DELETE FROM {_DUEWORK_TABLE} WHERE schema_name = %s", [schema])
            fence.execute(f"DROP SCHEMA {_quote(schema)} CASCADE")
            _duework_mark(target, schema, had_work=had_work)
            # The switch: committed on the primary before the fence lets late writers go.
            Tenant.objects.filter(pk=tenant.pk).update(
                database=target, moving_to="", moved_from=tenant.database
            )
        source.commit()
        say(f"{schema}: now on {target} ({rows} rows)")
        return rows
    finally:
        source.close()


def _fence(cursor: Any, schema: str) -> list[str]:
    cursor.execute(
        f"SET LOCAL lock_timeout = '{int(settings.RELIST_TENANT_LOCK_TIMEOUT_S * 1000)}ms'"
    )
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema]
    )
    tables = [row[0] for row in cursor.fetchall()]
    if not tables:
        raise MoveRefused(f"The schema {schema!r} has no tables on its database.")
    qualified = ", ".join(f"{_quote(schema)}.{_quote(table)}" for table in tables)
    try:
        cursor.execute(f"LOCK TABLE {qualified} IN EXCLUSIVE MODE")
    except OperationalError as error:
        raise MoveRefused(f"Could not lock {schema!r} for the copy: {error}") from error
    return tables


def _dump_into(*, source: dict, target: str, schema: str) -> None:
    dump_command = [
        settings.RELIST_PG_DUMP,
        f"--schema={schema}",
        "--no-owner",
        "--no-privileges",
        "--no-tablespaces",
        "--lock-wait-timeout=30s",
    ]
    restore_command = [
        settings.RELIST_PSQL,
        "--no-psqlrc",
        "--quiet",
        "--single-transaction",
        "--set=ON_ERROR_STOP=1",
    ]
    # pg_dump's messages go to a file: a pipe nobody reads while psql runs could fill up.
    with (
        tempfile.TemporaryFile() as dump_errors,
        subprocess.Popen(
            dump_command, env=libpq_environment(source), stdout=subprocess.PIPE, stderr=dump_errors
        ) as dump,
    ):
        restore = subprocess.run(
            restore_command,
            env=libpq_environment(settings.DATABASES[target]),
            stdin=dump.stdout,
            capture_output=True,
            text=True,
        )
        if dump.stdout is not None:
            dump.stdout.close()  # psql is done: a pg_dump still writing gets EPIPE, not a hang
        dumped = dump.wait()
        dump_errors.seek(0)
        errors = dump_errors.read().decode(errors="replace") + restore.stderr
    if dumped != 0 or restore.returncode != 0:
        raise MoveRefused(
            f"Copying {schema!r} failed: {errors.strip()[:2000]}", details={"tenant": schema}
        )


def _counts_compare(cursor: Any, *, target: str, schema: str, tables: list[str]) -> int:
    """Every table has as many rows on the target as on the (fenced) source."""
    query = " UNION ALL ".join(
        f"SELECT %s, count(*) FROM {_quote(schema)}.{_quote(table)}" for table in tables
    )
    cursor.execute(query, tables)
    expected = dict(cursor.fetchall())
    copy = connections.create_connection(target)
    try:
        with copy.cursor() as other:
            other.execute(query, tables)
            found = dict(other.fetchall())
    finally:
        copy.close()
    if found != expected:
        differ = {t: (expected.get(t), found.get(t)) for t in tables if expected[t] != found.get(t)}
        raise MoveRefused(
            f"The copy of {schema!r} differs from its source: {differ}", details={"tables": differ}
        )
    return sum(expected.values())


def _duework_mark(database: str, schema: str, *, had_work: bool) -> None:
    """The tenant's due-work row on its new database, due now: the sweep re-sends the triggers
    of its pending jobs (the ones deferred or failed during the move) right away."""
    if not had_work:
        return
    other = connections.create_connection(database)
    try:
        with other.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {_DUEWORK_TABLE} (schema_name, wake_at) VALUES (%s, %s) "
                "ON CONFLICT (schema_name) DO UPDATE SET wake_at = EXCLUDED.wake_at",
                [schema, timezone.now()],
            )
    finally:
        other.close()


def _schema_drop(database: str, schema: str) -> None:
    other = connections.create_connection(database)
    try:
        with other.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
    finally:
        other.close()


def _leftover_drop(tenant: Tenant, say: Callable[[str], None]) -> None:
    """Drop the copy an earlier move left on its source (`moved_from`), then forget it."""
    leftover = tenant.moved_from
    if not leftover:
        return
    if leftover in settings.DATABASES and leftover != tenant.database:
        _schema_drop(leftover, tenant.schema_name)
        say(f"{tenant.schema_name}: dropped the old copy on {leftover}")
    Tenant.objects.filter(pk=tenant.pk).update(moved_from="")
    tenant.moved_from = ""
