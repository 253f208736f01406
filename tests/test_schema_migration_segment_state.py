"""A data file of schema version 3 (the active segment's values in its ``segments`` row) opens as
version 4 (those values in its partition's row): segment sizes and largest timestamps are the
same, appends go on counting from them, and retention deletes the same segments."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from broker_core import Cluster, ManualClock, ProducerRecord
from broker_core import storage
from broker_core.errors import StorageError
from broker_core.retention import RETENTION_MS_BREACH, RETENTION_SIZE_BREACH

T0 = 1_700_000_000_000
#: One record of 3-byte key and 20-byte value per batch: 91 bytes, 3 batches per 300-byte segment.
BATCH_BYTES = 91


def record(i: int) -> ProducerRecord:
    return ProducerRecord(f"k{i:02d}".encode(), f"{i:020d}".encode(), timestamp=T0 + 1000 * i)


def downgrade_to_version_3(path: Path) -> None:
    """Make the file what a version-3 kplay leaves: every segment's values in its own row,
    no active-segment columns in ``partitions``, no ``segment_state`` view."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(
            "UPDATE segments SET (next_offset, size_bytes, max_timestamp)=(SELECT v.next_offset, v.size_bytes,"
            " v.max_timestamp FROM segment_state v WHERE v.topic_id=segments.topic_id"
            " AND v.partition=segments.partition AND v.base_offset=segments.base_offset)")
        conn.execute("DROP VIEW segment_state")
        conn.execute("ALTER TABLE partitions DROP COLUMN active_segment_bytes")
        conn.execute("ALTER TABLE partitions DROP COLUMN active_segment_max_timestamp")
        conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
        conn.execute("COMMIT")
    finally:
        conn.close()


def stored_segments(path: Path) -> list[tuple[int, int, int, int]]:
    """(base, next, size, max timestamp) of every segment row, as a version-3 kplay reads them."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT base_offset, next_offset, size_bytes, max_timestamp FROM segments"
                            " ORDER BY base_offset").fetchall()
    finally:
        conn.close()


async def test_a_version_3_file_opens_as_version_4_and_retention_deletes_the_same_segments(data_path: Path) -> None:
    clock = ManualClock(T0)
    cluster = await Cluster.open(data_path, clock=clock)
    await cluster.topics.create_topic("t", 1, 1, config={"segment.bytes": 300})
    for i in range(10):
        await cluster.logs.append("t", 0, [record(i)])
    await cluster.close()
    downgrade_to_version_3(data_path)
    expected = [(0, 3, 3 * BATCH_BYTES, T0 + 2000), (3, 6, 3 * BATCH_BYTES, T0 + 5000),
                (6, 9, 3 * BATCH_BYTES, T0 + 8000), (9, 10, BATCH_BYTES, T0 + 9000)]
    assert stored_segments(data_path) == expected

    cluster = await Cluster.open(data_path, clock=clock)
    try:
        assert await cluster.storage.fetchone("SELECT value FROM meta WHERE key='schema_version'") == ("4",)
        segments = await cluster.cleaner.segments("t", 0)
        assert [(s.base_offset, s.next_offset, s.size_bytes, s.max_timestamp) for s in segments] == expected
        await cluster.logs.append("t", 0, [record(10)])  # into the active segment, counted from its migrated size
        segments = await cluster.cleaner.segments("t", 0)
        assert (segments[-1].next_offset, segments[-1].size_bytes, segments[-1].max_timestamp) == (
            11, 2 * BATCH_BYTES, T0 + 10_000)

        # 1001 bytes against 700: the oldest segment goes by size; then [3, 6), whose newest record
        # is 15 s old, by time; [6, 9)'s newest is 12 s old.
        clock.advance(20_000)
        await cluster.topics.alter_config("t", {"retention.bytes": 700, "retention.ms": 13_000})
        report = await cluster.cleaner.run_once()
        assert [(d.base_offset, d.next_offset, d.reason) for d in report.partition("t", 0).deleted_segments] == [
            (0, 3, RETENTION_SIZE_BREACH), (3, 6, RETENTION_MS_BREACH)]
        assert [(s.base_offset, s.next_offset) for s in await cluster.cleaner.segments("t", 0)] == [(6, 9), (9, 11)]
    finally:
        await cluster.close()


async def test_a_kplay_that_knows_only_version_3_refuses_a_version_4_file(data_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = await Cluster.open(data_path)
    await cluster.close()
    monkeypatch.setattr(storage, "SCHEMA_VERSION", 3)
    with pytest.raises(StorageError, match="upgrade kplay"):
        await Cluster.open(data_path)


async def test_appends_while_followers_lag_count_into_the_active_segment_and_roll_it(data_path: Path) -> None:
    # With a replication delay an append takes the catch-up path, which writes the partition's row itself.
    cluster = await Cluster.open(data_path, clock=ManualClock(T0))
    try:
        await cluster.controller.set_replication_delay(60_000)
        await cluster.topics.create_topic("t", 1, 3, config={"segment.bytes": 300})
        for i in range(4):
            await cluster.logs.append("t", 0, [record(i)], acks=1)
        segments = await cluster.cleaner.segments("t", 0)
        assert [(s.base_offset, s.next_offset, s.size_bytes, s.max_timestamp) for s in segments] == [
            (0, 3, 3 * BATCH_BYTES, T0 + 2000), (3, 4, BATCH_BYTES, T0 + 3000)]
    finally:
        await cluster.close()
