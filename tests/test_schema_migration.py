"""A data file of schema version 1 (one row per record) opens as version 2 (record batches).

The old file is made with version 1's SQL: a cluster's topics, then its log replaced by the
version-1 ``records`` table holding records as kplay wrote them (headers as JSON, gaps left by
compaction, a record below the log start waiting for the cleaner). Opening it must find every
record, exactly, and never leave a half-migrated file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from broker_core import Cluster, ManualClock, ProducerRecord
from broker_core.errors import StorageError
from broker_core.record_batch import batches_of
from broker_core.records import encode_headers
from broker_core.schema_migration import MIGRATED_BATCH_RECORDS, V1_RECORDS_TABLE
from broker_core.storage import SCHEMA_VERSION
from cli_harness import kplay
from test_schema_migration_segment_state import downgrade_to_version_3

T0 = 1_700_000_000_000

#: (topic, partition) -> rows (offset, timestamp, key, value, headers), as version 1 stored them.
OLD_LOG: dict[tuple[str, int], list[tuple]] = {
    ("orders", 0): [(o, T0 + o, f"k{o}".encode(), f"value {o}".encode(),
                     (("trace", bytes([o % 256])), ("empty", None)) if o % 3 == 0 else ()) for o in range(2500)],
    ("orders", 1): [(o, T0 + 7 * o, None, b"\x00\xffbinary" * o, ()) for o in range(7)],
    # Compacted: gaps, and a tombstone.
    ("users", 0): [(0, T0, b"alice", b"1", ()), (3, T0 + 3, b"bob", b"2", ()), (4, T0 + 4, b"carol", None, ()),
                   (9, T0 + 9, b"alice", b"3", ())],
}
#: Segments of version 1, [base, next): a batch must never cross a boundary.
OLD_SEGMENTS = {("orders", 0): [(0, 1200), (1200, 2500)], ("orders", 1): [(0, 7)], ("users", 0): [(0, 10)]}
#: orders-1's log start is 2: offsets 0 and 1 wait for the cleaner and must not come back.
LOG_STARTS = {("orders", 1): 2}


async def make_version_1_file(path: Path, *, damaged_headers: bool = False) -> None:
    cluster = await Cluster.open(path, clock=ManualClock(T0))
    await cluster.topics.create_topic("orders", 2, 1)
    await cluster.topics.create_topic("users", 1, 1, config={"cleanup.policy": "compact"})
    ids = {name: (await cluster.storage.fetchone("SELECT id FROM topics WHERE name=?", (name,)))[0]
           for name in ("orders", "users")}
    await cluster.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("DROP TABLE batches")
    conn.execute(V1_RECORDS_TABLE)
    for (topic, partition), rows in OLD_LOG.items():
        tid = ids[topic]
        conn.executemany("INSERT INTO records(topic_id, partition, offset, timestamp, key, value, headers)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(tid, partition, o, ts, k, v, b"not json" if damaged_headers else encode_headers(h))
                          for o, ts, k, v, h in rows])
        end = rows[-1][0] + 1
        start = LOG_STARTS.get((topic, partition), 0)
        conn.execute("UPDATE partitions SET log_start_offset=?, log_end_offset=?, high_watermark=?"
                     " WHERE topic_id=? AND partition=?", (start, end, end, tid, partition))
        conn.execute("UPDATE replicas SET log_end_offset=? WHERE topic_id=? AND partition=?", (end, tid, partition))
        conn.execute("DELETE FROM segments WHERE topic_id=? AND partition=?", (tid, partition))
        conn.executemany("INSERT INTO segments(topic_id, partition, base_offset, next_offset, size_bytes, created_at,"
                         " max_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(tid, partition, base, nxt, 44 * (nxt - base), T0, T0 + nxt)
                          for base, nxt in OLD_SEGMENTS[(topic, partition)]])
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.execute("COMMIT")
    conn.close()


async def read_everything(cluster: Cluster, topic: str, partition: int, start: int) -> list[tuple]:
    found, offset = [], start
    while True:
        result = await cluster.logs.read(topic, partition, offset, max_records=300)
        if not result.records:
            return found
        found += [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in result.records]
        offset = result.records[-1].offset + 1


async def test_a_version_1_file_is_migrated_in_place_and_every_record_is_found(data_path: Path) -> None:
    await make_version_1_file(data_path)
    cluster = await Cluster.open(data_path, clock=ManualClock(T0))
    try:
        for (topic, partition), rows in OLD_LOG.items():
            start = LOG_STARTS.get((topic, partition), 0)
            expected = [(o, ts, k, v, tuple(h)) for o, ts, k, v, h in rows if o >= start]
            assert await read_everything(cluster, topic, partition, start) == expected, (topic, partition)
        version = await cluster.storage.fetchone("SELECT value FROM meta WHERE key='schema_version'")
        assert version == (str(SCHEMA_VERSION),)
        tables = {row[0] for row in await cluster.storage.fetchall("SELECT name FROM sqlite_master")}
        assert "records" not in tables
        # Batches stay inside their segments, and segment sizes count whole batches.
        for row in await cluster.storage.fetchall(
                "SELECT s.base_offset, s.next_offset, s.size_bytes, (SELECT coalesce(sum(size), 0) FROM batches b"
                " WHERE b.topic_id=s.topic_id AND b.partition=s.partition AND b.base_offset>=s.base_offset"
                " AND b.base_offset<s.next_offset), (SELECT count(*) FROM batches b WHERE b.topic_id=s.topic_id"
                " AND b.partition=s.partition AND b.base_offset<s.base_offset AND b.last_offset>=s.base_offset)"
                " FROM segment_state s"):
            assert row[2] == row[3] and row[4] == 0, row
        batches = await cluster.storage.fetchall("SELECT record_count, data FROM batches")
        assert max(count for count, _ in batches) <= MIGRATED_BATCH_RECORDS
        for count, data in batches:
            (batch,) = batches_of(data)
            batch.verify_crc()
            assert batch.header.record_count == count
        # Appending continues at the old log end.
        appended = await cluster.logs.append("orders", 1, [ProducerRecord(None, b"new")])
        assert appended.base_offset == 7
    finally:
        await cluster.close()


async def test_a_migration_that_fails_leaves_the_file_as_it_was_and_says_so(data_path: Path) -> None:
    await make_version_1_file(data_path, damaged_headers=True)
    with pytest.raises(StorageError, match="moving its records to record batches .* failed .* the file is unchanged"):
        await Cluster.open(data_path)
    conn = sqlite3.connect(data_path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
        assert conn.execute("SELECT count(*) FROM records").fetchone() == (sum(map(len, OLD_LOG.values())),)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='batches'").fetchone() == (0,)
    finally:
        conn.close()


def test_the_cli_says_it_migrates_and_then_reads_the_old_records(data_path: Path) -> None:
    import asyncio

    asyncio.run(make_version_1_file(data_path))
    result = kplay(data_path, "console-consumer", "--topic", "users", "--from-beginning", "--timeout-ms", "2000",
                   "--property", "print.key=true")
    assert result.returncode == 0, result.stderr
    assert "schema version 1" in result.stderr and "moving its 2511 records to record batches" in result.stderr
    assert result.stdout.splitlines() == ["alice\t1", "bob\t2", "carol\tnull", "alice\t3"]
    again = kplay(data_path, "console-consumer", "--topic", "users", "--from-beginning", "--timeout-ms", "2000")
    assert "moving" not in again.stderr


async def test_a_version_2_file_opens_as_version_4_and_its_appends_reach_the_feed(data_path: Path) -> None:
    cluster = await Cluster.open(data_path, clock=ManualClock(T0))
    await cluster.topics.create_topic("t", 1, 1)
    await cluster.logs.append("t", 0, [ProducerRecord(None, b"before")])
    await cluster.close()
    downgrade_to_version_3(data_path)
    conn = sqlite3.connect(data_path)  # back to version 2: no partitions.appended_at
    conn.execute("ALTER TABLE partitions DROP COLUMN appended_at")
    conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    conn.commit()
    conn.close()

    cluster = await Cluster.open(data_path, clock=ManualClock(T0 + 5))
    try:
        assert await cluster.storage.fetchone("SELECT value FROM meta WHERE key='schema_version'") == ("4",)
        await cluster.start_feed()
        subscription = cluster.feed.subscribe("records")
        await cluster.logs.append("t", 0, [ProducerRecord(None, b"after")])
        event = await asyncio.wait_for(subscription.get(), 10)
        assert (event.end_offset, event.at) == (2, T0 + 5)  # type: ignore[attr-defined]
        assert [r.value for r in (await cluster.logs.read("t", 0, 0)).records] == [b"before", b"after"]
    finally:
        await cluster.close()
