"""The core Consumer assigned many partitions, few with data: a poll reads only the partitions
that have records at their position (one query tells which), and the idle ones still deliver
records appended later, report their high watermark, and reset when out of range."""

from __future__ import annotations

from typing import Any

from broker_core import Cluster, Consumer, ProducerRecord, TopicPartition
from broker_core.delete_records import delete_records

PARTITIONS = 40


async def consumer_of(cluster: Cluster, topic: str, with_data: tuple[int, ...]) -> Consumer:
    await cluster.topics.create_topic(topic, PARTITIONS, 1)
    for partition in with_data:
        await cluster.logs.append(topic, partition, [ProducerRecord(None, b"p%d" % partition)])
    consumer = Consumer(cluster, auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    return consumer


def counting_reads(cluster: Cluster, monkeypatch: Any) -> list[int]:
    """The partitions whose log each poll reads, as they are read."""
    reads: list[int] = []
    original = cluster.logs.read

    async def read(topic: str, partition: int, *args: Any, **kwargs: Any) -> Any:
        reads.append(partition)
        return await original(topic, partition, *args, **kwargs)

    monkeypatch.setattr(cluster.logs, "read", read)
    return reads


async def test_a_poll_reads_only_the_partitions_with_records(cluster: Cluster, monkeypatch: Any) -> None:
    consumer = await consumer_of(cluster, "wide", (3, 17, 31))
    assert sorted(r.value for r in await consumer.poll()) == [b"p17", b"p3", b"p31"]
    reads = counting_reads(cluster, monkeypatch)
    assert await consumer.poll() == []
    assert reads == []  # every partition is at its high watermark: no log is read
    await cluster.logs.append("wide", 25, [ProducerRecord(None, b"late")])
    assert [(r.partition, r.value) for r in await consumer.poll()] == [(25, b"late")]
    assert reads == [25]
    assert consumer.high_watermark(TopicPartition("wide", 25)) == 1
    assert consumer.high_watermark(TopicPartition("wide", 0)) == 0


async def test_an_idle_partition_out_of_range_is_reset(cluster: Cluster) -> None:
    consumer = await consumer_of(cluster, "moved", (5,))
    for _ in range(3):
        await cluster.logs.append("moved", 9, [ProducerRecord(None, b"x")])
    for partition in range(PARTITIONS):
        consumer.seek(TopicPartition("moved", partition), 0)
    await delete_records(cluster.storage, cluster.clock, "moved", {9: 2})
    got = sorted((r.partition, r.offset) for r in await consumer.poll())
    assert got == [(5, 0), (9, 2)]  # partition 9's position 0 is below its log start: reset to it
