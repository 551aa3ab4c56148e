"""django-tenants' backend with a transaction-scoped search_path, safe behind a transaction
pooler (pgbouncer `pool_mode = transaction`).

django-tenants sends a session-level `SET search_path` and, with TENANT_LIMIT_SET_CALLS, only
when the schema changes. Behind a transaction pooler consecutive transactions of one client run on
different server sessions, so that setting would leak to whichever client gets the session next.
Here no session state is ever set. Instead the search_path travels *in the same message* as the
statement that needs it, as `SET LOCAL search_path = ...; <statement>` (psycopg's client-side
binding cursor sends one simple-protocol Query, which PostgreSQL runs as one implicit transaction
and pgbouncer routes to one server session):

- inside a transaction (`atomic()`): on the first statement only, and again only if the schema
  changes within it or a savepoint rollback may have undone it: one per transaction;
- in autocommit (each statement is its own transaction): on every statement.

No round trip is added, and Django's query log (assertNumQueries, CaptureQueriesContext) sees
the statement alone. Statements PostgreSQL refuses in a transaction block (CREATE DATABASE,
VACUUM, ... CONCURRENTLY) are sent bare in autocommit: they do not resolve table names through
the path, or name their schema.

https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-MULTI-STATEMENT
https://www.pgbouncer.org/features.html (SET/RESET in transaction mode)
"""

import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import NotSupportedError
from django.db.backends.postgresql.base import Cursor
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django_tenants.postgresql_backend import base as tenant_base
from django_tenants.utils import quote_schema_name

# Commands PostgreSQL refuses inside a transaction block, an implicit one included.
_NO_TRANSACTION_BLOCK = re.compile(
    r"\s*(?:(?:CREATE|DROP|ALTER)\s+(?:DATABASE|TABLESPACE|SYSTEM)\b|VACUUM\b|REINDEX\b"
    r"|CHECKPOINT\b|(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY\b)",
    re.IGNORECASE,
)


_PREFIX = "SET LOCAL search_path = "


class TransactionScopedCursor(Cursor):
    """Django's psycopg cursor (client-side binding) that prefixes a statement with the
    connection's `SET LOCAL search_path` when the current transaction does not have it yet."""

    # The Django connection this cursor serves; None for psycopg's own cursors (health checks).
    search_path_source: "DatabaseWrapper | None" = None

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> "TransactionScopedCursor":
        source = self.search_path_source
        prefix = source.search_path_prefix(query) if source is not None else None
        if prefix is None:
            return super().execute(query, params, **kwargs)  # type: ignore[misc]
        if not isinstance(query, str):  # psycopg.sql.Composable
            query = query.as_string(self)
        # With parameters the prefix goes through placeholder parsing too.
        sent = prefix.replace("%", "%%") if params is not None else prefix
        super().execute(f"{sent}; {query}", params, **kwargs)  # type: ignore[misc]
        self.nextset()  # type: ignore[attr-defined]  # the SET's empty result, then the statement's own
        source.search_path_sent(prefix)  # type: ignore[union-attr]
        return self

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        # executemany may pipeline, where one message holds one statement only: the SET goes
        # first on its own, in the same transaction (opened here in autocommit).
        source = self.search_path_source
        if source is None or source.search_path_prefix(query) is None:
            return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]
        if source.autocommit:
            with self.connection.transaction():  # type: ignore[attr-defined]
                super().execute(source.search_path_sql)  # type: ignore[misc]
                return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]
        super().execute(source.search_path_sql)  # type: ignore[misc]
        source.search_path_sent(source.search_path_sql)
        return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]

    def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        # COPY streams outside execute(): its search_path must already be in the transaction.
        source = self.search_path_source
        if source is not None and source.search_path_prefix(statement) is not None:
            if source.autocommit:
                raise NotSupportedError("COPY needs a transaction (atomic()) for its search_path")
            super().execute(source.search_path_sql)  # type: ignore[misc]
            source.search_path_sent(source.search_path_sql)
        return super().copy(statement, params, **kwargs)  # type: ignore[misc]


class DatabaseOperations(PostgresOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:  # type: ignore[override]
        """The statement as the application wrote it: query logs and assertNumQueries count
        statements, and the SET LOCAL riding in the same message is not one of them."""
        query = super().last_executed_query(cursor, sql, params)
        if query and query.startswith(_PREFIX):
            return query.split("; ", 1)[-1]
        return query


class DatabaseWrapper(tenant_base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.search_path_sql = ""
        # The SET LOCAL the open transaction already carries ("" when none).
        self._search_path_in_transaction = ""
        super().__init__(*args, **kwargs)
        options = self.settings_dict.get("OPTIONS", {})
        if options.get("server_side_binding") is True:
            raise ImproperlyConfigured(
                "tenants.db.backend prefixes statements with SET LOCAL search_path, which needs "
                "client-side binding (remove OPTIONS['server_side_binding'])."
            )
        # A server-side cursor (DECLARE ... WITH HOLD in autocommit) outlives the transaction
        # its search_path lives in, and a transaction pooler cannot hold one between
        # transactions anyway. https://docs.djangoproject.com/en/5.2/ref/databases/#transaction-pooling-and-server-side-cursors
        self.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True

    # --- what the cursor asks -------------------------------------------------------------

    def search_path_prefix(self, query: Any) -> str | None:
        """The SET LOCAL to send with `query`, or None when it must go bare."""
        if self.autocommit:
            if isinstance(query, str) and _NO_TRANSACTION_BLOCK.match(query):
                return None
            return self.search_path_sql
        if self._search_path_in_transaction == self.search_path_sql:
            return None
        return self.search_path_sql

    def search_path_sent(self, sql: str) -> None:
        if not self.autocommit:
            self._search_path_in_transaction = sql

    # --- django-tenants hooks ---------------------------------------------------------------

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        paths = ",".join(quote_schema_name(s) for s in self._get_cursor_search_paths())
        self.search_path_sql = f"{_PREFIX}{paths}"

    def _handle_search_path(self, cursor: Any = None) -> None:
        """Never a session-level SET: the path travels with the statements (see above)."""

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        params["cursor_factory"] = TransactionScopedCursor
        return params

    def create_cursor(self, name: str | None = None) -> Any:
        if name and self.autocommit:
            raise NotSupportedError("a named cursor outside a transaction has no search_path")
        cursor = super().create_cursor(name)
        if name:
            with self.connection.cursor() as plain:
                plain.execute(self.search_path_sql)
            self.search_path_sent(self.search_path_sql)
        else:
            cursor.search_path_source = self
        return cursor

    # --- the transaction ends: its SET LOCAL is gone ----------------------------------------

    def _commit(self) -> None:
        self._search_path_in_transaction = ""
        super()._commit()

    def _rollback(self) -> None:
        self._search_path_in_transaction = ""
        super()._rollback()

    def _set_autocommit(self, autocommit: bool) -> None:
        self._search_path_in_transaction = ""
        super()._set_autocommit(autocommit)

    def savepoint_rollback(self, sid: str) -> None:
        # A SET LOCAL sent after the savepoint is undone with it.
        try:
            super().savepoint_rollback(sid)
        finally:
            self._search_path_in_transaction = ""

    def close(self) -> None:
        self._search_path_in_transaction = ""
        super().close()
