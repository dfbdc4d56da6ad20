"""The store: one engine, reads on demand, every write through one writer with batched transactions.

SQLite has one writer. Rather than let many threads contend for it ("database is locked" is a bug),
every write is a function handed to the one writer (:mod:`ecsbox.store.writer`), which runs whatever
has queued up in one transaction and answers each caller after the commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from ecsbox.store import migrations, schema
from ecsbox.store.errors import StoreError
from ecsbox.store.writer import LoopWriter, ThreadWriter

T = TypeVar("T")
log = logging.getLogger("ecsbox.store")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling mistreats SAVEPOINT (releasing the outermost one
    # commits); let SQLAlchemy's "begin" event issue BEGIN instead, as SQLAlchemy recommends.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.connection.dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False}, pool_size=8, max_overflow=8
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            # Reads need no BEGIN: on SQLite every write runs on the event loop, so no commit can
            # land in the middle of a read function that runs there too.
            self.read_engine: Engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self.read_engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
            self.read_engine = self.engine
        self._write: LoopWriter | ThreadWriter | None = None
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ecsbox-read")
        self._loop_reader: Connection | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def open(self) -> tuple[int | None, int]:
        """Create or upgrade the schema and start the writer; returns (version found, version now)."""
        try:
            versions = migrations.migrate(self.engine.connect)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the database: {exc}") from exc
        self._write = LoopWriter(self.engine) if self.is_sqlite else ThreadWriter(self.engine)
        return versions

    def close(self) -> None:
        if self._write is not None:
            self._write.close()
            self._write = None
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        self.read_engine.dispose()

    async def reset(self) -> None:
        """Wipe every capability's state (tests call this between cases); the schema and the
        data directory's own facts (version, clock origin) stay."""

        def wipe(conn: Connection) -> None:
            for table in reversed(schema.metadata.sorted_tables):
                if table is not schema.meta:
                    conn.execute(table.delete())

        await self.write(wipe)

    # ---- reads -------------------------------------------------------------------------------

    async def read(self, fn: Callable[[Connection], T], heavy: bool = False) -> T:
        """Run a read. On SQLite a light read runs inline (a point query costs tens of µs, less than
        a thread hop); heavy reads, and every read on a networked database, run in the pool."""
        if self.is_sqlite and not heavy:
            return self.read_now(fn)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_in_thread, fn)

    def read_now(self, fn: Callable[[Connection], T]) -> T:
        """A read on the calling thread (the event loop's own connection for SQLite)."""
        try:
            if self._loop_reader is None:
                self._loop_reader = self.read_engine.connect()
            conn = self._loop_reader
            try:
                return fn(conn)
            finally:
                conn.rollback()  # end the read transaction so the next read sees new commits
        except SQLAlchemyError as exc:
            self._loop_reader = None
            raise StoreError(f"read failed: {exc}") from exc

    def _read_in_thread(self, fn: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:  # in a transaction: a snapshot, even across commits
                return fn(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"read failed: {exc}") from exc

    # ---- writes ------------------------------------------------------------------------------

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Hand ``fn`` to the writer; resolves with its result after the commit, or raises what
        ``fn`` raised (its changes are rolled back; other writes in the batch are unaffected).
        ``fn`` must only touch the connection: it runs inside the writer's transaction."""
        result: T = await self._writer().submit(fn)
        return result

    def write_now(self, fn: Callable[[Connection], T]) -> T:
        """A write from outside the event loop (start-up, shutdown, tests)."""
        result: T = self._writer().run_now(fn)
        return result

    def _writer(self) -> LoopWriter | ThreadWriter:
        if self._write is None:
            raise StoreError("the store is not open")
        return self._write
