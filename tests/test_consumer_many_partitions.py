"""The core Consumer assigned many partitions, few with data: a poll reads only the partitions
that have records at their position (one query tells which), and the idle ones still deliver
records appended later, report their high watermark, and reset when out of range."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from broker_core import Cluster, Consumer, Producer, ProducerRecord, TopicPartition
from broker_core.delete_records import delete_records
from transaction_support import TransactionalProducer

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


# -- what a poll knows between polls (ReadyPartitions): a scan kept while nobody commits ----------

APPEND_SCRIPT = """
import asyncio, sys
from broker_core import Cluster, ProducerRecord

async def main():
    async with await Cluster.open(sys.argv[1]) as cluster:
        await cluster.logs.append(sys.argv[2], int(sys.argv[3]), [ProducerRecord(None, b"other process")])

asyncio.run(main())
"""


async def test_another_process_appending_to_an_idle_partition_is_read_at_the_next_poll(
        cluster: Cluster, data_path: Any) -> None:
    consumer = await consumer_of(cluster, "shared", (1,))
    assert [r.value for r in await consumer.poll()] == [b"p1"]
    assert await consumer.poll() == []  # every partition known idle, from the kept scan
    appender = await asyncio.create_subprocess_exec(
        sys.executable, "-c", APPEND_SCRIPT, str(data_path), "shared", "33",
        cwd=Path(__file__).resolve().parent.parent)
    assert await appender.wait() == 0
    assert [(r.partition, r.value) for r in await consumer.poll()] == [(33, b"other process")]


async def test_this_process_appending_through_the_producer_is_read_at_the_next_poll(cluster: Cluster) -> None:
    consumer = await consumer_of(cluster, "local", ())
    assert await consumer.poll() == []
    async with Producer(cluster) as producer:
        await producer.send_and_wait("local", b"produced", partition=12)
    assert [(r.partition, r.value) for r in await consumer.poll()] == [(12, b"produced")]


async def test_delete_records_moving_the_log_start_past_a_known_idle_position_resets_it(cluster: Cluster) -> None:
    consumer = await consumer_of(cluster, "trimmed", ())
    assert await consumer.poll() == []  # partition 7 known idle at position 0
    for value in (b"a", b"b", b"c"):
        await cluster.logs.append("trimmed", 7, [ProducerRecord(None, value)])
    await delete_records(cluster.storage, cluster.clock, "trimmed", {7: 2})
    assert [(r.partition, r.offset, r.value) for r in await consumer.poll()] == [(7, 2, b"c")]


async def test_a_seek_back_on_a_known_idle_partition_reads_again_without_any_commit(cluster: Cluster) -> None:
    consumer = await consumer_of(cluster, "again", (4, 5))
    assert len(await consumer.poll()) == 2
    assert await consumer.poll() == []
    consumer.seek(TopicPartition("again", 5), 0)
    assert [(r.partition, r.offset) for r in await consumer.poll()] == [(5, 0)]


async def test_a_paused_partition_with_records_is_read_once_resumed(cluster: Cluster) -> None:
    consumer = await consumer_of(cluster, "held", (2, 8))
    consumer.pause(TopicPartition("held", 8))
    assert [r.partition for r in await consumer.poll()] == [2]
    assert await consumer.poll() == []
    consumer.resume(TopicPartition("held", 8))
    assert [r.partition for r in await consumer.poll()] == [8]


async def test_read_committed_reads_a_known_idle_partition_once_its_transaction_commits(cluster: Cluster) -> None:
    await cluster.topics.create_topic("txn", PARTITIONS, 1)
    consumer = Consumer(cluster, auto_offset_reset="earliest", enable_auto_commit=False,
                        isolation_level="read_committed")
    consumer.assign([TopicPartition("txn", p) for p in range(PARTITIONS)])
    producer = TransactionalProducer(cluster, "many-partitions-txn")
    await producer.init()
    await producer.send(b"pending", tp=TopicPartition("txn", 21))
    assert await consumer.poll() == []  # at the last stable offset: nothing yet, partition 21 known idle
    await producer.end(commit=True)
    assert [(r.partition, r.value) for r in await consumer.poll()] == [(21, b"pending")]


async def test_positions_without_a_seek_come_from_one_lookup_not_one_per_partition(
        cluster: Cluster, monkeypatch: Any) -> None:
    await cluster.topics.create_topic("fresh", PARTITIONS, 1)
    await cluster.logs.append("fresh", 6, [ProducerRecord(None, b"x")])
    await cluster.groups.commit_offsets("g", -1, "", {TopicPartition("fresh", 6): 1})
    lookups: list[str] = []
    for name in ("list_offset", "list_offsets"):
        original = getattr(cluster.logs, name)
        monkeypatch.setattr(cluster.logs, name, lambda *a, _o=original, _n=name, **k: (lookups.append(_n), _o(*a, **k))[1])
    consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest", enable_auto_commit=False)
    consumer.assign([TopicPartition("fresh", p) for p in range(PARTITIONS)])
    assert await consumer.poll() == []  # partition 6 from its committed offset (1), the others from earliest
    assert lookups == ["list_offsets"]
    assert await consumer.position(TopicPartition("fresh", 6)) == 1
    assert await consumer.position(TopicPartition("fresh", 0)) == 0


async def test_seek_to_end_with_read_committed_goes_to_the_last_stable_offset(cluster: Cluster) -> None:
    # Kafka's consumer asks ListOffsets with its isolation level for every reset, seekToEnd included.
    await cluster.topics.create_topic("open", PARTITIONS, 1)
    await cluster.logs.append("open", 3, [ProducerRecord(None, b"before")])
    producer = TransactionalProducer(cluster, "open-txn")
    await producer.init()
    await producer.send(b"undecided", tp=TopicPartition("open", 3))
    committed = Consumer(cluster, enable_auto_commit=False, isolation_level="read_committed")
    uncommitted = Consumer(cluster, enable_auto_commit=False)
    for consumer in (committed, uncommitted):
        consumer.assign([TopicPartition("open", p) for p in range(PARTITIONS)])
    await committed.seek_to_end()  # every partition: one scan
    await uncommitted.seek_to_end(TopicPartition("open", 3))  # named partitions: ListOffsets per topic
    assert await committed.position(TopicPartition("open", 3)) == 1
    assert await uncommitted.position(TopicPartition("open", 3)) == 2
    await committed.seek_to_end(TopicPartition("open", 3))
    assert await committed.position(TopicPartition("open", 3)) == 1
    await producer.end(commit=True)
    assert [r.value for r in await committed.poll()] == [b"undecided"]
