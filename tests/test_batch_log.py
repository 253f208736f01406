"""The log as record batches, seen through the core's API: reads, deletions and truncations
that fall inside a batch behave as on a log of single records."""

from __future__ import annotations

import pytest

from broker_core import Cluster, ProducerRecord
from broker_core.delete_records import delete_records
from broker_core.errors import OffsetOutOfRange
from broker_core.log import truncate_log


def records(first: int, count: int) -> list[ProducerRecord]:
    return [ProducerRecord(f"k{i}".encode(), f"v{i}".encode()) for i in range(first, first + count)]


async def offsets_read(cluster: Cluster, offset: int, max_records: int) -> list[int]:
    return [r.offset for r in (await cluster.logs.read("t", 0, offset, max_records=max_records)).records]


async def test_a_read_from_inside_a_batch_goes_on_into_the_next_ones(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    for first, count in ((0, 600), (600, 1), (601, 3)):
        await cluster.logs.append("t", 0, records(first, count))
    assert await offsets_read(cluster, 560, 50) == list(range(560, 604))
    assert await offsets_read(cluster, 590, 12) == list(range(590, 602))
    assert await offsets_read(cluster, 599, 1) == [599]
    assert await offsets_read(cluster, 0, 3) == [0, 1, 2]


async def test_the_log_start_may_fall_inside_a_batch_and_reads_skip_below_it(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    await cluster.logs.append("t", 0, records(0, 10))
    await cluster.logs.append("t", 0, records(10, 10))
    assert await delete_records(cluster.storage, cluster.clock, "t", {0: 14}) == {0: 14}
    assert await offsets_read(cluster, 14, 100) == list(range(14, 20))
    with pytest.raises(OffsetOutOfRange):
        await cluster.logs.read("t", 0, 13)
    # The batch wholly below the log start is gone, the one holding it stays.
    assert await cluster.storage.fetchall("SELECT base_offset FROM batches") == [(10,)]


async def test_a_truncation_inside_a_batch_keeps_the_records_below_and_offsets_are_reused(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    await cluster.logs.append("t", 0, records(0, 10))
    (topic_id,) = await cluster.storage.fetchone("SELECT id FROM topics WHERE name='t'")
    async with cluster.storage.write() as conn:
        await truncate_log(conn, topic_id, 0, 6, 0)
        await conn.execute("UPDATE partitions SET log_end_offset=6, high_watermark=6")
        await conn.execute("UPDATE replicas SET log_end_offset=6")
    assert await offsets_read(cluster, 0, 100) == [0, 1, 2, 3, 4, 5]
    appended = await cluster.logs.append("t", 0, [ProducerRecord(b"again", b"x")])
    assert appended.base_offset == 6
    read = (await cluster.logs.read("t", 0, 5)).records
    assert [(r.offset, r.key) for r in read] == [(5, b"k5"), (6, b"again")]
    segment = await cluster.storage.fetchone("SELECT size_bytes FROM segment_state")
    stored = await cluster.storage.fetchone("SELECT sum(size) FROM batches")
    assert segment == stored
