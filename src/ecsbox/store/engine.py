"""The store: one engine, reads on demand, every write through one writer with batched transactions.

SQLite has one writer. Rather than let many threads contend for it ("database is locked" is a bug),
every write is a function queued to a single writer thread, which runs whatever has queued up in one
transaction (each function inside its own savepoint, so one failing write does not undo the others)
and commits once. A write's future resolves only after its commit: what a caller was told is stored,
is stored.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from ecsbox.store import migrations, schema
from ecsbox.store.errors import StoreError

T = TypeVar("T")
log = logging.getLogger("ecsbox.store")

MAX_BATCH = 256


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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
        else:
            self.engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        self._queue: queue.Queue[tuple[Callable[[Connection], Any], Future[Any]] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ecsbox-read")
        self._loop_reader: Connection | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def open(self) -> tuple[int | None, int]:
        """Create or upgrade the schema and start the writer; returns (version found, version now)."""
        try:
            versions = migrations.migrate(self.engine.connect)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the database: {exc}") from exc
        self._writer = threading.Thread(target=self._write_loop, name="ecsbox-writer", daemon=True)
        self._writer.start()
        return versions

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=10)
            self._writer = None
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        self._readers.shutdown(wait=True)
        self.engine.dispose()

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
                self._loop_reader = self.engine.connect()
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
            with self.engine.connect() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"read failed: {exc}") from exc

    # ---- writes ------------------------------------------------------------------------------

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Queue ``fn`` for the writer; resolves with its result after the commit, or raises what
        ``fn`` raised (its savepoint is rolled back; other writes in the batch are unaffected)."""
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return await asyncio.wrap_future(future)

    def write_now(self, fn: Callable[[Connection], T]) -> T:
        """A write from a thread that is not the event loop's (start-up, tests)."""
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future.result()

    def _write_loop(self) -> None:
        conn = self.engine.connect()
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                batch = [item]
                while len(batch) < MAX_BATCH:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self._queue.put(None)
                        break
                    batch.append(nxt)
                conn = self._run_batch(conn, batch)
        finally:
            conn.close()

    def _run_batch(
        self, conn: Connection, batch: list[tuple[Callable[[Connection], Any], Future[Any]]]
    ) -> Connection:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            with conn.begin():
                for fn, future in batch:
                    savepoint = conn.begin_nested()
                    try:
                        result = fn(conn)
                    except BaseException as exc:  # the caller gets its own error back
                        savepoint.rollback()
                        outcomes.append((future, False, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((future, True, result))
        except SQLAlchemyError as exc:
            log.error("event=store_commit_failed error=%s", exc)
            error = StoreError(f"commit failed: {exc}")
            for _fn, future in batch:
                if not future.done():
                    future.set_exception(error)
            conn.close()
            return self.engine.connect()
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            elif isinstance(value, SQLAlchemyError):
                future.set_exception(StoreError(f"write failed: {value}"))
            else:
                future.set_exception(value)
        return conn
