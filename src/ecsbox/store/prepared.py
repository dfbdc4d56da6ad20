"""Statements compiled once and run on the database driver directly.

For the hottest queries SQLAlchemy's per-execution work (cache keys, parameter processing,
result set-up) costs several times what SQLite itself spends. A :class:`Prepared` statement is
written in SQLAlchemy Core like any other (so it stays portable), compiled once per dialect, and
then executed straight on the driver's cursor — on SQLite — or through ``exec_driver_sql``
elsewhere. Only for statements whose binds need no type processing (strings, numbers, text).
A :class:`BulkInsert` does the same for an INSERT of many rows at once (``executemany``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

Row = tuple[Any, ...]


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            positional = dialect.paramstyle in ("qmark", "numeric", "format")
            order = tuple(compiled.positiontup or ()) if positional else None
            # Values the statement carries itself (e.g. a LIMIT's OFFSET 0)
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = (str(compiled), order, defaults)
            self._compiled[dialect.name] = found
        return found

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Row]:
        """Run the statement and return its rows (an empty list for statements without rows)."""
        sql, order, defaults = self._for(conn.dialect)
        if defaults:
            params = {**defaults, **params}
        args: Sequence[Any] | Mapping[str, Any] = (
            tuple(params[name] for name in order) if order is not None else params
        )
        if conn.dialect.name == "sqlite":
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, args)
                rows: list[Row] = list(cursor.fetchall()) if cursor.description else []
                return rows
            finally:
                cursor.close()
        result = conn.exec_driver_sql(sql, args)
        return [tuple(row) for row in result.all()] if result.returns_rows else []

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Row | None:
        found = self.rows(conn, params)
        return found[0] if found else None


class BulkInsert:
    """An INSERT compiled once per dialect and run with ``executemany`` on the driver.

    ``order`` names the statement's binds in the order each row gives their values, e.g.
    ``BulkInsert(insert(t).values(a=bindparam("a"), b=bindparam("b")), ("a", "b")).run(conn, [(1, "x")])``.
    """

    def __init__(self, statement: Executable, order: Sequence[str]) -> None:
        self.statement = statement
        self.order = tuple(order)
        self._compiled: dict[str, str] = {}

    def _sql(self, conn: Connection) -> str:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self.statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            if conn.dialect.paramstyle in ("qmark", "numeric", "format"):
                assert tuple(compiled.positiontup or ()) == self.order, compiled.positiontup
            found = self._compiled[name] = str(compiled)
        return found

    def run(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Insert ``rows`` (nothing to do for none)."""
        if not rows:
            return
        sql = self._sql(conn)
        if conn.dialect.name == "sqlite":
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.executemany(sql, rows)
            finally:
                cursor.close()
        elif conn.dialect.paramstyle in ("qmark", "numeric", "format"):
            conn.exec_driver_sql(sql, list(rows))
        else:
            conn.exec_driver_sql(sql, [dict(zip(self.order, row, strict=True)) for row in rows])
