"""Consumers sharing topics in a group: who gets which partitions as members join, leave and die.

Members are real ``Consumer`` objects driven by ``poll()``; the leader computes the
assignment with the group's assignor, as Kafka's client does. The expected assignments are
Kafka's for the same members (ordered by member id) and partitions.
"""

from __future__ import annotations

import asyncio
from typing import Iterable

import pytest

from broker_core import Cluster, Consumer, ManualClock, TopicPartition

TopicPartitions = set[TopicPartition]
GROUP = "workers"


def tps(*names: str) -> TopicPartitions:
    """``tps("a0", "b1")`` -> {a-0, b-1}."""
    return {TopicPartition(name[:-1], int(name[-1])) for name in names}


async def topics(cluster: Cluster, **partitions: int) -> None:
    for name, count in partitions.items():
        await cluster.topics.create_topic(name, partitions=count, replication_factor=1)


def member(cluster: Cluster, strategy: str, name: str, subscribe: Iterable[str] = ("a", "b")) -> Consumer:
    consumer = Consumer(cluster, group_id=GROUP, client_id=name, partition_assignment_strategy=strategy,
                        auto_offset_reset="earliest")
    consumer.subscribe(list(subscribe))
    return consumer


async def settle(cluster: Cluster, consumers: list[Consumer], timeout_s: float = 10) -> int:
    """Poll every consumer together until the group is Stable with exactly them; returns the generation."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        await asyncio.gather(*(c.poll(20) for c in consumers))
        described = await cluster.groups.describe_group(GROUP)
        if (described.state == "Stable" and not any(c.rebalancing for c in consumers)
                and {m.member_id for m in described.members} == {c.member_id for c in consumers}
                and all(c.generation == described.generation for c in consumers)):
            assert {m.member_id: set(m.assignment) for m in described.members} == {
                c.member_id: c.assignment() for c in consumers}
            return described.generation
        assert loop.time() < deadline, f"group never settled: {described}"


def by_member_id(consumers: list[Consumer]) -> list[TopicPartitions]:
    """Assignments in member-id order (the order Kafka's range and roundrobin deal in)."""
    return [c.assignment() for c in sorted(consumers, key=lambda c: c.member_id)]


async def close_all(consumers: list[Consumer]) -> None:
    for consumer in consumers:
        await consumer.close()


@pytest.mark.parametrize("strategy, two, three", [
    # a has 3 partitions, b has 2; members sorted by id.
    ("range", [tps("a0", "a1", "b0"), tps("a2", "b1")], [tps("a0", "b0"), tps("a1", "b1"), tps("a2")]),
    ("roundrobin", [tps("a0", "a2", "b1"), tps("a1", "b0")], [tps("a0", "b0"), tps("a1", "b1"), tps("a2")]),
])
async def test_eager_assignors_split_several_topics_as_members_join_and_leave(
        cluster: Cluster, strategy: str, two: list[TopicPartitions], three: list[TopicPartitions]) -> None:
    await topics(cluster, a=3, b=2)
    first = member(cluster, strategy, "first")
    generation = await settle(cluster, [first])
    assert first.assignment() == tps("a0", "a1", "a2", "b0", "b1")
    second = member(cluster, strategy, "second")
    assert await settle(cluster, [first, second]) == generation + 1
    assert by_member_id([first, second]) == two
    third = member(cluster, strategy, "third")
    await settle(cluster, [first, second, third])
    assert by_member_id([first, second, third]) == three
    await third.close()  # leaving hands its partitions back at once
    await settle(cluster, [first, second])
    assert by_member_id([first, second]) == two
    await close_all([first, second])
    assert (await cluster.groups.describe_group(GROUP)).state == "Empty"


@pytest.mark.parametrize("strategy", ["range", "roundrobin", "sticky", "cooperative-sticky"])
async def test_more_members_than_partitions_leaves_some_idle(cluster: Cluster, strategy: str) -> None:
    await topics(cluster, c=2)
    consumers = []
    for name in ("one", "two", "three"):
        consumers.append(member(cluster, strategy, name, subscribe=["c"]))
        await settle(cluster, consumers)
    sizes = sorted(len(c.assignment()) for c in consumers)
    assert sizes == [0, 1, 1]
    assert set().union(*(c.assignment() for c in consumers)) == tps("c0", "c1")
    if strategy in ("range", "roundrobin"):
        assert by_member_id(consumers) == [tps("c0"), tps("c1"), set()]
    await close_all(consumers)


@pytest.mark.parametrize("strategy", ["sticky", "cooperative-sticky"])
async def test_sticky_assignors_move_as_few_partitions_as_possible(cluster: Cluster, strategy: str) -> None:
    await topics(cluster, a=3, b=2)
    history: dict[str, list[tuple[TopicPartitions, TopicPartitions]]] = {}
    consumers: list[Consumer] = []

    def joined(name: str) -> Consumer:
        consumer = member(cluster, strategy, name)
        history[name] = []
        consumer.rebalance_listeners.append(lambda revoked, assigned: history[name].append((revoked, assigned)))
        consumers.append(consumer)
        return consumer

    first = joined("first")
    await settle(cluster, consumers)
    second = joined("second")
    await settle(cluster, consumers)
    assert sorted(len(c.assignment()) for c in consumers) == [2, 3]
    before = {c.client_id: c.assignment() for c in consumers}
    third = joined("third")
    generation = await settle(cluster, consumers)
    after = {c.client_id: c.assignment() for c in consumers}
    assert sorted(len(p) for p in after.values()) == [1, 2, 2]
    # Only what the newcomer takes moves: the others keep all but what they hand over.
    assert after["first"] <= before["first"] and after["second"] <= before["second"]
    assert len(before["first"] - after["first"]) + len(before["second"] - after["second"]) == 1

    if strategy == "cooperative-sticky":
        # The moving partition is revoked first and handed over in a follow-up rebalance:
        # nobody gave up a partition it keeps, and the newcomer got it one generation later.
        for name in ("first", "second"):
            revoked = set().union(*(r for r, _ in history[name][-2:]))
            assert revoked == before[name] - after[name]
        assert history["third"][0] == (set(), set())
        assert history["third"][-1] == (set(), after["third"])
    else:
        # Eager: everyone revoked everything, then got everything back at once.
        assert history["first"][-2:] == [(before["first"], set()), (set(), after["first"])]

    kept = {c.client_id: c.assignment() for c in (first, second)}
    await third.close()
    assert await settle(cluster, [first, second]) > generation
    for consumer in (first, second):
        assert consumer.assignment() >= kept[consumer.client_id]  # nobody loses what it had
    assert first.assignment() | second.assignment() == tps("a0", "a1", "a2", "b0", "b1")
    await close_all([first, second])


async def test_cooperative_members_keep_consuming_what_they_keep_during_a_rebalance(cluster: Cluster) -> None:
    await topics(cluster, a=3, b=2)
    first = member(cluster, "cooperative-sticky", "first")
    await settle(cluster, [first])
    calls: list[tuple[TopicPartitions, TopicPartitions]] = []
    first.rebalance_listeners.append(lambda revoked, assigned: calls.append((revoked, assigned)))
    second = member(cluster, "cooperative-sticky", "second")
    await settle(cluster, [first, second])
    assert all(len(revoked) < 5 for revoked, _ in calls)  # never the stop-the-world revoke of eager
    assert first.rebalance_protocol == "cooperative"
    await close_all([first, second])


async def test_a_dead_members_partitions_move_after_its_session_timeout(cluster: Cluster,
                                                                        clock: ManualClock) -> None:
    await topics(cluster, a=3, b=2)
    survivor = member(cluster, "range", "survivor")
    doomed = member(cluster, "range", "doomed")
    generation = await settle(cluster, [survivor, doomed])
    assert survivor.assignment() and doomed.assignment()
    # "doomed" stops polling (as if its process died); the survivor keeps heartbeating.
    for step in (15_000, 15_000, 14_999):
        clock.advance(step)
        await survivor.poll(0)
    assert {m.client_id for m in (await cluster.groups.describe_group(GROUP)).members} == {"survivor", "doomed"}
    clock.advance(1)  # 45 s since doomed's last heartbeat: its session.timeout.ms is over
    assert await settle(cluster, [survivor]) == generation + 1
    assert survivor.assignment() == tps("a0", "a1", "a2", "b0", "b1")
    assert [m.client_id for m in (await cluster.groups.describe_group(GROUP)).members] == ["survivor"]
    await close_all([survivor, doomed])


async def test_a_topic_created_after_subscribing_is_assigned_when_it_appears(cluster: Cluster) -> None:
    await topics(cluster, a=1)
    consumer = member(cluster, "range", "early", subscribe=["a", "later"])
    generation = await settle(cluster, [consumer])
    assert consumer.assignment() == tps("a0")
    await topics(cluster, later=2)  # the leader sees the metadata change and rebalances
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while consumer.assignment() != tps("a0", "later0", "later1"):
        assert loop.time() < deadline
        await consumer.poll(20)
    assert consumer.generation == generation + 1
    await consumer.close()


async def test_members_with_different_subscriptions_share_only_their_topics(cluster: Cluster) -> None:
    await topics(cluster, a=2, b=2)
    only_a = member(cluster, "roundrobin", "only-a", subscribe=["a"])
    both = member(cluster, "roundrobin", "both", subscribe=["a", "b"])
    await settle(cluster, [only_a, both])
    assert both.assignment() >= tps("b0", "b1")
    assert only_a.assignment() and {tp.topic for tp in only_a.assignment()} == {"a"}
    assert only_a.assignment() | both.assignment() == tps("a0", "a1", "b0", "b1")
    await close_all([only_a, both])
