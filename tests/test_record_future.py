"""What Producer.send returns is one record's view on its batch's acknowledgement (Kafka's
FutureRecordMetadata): every way asyncio code waits on a future must work on it."""

from __future__ import annotations

import asyncio

import pytest

from broker_core import Cluster, Producer, RecordMetadata
from broker_core.errors import RecordTooLarge


@pytest.fixture
async def topic(cluster: Cluster) -> str:
    await cluster.topics.create_topic("t", 1, 1, config={"max.message.bytes": "1000"})
    return "t"


async def test_each_record_of_a_batch_resolves_to_its_own_offset_and_timestamp(cluster: Cluster, topic: str) -> None:
    async with Producer(cluster, linger_ms=60_000) as producer:
        futures = [await producer.send(topic, b"v%d" % i, timestamp=1_000 + i) for i in range(5)]
        assert not any(f.done() for f in futures), "the batch went before linger.ms or a flush"
        await producer.flush()
        assert [await f for f in futures] == [RecordMetadata(topic, 0, i, 1_000 + i) for i in range(5)]
        assert producer.transactions == 1


async def test_asyncio_waits_on_it_as_on_any_future(cluster: Cluster, topic: str) -> None:
    async with Producer(cluster, linger_ms=60_000) as producer:
        futures = [await producer.send(topic, b"v%d" % i) for i in range(3)]
        assert all(asyncio.isfuture(f) for f in futures)
        with pytest.raises(asyncio.InvalidStateError):
            futures[0].result()
        done, pending = await asyncio.wait(futures, timeout=0.01)
        assert (done, len(pending)) == (set(), 3)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(futures[0]), timeout=0.01)
        seen: list[object] = []
        futures[1].add_done_callback(seen.append)
        futures[2].add_done_callback(seen.append)
        assert futures[2].remove_done_callback(seen.append) == 1
        flushing = asyncio.create_task(producer.flush())
        gathered = await asyncio.gather(*futures)
        await flushing
        assert [m.offset for m in gathered] == [0, 1, 2]
        done, pending = await asyncio.wait(futures)
        assert (len(done), pending) == (3, set())
        assert (await asyncio.wait_for(futures[2], timeout=5)).offset == 2
        await asyncio.sleep(0)  # callbacks run on the loop's next turn, as a future's do
        assert seen == [futures[1]]
        assert futures[0].exception() is None and not futures[0].cancelled()


async def test_a_refused_batch_fails_every_record_in_it_with_the_error(cluster: Cluster, topic: str) -> None:
    async with Producer(cluster) as producer:
        too_big = await producer.send(topic, b"x" * 5_000)
        with pytest.raises(RecordTooLarge):
            await too_big
        assert isinstance(too_big.exception(), RecordTooLarge)
        assert (await producer.send_and_wait(topic, b"fits")).offset == 0


async def test_a_wait_cancelled_ends_at_once_and_the_record_is_sent_all_the_same(cluster: Cluster, topic: str) -> None:
    async with Producer(cluster, linger_ms=60_000) as producer:
        first = await producer.send(topic, b"first")
        with pytest.raises(asyncio.TimeoutError):  # long before linger.ms would send the batch
            await asyncio.wait_for(first, timeout=0.05)  # not shielded: the timeout cancels the wait
        assert first.cancelled() and first.cancel() is False
        second = await producer.send(topic, b"second")
        awaiting = asyncio.create_task(_await(second))
        await asyncio.sleep(0)  # it waits on the record now
        awaiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(awaiting, timeout=5)
        third = await producer.send(topic, b"third")
        await producer.flush()
        assert (await third).offset == 2
    read = await cluster.logs.read(topic, 0, 0)
    assert [r.value for r in read.records] == [b"first", b"second", b"third"]


async def _await(future: object) -> object:
    return await future  # type: ignore[misc]
