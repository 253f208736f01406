"""Everything written survives closing and reopening the data file."""

from __future__ import annotations

from pathlib import Path

from broker_core import Cluster, Consumer, ManualClock, Producer, TopicPartition
from broker_core.log import EARLIEST, LATEST

RECORDS = [
    # key, value, headers, timestamp
    (b"k1", b"hello", (), 1_700_000_000_001),
    (None, b"no key", (("trace", b"abc"),), 1_700_000_000_002),
    (b"k1", None, (), 1_700_000_000_003),  # a tombstone: null value
    (b"", b"", (("empty", b""),), 1_700_000_000_004),  # empty is not null
    (b"\xff\x00\xfe", bytes(range(256)), (("bin", b"\x00\xff"), ("dup", b"1"), ("dup", b"2")), 1_700_000_000_005),
    (b"k2", "ünïcødé".encode(), (), 1_700_000_000_006),
]


async def _read_all(cluster: Cluster, topic: str, partition: int) -> list:
    fetched = await cluster.logs.read(topic, partition, 0, max_records=10_000)
    return [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in fetched.records]


async def test_topics_configs_and_records_survive_reopening(data_path: Path) -> None:
    clock = ManualClock()
    async with await Cluster.open(data_path, clock=clock, brokers=4) as cluster:
        cluster_id = cluster.cluster_id
        # Not compact: a compacted topic refuses the keyless record below (INVALID_RECORD), as Kafka does.
        await cluster.topics.create_topic("orders", partitions=3, replication_factor=3,
                                          config={"cleanup.policy": "delete", "retention.ms": "3600000"})
        await cluster.topics.create_topic("audit", partitions=1, replication_factor=2)
        await cluster.topics.create_partitions("audit", 2)
        await cluster.topics.alter_config("audit", {"segment.bytes": "1048576"})
        async with Producer(cluster) as producer:
            for key, value, headers, ts in RECORDS:
                await producer.send("orders", value, key, partition=1, headers=headers, timestamp=ts)
            for i in range(100):
                await producer.send("audit", f"event {i}".encode(), partition=i % 2)
        before_topics = await cluster.topics.describe_topics()
        before_orders = await _read_all(cluster, "orders", 1)
        before_audit = [await _read_all(cluster, "audit", p) for p in (0, 1)]
        brokers = await cluster.topics.live_brokers()

    async with await Cluster.open(data_path, clock=clock) as cluster:
        assert cluster.cluster_id == cluster_id
        assert await cluster.topics.live_brokers() == brokers == [0, 1, 2, 3]
        assert await cluster.topics.list_topics() == ["audit", "orders"]
        assert await cluster.topics.describe_topics() == before_topics
        orders = await cluster.topics.describe_topic("orders")
        assert orders.config == {"cleanup.policy": "delete", "retention.ms": 3600000}
        assert orders.effective_config()["retention.ms"] == 3600000
        assert (await cluster.topics.describe_topic("audit")).config == {"segment.bytes": 1048576}
        assert [p.high_watermark for p in orders.partitions] == [0, len(RECORDS), 0]
        assert await _read_all(cluster, "orders", 1) == before_orders == [
            (offset, ts, key, value, tuple(headers)) for offset, (key, value, headers, ts) in enumerate(RECORDS)]
        assert [await _read_all(cluster, "audit", p) for p in (0, 1)] == before_audit
        assert await cluster.logs.list_offset("orders", 1, EARLIEST) == 0
        assert await cluster.logs.list_offset("orders", 1, LATEST) == len(RECORDS)
        assert await cluster.logs.list_offset("orders", 1, 1_700_000_000_004) == 3

        # The log continues where it stopped: the next offset follows the last one.
        async with Producer(cluster) as producer:
            meta = await producer.send_and_wait("orders", b"after reopen", b"k3", partition=1)
        assert meta.offset == len(RECORDS)


async def test_a_standalone_consumer_reads_the_same_records_after_reopening(data_path: Path) -> None:
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("t", partitions=2)
        async with Producer(cluster) as producer:
            for i in range(40):
                await producer.send("t", f"v{i}".encode(), f"k{i}".encode())
    async with await Cluster.open(data_path) as cluster:
        consumer = Consumer(cluster, auto_offset_reset="earliest")
        consumer.assign([TopicPartition("t", 0), TopicPartition("t", 1)])
        values = []
        while len(values) < 40:
            batch = await consumer.poll(timeout_ms=2000)
            assert batch, "records missing after reopening"
            values.extend(r.value for r in batch)
        assert sorted(values) == sorted(f"v{i}".encode() for i in range(40))
