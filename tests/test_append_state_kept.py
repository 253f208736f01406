"""An append on the event loop's connection keeps its partition's state between appends
(broker_core.append_state): whatever anyone else commits meanwhile must still be seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker_core import Cluster, ProducerRecord
from broker_core.errors import NotEnoughReplicas, RecordTooLarge
from broker_core.record_batch import read_header
from cli_harness import kplay


def _one(value: bytes) -> list[ProducerRecord]:
    return [ProducerRecord(None, value)]


async def _stored(cluster: Cluster, topic: str, partition: int = 0) -> list[tuple[int, int, int]]:
    """(base offset, last offset, partition leader epoch) of every batch, from the file."""
    rows = await cluster.storage.fetchall(
        "SELECT b.base_offset, b.last_offset, b.data FROM batches b JOIN topics t ON t.id=b.topic_id"
        " WHERE t.name=? AND b.partition=? ORDER BY b.base_offset", (topic, partition))
    return [(base, last, read_header(data).partition_leader_epoch) for base, last, data in rows]


async def _values(cluster: Cluster, topic: str) -> list[bytes]:
    result = await cluster.logs.read(topic, 0, 0, max_records=1000)
    assert [r.offset for r in result.records] == list(range(len(result.records))), "offsets are not dense"
    return [r.value for r in result.records]


async def test_another_process_appending_between_two_of_ours_leaves_offsets_dense(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    first = await cluster.logs.append("t", 0, _one(b"ours-1"))
    produced = kplay(cluster.path, "console-producer", "--topic", "t", input="theirs-1\ntheirs-2\ntheirs-3\n")
    assert produced.returncode == 0, produced.stderr
    second = await cluster.logs.append("t", 0, _one(b"ours-2"))
    assert (first.base_offset, second.base_offset) == (0, 4)
    assert await _values(cluster, "t") == [b"ours-1", b"theirs-1", b"theirs-2", b"theirs-3", b"ours-2"]


async def test_a_big_append_of_this_process_between_two_small_ones(cluster: Cluster) -> None:
    """A big append takes the database thread's connection: another connection to the file."""
    await cluster.topics.create_topic("t", 1, 1)
    await cluster.logs.append("t", 0, _one(b"small-1"))
    big = [ProducerRecord(None, b"big-%d" % i) for i in range(200)]
    await cluster.logs.append("t", 0, big)
    last = await cluster.logs.append("t", 0, _one(b"small-2"))
    assert last.base_offset == 201
    assert (await _values(cluster, "t"))[-2:] == [b"big-199", b"small-2"]


async def test_a_config_changed_elsewhere_applies_to_the_next_append(cluster: Cluster, tmp_path: Path) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    await cluster.logs.append("t", 0, _one(b"x" * 500))
    altered = kplay(cluster.path, "configs", "--alter", "--entity-type", "topics", "--entity-name", "t",
                    "--add-config", "max.message.bytes=200")
    assert altered.returncode == 0, altered.stderr
    with pytest.raises(RecordTooLarge):
        await cluster.logs.append("t", 0, _one(b"x" * 500))
    assert (await cluster.logs.append("t", 0, _one(b"small"))).base_offset == 1


async def test_a_leader_stopped_elsewhere_gives_the_next_append_the_new_leader_epoch(data_path: Path) -> None:
    async with await Cluster.open(data_path) as ours, await Cluster.open(data_path) as theirs:
        await ours.topics.create_topic("t", 1, 3)
        await ours.logs.append("t", 0, _one(b"before"))
        leader = (await ours.topics.describe_topic("t")).partitions[0].leader
        await theirs.controller.stop_broker(leader)
        after = await ours.logs.append("t", 0, _one(b"after"))
        description = await ours.topics.describe_topic("t")
        assert description.partitions[0].leader != leader
        epochs = [epoch for _, _, epoch in await _stored(ours, "t")]
        assert epochs[1] == epochs[0] + 1, epochs
        assert after.base_offset == 1


async def test_an_isr_shrunk_elsewhere_refuses_the_next_acks_all_append(data_path: Path) -> None:
    async with await Cluster.open(data_path) as ours, await Cluster.open(data_path) as theirs:
        await ours.topics.create_topic("t", 1, 3, config={"min.insync.replicas": "3"})
        await ours.logs.append("t", 0, _one(b"three in sync"), acks="all")
        partition = (await ours.topics.describe_topic("t")).partitions[0]
        followers = [r for r in partition.replicas if r != partition.leader]
        await theirs.controller.stop_broker(followers[0])
        with pytest.raises(NotEnoughReplicas):
            await ours.logs.append("t", 0, _one(b"two in sync"), acks="all")


async def test_segments_rolled_by_one_record_appends_hold_what_their_batches_hold(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", 1, 1, config={"segment.bytes": "1000"})
    for i in range(60):
        await cluster.logs.append("t", 0, _one(b"%03d" % i + b"v" * 60))
    segments = await cluster.storage.fetchall(
        "SELECT s.base_offset, s.next_offset, s.size_bytes FROM segment_state s JOIN topics t ON t.id=s.topic_id"
        " WHERE t.name='t' ORDER BY s.base_offset")
    batches = await cluster.storage.fetchall(
        "SELECT b.base_offset, b.last_offset, b.size FROM batches b JOIN topics t ON t.id=b.topic_id"
        " WHERE t.name='t' ORDER BY b.base_offset")
    assert len(segments) > 3
    for base, next_offset, size in segments:
        inside = [b for b in batches if base <= b[0] < next_offset]
        assert size == sum(b[2] for b in inside) <= 1000
        assert next_offset == inside[-1][1] + 1
    assert segments[-1][1] == 60


async def test_a_topic_deleted_and_made_again_elsewhere_is_appended_to_as_the_new_one(data_path: Path) -> None:
    async with await Cluster.open(data_path) as ours, await Cluster.open(data_path) as theirs:
        await ours.topics.create_topic("t", 1, 1)
        for i in range(3):
            await ours.logs.append("t", 0, _one(b"old-%d" % i))
        await theirs.topics.delete_topic("t")
        await theirs.topics.create_topic("t", 2, 1)
        result = await ours.logs.append("t", 1, _one(b"new"))
        assert result.base_offset == 0
        assert await _values(theirs, "t") == []
