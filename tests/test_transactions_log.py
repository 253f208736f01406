"""Transactions in the log, through the core: transactional batches, COMMIT/ABORT markers taking
an offset, the last stable offset, and the core's Consumer under both isolation levels.

Batches are built as a transactional producer sends them (Kafka's v2 format with the
transactional bit, its producer id, epoch and sequences) and appended as kplay serve does.
"""

from __future__ import annotations

from broker_core import Cluster, Consumer, ManualClock, TopicPartition
from broker_core.errors import InvalidProducerEpoch, InvalidTxnState, KafkaError
from broker_core.record_batch import RecordBatch
from transaction_support import TP, TransactionalProducer


async def read_all(cluster: Cluster, isolation: str) -> tuple[list[tuple[int, bytes]], int]:
    """Every record a fresh consumer with ``isolation`` reads, and its position after them."""
    consumer = Consumer(cluster, auto_offset_reset="earliest", isolation_level=isolation)
    consumer.assign([TP])
    got = []
    for _ in range(5):  # a few polls: each returns what is there
        got += [(r.offset, r.value) for r in await consumer.poll()]
    return got, await consumer.position(TP)


async def test_markers_take_an_offset_and_read_committed_skips_aborted_records(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 1, 1)
    producer = TransactionalProducer(cluster, "app")
    await producer.init()
    assert await producer.send(b"a1", b"a2") == 0
    # Open: read_committed stops at the last stable offset (0), read_uncommitted reads on.
    assert await read_all(cluster, "read_committed") == ([], 0)
    assert await read_all(cluster, "read_uncommitted") == ([(0, b"a1"), (1, b"a2")], 2)
    await producer.end(commit=False)  # ABORT marker at 2
    assert await producer.send(b"c1") == 3
    await producer.end(commit=True)  # COMMIT marker at 4
    result = await cluster.logs.read("orders", 0, 0, read_committed=True)
    assert (result.high_watermark, result.last_stable_offset) == (5, 5)
    assert [(a.producer_id, a.first_offset, a.last_offset) for a in result.aborted] == [
        (producer.ids.producer_id, 0, 2)]
    # read_committed: only the committed record; both read past the markers (offset gaps).
    assert await read_all(cluster, "read_committed") == ([(3, b"c1")], 5)
    assert await read_all(cluster, "read_uncommitted") == ([(0, b"a1"), (1, b"a2"), (3, b"c1")], 5)
    # Even the partition strip's read (to the log end) never shows a marker as a record.
    from_marker = await cluster.logs.read("orders", 0, 2, to_log_end=True)
    assert [r.offset for r in from_marker.records] == [3]


async def test_a_fenced_zombie_and_an_unadded_partition_cannot_write(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 2, 1)
    zombie = TransactionalProducer(cluster, "app")
    await zombie.init()
    await zombie.send(b"z1")
    successor = TransactionalProducer(cluster, "app")
    try:
        await successor.init()
    except KafkaError:  # CONCURRENT_TRANSACTIONS: the zombie's transaction was aborted first
        await successor.init()
    try:
        await zombie.append(b"z2")
        raise AssertionError("the zombie wrote")
    except InvalidProducerEpoch:
        pass
    try:
        await successor.append(b"s1", tp=TopicPartition("orders", 1))  # never added to the transaction
        raise AssertionError("wrote outside the transaction")
    except InvalidTxnState:
        pass
    # The zombie's record was aborted with a marker written by the coordinator.
    assert await read_all(cluster, "read_committed") == ([], 2)


async def test_a_timed_out_transaction_is_aborted_with_markers(cluster: Cluster, clock: ManualClock) -> None:
    await cluster.topics.create_topic("orders", 1, 1)
    producer = TransactionalProducer(cluster, "slow", timeout_ms=5_000)
    await producer.init()
    await producer.send(b"late")
    clock.advance(5_001)
    assert await cluster.transactions.abort_timed_out() == ["slow"]
    result = await cluster.logs.read("orders", 0, 0, read_committed=True)
    assert (result.records, result.last_stable_offset, result.high_watermark) == ([], 2, 2)  # the ABORT marker at 1
    assert await read_all(cluster, "read_committed") == ([], 2)


