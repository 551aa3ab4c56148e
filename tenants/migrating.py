"""Migrating every tenant schema in time linear in the number of tenants.

Django's `migrate`, run once per schema (django-tenants' `migrate_schemas`), introspects the
table list of the whole database for every schema (`pg_class`, ~500 rows per tenant), so a run
with nothing to apply grows with N². Here:

- the target is known from the code: the migration graph, loaded once per process, and its
  fingerprint (a hash of every node, so of every app's leaf too);
- `Tenant.migration_state` in public records the fingerprint each schema was last brought to:
  one query over `tenants_tenant` finds the schemas that are not current, and the current ones
  cost nothing more;
- a schema that is not current costs one query on its own `django_migrations` to learn what it
  misses; migrations of apps that have no tables in tenant schemas are only recorded; the rest
  run their operations as Django's executor would, with the project states built once per
  process and shared by every schema with the same history (no introspection);
- schemas run in a bounded pool of processes, each recording its state as it completes, so an
  interrupted run resumes where it stopped;
- the template is migrated first and re-dumped, and spare schemas cloned before the change are
  dropped (the command refills them after the run: tenants/cloning.py);
- the whole run holds an exclusive PostgreSQL advisory lock that provisioning takes shared:
  the two never overlap (a schema cloned from a template that is being migrated would miss
  what the migration adds).
"""

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import selectors
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NoReturn

from django.apps import apps as global_apps
from django.conf import settings
from django.core.management.sql import emit_post_migrate_signal
from django.db import OperationalError, ProgrammingError, connection, connections, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.models import ModelOperation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.utils import timezone

from core.errors import Conflict
from tenants.databases import database_use
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# The advisory lock key shared by migrating (exclusive) and provisioning (shared): "RLMG".
LOCK_KEY = 0x524C4D47

MigrationKey = tuple[str, str]
UNDEFINED_TABLE = "42P01"


class MigrationInProgress(Conflict):
    """Provisioning or migrating waited for the other longer than allowed."""


class InconsistentSchema(Exception):
    """A schema's migration records have holes Django's executor does not fill."""


@dataclass(frozen=True)
class MigrationTarget:
    """What the code says every tenant schema must have applied."""

    fingerprint: str
    plan: tuple[MigrationKey, ...]  # every migration, in dependency order
    replaces: dict[MigrationKey, tuple[MigrationKey, ...]]  # squashed -> what it replaces

    def pending(self, applied: Iterable[MigrationKey]) -> list[MigrationKey]:
        done = set(applied)
        for key, replaced in self.replaces.items():
            if all(item in done for item in replaced):
                done.add(key)
        return [key for key in self.plan if key not in done]


@functools.cache
def _executor() -> MigrationExecutor:
    """One graph per process, loaded without a connection (nothing is read from the database)."""
    return MigrationExecutor(None)


@functools.cache
def migration_target() -> MigrationTarget:
    executor = _executor()
    graph = executor.loader.graph
    plan = tuple(
        (migration.app_label, migration.name)
        for migration, _ in executor.migration_plan(graph.leaf_nodes(), clean_start=True)
    )
    replaces = {
        key: tuple(tuple(item) for item in migration.replaces)
        for key, migration in graph.nodes.items()
        if migration.replaces
    }
    digest = hashlib.sha256("\n".join(sorted(f"{app}.{name}" for app, name in plan)).encode())
    return MigrationTarget(fingerprint=digest.hexdigest(), plan=plan, replaces=replaces)


def _quoted(schema_name: str) -> str:
    return connection.ops.quote_name(schema_name)


def schema_applied(*, schema_name: str) -> set[MigrationKey] | None:
    """The migrations recorded in the schema (one query), None when it has no record table."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT app, name FROM {_quoted(schema_name)}.django_migrations")
            return {(app, name) for app, name in cursor.fetchall()}
    except ProgrammingError as error:
        if getattr(error.__cause__, "sqlstate", None) == UNDEFINED_TABLE:
            return None
        raise


@dataclass
class SchemaOutcome:
    schema_name: str
    applied: list[str] = field(default_factory=list)
    recorded_only: bool = False
    error: str = ""
    seconds: float = 0.0


def schema_migrate(*, schema_name: str, target: MigrationTarget | None = None) -> SchemaOutcome:
    """Bring one schema to the code's migrations; does not touch its state row."""
    target = target or migration_target()
    started = time.perf_counter()
    applied = schema_applied(schema_name=schema_name)
    pending = target.pending(applied or ())
    outcome = SchemaOutcome(schema_name=schema_name, applied=[f"{a}.{n}" for a, n in pending])
    tenant_apps = {app.split(".")[-1] for app in settings.TENANT_APPS}
    if applied is not None and pending and not {app for app, _ in pending} & tenant_apps:
        # Nothing to create in the schema (shared apps only): Django would only record them.
        _record(schema_name=schema_name, keys=pending)
        outcome.recorded_only = True
    elif pending:
        _apply(schema_name=schema_name, applied=applied)
        # Django plans from the leaves: a history with holes (a leaf applied, an ancestor not)
        # is left as it is. Say so rather than record the schema as current.
        if missing := target.pending(schema_applied(schema_name=schema_name) or ()):
            raise InconsistentSchema(f"still unapplied after migrating: {missing}")
    outcome.seconds = time.perf_counter() - started
    return outcome


