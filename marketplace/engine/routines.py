"""The hot path's statements (`sql`) as PL/pgSQL functions, so PostgreSQL plans them once per
server session instead of on every execution.

Why: Django binds parameters on the client, and the statements travel with their
`SET LOCAL search_path` in one simple-protocol message (tenants.db.backend, for pgbouncer's
transaction mode), so PostgreSQL parsed, analysed and planned every one of them on every call:
2.3 ms of a job's 7.9 ms in PostgreSQL (docs/performance.md). Protocol-level prepared statements
do not survive a transaction pooler (Debian's pgbouncer 1.18 has none), but a PL/pgSQL
function's plans are cached by the server process that runs it, whichever client sent the call,
and they are re-planned when the search_path differs from the one they were planned for (a
cached plan records it), so one function in `public` serves every tenant schema correctly.

Each routine's body *is* the statement `sql` holds, with `%(name)s` turned into the parameter
`p_name`: the tests that hold the statements to the declared transitions hold the functions to
them too. A function's name ends with a hash of its definition, so a changed statement is a new
function: a worker running older code keeps calling the old one during a deploy, and nothing
can call a definition it was not written for. `ensure()` creates what is missing: after every
`migrate` (post_migrate) and, once per process and database, before the first call.
"""

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction

from marketplace.engine import sql
from marketplace.states import JobStatus

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Routine:
    """One hot-path statement as a function: `params` in call order with their SQL types,
    `returns` the result columns (they must match the statement's types exactly)."""

    label: str
    statement: str
    params: tuple[tuple[str, str], ...]
    returns: tuple[tuple[str, str], ...]
    # Placeholders written into the definition as literals: what is the same on every call
    # (the statuses and counter deltas the declared transitions give), so it is neither sent
    # nor converted per call, and the planner sees the values (partial indexes).
    constants: Mapping[str, object] = field(default_factory=dict)
    name: str = field(init=False)
    definition: str = field(init=False)
    call: str = field(init=False)

    def __post_init__(self) -> None:
        declared = {name for name, _ in self.params} | set(self.constants)
        used = set(_PLACEHOLDER.findall(self.statement))
        if used != declared or len(declared) != len(self.params) + len(self.constants):
            raise ValueError(f"{self.label}: parameters {sorted(used ^ declared)} not matched")

        def substitute(match: re.Match[str]) -> str:
            name = match[1]
            return _literal(self.constants[name]) if name in self.constants else f"p_{name}"

        body = _PLACEHOLDER.sub(substitute, self.statement).strip()
        args = ", ".join(f"p_{name} {type_}" for name, type_ in self.params)
        columns = ", ".join(f"r_{name} {type_}" for name, type_ in self.returns)
        tail = (
            f"({args}) RETURNS TABLE ({columns}) LANGUAGE plpgsql VOLATILE"
            f" AS $relist$\nBEGIN\nRETURN QUERY {body};\nEND\n$relist$"
        )
        digest = hashlib.sha256(tail.encode()).hexdigest()[:10]
        name = f"relist_{self.label}_{digest}"
        placeholders = ", ".join(f"%({name})s::{type_}" for name, type_ in self.params)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "definition", f"CREATE OR REPLACE FUNCTION public.{name} {tail}")
        object.__setattr__(self, "call", f"SELECT * FROM public.{name}({placeholders})")

    @property
    def writes(self) -> bool:
        """A call that writes, so in autocommit one commit (bench.queries counts them)."""
        return re.search(r"\b(UPDATE|INSERT|DELETE)\b", self.statement) is not None


