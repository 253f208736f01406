"""Retention and compaction: whole segments deleted by time and by size, the latest value
per key kept by compaction, tombstones dropped after delete.retention.ms — all on a
ManualClock, so a week passes without sleeping.

Records are appended one batch each, as separate produce requests would, and each batch is
91 bytes as Kafka counts it (a 30-byte record: 3-byte key, 20-byte value, 7 bytes of varints
and attributes; plus the 61-byte batch header): with ``segment.bytes=300`` a segment holds
exactly 3 batches, so segments are [0, 3), [3, 6), [6, 9), ...
"""

from __future__ import annotations

import asyncio
import time

import pytest

from broker_core import Consumer, ProducerRecord, TopicPartition
from broker_core.config import DAY_MS
from broker_core.errors import InvalidRecord, OffsetOutOfRange
from broker_core.events import Event
from broker_core.retention import (RETENTION_MS_BREACH, RETENTION_SIZE_BREACH, LogCleaner)
from broker_core.storage import record_change

WEEK_MS = 7 * DAY_MS
HOUR_MS = 3_600_000
SMALL_SEGMENTS = {"segment.bytes": 300}
#: The size of one appended batch (one record), header included.
BATCH_BYTES = 91


def value(n: int) -> bytes:
    """A 20-byte value."""
    return f"{n:020d}".encode()


async def append(cluster, topic: str, keys: list[str], *, first_value: int = 0,
                 tombstones: set[int] = frozenset()) -> list[int]:
    """Append one record per key, each in its own batch; return their offsets.

    Indexes in ``tombstones`` are written with a null value.
    """
    offsets = []
    for i, key in enumerate(keys):
        record = ProducerRecord(key.encode(), None if i in tombstones else value(first_value + i))
        offsets.append((await cluster.logs.append(topic, 0, [record])).base_offset)
    return offsets


async def spans(cluster, topic: str) -> list[tuple[int, int]]:
    """The partition's segments as (base_offset, next_offset)."""
    return [(s.base_offset, s.next_offset) for s in await cluster.cleaner.segments(topic, 0)]


async def log_start(cluster, topic: str) -> int:
    return (await cluster.topics.describe_topic(topic)).partitions[0].log_start_offset


