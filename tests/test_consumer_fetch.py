"""The core Consumer's fetch: whole batches are read once and handed out max.poll.records at a
time across polls (Kafka's CompletedFetch), and a seek elsewhere leaves what was fetched unused."""

from __future__ import annotations

import asyncio

import pytest

from broker_core import Cluster, Consumer, ProducerRecord, TopicPartition
from broker_core.delete_records import delete_records
from loop_ticks import counting_loop_ticks
from transaction_support import TP as ORDERS, TransactionalProducer

TP = TopicPartition("big", 0)


async def one_batch_of(cluster: Cluster, count: int) -> None:
    await cluster.topics.create_topic("big", 1, 1)
    await cluster.logs.append("big", 0, [ProducerRecord(b"k%d" % i, b"v%d" % i) for i in range(count)])


async def test_a_batch_larger_than_a_poll_is_returned_across_polls_in_order(cluster: Cluster) -> None:
    await one_batch_of(cluster, 10)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=4)
    consumer.assign([TP])
    polls = [[r.offset for r in await consumer.poll()] for _ in range(4)]
    assert polls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], []]
    assert await consumer.position(TP) == 10


async def test_a_seek_between_polls_reads_from_the_new_position(cluster: Cluster) -> None:
    await one_batch_of(cluster, 10)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=3)
    consumer.assign([TP])
    assert [r.offset for r in await consumer.poll()] == [0, 1, 2]
    consumer.seek(TP, 8)
    assert [r.offset for r in await consumer.poll()] == [8, 9]
    consumer.seek(TP, 1)
    assert [(r.offset, r.value) for r in await consumer.poll()] == [(1, b"v1"), (2, b"v2"), (3, b"v3")]


async def test_a_paused_partition_keeps_its_place(cluster: Cluster) -> None:
    await one_batch_of(cluster, 6)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=4)
    consumer.assign([TP])
    assert [r.offset for r in await consumer.poll()] == [0, 1, 2, 3]
    consumer.pause(TP)
    assert await consumer.poll() == []
    consumer.resume(TP)
    assert [r.offset for r in await consumer.poll()] == [4, 5]


async def test_a_partition_given_up_and_assigned_again_is_read_afresh(cluster: Cluster) -> None:
    await one_batch_of(cluster, 6)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=2)
    consumer.assign([TP])
    assert [r.offset for r in await consumer.poll()] == [0, 1]
    await delete_records(cluster.storage, cluster.clock, "big", {0: 4})
    consumer.assign([])
    consumer.assign([TP])
    consumer.seek(TP, 2)  # where the records fetched before continued: they are gone from the log
    assert [r.offset for r in await consumer.poll()] == [4, 5]


async def test_a_consumer_polling_a_long_backlog_lets_other_tasks_run(cluster: Cluster) -> None:
    # Polls may be served from what was fetched, with nothing to wait for: a busy poll loop
    # must still yield to other tasks.
    await cluster.topics.create_topic("big", 1, 1)
    for start in range(0, 2000, 100):
        await cluster.logs.append("big", 0, [ProducerRecord(None, b"v%d" % i) for i in range(start, start + 100)])
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=50)
    consumer.assign([TP])
    async with counting_loop_ticks() as ticks:
        read = 0
        ticks_while_reading = 0
        while read < 2000:
            read += len(await consumer.poll())
            ticks_while_reading = ticks.count
        assert ticks_while_reading >= 10


async def test_small_polls_skip_markers_and_aborted_records_as_one_big_poll_does(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 1, 1)
    producer = TransactionalProducer(cluster, "app")
    await producer.init()
    await producer.send(b"a", b"b", b"c")  # 0-2
    await producer.end(commit=True)  # COMMIT marker at 3
    await producer.send(b"x", b"y")  # 4-5
    await producer.end(commit=False)  # ABORT marker at 6
    await producer.send(b"d")  # 7
    await producer.end(commit=True)  # COMMIT marker at 8
    for isolation, offsets in (("read_committed", [0, 1, 2, 7]), ("read_uncommitted", [0, 1, 2, 4, 5, 7])):
        for most in (1, 2, 500):
            consumer = Consumer(cluster, auto_offset_reset="earliest", isolation_level=isolation,
                                max_poll_records=most)
            consumer.assign([ORDERS])
            read: list[int] = []
            marks = []
            for _ in range(12):
                read += [r.offset for r in await consumer.poll()]
                marks += [(mark.offset, mark.kind) for _, mark in consumer.take_transaction_marks()]
            assert read == offsets, (isolation, most)
            assert await consumer.position(ORDERS) == 9
            markers = [(3, "COMMIT"), (6, "ABORT"), (8, "COMMIT")]
            assert [m for m in marks if m[1] != "aborted"] == markers, (isolation, most)


