"""Storage.write_inline: a small write on the event loop's thread that never waits there for a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from broker_core import Cluster, ProducerRecord
from broker_core import storage as storage_module
from broker_core.storage import connect_raw, record_change
from loop_ticks import counting_loop_ticks


async def _kinds(cluster: Cluster) -> list[str]:
    return [row[0] for row in await cluster.storage.fetchall(
        "SELECT kind FROM changes WHERE kind LIKE 'test-%' ORDER BY seq")]


async def test_a_body_commits_and_returns_its_value(cluster: Cluster) -> None:
    async def body(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 1, "test-a", {})
        return (await conn.execute_fetchall("SELECT count(*) FROM changes WHERE kind='test-a'"))[0][0]

    assert await cluster.storage.write_inline(body) == 1
    assert await _kinds(cluster) == ["test-a"]


async def test_a_body_that_raises_writes_nothing_and_leaves_no_transaction(cluster: Cluster) -> None:
    async def body(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 1, "test-a", {})
        raise ValueError("refused halfway")

    with pytest.raises(ValueError, match="refused halfway"):
        await cluster.storage.write_inline(body)

    async def after(conn):  # type: ignore[no-untyped-def]
        await record_change(conn, 2, "test-b", {})

    await cluster.storage.write_inline(after)
    assert await _kinds(cluster) == ["test-b"]


async def test_while_another_process_holds_the_lock_the_loop_runs_on_and_the_write_follows(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    await cluster.logs.append("t", 0, [ProducerRecord(None, b"first")])
    other = connect_raw(cluster.path)  # stands for another process: its own connection
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        append = asyncio.create_task(cluster.logs.append("t", 0, [ProducerRecord(None, b"second")]))
        # The loop is not held by the waiting append: these ticks run while it waits.
        ticks = 0
        while ticks < 5:
            await asyncio.sleep(0.01)
            ticks += 1
        assert not append.done()
        assert time.monotonic() - started < 5
        other.execute("COMMIT")
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
    result = await asyncio.wait_for(append, 30)
    # The append ran once, whole, after the other writer: one batch, at the next offset.
    assert (result.base_offset, result.last_offset) == (1, 1)
    read = await cluster.logs.read("t", 0, 0)
    assert [r.value for r in read.records] == [b"first", b"second"]
    assert await cluster.storage.fetchone("SELECT count(*) FROM batches") == (2,)


async def test_many_inline_appends_keep_the_wal_short(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    for _ in range(3 * storage_module.WAL_CHECKPOINT_FRAMES // 4):  # 3x the pages if nobody checkpointed
        await cluster.logs.append("t", 0, [ProducerRecord(None, b"v" * 100)])
    probe = sqlite3.connect(cluster.path)
    try:
        _, frames, _ = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        probe.close()
    assert frames < 2 * storage_module.WAL_CHECKPOINT_FRAMES, f"the WAL holds {frames} frames: nobody checkpoints the inline writer's commits"


async def test_a_steady_stream_of_appends_still_starts_the_wal_over(cluster: Cluster) -> None:
    """The checkpoint copies most of the WAL beside the appends; its last step must still
    catch up with them, or the WAL would never start over and grow without end."""
    await cluster.topics.create_topic("t", 1, 1)
    for _ in range(2 * storage_module.WAL_CHECKPOINT_FRAMES):  # ~6x the threshold in frames
        await cluster.logs.append("t", 0, [ProducerRecord(None, b"v" * 100)])
    wal = cluster.path.with_name(cluster.path.name + "-wal")
    frame_bytes = 24 + 4096
    assert wal.stat().st_size < 3 * storage_module.WAL_CHECKPOINT_FRAMES * frame_bytes, \
        f"the WAL grew to {wal.stat().st_size} bytes: it never started over"


async def test_appends_go_on_while_a_checkpoint_copies_the_wal(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = storage_module._wal_checkpoint
    calls: list[int] = []

    def held_first(conn: sqlite3.Connection) -> int:
        calls.append(1)
        if len(calls) == 1:  # the first step: held until the test has appended beside it
            started.set()
            release.wait(30)
        return real(conn)

    monkeypatch.setattr(storage_module, "_wal_checkpoint", held_first)
    await cluster.topics.create_topic("t", 1, 1)
    deadline = time.monotonic() + 30
    while not started.is_set():
        assert time.monotonic() < deadline, "no checkpoint started"
        await cluster.logs.append("t", 0, [ProducerRecord(None, b"v" * 100)])
    try:
        for i in range(100):
            appended = await asyncio.wait_for(
                cluster.logs.append("t", 0, [ProducerRecord(None, b"beside %d" % i)]), timeout=10)
            assert appended.base_offset == appended.last_offset
    finally:
        release.set()
    while len(calls) < 2:  # the last step, under the write lock, follows
        assert time.monotonic() < deadline, "the checkpoint's last step never ran"
        await asyncio.sleep(0.01)


async def test_a_loop_of_inline_appends_lets_other_tasks_run(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    async with counting_loop_ticks() as ticks:
        started = ticks.count
        for _ in range(2000):  # awaits nothing but the appends
            await cluster.logs.append("t", 0, [ProducerRecord(None, b"v")])
        assert ticks.count - started >= 10, "other tasks did not run while the appends went on"
