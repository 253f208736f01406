"""A consumer in a group: where it starts reading, what it commits and when, and leaving.

Heartbeats and auto-commit run on the cluster's clock (a ManualClock here), so a test
decides when an interval has passed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from broker_core import Cluster, Consumer, ManualClock, Producer, TopicPartition
from broker_core.errors import InvalidGroupId, RebalanceInProgress

WAIT_S = 10
P0, P1 = TopicPartition("events", 0), TopicPartition("events", 1)


async def produce(cluster: Cluster, per_partition: int, start: int = 0) -> None:
    async with Producer(cluster) as producer:
        for partition in (0, 1):
            for i in range(start, start + per_partition):
                await producer.send("events", f"p{partition}-{i}".encode(), partition=partition)
        await producer.flush()


async def make_topic(cluster: Cluster) -> None:
    await cluster.topics.create_topic("events", partitions=2, replication_factor=1)


async def poll_until(consumer: Consumer, count: int, *others: Consumer) -> list[str]:
    """Poll (with ``others`` alongside, so rebalances complete) until ``count`` records arrived.

    Records the others read are dropped: use it only when they have nothing to read.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    values: list[str] = []
    while len(values) < count:
        assert loop.time() < deadline, f"only {len(values)} of {count} records arrived"
        batches = await asyncio.gather(consumer.poll(20), *(other.poll(20) for other in others))
        values.extend(r.value.decode() for r in batches[0])  # type: ignore[union-attr]
    return values


async def test_committed_offsets_survive_closing_and_reopening(data_path: Path, clock: ManualClock) -> None:
    async with await Cluster.open(data_path, clock=clock) as cluster:
        await make_topic(cluster)
        await produce(cluster, 10)
        consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest", enable_auto_commit=False,
                            max_poll_records=4)
        consumer.subscribe(["events"])
        await poll_until(consumer, 12)
        await consumer.commit()
        committed = {tp: await consumer.committed(tp) for tp in (P0, P1)}
        assert sum(committed.values()) == 12  # type: ignore[arg-type]
        assert committed == {tp: await consumer.position(tp) for tp in (P0, P1)}
        await poll_until(consumer, 4)  # read but never committed
        await consumer.close()
    async with await Cluster.open(data_path, clock=clock) as cluster:
        again = Consumer(cluster, group_id="g", auto_offset_reset="earliest", enable_auto_commit=False)
        again.subscribe(["events"])
        values = await poll_until(again, 8)
        # It starts at the committed offsets: the 4 uncommitted records come again (at-least-once).
        assert sorted(values) == sorted(f"p{tp.partition}-{i}" for tp in (P0, P1)
                                        for i in range(committed[tp], 10))  # type: ignore[arg-type]
        assert await again.committed(P0) == committed[P0]
        await again.close()


async def test_auto_commit_runs_every_interval_on_the_clusters_clock(cluster: Cluster, clock: ManualClock) -> None:
    await make_topic(cluster)
    await produce(cluster, 5)
    consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest", auto_commit_interval_ms=5_000)
    consumer.subscribe(["events"])
    await poll_until(consumer, 10)
    assert await consumer.committed(P0) is None  # the interval has not passed
    clock.advance(5_000)
    await consumer.poll(0)
    assert (await consumer.committed(P0), await consumer.committed(P1)) == (5, 5)
    await produce(cluster, 2, start=5)
    await poll_until(consumer, 4)
    await consumer.close()  # closing commits what was consumed
    assert (await cluster.groups.fetch_offsets("g")) == {P0: 7, P1: 7}
    assert (await cluster.groups.describe_group("g")).state == "Empty"