def _record(*, schema_name: str, keys: list[MigrationKey]) -> None:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_quoted(schema_name)}.django_migrations (app, name, applied) "
            "VALUES (%s, %s, %s)",
            [(app, name, now) for app, name in keys],
        )


@dataclass(frozen=True)
class _Step:
    """One operation of a migration to apply, with the project states around it."""

    operation: Operation
    before: ProjectState
    after: ProjectState


@functools.lru_cache(maxsize=8)
def _steps(applied: frozenset[MigrationKey]) -> tuple[tuple[Migration, tuple[_Step, ...]], ...]:
    """The migrations a schema with `applied` misses, each operation with its states.

    Building and rendering these states is what Django's executor spends most of its time on
    (~0.3-1 s of CPU per schema here); every stale schema of a run has the same history, so
    they are built once per process and reused, read-only, for each schema."""
    executor = _executor()
    graph = executor.loader.graph
    executor.loader.applied_migrations = {key: graph.nodes[key] for key in applied if key in graph}
    plan = executor.migration_plan(graph.leaf_nodes())
    state = executor._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]
    migrations = []
    for migration, backwards in plan:
        if backwards:
            raise InconsistentSchema(f"would unapply {migration}")
        steps = []
        for operation in migration.operations:
            before = state.clone()
            operation.state_forwards(migration.app_label, state)
            steps.append(_Step(operation, before, state.clone()))
        migrations.append((migration, tuple(steps)))
    return tuple(migrations)


def _apply(*, schema_name: str, applied: set[MigrationKey] | None) -> None:
    """What Django's executor does for a forwards plan (Migration.apply, then the record),
    with the states shared between schemas and no introspection."""
    if not applied:
        _apply_from_scratch(schema_name=schema_name)
        return
    connection.set_schema(schema_name)  # type: ignore[attr-defined]
    recorder = MigrationRecorder(connection)
    # known: read just before
    recorder._has_table = True  # type: ignore[attr-defined]
    models_changed = False
    try:
        for migration, steps in _steps(frozenset(applied)):
            recorded = False
            with connection.schema_editor(atomic=migration.atomic) as editor:
                for step in steps:
                    _operation_apply(migration, step, editor)
                    models_changed |= isinstance(step.operation, ModelOperation)
                if not editor.deferred_sql:
                    _record_applied(recorder, migration)
                    recorded = True
            if not recorded:
                _record_applied(recorder, migration)
        if models_changed:
            # Content types of new tenant models live in the tenant's schema.
            emit_post_migrate_signal(0, False, connection.alias, apps=global_apps)
    finally:
        connection.set_schema_to_public()


def _apply_from_scratch(*, schema_name: str) -> None:
    """A fresh schema (the template): Django's executor, which renders the states once and
    mutates them along a long plan; sharing states pays only for the short plans of a deploy."""
    # The record table must be made in the schema, not found in public.
    connection.set_schema(schema_name, include_public=False)  # type: ignore[attr-defined]
    MigrationRecorder(connection).ensure_schema()
    connection.set_schema(schema_name)  # type: ignore[attr-defined]
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(targets)
    try:
        executor.migrate(targets, plan=plan)
        emit_post_migrate_signal(0, False, connection.alias, apps=global_apps, plan=plan)
    finally:
        connection.set_schema_to_public()


def _operation_apply(migration: Migration, step: _Step, editor: BaseDatabaseSchemaEditor) -> None:
    operation = step.operation
    atomic = operation.atomic or (migration.atomic and operation.atomic is not False)
    if not editor.atomic_migration and atomic:
        with transaction.atomic(connection.alias):
            operation.database_forwards(migration.app_label, editor, step.before, step.after)
    else:
        operation.database_forwards(migration.app_label, editor, step.before, step.after)


def _record_applied(recorder: MigrationRecorder, migration: Migration) -> None:
    for app, name in migration.replaces or [(migration.app_label, migration.name)]:
        recorder.record_applied(app, name)


def tenant_state_record(*, schema_name: str, fingerprint: str) -> None:
    connection.set_schema_to_public()
    Tenant.objects.filter(schema_name=schema_name).update(migration_state=fingerprint)


# (schema, recorded migration state, database alias) of a tenant to visit.
StaleTenant = tuple[str, str, str]


def _migrate_and_record(item: StaleTenant) -> SchemaOutcome:
    """One schema, in a worker process: migrate it on its own database, then record its state
    on the primary (the resume point)."""
    schema_name, state, database = item
    target = migration_target()
    try:
        with database_use(database):
            outcome = schema_migrate(schema_name=schema_name, target=target)
        if state != target.fingerprint:
            tenant_state_record(schema_name=schema_name, fingerprint=target.fingerprint)
    except Exception as error:
        logger.exception("tenants.migrate_failed", extra={"tenant": schema_name})
        connection.close()
        return SchemaOutcome(schema_name=schema_name, error=f"{type(error).__name__}: {error}")
    return outcome