async def contents(cluster, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """Every readable record from the log start: (offset, key, value)."""
    fetched = await cluster.logs.read(topic, 0, await log_start(cluster, topic), max_records=100_000)
    return [(r.offset, r.key, r.value) for r in fetched.records]


async def set_high_watermark(cluster, topic: str, high_watermark: int) -> None:
    """Stand in for a follower that has not caught up: its log, and so the high watermark,
    end at ``high_watermark`` while the leader's log is longer."""
    async with cluster.storage.write() as conn:
        topic_id = (await (await conn.execute("SELECT id FROM topics WHERE name=?", (topic,))).fetchone())[0]
        leader = (await (await conn.execute(
            "SELECT leader FROM partitions WHERE topic_id=? AND partition=0", (topic_id,))).fetchone())[0]
        await conn.execute("UPDATE replicas SET log_end_offset=? WHERE topic_id=? AND partition=0 AND broker_id<>?",
                           (high_watermark, topic_id, leader))
        await conn.execute("UPDATE partitions SET high_watermark=? WHERE topic_id=? AND partition=0",
                           (high_watermark, topic_id))


async def next_events(sub, count: int, timeout_s: float = 5.0) -> list[Event]:
    """Wait (with a deadline) until ``count`` events have arrived on ``sub``."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout_s
    while len(events) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            events.append(await asyncio.wait_for(sub.get(), remaining))
        except asyncio.TimeoutError:
            break
    return events


# -- retention by time ---------------------------------------------------------------------

async def test_time_retention_deletes_whole_expired_segments(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1, config=SMALL_SEGMENTS)
    await append(cluster, "t", [f"k{i:02d}" for i in range(10)])
    assert await spans(cluster, "t") == [(0, 3), (3, 6), (6, 9), (9, 10)]

    report = await cluster.cleaner.run_once()  # nothing is a week old yet
    assert report.partitions == () and await log_start(cluster, "t") == 0

    clock.advance(WEEK_MS + 1)
    await append(cluster, "t", ["new", "new"], first_value=10)  # segment.ms has passed: a new segment
    report = await cluster.cleaner.run_once()

    entry = report.partition("t", 0)
    assert [(d.base_offset, d.next_offset, d.reason) for d in entry.deleted_segments] == [
        (0, 3, RETENTION_MS_BREACH), (3, 6, RETENTION_MS_BREACH), (6, 9, RETENTION_MS_BREACH),
        (9, 10, RETENTION_MS_BREACH)]
    assert entry.log_start_offset == 10 == await log_start(cluster, "t")
    assert report.lines() == [
        "t-0: deleted 4 segments (offsets 0..9, retention.ms breach); log start offset is now 10"]
    assert await spans(cluster, "t") == [(10, 12)]
    assert [offset for offset, _, _ in await contents(cluster, "t")] == [10, 11]
    with pytest.raises(OffsetOutOfRange):
        await cluster.logs.read("t", 0, 9)


async def test_a_segment_with_one_live_record_keeps_its_expired_ones(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1, config={"segment.ms": 30 * DAY_MS})
    await append(cluster, "t", ["old", "old", "old"])
    clock.advance(WEEK_MS + 1)
    await append(cluster, "t", ["new"], first_value=3)  # same (active) segment

    report = await cluster.cleaner.run_once()
    assert report.partitions == ()
    assert [offset for offset, _, _ in await contents(cluster, "t")] == [0, 1, 2, 3]


async def test_an_active_segment_whose_records_all_expired_is_rolled_and_deleted(cluster, clock):
    # Kafka (UnifiedLog.deleteSegments) rolls a new empty active segment, then deletes the
    # old one: an idle topic empties once retention has passed, and offsets carry on.
    await cluster.topics.create_topic("t", 1, 1)
    await append(cluster, "t", ["a", "b", "c"])
    clock.advance(WEEK_MS + 1)

    report = await cluster.cleaner.run_once()
    assert [(d.base_offset, d.next_offset) for d in report.partition("t", 0).deleted_segments] == [(0, 3)]
    assert await log_start(cluster, "t") == 3
    assert await spans(cluster, "t") == [(3, 3)]
    assert await contents(cluster, "t") == []
    clock.advance(WEEK_MS + 1)
    assert (await cluster.cleaner.run_once()).partitions == ()  # an empty active segment stays
    assert await append(cluster, "t", ["d"]) == [3]
    assert await spans(cluster, "t") == [(3, 4)]


async def test_retention_never_deletes_beyond_the_high_watermark(cluster, clock):
    await cluster.topics.create_topic("t", 1, 2, config=SMALL_SEGMENTS)
    await append(cluster, "t", [f"k{i:02d}" for i in range(10)])
    await set_high_watermark(cluster, "t", 5)  # a follower has copied offsets 0..4 only
    clock.advance(WEEK_MS + 1)

    report = await cluster.cleaner.run_once()
    # [3, 6) is expired too, but offset 5 is not committed yet: it stays, and all after it.
    assert [d.base_offset for d in report.partition("t", 0).deleted_segments] == [0]
    assert await log_start(cluster, "t") == 3

    await set_high_watermark(cluster, "t", 10)  # the follower caught up
    report = await cluster.cleaner.run_once()
    assert [d.base_offset for d in report.partition("t", 0).deleted_segments] == [3, 6, 9]
    assert await log_start(cluster, "t") == 10


# -- retention by size ---------------------------------------------------------------------

async def test_size_retention_deletes_oldest_segments_while_the_rest_still_exceeds_it(cluster):
    await cluster.topics.create_topic("t", 1, 1, config={**SMALL_SEGMENTS, "retention.bytes": 620})
    await append(cluster, "t", [f"k{i:02d}" for i in range(20)])
    before = await cluster.cleaner.segments("t", 0)
    assert sum(s.size_bytes for s in before) == 20 * BATCH_BYTES

    report = await cluster.cleaner.run_once()

    entry = report.partition("t", 0)
    assert {d.reason for d in entry.deleted_segments} == {RETENTION_SIZE_BREACH}
    after = await cluster.cleaner.segments("t", 0)
    size = sum(s.size_bytes for s in after)
    # Kafka deletes a segment only while the log without it is still >= retention.bytes.
    assert size >= 620 > size - after[0].size_bytes
    assert await log_start(cluster, "t") == after[0].base_offset == 12
    assert [(s.base_offset, s.next_offset) for s in after] == [(12, 15), (15, 18), (18, 20)]
    assert (await cluster.cleaner.run_once()).partitions == ()  # already within the limit


async def test_log_start_moves_by_whole_segments_only(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1, config=SMALL_SEGMENTS)
    await append(cluster, "t", [f"k{i:02d}" for i in range(4)])  # [0, 3) at t0, [3, 4) active
    clock.advance(HOUR_MS)
    await append(cluster, "t", ["late", "late"], first_value=4)  # [3, 6): offset 3 is old, 4-5 are not
    await cluster.topics.alter_config("t", {"retention.ms": HOUR_MS // 2})

    report = await cluster.cleaner.run_once()
    assert [d.base_offset for d in report.partition("t", 0).deleted_segments] == [0]
    # Offset 3 is expired too, but its segment has live records: the log starts at 3, not 4.
    assert await log_start(cluster, "t") == 3
    assert [offset for offset, _, _ in await contents(cluster, "t")] == [3, 4, 5]


async def test_config_changed_later_takes_effect(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1, config=SMALL_SEGMENTS)
    await append(cluster, "t", [f"k{i:02d}" for i in range(10)])
    clock.advance(2 * HOUR_MS)
    assert (await cluster.cleaner.run_once()).partitions == ()  # the default keeps a week

    await cluster.topics.alter_config("t", {"retention.ms": HOUR_MS})
    report = await cluster.cleaner.run_once()
    assert report.segments_deleted == 4
    assert await log_start(cluster, "t") == 10

    await append(cluster, "t", [f"k{i:02d}" for i in range(6)], first_value=10)
    await cluster.topics.alter_config("t", {"retention.ms": -1, "retention.bytes": 3 * BATCH_BYTES})
    clock.advance(WEEK_MS)
    report = await cluster.cleaner.run_once()
    assert {d.reason for d in report.partition("t", 0).deleted_segments} == {RETENTION_SIZE_BREACH}
    assert await log_start(cluster, "t") == 13


async def test_consumer_behind_the_new_log_start_follows_auto_offset_reset(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1, config=SMALL_SEGMENTS)
    await append(cluster, "t", [f"k{i:02d}" for i in range(10)])
    clock.advance(WEEK_MS + 1)
    await append(cluster, "t", ["new", "new"], first_value=10)
    await cluster.cleaner.run_once()
    tp = TopicPartition("t", 0)

    earliest = Consumer(cluster, auto_offset_reset="earliest")
    earliest.assign([tp])
    earliest.seek(tp, 4)  # retention removed offset 4
    assert [r.offset for r in await earliest.poll(timeout_ms=0)] == [10, 11]

    latest = Consumer(cluster, auto_offset_reset="latest")
    latest.assign([tp])
    latest.seek(tp, 4)
    assert await latest.poll(timeout_ms=0) == []
    assert await latest.position(tp) == 12


# -- compaction ----------------------------------------------------------------------------

async def test_compaction_keeps_the_latest_value_per_key_at_its_offset(cluster):
    await cluster.topics.create_topic("c", 1, 1, config={**SMALL_SEGMENTS, "cleanup.policy": "compact"})
    keys = ["k-a", "k-b", "k-c", "k-a", "k-b", "k-a", "k-c", "k-b", "k-a", "k-b"]
    await append(cluster, "c", keys)
    assert await spans(cluster, "c") == [(0, 3), (3, 6), (6, 9), (9, 10)]

    report = await cluster.cleaner.run_once()

    entry = report.partition("c", 0)
    assert entry.compacted and entry.records_removed == 6 and entry.deleted_segments == ()
    assert report.lines() == ["c-0: compaction removed 6 records"]
    # The closed segments keep each key's newest record, at its original offset; the active
    # segment is never compacted, so k-b's offset 7 stays until [9, 10) is closed.
    assert await contents(cluster, "c") == [
        (6, b"k-c", value(6)), (7, b"k-b", value(7)), (8, b"k-a", value(8)), (9, b"k-b", value(9))]
    assert await log_start(cluster, "c") == 0  # compaction never moves the log start
    assert await spans(cluster, "c") == [(0, 3), (3, 6), (6, 9), (9, 10)]

    consumer = Consumer(cluster, auto_offset_reset="earliest")
    consumer.assign([TopicPartition("c", 0)])
    assert [r.offset for r in await consumer.poll(timeout_ms=0)] == [6, 7, 8, 9]  # gaps skipped


async def test_a_log_is_compacted_once_dirty_enough_or_once_max_compaction_lag_passed(cluster, clock):
    await cluster.topics.create_topic("c", 1, 1, config={**SMALL_SEGMENTS, "cleanup.policy": "compact"})
    await append(cluster, "c", [f"k{i:02d}" for i in range(12)])  # 12 distinct keys
    first = await cluster.cleaner.run_once()
    assert first.partition("c", 0).records_removed == 0  # [0, 9) is clean now
    await append(cluster, "c", ["k00", "k01", "k02", "k03"], first_value=100)  # closes [9, 12), [12, 15)
    assert (await cluster.cleaner.run_once()).partitions == ()  # 264 dirty of 660 bytes: ratio 0.4

    await cluster.topics.alter_config("c", {"max.compaction.lag.ms": HOUR_MS})
    assert (await cluster.cleaner.run_once()).partitions == ()  # its records are not an hour old yet
    clock.advance(HOUR_MS + 1)
    report = await cluster.cleaner.run_once()
    assert report.partition("c", 0).records_removed == 3
    assert [offset for offset, _, _ in await contents(cluster, "c")][:3] == [3, 4, 5]


async def test_compaction_merges_small_cleaned_segments(cluster):
    await cluster.topics.create_topic("c", 1, 1, config={
        **SMALL_SEGMENTS, "cleanup.policy": "compact", "min.cleanable.dirty.ratio": 0.01})
    await append(cluster, "c", ["k-a"] * 10)
    await cluster.cleaner.run_once()  # [0, 3) and [3, 6) are now empty, [6, 9) holds offset 8
    await append(cluster, "c", ["k-b"] * 3, first_value=10)  # closes [9, 12): k-a, k-b, k-b
    await cluster.cleaner.run_once()

    # Kafka's groupSegmentsBySize: consecutive segments whose sizes add up to at most
    # segment.bytes are cleaned into one; [9, 12) (273 bytes) does not fit beside them.
    segments = await cluster.cleaner.segments("c", 0)
    assert [(s.base_offset, s.next_offset) for s in segments] == [(0, 9), (9, 12), (12, 13)]
    assert segments[0].size_bytes == 0 and segments[1].size_bytes == 2 * BATCH_BYTES
    assert [offset for offset, _, _ in await contents(cluster, "c")] == [9, 11, 12]


async def test_tombstones_are_removed_only_after_delete_retention_ms(cluster, clock):
    await cluster.topics.create_topic("c", 1, 1, config={
        **SMALL_SEGMENTS, "cleanup.policy": "compact", "delete.retention.ms": HOUR_MS,
        "min.cleanable.dirty.ratio": 0.01})
    await append(cluster, "c", ["k-a", "k-b", "k-a", "k-c", "k-c", "k-c", "k-d"], tombstones={2})

    first = await cluster.cleaner.run_once()  # the tombstone's delete horizon: now + 1 hour
    assert first.partition("c", 0).records_removed == 3
    assert await contents(cluster, "c") == [
        (1, b"k-b", value(1)), (2, b"k-a", None), (5, b"k-c", value(5)), (6, b"k-d", value(6))]

    clock.advance(HOUR_MS - 1)
    await append(cluster, "c", ["k-d", "k-d", "k-e"], first_value=7)  # closes [6, 9)
    second = await cluster.cleaner.run_once()
    assert second.partition("c", 0).tombstones_removed == 0
    assert (2, b"k-a", None) in await contents(cluster, "c")

    clock.advance(1)
    await append(cluster, "c", ["k-e", "k-e", "k-f"], first_value=10)  # closes [9, 12)
    third = await cluster.cleaner.run_once()
    assert third.partition("c", 0).tombstones_removed == 1
    assert [offset for offset, _, _ in await contents(cluster, "c")] == [1, 5, 8, 11, 12]


async def test_min_compaction_lag_keeps_recent_segments_uncompacted(cluster, clock):
    await cluster.topics.create_topic("c", 1, 1, config={
        **SMALL_SEGMENTS, "cleanup.policy": "compact", "min.compaction.lag.ms": HOUR_MS})
    await append(cluster, "c", ["k-a"] * 7)
    assert (await cluster.cleaner.run_once()).partitions == ()
    clock.advance(HOUR_MS + 1)
    report = await cluster.cleaner.run_once()
    assert report.partition("c", 0).records_removed == 5
    assert [offset for offset, _, _ in await contents(cluster, "c")] == [5, 6]


async def test_compact_delete_applies_both(cluster, clock):
    await cluster.topics.create_topic("cd", 1, 1, config={
        **SMALL_SEGMENTS, "cleanup.policy": "compact,delete", "retention.ms": DAY_MS,
        "segment.ms": HOUR_MS})
    await append(cluster, "cd", ["k-a", "k-b", "k-a", "k-b", "k-a", "k-b", "k-a"])
    first = await cluster.cleaner.run_once()
    assert first.partition("cd", 0).records_removed == 4
    assert first.segments_deleted == 0
    assert [offset for offset, _, _ in await contents(cluster, "cd")] == [4, 5, 6]

    clock.advance(DAY_MS + 1)
    await append(cluster, "cd", ["k-c"], first_value=7)  # segment.ms passed: rolls [7, 8)
    second = await cluster.cleaner.run_once()
    assert {d.reason for d in second.partition("cd", 0).deleted_segments} == {RETENTION_MS_BREACH}
    assert await log_start(cluster, "cd") == 7
    assert await contents(cluster, "cd") == [(7, b"k-c", value(7))]


async def test_compacted_topic_refuses_a_record_without_a_key(cluster):
    await cluster.topics.create_topic("c", 1, 1, config={"cleanup.policy": "compact,delete"})
    with pytest.raises(InvalidRecord) as refused:
        await cluster.logs.append("c", 0, [ProducerRecord(b"k", b"v"), ProducerRecord(None, b"v")])
    assert refused.value.code == 87 and refused.value.name == "INVALID_RECORD"
    assert str(refused.value) == "Compacted topic cannot accept message without key in topic partition c-0."
    assert await contents(cluster, "c") == []  # the whole batch was refused
    await cluster.topics.create_topic("d", 1, 1)
    assert (await cluster.logs.append("d", 0, [ProducerRecord(None, b"v")])).base_offset == 0


# -- change feed and background task ------------------------------------------------------

async def test_deletions_and_compactions_reach_the_change_feed(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1, config=SMALL_SEGMENTS)
    await cluster.topics.create_topic("c", 1, 1, config={**SMALL_SEGMENTS, "cleanup.policy": "compact"})
    await append(cluster, "t", [f"k{i:02d}" for i in range(5)])
    await append(cluster, "c", ["k-a"] * 5)
    await cluster.start_feed()
    sub = cluster.feed.subscribe("segment_deleted", "log_compacted")
    clock.advance(WEEK_MS + 1)

    await cluster.cleaner.run_once()

    events = await next_events(sub, 3)
    compacted = [e for e in events if e.kind == "log_compacted"]
    deleted = [e for e in events if e.kind == "segment_deleted"]
    assert [(e.topic, e.partition, e.removed) for e in compacted] == [("c", 0, 2)]
    assert [(e.topic, e.partition, e.base_offset, e.next_offset, e.log_start_offset, e.reason)
            for e in deleted] == [("t", 0, 0, 3, 5, RETENTION_MS_BREACH), ("t", 0, 3, 5, 5, RETENTION_MS_BREACH)]


async def test_background_cleaner_applies_retention_until_stopped(cluster, clock):
    await cluster.topics.create_topic("t", 1, 1)
    await append(cluster, "t", ["a", "b"])
    await cluster.start_feed()
    sub = cluster.feed.subscribe("segment_deleted")
    await cluster.cleaner.start(interval_s=0.02)
    try:
        assert cluster.cleaner.running
        clock.advance(WEEK_MS + 1)
        events = await next_events(sub, 1)
        assert [(e.base_offset, e.next_offset, e.log_start_offset) for e in events] == [(0, 2, 2)]
    finally:
        await cluster.cleaner.stop()
    assert not cluster.cleaner.running
    assert cluster.cleaner.last_error is None


async def test_old_change_feed_entries_are_pruned(cluster):
    await cluster.topics.create_topic("t", 1, 1)
    # Appends write no change rows (the feed tells them from the partitions): other writes do.
    for i in range(30):
        async with cluster.storage.write() as conn:
            await record_change(conn, i, "test-entry", {"n": i})
    cleaner = LogCleaner(cluster.storage, cluster.clock, changes_kept=20)
    before, newest = await cluster.storage.fetchone("SELECT count(*), max(seq) FROM changes")
    assert before > 30  # topic_created and the 30 entries

    report = await cleaner.run_once()

    assert report.changes_pruned == before - 20
    assert await cluster.storage.fetchone("SELECT count(*), max(seq) FROM changes") == (20, newest)
    assert (await cleaner.run_once()).changes_pruned == 0
