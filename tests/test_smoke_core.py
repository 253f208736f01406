"""Produce and consume round trip through the public API."""

from broker_core import Consumer, Producer, TopicPartition


async def test_round_trip_keeps_order_and_content(cluster):
    await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
    async with Producer(cluster) as producer:
        sent = [await producer.send("orders", f"v{i}".encode(), key=b"same-key") for i in range(50)]
        await producer.flush()
        metas = [await f for f in sent]
    assert {m.partition for m in metas} == {metas[0].partition}
    assert [m.offset for m in metas] == list(range(50))
    consumer = Consumer(cluster, auto_offset_reset="earliest")
    consumer.assign([TopicPartition("orders", metas[0].partition)])
    records = await consumer.poll(timeout_ms=1000)
    assert [r.value for r in records] == [f"v{i}".encode() for i in range(50)]
    assert all(r.key == b"same-key" for r in records)