def stale_tenants(*, target: MigrationTarget, verify: bool) -> list[StaleTenant]:
    """(schema, recorded state, database) of the tenants to visit: one query on public."""
    tenants = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
    if not verify:
        tenants = tenants.exclude(migration_state=target.fingerprint)
    return list(
        tenants.order_by("schema_name").values_list("schema_name", "migration_state", "database")
    )


@dataclass
class MigrationRun:
    total: int = 0
    skipped: int = 0
    migrated: list[SchemaOutcome] = field(default_factory=list)
    failed: list[SchemaOutcome] = field(default_factory=list)
    seconds: float = 0.0


def tenants_migrate(
    *,
    processes: int = 2,
    verify: bool = False,
    lock_timeout_s: float = 60.0,
    progress: Callable[[SchemaOutcome], None] | None = None,
) -> MigrationRun:
    """Migrate the template and every tenant schema that is not current (see module doc)."""
    from tenants.cloning import (  # noqa: PLC0415 - cloning imports this module
        spare_schemas_drop_stale,
        template_refresh,
    )

    started = time.perf_counter()
    target = migration_target()
    run = MigrationRun()
    with migration_lock(timeout_s=lock_timeout_s):
        template_refresh(target=target)
        spare_schemas_drop_stale(target=target)
        items = stale_tenants(target=target, verify=verify)
        run.total = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).count()
        run.skipped = run.total - len(items)
        for outcome in _run_all(items, processes=processes):
            if outcome.error:
                run.failed.append(outcome)
            elif outcome.applied:
                run.migrated.append(outcome)
            else:
                run.skipped += 1
            if progress is not None:
                progress(outcome)
    run.seconds = time.perf_counter() - started
    logger.info(
        "tenants.migrated",
        extra={
            "total": run.total,
            "skipped": run.skipped,
            "migrated": len(run.migrated),
            "failed": len(run.failed),
            "seconds": round(run.seconds, 3),
        },
    )
    return run


def _run_all(items: list[StaleTenant], *, processes: int) -> Iterator[SchemaOutcome]:
    if processes <= 1 or len(items) <= 1:
        for item in items:
            yield _migrate_and_record(item)
        return
    # Forked children must not share the parent's socket: close it before forking (the lock
    # lives on a connection of its own, which the children never touch).
    connections.close_all()
    workers = {}
    try:
        for index in range(min(processes, len(items))):
            share = items[index::processes]
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child never returns
                os.close(read_fd)
                _worker(share, write_fd)
            os.close(write_fd)
            workers[read_fd] = (pid, {item[0] for item in share})
        yield from _results(workers)
    finally:
        for pid, _ in workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _worker(items: list[StaleTenant], write_fd: int) -> NoReturn:
    """A forked worker: migrates its share, one JSON line per schema, then exits without
    running the parent's exit handlers. Plain os.fork, not multiprocessing: its after-fork
    hooks (kombu's pool clean-up among them) talk on sockets the parent still uses."""
    code = 0
    try:
        with os.fdopen(write_fd, "w") as out:
            for item in items:
                out.write(json.dumps(dataclasses.asdict(_migrate_and_record(item))) + "\n")
                out.flush()
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _results(workers: dict[int, tuple[int, set[str]]]) -> Iterator[SchemaOutcome]:
    """The outcomes as the workers report them; a worker that dies leaves its remaining
    schemas failed (stale, for the next run)."""
    selector = selectors.DefaultSelector()
    buffers = {}
    for read_fd in workers:
        selector.register(read_fd, selectors.EVENT_READ)
        buffers[read_fd] = b""
    while selector.get_map():
        for key, _ in selector.select():
            read_fd = key.fd
            data = os.read(read_fd, 65536)
            if not data:
                selector.unregister(read_fd)
                os.close(read_fd)
                continue
            *lines, buffers[read_fd] = (buffers[read_fd] + data).split(b"\n")
            for line in lines:
                outcome = SchemaOutcome(**json.loads(line))
                workers[read_fd][1].discard(outcome.schema_name)
                yield outcome
    for _, left in workers.values():
        for schema in sorted(left):
            yield SchemaOutcome(schema_name=schema, error="the worker process died")


@contextmanager
def migration_lock(*, timeout_s: float) -> Iterator[None]:
    """Hold the exclusive migration lock on a connection of its own for the whole block."""
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{int(timeout_s * 1000)}ms'")
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            except OperationalError as error:
                raise MigrationInProgress(
                    "Provisioning is running; the migration did not start.",
                    details={"waited_s": timeout_s},
                ) from error
        yield
    finally:
        holder.close()  # ends the session, which releases the lock


def provisioning_lock(*, timeout_s: float) -> None:
    """Inside the caller's transaction: wait (bounded) until no migration runs, and keep any
    from starting until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(timeout_s * 1000)}ms'")
        try:
            with transaction.atomic():
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [LOCK_KEY])
        except OperationalError as error:
            raise MigrationInProgress(
                "Tenant migrations are running; try provisioning again in a moment.",
                details={"waited_s": timeout_s},
            ) from error
        cursor.execute("SET LOCAL lock_timeout = 0")
