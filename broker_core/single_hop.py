"""A whole transaction run on the database thread in one hop.

aiosqlite runs every statement on its own thread; each ``await conn.execute(...)`` is a
round trip (a queue put, a thread wake-up, a loop wake-up): about 40 us of CPU and more of
wall time on this kind of machine. An append is about ten statements, so a one-record
produce cost ten round trips, over 80% of its time (producer-perf-test --batch-size 1).

``run_transaction`` takes the same ``async def body(conn)`` a ``Storage.write()`` block
would run and executes it *on the database thread*: BEGIN IMMEDIATE, every statement of
the body, then COMMIT (or ROLLBACK), in one round trip. The body sees a ``DirectConnection``
with aiosqlite's query methods, whose awaits complete at once, so the coroutine runs to
its end in a single ``send``. A body that awaits anything else (a sleep, a lock, another
task) cannot run there and raises ``RuntimeError`` after rolling back: such code belongs in
``Storage.write()``.

Even one round trip costs more than a one-record append's statements (about 100 us of a
300 us append, measured: a queue put, a thread wake-up and a loop wake-up). ``InlineWriter``
runs such a transaction with no hop at all, on the event loop's own thread, over a
connection of its own that never waits for a lock: when another process holds the file's
write lock, ``BEGIN IMMEDIATE`` fails at once and the caller takes the database thread,
which may wait for it. A small transaction then blocks the loop for its own statements
only, never for another process.

What a transaction read can be kept for the next one on the same connection while no other
connection commits: ``InlineWriter`` reads ``PRAGMA data_version`` right after BEGIN (under
the write lock, so nothing can change until COMMIT) and hands the body ``conn.kept``, a dict
emptied whenever that version moved or a transaction failed. A body that keeps something
must keep it true of what it commits itself. Appends keep their partition's state there: two
SELECTs less per one-record append (~12 us of ~75).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Awaitable, Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")


class DirectCursor:
    """aiosqlite's cursor methods over a plain sqlite3 cursor (used on the database thread)."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return self._cursor.fetchall()

    async def fetchmany(self, size: int) -> list[Any]:
        """Up to ``size`` more rows."""
        return self._cursor.fetchmany(size)

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()

    @property
    def lastrowid(self) -> int | None:
        """Row id of the last inserted row."""
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._cursor.rowcount


class DirectConnection:
    """aiosqlite's query methods over a plain sqlite3 connection (used on the database thread)."""

    __slots__ = ("_conn", "kept")

    def __init__(self, conn: sqlite3.Connection, kept: dict[Any, Any] | None = None) -> None:
        self._conn = conn
        #: State kept across this connection's transactions while nobody else commits (see the
        #: module's docstring), or None where nothing is kept.
        self.kept = kept

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> DirectCursor:
        """Run one statement."""
        return DirectCursor(self._conn.execute(sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> DirectCursor:
        """Run one statement for every parameter set."""
        return DirectCursor(self._conn.executemany(sql, parameters))

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Run one statement and return all its rows."""
        return self._conn.execute(sql, parameters).fetchall()


def run_transaction(conn: sqlite3.Connection, body: Callable[[Any], Awaitable[T]],
                    begin: str = "BEGIN IMMEDIATE") -> T:
    """Run ``body`` as one transaction on ``conn`` (call on its thread); ``begin`` is
    ``BEGIN IMMEDIATE`` for a write, plain ``BEGIN`` for a consistent read."""
    conn.execute(begin)
    return _run_begun(conn, body)


def _run_begun(conn: sqlite3.Connection, body: Callable[[Any], Awaitable[T]],
               kept: dict[Any, Any] | None = None) -> T:
    """Run ``body`` in the transaction just begun on ``conn``, then commit (or roll back)."""
    try:
        coroutine = body(DirectConnection(conn, kept))
        try:
            coroutine.send(None)  # type: ignore[attr-defined]
        except StopIteration as finished:
            result: T = finished.value
        else:
            coroutine.close()  # type: ignore[attr-defined]
            raise RuntimeError("a single-hop transaction awaited something other than its connection")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def is_lock_wait(error: BaseException) -> bool:
    """Whether ``error`` is SQLite saying another connection holds a lock this one needs."""
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


class InlineWriter:
    """Write transactions run on the calling thread (the event loop's), never waiting for a lock.

    Its connection has no busy timeout: if another process holds the file's write lock (or
    SQLite needs any lock it cannot take at once) the attempt is rolled back and
    ``try_transaction`` says so, and the caller runs the body again where waiting is harmless
    (the database thread). The caller serialises this writer with its other writer connection.
    """

    def __init__(self, path: str, pragmas: Sequence[str]) -> None:
        self._path = path
        self._pragmas = tuple(pragmas)
        self._conn: sqlite3.Connection | None = None
        # What bodies keep between transactions (DirectConnection.kept), and the file's
        # data_version it is true of.
        self._kept: dict[Any, Any] = {}
        self._version = -1

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=0)
            try:
                conn.execute("PRAGMA busy_timeout=0")
                for pragma in self._pragmas:
                    conn.execute(pragma)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def try_transaction(self, body: Callable[[Any], Awaitable[T]]) -> tuple[bool, T | None]:
        """Run ``body`` as one write transaction here: (True, its result), or (False, None) if a
        lock was not free at once (nothing was written; the body may have run partly and must be
        run again from its start)."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if is_lock_wait(error):
                return False, None
            raise
        kept = self._kept
        try:
            # Read under the write lock: another connection's commit since the last
            # transaction here (this process's other writer's too) empties what was kept.
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                kept.clear()
                self._version = version
            return True, _run_begun(conn, body, kept)
        except BaseException as error:
            kept.clear()  # the body may have kept what was then rolled back
            if conn.in_transaction:  # COMMIT itself failed
                conn.execute("ROLLBACK")
            if is_lock_wait(error):
                return False, None
            raise

    def close(self) -> None:
        """Close the connection (opened again on the next transaction)."""
        self._kept.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
