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

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

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
    try:
        coroutine = body(DirectConnection(conn))
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
