"""Records without a key follow Kafka 3.3+'s BuiltInPartitioner (KIP-794): they stick to one
partition until batch.size bytes were produced to it, switch only among partitions that have
a leader, weighted by queue size; an explicit partition wins; keyed records hash with murmur2."""

from __future__ import annotations

from itertools import groupby

from broker_core import Producer
from broker_core.partitioner import BuiltInPartitioner, partition_for_key
from broker_core.records import BATCH_OVERHEAD, record_size


async def test_records_typed_one_by_one_stay_on_a_partition_until_twice_batch_size(cluster):
    # Each record is sent on its own (a line typed in the console producer): no batch is ever
    # full, so Kafka switches only once 2 x batch.size bytes went to the partition.
    await cluster.topics.create_topic("typed", 3, 1)
    batch_size = 1000
    value = b"x" * 100
    async with Producer(cluster, batch_size=batch_size, linger_ms=0) as producer:
        placed = [(await producer.send_and_wait("typed", value)).partition for _ in range(120)]
    runs = [len(list(run)) for _, run in groupby(placed)]
    per_record = record_size(None, value) + BATCH_OVERHEAD
    switch_every = -(-2 * batch_size // per_record)  # ceil: the record that reaches 2 x batch.size switches
    # Kafka picks the next partition at random among those with a leader, the current one
    # included, so two stints may land on one partition and read as one longer run.
    assert runs[0] >= switch_every
    assert all(run % switch_every == 0 for run in runs[:-1]), runs
    assert len(runs) >= 2


async def test_a_burst_switches_partition_after_each_full_batch_size(cluster):
    await cluster.topics.create_topic("burst", 3, 1)
    value = b"y" * 100
    async with Producer(cluster, batch_size=1000, linger_ms=1000) as producer:
        futures = [await producer.send("burst", value) for _ in range(60)]
        await producer.flush()
        placed = [(await f).partition for f in futures]
    runs = [len(list(run)) for _, run in groupby(placed)]
    # A full batch (1000 bytes of records) closes, then the partitioner switches (maybe to the same one).
    per_batch = 1000 // record_size(None, value)
    assert all(run % per_batch == 0 for run in runs[:-1]), runs


async def test_keyless_records_never_go_to_a_partition_without_a_leader(cluster):
    await cluster.topics.create_topic("spread", 6, 1)  # replication factor 1: a stopped broker's partitions go offline
    await cluster.controller.stop_broker(1)
    offline = {p.partition for p in (await cluster.topics.describe_topic("spread")).partitions if p.leader < 0}
    assert offline
    async with Producer(cluster, batch_size=200, linger_ms=0) as producer:
        for _ in range(60):
            metadata = await producer.send_and_wait("spread", b"v" * 50)  # raises if it hit LeaderNotAvailable
            assert metadata.partition not in offline


async def test_an_explicit_partition_wins_and_keys_hash_with_murmur2(cluster):
    await cluster.topics.create_topic("t", 3, 1)
    async with Producer(cluster) as producer:
        assert (await producer.send_and_wait("t", b"v", partition=2)).partition == 2
        assert (await producer.send_and_wait("t", b"v", key=b"key-7")).partition == partition_for_key(b"key-7", 3)


def test_adaptive_partitioning_favours_partitions_with_short_queues():
    partitioner = BuiltInPartitioner(seed=7)
    # Kafka's cumulative frequency table for queue sizes 0, 5, 0: weights 6, 1, 6.
    chosen = [partitioner.next_partition(3, [0, 1, 2], {0: 0, 1: 5, 2: 0}) for _ in range(1300)]
    assert chosen.count(1) < 200 < min(chosen.count(0), chosen.count(2))
    # Equal queues: uniform over the partitions that have a leader.
    assert set(partitioner.next_partition(4, [0, 3], {0: 1, 3: 1}) for _ in range(100)) == {0, 3}
