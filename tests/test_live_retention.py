"""Retention runs live wherever a broker runs, one cleaner at a time.

Kafka's brokers check retention every ``log.retention.check.interval.ms``; kplay's fronts
that run brokers (``kplay serve``, the TUI, a Connect worker) each run a log cleaner on the
shared data file, and a lease row in the file lets only one clean at a time. Here 12
records with retention.ms=1000 and segment.ms=1000 leave under ``kplay serve`` (another
process), then under the TUI, with both running and then the TUI alone, on real time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Awaitable, Callable

from app.tui import PlaygroundApp
from broker_core import Cluster, ManualClock, ProducerRecord
from broker_core.events import SegmentDeleted
from broker_core.log import BatchRequest
from broker_core.retention import CHECK_INTERVAL_ENV, LogCleaner
from cli_harness import LiveTool, kplay
from test_tui_app_support import wait_until
from widgets.event_log import EventLog
from widgets.topic_list import TopicList

EXPIRING = {"retention.ms": 1000, "segment.ms": 1000}
SIZE = (160, 45)


async def produce_twelve(cluster: Cluster, topic: str) -> None:
    await cluster.topics.create_topic(topic, 1, 1, config=EXPIRING)
    for i in range(12):
        await cluster.logs.append(topic, 0, [ProducerRecord(f"k{i}".encode(), f"v{i}".encode())])


async def log_start(cluster: Cluster, topic: str) -> int:
    return (await cluster.topics.describe_topic(topic)).partitions[0].log_start_offset


async def poll_until(condition: Callable[[], Awaitable[bool]], what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not await condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def start_serve(data_path: Path) -> LiveTool:
    tool = LiveTool(data_path, "serve", "--kafka-only", "--port", "0")
    lines: list[str] = []
    while not lines or lines[-1] != "Press Ctrl+C to stop.":
        more = await asyncio.to_thread(tool.read_lines, 1, 60)
        assert more, f"kplay serve did not start: {lines} {tool.stderr_so_far()}"
        lines.extend(more)
    return tool


async def test_expired_records_leave_under_serve_and_the_tui_one_cleaner_at_a_time(data_path, monkeypatch):
    monkeypatch.setenv(CHECK_INTERVAL_ENV, "200")  # the subprocess inherits it
    cluster = await Cluster.open(data_path)  # the system clock: retention on real time
    deletions: list[SegmentDeleted] = []
    try:
        await cluster.start_feed()
        sub = cluster.feed.subscribe("segment_deleted")
        serve = await start_serve(data_path)
        try:
            # This process runs no cleaner yet: kplay serve's deletes the records.
            await produce_twelve(cluster, "served")
            await poll_until(lambda: _at(cluster, "served", 12), "kplay serve's cleaner to delete 12 records")
            described = kplay(data_path, "topics", "--describe", "--topic", "served")
            assert described.returncode == 0

            # The TUI runs a cleaner too; with kplay serve's running, the records still go,
            # and the TUI shows them going: the count drops, the event log says why.
            app = PlaygroundApp(cluster, keymap={}, connect=False)
            async with app.run_test(size=SIZE) as pilot:
                topics = app.screen.query_one(TopicList)
                events = app.screen.query_one(EventLog)
                await produce_twelve(cluster, "shown")
                await wait_until(pilot, lambda: topics.table.row_count == 2, "the topic listed")
                await wait_until(pilot, lambda: _count(topics, "shown") == "0", "the records gone from the list",
                                 deadline_s=30)
                await wait_until(pilot, lambda: any("of shown-0 (retention.ms breach): log now starts at 12"
                                                    in line for line in events.lines), "the deletion narrated")
        finally:
            code, stderr = serve.stop()
            assert code == 0, stderr

        # The TUI alone: its own cleaner deletes.
        app = PlaygroundApp(cluster, keymap={}, connect=False)
        async with app.run_test(size=SIZE) as pilot:
            await produce_twelve(cluster, "alone")
            await poll_until(lambda: _at(cluster, "alone", 12), "the TUI's cleaner to delete 12 records")
        deletions = [e for e in await _drain(sub) if isinstance(e, SegmentDeleted)]
    finally:
        await cluster.close()

    by_topic = {topic: [e for e in deletions if e.topic == topic] for topic in ("served", "shown", "alone")}
    assert all(by_topic.values()), deletions
    assert by_topic["alone"][0].cleaner == cluster.cleaner.owner
    assert by_topic["served"][0].cleaner != cluster.cleaner.owner  # kplay serve's, in its process
    # Each segment was deleted once: never two cleaners at the same log.
    spans = [(e.topic, e.partition, e.base_offset) for e in deletions]
    assert len(spans) == len(set(spans))


async def test_a_second_cleaner_waits_while_one_holds_the_lease(data_path):
    clock = ManualClock()
    first = await Cluster.open(data_path, clock=clock)
    second = await Cluster.open(data_path, clock=clock)  # another opener of the file, as another process is
    try:
        await first.topics.create_topic("t", 1, 1, config={"retention.ms": 1000})
        await first.logs.append("t", 0, [ProducerRecord(b"k", b"v")])
        clock.advance(2000)
        async with first.cleaner.lease() as held:
            assert held
            report = await second.cleaner.run_once()
            assert report.lease_held_elsewhere and not report.partitions
            assert await log_start(first, "t") == 0
        report = await second.cleaner.run_once()
        assert not report.lease_held_elsewhere
        assert report.partition("t", 0).log_start_offset == 1
    finally:
        await second.close()
        await first.close()


async def test_a_lease_whose_holder_died_lapses(data_path):
    clock = ManualClock()
    first = await Cluster.open(data_path, clock=clock)
    try:
        await first.topics.create_topic("t", 1, 1, config={"retention.ms": 1000})
        await first.logs.append("t", 0, [ProducerRecord(b"k", b"v")])
        clock.advance(2000)
        dying = LogCleaner(first.storage, clock, lease_ms=50)
        lease = dying.lease()
        assert await lease.__aenter__()  # taken, never given back: its holder "died"
        assert (await first.cleaner.run_once()).lease_held_elsewhere
        await poll_until(lambda: _cleaned(first), "the lapsed lease to be taken over", deadline_s=10)
    finally:
        await first.close()


async def _cleaned(cluster: Cluster) -> bool:
    return not (await cluster.cleaner.run_once()).lease_held_elsewhere


async def _at(cluster: Cluster, topic: str, offset: int) -> bool:
    return await log_start(cluster, topic) == offset


def _count(topics: TopicList, topic: str) -> str:
    try:
        return [c.plain for c in topics.table.get_row(topic)][3]
    except Exception:  # the row is not there yet
        return ""


async def _drain(sub) -> list:
    return sub.get_nowait()


# -- issue 18 items 4 and 5: big deletions in short transactions, no raw SQLite message, a bounded feed --

async def test_a_big_retention_deletion_lets_another_writer_in_midway(data_path):
    from broker_core.retention import DELETE_CHUNK

    clock = ManualClock()
    cluster = await Cluster.open(data_path, clock=clock)
    probe = await Cluster.open(data_path, clock=clock)  # another opener of the file, as another process is
    try:
        await cluster.topics.create_topic("big", 1, 1, config={"retention.ms": 1000})
        await cluster.topics.create_topic("other", 1, 1)
        # One record per batch, so the log has many rows (batches) to delete, as from many producers' requests.
        total = 10 * DELETE_CHUNK
        await cluster.logs.append_batches([BatchRequest("big", 0, [ProducerRecord(b"k", b"v" * 20)])] * total)
        topic_id = (await probe.storage.fetchone("SELECT id FROM topics WHERE name='big'"))[0]
        clock.advance(2000)
        cleaning = asyncio.create_task(cluster.cleaner.run_once())
        seen_midway: list[int] = []
        while not cleaning.done():
            await probe.logs.append("other", 0, [ProducerRecord(b"k", b"v")])
            left = (await probe.storage.fetchone(
                "SELECT count(*) FROM batches WHERE topic_id=? AND partition=0", (topic_id,)))[0]
            if 0 < left < total:
                seen_midway.append(left)
        report = await cleaning
        assert report.partition("big", 0).log_start_offset == total
        # The other writer committed while the deletion was under way, more than once.
        assert len(seen_midway) >= 2, seen_midway
        assert (await probe.storage.fetchone(
            "SELECT count(*) FROM batches WHERE topic_id=?", (topic_id,)))[0] == 0
    finally:
        await probe.close()
        await cluster.close()


async def test_a_deleted_topics_records_leave_in_chunks_and_its_name_is_free_at_once(cluster):
    from broker_core.retention import DELETE_CHUNK

    await cluster.topics.create_topic("gone", 2, 1)
    for partition in (0, 1):
        await cluster.logs.append_batches([BatchRequest("gone", partition, [ProducerRecord(b"k", b"v")])]
                                          * (2 * DELETE_CHUNK + 1))
    await cluster.topics.delete_topic("gone")
    assert await cluster.storage.fetchone("SELECT count(*) FROM batches") == (0,)
    await cluster.topics.create_topic("gone", 1, 1)
    assert (await cluster.topics.describe_topic("gone")).record_count == 0


async def test_a_write_lock_held_too_long_is_a_kafka_timeout_not_a_raw_sqlite_message(cluster):
    import sqlite3

    from broker_core.errors import RequestTimedOut

    await cluster.storage._writer.execute("PRAGMA busy_timeout=50")  # the test's stand-in for 60 s
    holder = sqlite3.connect(str(cluster.path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for attempt in (lambda: cluster.topics.create_topic("t", 1, 1),
                        lambda: cluster.logs.append("t", 0, [ProducerRecord(b"k", b"v")])):
            try:
                await attempt()
            except RequestTimedOut as error:
                assert "database is locked" not in str(error)
                assert "timed out" in str(error)
            else:
                raise AssertionError("the write did not wait for the lock")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_the_change_feed_stays_bounded_without_any_cleaner(cluster):
    from broker_core.events import CHANGES_KEPT, CHANGES_PRUNE_EVERY
    from broker_core.storage import record_changes

    assert not cluster.cleaner.running
    rounds = (CHANGES_KEPT + 3 * CHANGES_PRUNE_EVERY) // 500 + 1
    for _ in range(rounds):
        # Any write's change rows (appends write none: the feed tells them from the partitions).
        async with cluster.storage.write() as conn:
            await record_changes(conn, 0, "test-entry", [{"n": n} for n in range(500)])
    count, newest = await cluster.storage.fetchone("SELECT count(*), max(seq) FROM changes")
    assert newest > CHANGES_KEPT + 2 * CHANGES_PRUNE_EVERY
    assert count <= CHANGES_KEPT + CHANGES_PRUNE_EVERY
