"""tenants.db.backend: the search_path lives in transactions, never in the session, and costs
one SET per transaction (one per statement in autocommit) carried in the statement's own
message."""

from collections.abc import Iterator

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import NotSupportedError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ProgrammingError

from tenants.db.backend.base import DatabaseWrapper

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def fresh() -> Iterator[BaseDatabaseWrapper]:
    """A second connection to the test database, in autocommit, outside the test's transaction."""
    wrapper = connections.create_connection("default")
    yield wrapper
    wrapper.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query text psycopg sends (the real driver call, recorded on the way)."""
    texts: list[str] = []
    original = psycopg.ClientCursor.execute

    def record(self, query, params=None, **kwargs):
        texts.append(query if isinstance(query, str) else str(query))
        return original(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.ClientCursor, "execute", record)
    return texts


def _current_schema(wrapper: BaseDatabaseWrapper) -> str:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def _session_search_path(wrapper: BaseDatabaseWrapper) -> str:
    """What a statement sent without the prefix sees: the session's own setting."""
    return wrapper.connection.execute("SHOW search_path").fetchone()[0]


def test_the_engine_is_the_transaction_scoped_backend(fresh):
    assert isinstance(fresh, DatabaseWrapper)


def test_autocommit_statements_run_in_the_tenant_schema_and_leave_no_session_state(
    fresh, test_tenants
):
    # given
    fresh.set_schema("test_shop_a")
    # when
    schema = _current_schema(fresh)
    # then
    assert schema == "test_shop_a"
    assert "test_shop_a" not in _session_search_path(fresh)


def test_each_autocommit_statement_carries_the_path_in_its_own_message(fresh, test_tenants, sent):
    # given
    fresh.set_schema("test_shop_b")
    # when
    for _ in range(3):
        _current_schema(fresh)
    # then
    statements = [t for t in sent if "current_schema" in t]
    assert (
        statements
        == ['SET LOCAL search_path = "test_shop_b","public"; SELECT current_schema()'] * 3
    )


def test_a_transaction_sends_the_path_once(fresh, test_tenants, sent):
    # given
    fresh.set_schema("test_shop_a")
    # when: what atomic() does on the outermost block
    fresh.set_autocommit(False)
    try:
        schemas = [_current_schema(fresh) for _ in range(3)]
        fresh.commit()
    finally:
        fresh.set_autocommit(True)
    # then
    assert schemas == ["test_shop_a"] * 3
    assert sum("SET LOCAL search_path" in t for t in sent) == 1
    assert "test_shop_a" not in _session_search_path(fresh)


def test_switching_schema_inside_a_transaction_takes_effect(fresh, test_tenants):
    # given
    fresh.set_autocommit(False)
    try:
        fresh.set_schema("test_shop_a")
        first = _current_schema(fresh)
        # when
        fresh.set_schema("test_shop_b")
        second = _current_schema(fresh)
        fresh.rollback()
    finally:
        fresh.set_autocommit(True)
    # then
    assert (first, second) == ("test_shop_a", "test_shop_b")


def test_a_savepoint_rollback_does_not_lose_the_path(test_tenants):
    # given: the test's own connection, inside the test transaction
    connection = connections["default"]
    connection.set_schema("test_shop_a")
    sid = connection.savepoint()
    connection.set_schema("test_shop_b")
    assert _current_schema(connection) == "test_shop_b"
    # when: the SET LOCAL sent after the savepoint is undone with it
    connection.savepoint_rollback(sid)
    # then
    assert _current_schema(connection) == "test_shop_b"
    connection.set_schema_to_public()


def test_statements_refused_in_a_transaction_block_go_bare(fresh, sent):
    # given / when: VACUUM cannot run in the implicit transaction of a multi-statement message
    with fresh.cursor() as cursor:
        cursor.execute("VACUUM pg_catalog.pg_class")
    # then
    assert sent[-1] == "VACUUM pg_catalog.pg_class"


def test_parameters_are_still_bound_after_the_prefix(fresh, test_tenants):
    # given
    fresh.set_schema("test_shop_a")
    # when
    with fresh.cursor() as cursor:
        cursor.execute("SELECT %s::text || current_schema()", ["100% "])
        value = cursor.fetchone()[0]
    # then
    assert value == "100% test_shop_a"


def test_rowcount_is_the_statements_own(fresh, test_tenants):
    # given
    fresh.set_schema("test_shop_a")
    # when
    with fresh.cursor() as cursor:
        cursor.execute("SELECT generate_series(1, 5)")
        rows = cursor.fetchall()
        rowcount = cursor.rowcount
    # then
    assert (len(rows), rowcount) == (5, 5)


def test_executemany_runs_in_the_tenant_schema(fresh, test_tenants):
    # given
    fresh.set_schema("test_shop_a")
    with fresh.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE seen (schema text)")
        # when
        cursor.executemany("INSERT INTO seen SELECT current_schema() || %s", [("",), ("",)])
        cursor.execute("SELECT schema FROM seen")
        seen = [row[0] for row in cursor.fetchall()]
    # then
    assert seen == ["test_shop_a", "test_shop_a"]


def test_a_named_cursor_outside_a_transaction_is_refused(fresh):
    fresh.ensure_connection()
    with pytest.raises(NotSupportedError, match="named cursor"):
        fresh.create_cursor("server_side")


def test_server_side_binding_is_refused():
    # given
    settings_dict = {**connections["default"].settings_dict}
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "server_side_binding": True}
    # when / then
    with pytest.raises(ImproperlyConfigured, match="client-side binding"):
        DatabaseWrapper(settings_dict, alias="server_side_binding")


def test_a_failed_statement_in_a_transaction_is_rolled_back_cleanly(fresh, test_tenants):
    # given
    fresh.set_schema("test_shop_a")
    fresh.set_autocommit(False)
    try:
        with pytest.raises(ProgrammingError), fresh.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        fresh.rollback()
        # when
        schema = _current_schema(fresh)
        fresh.rollback()
    finally:
        fresh.set_autocommit(True)
    # then
    assert schema == "test_shop_a"


def test_copy_inside_a_transaction_runs_in_the_tenant_schema(fresh, test_tenants):
    # given
    fresh.set_schema("test_shop_a")
    fresh.set_autocommit(False)
    try:
        # when
        statement = "COPY (SELECT current_schema()) TO STDOUT"
        with fresh.cursor() as cursor, cursor.copy(statement) as copy:
            rows = [bytes(row).decode().strip() for row in copy]
        fresh.rollback()
    finally:
        fresh.set_autocommit(True)
    # then
    assert rows == ["test_shop_a"]


def test_copy_in_autocommit_is_refused(fresh, test_tenants):
    fresh.set_schema("test_shop_a")
    with pytest.raises(NotSupportedError, match="COPY"), fresh.cursor() as cursor:
        cursor.copy("COPY (SELECT 1) TO STDOUT")