async def test_partitions_handed_to_a_new_member_continue_where_the_old_owner_stopped(cluster: Cluster) -> None:
    await make_topic(cluster)
    await produce(cluster, 6)
    first = Consumer(cluster, group_id="g", client_id="first", auto_offset_reset="earliest")
    first.subscribe(["events"])
    assert len(await poll_until(first, 12)) == 12  # everything, nothing committed yet
    second = Consumer(cluster, group_id="g", client_id="second", auto_offset_reset="earliest")
    second.subscribe(["events"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not (len(first.assignment()) == len(second.assignment()) == 1):
        assert loop.time() < deadline
        reread = await asyncio.gather(first.poll(20), second.poll(20))
        assert reread == [[], []]
    # Auto-commit committed before the revoke, so the new owner reads only new records.
    await produce(cluster, 3, start=6)
    seen_first: list[str] = []
    seen_second: list[str] = []
    while len(seen_first) < 3 or len(seen_second) < 3:
        assert loop.time() < deadline
        got_first, got_second = await asyncio.gather(first.poll(20), second.poll(20))
        seen_first += [r.value.decode() for r in got_first]  # type: ignore[union-attr]
        seen_second += [r.value.decode() for r in got_second]  # type: ignore[union-attr]
    mine = next(iter(second.assignment())).partition
    assert sorted(seen_second) == [f"p{mine}-{i}" for i in range(6, 9)]
    assert sorted(seen_first) == [f"p{1 - mine}-{i}" for i in range(6, 9)]
    await first.close()
    await second.close()


async def test_listeners_see_revocations_and_assignments_and_unsubscribe_leaves(cluster: Cluster) -> None:
    await make_topic(cluster)
    first = Consumer(cluster, group_id="g", client_id="first")
    calls: list[tuple[set[TopicPartition], set[TopicPartition]]] = []

    async def listener(revoked: set[TopicPartition], assigned: set[TopicPartition]) -> None:
        calls.append((revoked, assigned))

    first.rebalance_listeners.append(listener)
    first.subscribe(["events"])
    await first.poll(100)
    assert calls == [(set(), {P0, P1})] and first.generation == 1 and first.member_id.startswith("first-")
    second = Consumer(cluster, group_id="g", client_id="second")
    second.subscribe("events")
    await poll_until(first, 0, second)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while first.generation != 2 or second.generation != 2:
        assert loop.time() < deadline
        await asyncio.gather(first.poll(20), second.poll(20))
    assert calls[1:] == [({P0, P1}, set()), (set(), first.assignment())]  # eager: all revoked, then assigned
    second.unsubscribe()
    assert second.assignment() == set() and second.member_id == ""
    while first.assignment() != {P0, P1}:
        assert loop.time() < deadline
        await asyncio.gather(first.poll(20), second.poll(20))
    assert [m.client_id for m in (await cluster.groups.describe_group("g")).members] == ["first"]
    await first.close()
    assert calls[-1] == ({P0, P1}, set())
    await second.close()


async def test_a_new_member_without_committed_offsets_follows_auto_offset_reset(cluster: Cluster) -> None:
    await make_topic(cluster)
    await produce(cluster, 3)
    latest = Consumer(cluster, group_id="late", auto_offset_reset="latest")
    latest.subscribe(["events"])
    assert await latest.poll(100) == []
    await produce(cluster, 1, start=3)
    assert sorted(await poll_until(latest, 2)) == ["p0-3", "p1-3"]
    await latest.close()


async def test_a_standalone_consumer_commits_with_its_group_id(cluster: Cluster) -> None:
    await make_topic(cluster)
    await produce(cluster, 4)
    solo = Consumer(cluster, group_id="solo", auto_offset_reset="earliest")
    solo.assign([P1])
    assert len(await poll_until(solo, 4)) == 4
    await solo.commit()
    assert await solo.committed(P1) == 4 and solo.member_id == "" and solo.generation == -1
    await solo.close()


async def test_commit_is_refused_while_the_member_is_rebalancing(cluster: Cluster) -> None:
    await make_topic(cluster)
    consumer = Consumer(cluster, group_id="g")
    consumer.subscribe(["events"])
    with pytest.raises(RebalanceInProgress, match="calling poll"):
        await consumer.commit({P0: 1})
    await consumer.poll(100)
    await consumer.commit({P0: 1})
    assert await consumer.committed(P0) == 1
    await consumer.close()


async def test_group_features_need_a_group_id_and_consistent_settings(cluster: Cluster) -> None:
    loner = Consumer(cluster)
    with pytest.raises(InvalidGroupId, match="you must provide a valid group.id"):
        loner.subscribe(["events"])
    with pytest.raises(InvalidGroupId):
        await loner.commit({P0: 1})
    grouped = Consumer(cluster, group_id="g")
    grouped.subscribe(["events"])
    with pytest.raises(ValueError, match="mutually exclusive"):
        grouped.assign([P0])
    with pytest.raises(ValueError, match="heartbeat.interval.ms"):
        Consumer(cluster, group_id="g", heartbeat_interval_ms=45_000)
    with pytest.raises(ValueError, match="unknown partition assignor 'fair'"):
        Consumer(cluster, group_id="g", partition_assignment_strategy="fair")
    both = Consumer(cluster, group_id="g", partition_assignment_strategy="range,cooperative-sticky")
    assert both.rebalance_protocol == "eager"  # cooperative only when every assignor is
    await grouped.close()


async def test_an_offline_partition_does_not_fail_poll_and_is_read_once_it_is_back(cluster: Cluster) -> None:
    await make_topic(cluster)
    await produce(cluster, 2)
    leader = (await cluster.topics.describe_topic("events")).partitions[0].leader
    await cluster.controller.stop_broker(leader)  # replication factor 1: events-0 goes offline
    assert (await cluster.topics.describe_topic("events")).partitions[0].leader == -1
    consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest")
    consumer.subscribe(["events"])
    values = await poll_until(consumer, 2)
    assert sorted(values) == ["p1-0", "p1-1"]
    await cluster.controller.start_broker(leader)
    assert sorted(await poll_until(consumer, 2)) == ["p0-0", "p0-1"]
    await consumer.close()
