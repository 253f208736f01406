"""The Producer's sender sends a batch when it is full or has waited linger.ms, without a
flush, as Kafka's does; close() sends what is still lingering."""

from __future__ import annotations

import asyncio

from broker_core import Producer
from broker_core.records import BATCH_OVERHEAD, record_size

#: Generous: a deadline for an ack that comes after a few milliseconds (a loaded machine).
ACK_DEADLINE_S = 10.0


async def test_a_lingering_record_is_sent_once_linger_ms_passes_without_a_flush(cluster):
    await cluster.topics.create_topic("linger", 1, 1)
    async with Producer(cluster, linger_ms=20) as producer:
        future = await producer.send("linger", b"v")
        metadata = await asyncio.wait_for(future, ACK_DEADLINE_S)
        assert metadata.offset == 0
        # The sender went back to waiting: the next record lingers and is sent the same way.
        assert (await asyncio.wait_for(await producer.send("linger", b"w"), ACK_DEADLINE_S)).offset == 1


async def test_a_full_batch_goes_at_once_while_another_partition_lingers(cluster):
    await cluster.topics.create_topic("full", 2, 1)
    value = b"x" * 100
    per_batch = 3
    async with Producer(cluster, linger_ms=3_600_000,
                        batch_size=BATCH_OVERHEAD + per_batch * record_size(None, value)) as producer:
        lingering = await producer.send("full", value, partition=1)
        for _ in range(per_batch - 1):
            await producer.send("full", value, partition=0)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not lingering.done()  # linger.ms is an hour: nothing woke the sender for it
        # The batch filling up wakes the sender out of its linger wait.
        last = await producer.send("full", value, partition=0)
        assert (await asyncio.wait_for(last, ACK_DEADLINE_S)).offset == per_batch - 1
        assert not lingering.done()
        await producer.close()  # sends the lingering batch
        assert lingering.done() and (await lingering).offset == 0
