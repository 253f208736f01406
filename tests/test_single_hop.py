"""Storage.write_in_one_hop: a whole transaction on the database thread, all or nothing."""

from __future__ import annotations

import asyncio

import pytest

from broker_core import Cluster
from broker_core.storage import record_change


async def _changes(cluster: Cluster) -> list[tuple[str, str]]:
    return [tuple(row) for row in await cluster.storage.fetchall(  # type: ignore[misc]
        "SELECT kind, payload FROM changes WHERE kind LIKE 'test-%' ORDER BY seq")]


async def test_a_body_commits_every_statement_and_returns_its_value(cluster: Cluster) -> None:
    async def body(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 1, "test-a", {"n": 1})
        await conn.executemany("INSERT INTO changes(at, kind, payload) VALUES (?, ?, ?)",
                               [(2, "test-b", "{}"), (3, "test-c", "{}")])
        (count,) = (await (await conn.execute("SELECT count(*) FROM changes WHERE kind LIKE 'test-%'")).fetchone())
        rows = await conn.execute_fetchall("SELECT kind FROM changes WHERE kind LIKE 'test-%' ORDER BY seq")
        return count, [r[0] for r in rows]

    assert await cluster.storage.write_in_one_hop(body) == (3, ["test-a", "test-b", "test-c"])
    assert await _changes(cluster) == [("test-a", '{"n":1}'), ("test-b", "{}"), ("test-c", "{}")]


async def test_a_body_that_raises_writes_nothing(cluster: Cluster) -> None:
    async def body(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 1, "test-a", {})
        raise ValueError("refused halfway")

    with pytest.raises(ValueError, match="refused halfway"):
        await cluster.storage.write_in_one_hop(body)
    assert await _changes(cluster) == []
    async with cluster.storage.write() as conn:  # and no transaction was left open
        await record_change(conn, 2, "test-b", {})
    assert await _changes(cluster) == [("test-b", "{}")]


async def test_a_body_that_awaits_anything_else_is_refused_and_rolled_back(cluster: Cluster) -> None:
    async def body(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 1, "test-a", {})
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something other than its connection"):
        await cluster.storage.write_in_one_hop(body)
    assert await _changes(cluster) == []


async def test_a_cancelled_caller_leaves_no_transaction_open(cluster: Cluster) -> None:
    async def body(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 1, "test-a", {})

    task = asyncio.create_task(cluster.storage.write_in_one_hop(body))
    await asyncio.sleep(0)  # the transaction is on its way to the database thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with cluster.storage.write() as conn:
        await record_change(conn, 2, "test-b", {})
    # The cancelled transaction ran whole (it was already on the database thread) or not at all
    # (it was still waiting for the write lock, e.g. behind the background space reclaimer);
    # either way the next transaction after it commits.
    assert await _changes(cluster) in ([("test-a", "{}"), ("test-b", "{}")], [("test-b", "{}")])