def _literal(value: object) -> str:
    """A constant as SQL: strings, lists of strings, integers, booleans and None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return "ARRAY[" + ", ".join(_literal(item) for item in value) + "]::text[]"
    raise TypeError(f"no SQL literal for {value!r}")


_TS = "timestamptz"
_PENDING = {"pending": JobStatus.PENDING.value}
_RUNNING = {"running": JobStatus.RUNNING.value}

LOAD = Routine(
    "load",
    sql.LOAD,
    params=(("job", "bigint"),),
    constants=_PENDING,
    returns=(
        ("job", "json"),
        ("action", "json"),
        ("product", "jsonb"),
        ("images", "json"),
        ("listing", "json"),
        ("steps", "json"),
        ("connection", "json"),
        ("mappings", "text"),
    ),
)
CLAIM = Routine(
    "claim",
    sql.claim(),
    params=(
        ("job", "bigint"),
        ("now", _TS),
        ("claimer", "text"),
        ("plan", "jsonb"),
        ("first_position", "integer"),
        ("first_step", "bigint"),
    ),
    constants=sql.claim_params(),
    returns=(("attempts", "smallint"), ("started_at", _TS), ("new_steps", "bigint[]")),
)
BOUNDARY = Routine(
    "boundary",
    sql.BOUNDARY,
    params=(
        ("job", "bigint"),
        ("now", _TS),
        ("done", "bigint"),
        ("result", "jsonb"),
        ("next", "bigint"),
    ),
    constants=_RUNNING,
    returns=(("cancel", "boolean"), ("pause", "boolean"), ("attempts", "smallint")),
)
HEARTBEAT = Routine(
    "heartbeat",
    sql.HEARTBEAT,
    params=(("job", "bigint"), ("now", _TS)),
    constants=_RUNNING,
    returns=(("cancel", "boolean"), ("pause", "boolean")),
)
COMPLETE = Routine(
    "complete",
    sql.complete(),
    params=(
        ("job", "bigint"),
        ("now", _TS),
        ("result_data", "jsonb"),
        ("done", "bigint"),
        ("result", "jsonb"),
        ("listing", "boolean"),
        ("marketplace", "text"),
        ("listing_status", "text"),
        ("external_id", "text"),
        ("url", "text"),
        ("listing_data", "jsonb"),
    ),
    constants=sql.complete_params(),
    returns=(("job", "bigint"),),
)
TOP_UP = Routine(
    "top_up",
    sql.TOP_UP,
    params=(
        ("now", _TS),
        ("marketplace", "text"),
        ("exclude", "bigint[]"),
        ("free", "integer"),
    ),
    returns=(
        ("job", "bigint"),
        ("marketplace", "varchar"),
        ("priority", "smallint"),
        ("next_attempt_at", _TS),
    ),
)

ALL = (LOAD, CLAIM, BOUNDARY, HEARTBEAT, COMPLETE, TOP_UP)
WRITING_CALLS = frozenset(routine.call for routine in ALL if routine.writes)

# Database aliases whose functions this process has seen or made (a deploy adds new ones with
# the code that calls them: a process checks once).
_ready: set[str] = set()
_ready_lock = threading.Lock()


def ensure(using: str) -> None:
    """Create the functions of this code that the database lacks (one catalogue read when none
    is missing). Under a transaction-level advisory lock, so two processes starting at once do
    not both create (CREATE OR REPLACE races end in 'tuple concurrently updated')."""
    names = [routine.name for routine in ALL]
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(_PRESENT, {"names": names})
        present = {name for (name,) in cursor.fetchall()}
        if len(present) == len(names):
            return
        cursor.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _LOCK_KEY})
        cursor.execute(_PRESENT, {"names": names})
        present = {name for (name,) in cursor.fetchall()}
        for routine in ALL:
            if routine.name not in present:
                cursor.execute(routine.definition)


_PRESENT = """SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.proname = ANY(%(names)s)"""
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"relist.engine.routines").digest()[:7], "big")


def execute(cursor: Any, routine: Routine, params: dict[str, Any]) -> None:
    """Run `routine` with `params` on the default connection's cursor (the hot path's)."""
    using = connection.alias
    if using not in _ready:
        _make_ready(using)
    cursor.execute(routine.call, params)


def _make_ready(using: str) -> None:
    with _ready_lock:
        if using in _ready:
            return
        ensure(using)
        # Made inside a transaction that may still roll back: check again next time.
        if not connections[using].in_atomic_block:
            _ready.add(using)


def after_migrate(using: str, **kwargs: Any) -> None:
    """post_migrate: the functions exist before any worker asks for them."""
    ensure(using)


def forget() -> None:
    """Tests: check the catalogue again on the next call (after a database was recreated)."""
    _ready.clear()