def test_control_batches_are_markers() -> None:
    """The stored marker is a control batch that Kafka's clients recognise."""
    from broker_core.record_batch import ControlType, EndTransactionMarker, build_control_batch

    batch = RecordBatch(build_control_batch(EndTransactionMarker(ControlType.ABORT, 0), producer_id=7,
                                            producer_epoch=1, timestamp=5))
    assert batch.header.is_control and batch.header.is_transactional
    assert batch.end_transaction_marker().control_type == ControlType.ABORT


async def test_latest_offset_for_read_committed_is_the_lso(cluster: Cluster) -> None:
    """ListOffsets LATEST with isolation_level=read_committed answers the last stable offset, so
    a read_committed consumer starting at the end does not skip past an open transaction."""
    from broker_core.log import LATEST

    await cluster.topics.create_topic("orders", 1, 1)
    producer = TransactionalProducer(cluster, "app")
    await producer.init()
    await producer.send(b"open")
    assert await cluster.logs.list_offset("orders", 0, LATEST) == 1
    assert await cluster.logs.list_offset("orders", 0, LATEST, read_committed=True) == 0
    latest = Consumer(cluster, auto_offset_reset="latest", isolation_level="read_committed")
    latest.assign([TP])
    assert await latest.position(TP) == 0
    await producer.end(commit=True)
    assert [r.value for r in await latest.poll()] == [b"open"]


async def test_compaction_keeps_committed_values_markers_and_open_transactions(cluster: Cluster,
                                                                               clock: ManualClock) -> None:
    """An aborted write never shadows a key (it is cleaned away instead), markers are not keyed
    records, and nothing at or above the last stable offset is cleaned (Kafka's cleaner)."""
    from broker_core.record_batch import build_batch
    from broker_core.log import BatchRequest
    from broker_core.producer_state import ProducerMark

    await cluster.topics.create_topic("orders", 1, 1, {"cleanup.policy": "compact", "segment.ms": "1000",
                                                       "min.cleanable.dirty.ratio": "0.01"})
    producer = TransactionalProducer(cluster, "app")
    await producer.init()

    async def send(key: bytes, value: bytes) -> None:
        await cluster.transactions.add_partitions("app", producer.ids.producer_id, producer.ids.producer_epoch, [TP])
        batch = build_batch([(key, value, (), clock.now_ms())], producer_id=producer.ids.producer_id,
                            producer_epoch=producer.ids.producer_epoch, base_sequence=producer.sequence,
                            is_transactional=True)
        mark = ProducerMark(producer.ids.producer_id, producer.ids.producer_epoch, producer.sequence, producer.sequence)
        (result,) = await cluster.logs.append_batches([BatchRequest("orders", 0, (), mark, batch=batch)], acks=1)
        assert not isinstance(result, KafkaError), result
        producer.sequence += 1
        clock.advance(2_000)  # each write opens a new segment

    await send(b"k", b"committed")      # 0, COMMIT marker 1
    await producer.end(commit=True)
    await send(b"k", b"aborted")        # 2, ABORT marker 3
    await producer.end(commit=False)
    await send(b"j", b"open")           # 4: an open transaction holds the LSO at 4
    await send(b"k", b"undecided")      # 5: undecided, so it must not supersede k at 0
    report = await cluster.cleaner.run_once()
    assert report.records_removed == 1  # the aborted record, and only it
    committed, _ = await read_all(cluster, "read_committed")
    assert committed == [(0, b"committed")]
    await producer.end(commit=True)
    everything, position = await read_all(cluster, "read_uncommitted")
    assert everything == [(0, b"committed"), (4, b"open"), (5, b"undecided")] and position == 7