async def test_a_records_timestamp_type_is_its_batchs_as_kafkas_consumer_reports_it(cluster: Cluster) -> None:
    # Kafka's consumer takes it from the batch (batch.timestampType()), not from the topic's config now.
    await cluster.topics.create_topic("stamped", 1, 1, config={"message.timestamp.type": "LogAppendTime"})
    await cluster.logs.append("stamped", 0, [ProducerRecord(None, b"a", timestamp=5)])
    await cluster.topics.alter_config("stamped", {"message.timestamp.type": "CreateTime"})
    await cluster.logs.append("stamped", 0, [ProducerRecord(None, b"b", timestamp=7)])
    consumer = Consumer(cluster, auto_offset_reset="earliest")
    consumer.assign([TopicPartition("stamped", 0)])
    stamped, created = await consumer.poll()
    assert stamped.timestamp_type == "LogAppendTime" and stamped.timestamp != 5
    assert (created.timestamp_type, created.timestamp) == ("CreateTime", 7)


async def test_a_record_that_cannot_be_read_fails_every_poll_until_a_seek_past_it(cluster: Cluster, data_path) -> None:
    # As Kafka's consumer: the position stays before the bad record, so each poll raises again.
    import sqlite3
    import struct

    from broker_core.errors import InvalidRecord
    from broker_core.record_batch import compute_crc

    await cluster.topics.create_topic("bad", 1, 1)
    await cluster.logs.append("bad", 0, [ProducerRecord(None, b"v%d" % i) for i in range(3)])
    await cluster.logs.append("bad", 0, [ProducerRecord(None, b"w")])
    with sqlite3.connect(data_path) as conn:  # one record too many claimed, the CRC made to match
        (data,) = conn.execute("SELECT data FROM batches WHERE base_offset=0 AND record_count=3").fetchone()
        bad = bytearray(data)
        struct.pack_into(">i", bad, 57, 4)
        struct.pack_into(">I", bad, 17, compute_crc(bad))
        conn.execute("UPDATE batches SET data=? WHERE base_offset=0 AND record_count=3", (bytes(bad),))
    bad_tp = TopicPartition("bad", 0)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=2)
    consumer.assign([bad_tp])
    assert [r.value for r in await consumer.poll()] == [b"v0", b"v1"]  # before the fault is reached
    for _ in range(3):
        with pytest.raises(InvalidRecord):
            await consumer.poll()
    assert await consumer.position(bad_tp) == 2
    consumer.seek(bad_tp, 3)
    assert [r.value for r in await consumer.poll()] == [b"w"]


class HeldReads:
    """The cluster's log reads, each held until the test lets it finish (a read in flight)."""

    def __init__(self, cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        real = cluster.logs.read

        async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.started.set()
            await self.release.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(cluster.logs, "read", held)


async def test_a_group_member_closed_while_its_poll_reads_ends_the_poll_without_records(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing leaves the group and gives the partitions up: the read's records are nobody's now."""
    await one_batch_of(cluster, 10)
    consumer = Consumer(cluster, group_id="g", auto_offset_reset="latest")
    consumer.subscribe(["big"])
    deadline = asyncio.get_running_loop().time() + 10
    while not consumer.assignment():
        assert asyncio.get_running_loop().time() < deadline, "the consumer never joined"
        assert await consumer.poll(timeout_ms=100) == []
    await consumer.seek_to_beginning(TP)
    reads = HeldReads(cluster, monkeypatch)
    poll = asyncio.create_task(consumer.poll(timeout_ms=5_000))
    await asyncio.wait_for(reads.started.wait(), 10)
    await consumer.close()
    reads.release.set()
    assert await asyncio.wait_for(poll, 10) == []


async def test_a_seek_while_a_poll_reads_drops_what_that_read_found(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    await one_batch_of(cluster, 10)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=3)
    consumer.assign([TP])
    await consumer.position(TP)
    reads = HeldReads(cluster, monkeypatch)
    poll = asyncio.create_task(consumer.poll(timeout_ms=0))
    await asyncio.wait_for(reads.started.wait(), 10)
    consumer.seek(TP, 7)
    reads.release.set()
    first = await asyncio.wait_for(poll, 10)
    assert [r.offset for r in first] in ([], [7, 8, 9]), "records from before the seek were returned"
    later = [r.offset for r in await consumer.poll(timeout_ms=1_000)] if not first else []
    assert (first or later) and [r.offset for r in first] + later == [7, 8, 9]
