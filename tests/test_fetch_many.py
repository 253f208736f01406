"""``PartitionLogs.read_many``: every partition of a Fetch in one read, each with its own answer."""

from __future__ import annotations

from pathlib import Path

from broker_core import Cluster
from broker_core.errors import OffsetOutOfRange, UnknownTopicOrPartition
from broker_core.log import ReadRequest
from broker_core.records import FetchResult, ProducerRecord


async def test_read_many_answers_each_partition_as_read_does(data_path: Path) -> None:
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("wide", 1_000, 1)
        await cluster.logs.append("wide", 7, [ProducerRecord(value=b"a"), ProducerRecord(value=b"b")], acks=1)
        await cluster.logs.append("wide", 999, [ProducerRecord(value=b"z" * 100)], acks=1)
        requests = [ReadRequest("wide", p, 0) for p in range(1_000)] + [
            ReadRequest("wide", 7, 1), ReadRequest("wide", 7, 5), ReadRequest("wide", 1_000, 0),
            ReadRequest("missing", 0, 0)]
        results = await cluster.logs.read_many(requests)
        singles = [await cluster.logs.read("wide", p, 0) for p in (0, 7, 999)]

        # With a response budget, the records stop once it is reached; offsets still come back.
        budgeted = await cluster.logs.read_many([ReadRequest("wide", 7, 0), ReadRequest("wide", 999, 0)],
                                                max_total_bytes=1)
    assert len(results) == len(requests)
    assert [results[p] for p in (0, 7, 999)] == singles
    assert [r.value for r in results[7].records] == [b"a", b"b"]
    assert sum(len(r.records) for r in results[:1_000] if isinstance(r, FetchResult)) == 3
    assert [r.value for r in results[1_000].records] == [b"b"]
    assert isinstance(results[1_001], OffsetOutOfRange)
    assert isinstance(results[1_002], UnknownTopicOrPartition) and isinstance(results[1_003], UnknownTopicOrPartition)
    assert [len(r.records) for r in budgeted] == [2, 0]
    assert budgeted[1].high_watermark == 1
