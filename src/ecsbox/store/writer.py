"""The one writer: queued write functions run in batches, one transaction per batch.

Each function runs inside its own savepoint, so one that fails is rolled back alone and its
caller gets its error, while the rest of the batch commits. A caller is answered only after the
commit: what it was told is stored, is stored.

Two ways to drive it, same batches:

- :class:`LoopWriter` runs batches on the event loop itself. For SQLite in WAL mode with
  ``synchronous=NORMAL`` a commit does not wait for the disk, so a batch costs less than handing
  it to a thread and back; a batch stops taking work after :data:`BATCH_BUDGET_S` so the loop
  never stalls for long.
- :class:`ThreadWriter` runs batches on one thread, for databases across a network (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ecsbox.store.errors import StoreError

log = logging.getLogger("ecsbox.store")

WriteFn = Callable[[Connection], Any]
MAX_BATCH = 256
BATCH_BUDGET_S = 0.005


def run_batch(
    engine: Engine, conn: Connection | None, batch: list[tuple[WriteFn, Any]]
) -> tuple[Connection, list[tuple[bool, Any]]]:
    """Run ``batch`` in one transaction; returns the (possibly new) connection and, per function,
    (succeeded, result or exception)."""
    if conn is None or conn.closed:
        conn = engine.connect()
    outcomes: list[tuple[bool, Any]] = []
    try:
        with conn.begin():
            for fn, _ in batch:
                if len(batch) == 1:  # no neighbours to protect: skip the savepoint
                    try:
                        outcomes.append((True, fn(conn)))
                    except SQLAlchemyError:
                        raise
                    except Exception as exc:
                        outcomes.append((False, exc))
                        raise _RollBack() from exc
                    continue
                # Plain SQL savepoints (the same in SQLite and PostgreSQL): begin_nested() would
                # compile two statements for every write.
                _plain_sql(conn, "SAVEPOINT ecsbox_write")
                try:
                    result = fn(conn)
                except Exception as exc:
                    _plain_sql(conn, "ROLLBACK TO SAVEPOINT ecsbox_write")
                    _plain_sql(conn, "RELEASE SAVEPOINT ecsbox_write")
                    outcomes.append((False, _as_store_error(exc)))
                else:
                    _plain_sql(conn, "RELEASE SAVEPOINT ecsbox_write")
                    outcomes.append((True, result))
    except _RollBack:
        return conn, outcomes
    except (SQLAlchemyError, sqlite3.Error) as exc:
        # Includes a driver error from a savepoint statement after SQLite rolled the whole
        # transaction back itself (disk full, I/O error): every write of the batch failed.
        log.error("event=store_commit_failed error=%s", exc)
        with contextlib.suppress(Exception):
            conn.close()
        error = StoreError(f"commit failed: {exc}")
        return engine.connect(), [(False, error)] * len(batch)
    return conn, outcomes


def _plain_sql(conn: Connection, sql: str) -> None:
    """A statement with no parameters, straight on the driver where that is SQLite."""
    if conn.dialect.name == "sqlite":
        conn.connection.dbapi_connection.execute(sql)  # type: ignore[union-attr]
    else:
        conn.exec_driver_sql(sql)


class _RollBack(Exception):
    """Ends a single-write transaction whose function failed."""


def _as_store_error(exc: BaseException) -> BaseException:
    return StoreError(f"write failed: {exc}") if isinstance(exc, SQLAlchemyError) else exc


class LoopWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: deque[tuple[WriteFn, asyncio.Future[Any]]] = deque()
        self._scheduled = False
        self._conn: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, fn: WriteFn) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((fn, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._drain)
        return future

    def _drain(self) -> None:
        started = time.perf_counter()
        try:
            while self._pending and time.perf_counter() - started < BATCH_BUDGET_S:
                batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
                try:
                    self._conn, outcomes = run_batch(self.engine, self._conn, batch)
                except Exception as exc:  # never leave a caller waiting, never wedge the writer
                    log.exception("event=store_batch_failed")
                    self._conn = None
                    outcomes = [(False, StoreError(f"write failed: {exc}"))] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # the caller went away (cancelled)
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            if self._pending and self._loop is not None:
                self._loop.call_soon(self._drain)  # let the loop breathe, then go on
            else:
                self._scheduled = False

    def run_now(self, fn: WriteFn) -> Any:
        """A write outside the event loop (start-up, shutdown, tests), when no loop is writing."""
        if self._scheduled:
            raise StoreError("run_now while the event loop has writes queued")
        self._conn, outcomes = run_batch(self.engine, self._conn, [(fn, None)])
        ok, value = outcomes[0]
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ThreadWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[tuple[WriteFn, Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="ecsbox-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: WriteFn) -> asyncio.Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((fn, future))
        return asyncio.wrap_future(future)

    def run_now(self, fn: WriteFn) -> Any:
        future: Future[Any] = Future()
        self._queue.put((fn, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        conn: Connection | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
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
            conn, outcomes = run_batch(self.engine, conn, batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        if conn is not None:
            conn.close()
