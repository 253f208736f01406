"""KIP-848's consumer group protocol in the core: heartbeats, epochs, incremental reconciliation, timers.

Members here are raw ConsumerGroupHeartbeat calls, as librdkafka with
``group.protocol=consumer`` makes them over the wire, so each test puts the group exactly
where it wants it. The clock is a ManualClock: session and rebalance timeouts pass only
when a test advances it.
"""

from __future__ import annotations

from typing import Mapping

import pytest

from broker_core import Cluster, ManualClock, TopicPartition
from broker_core.consumer_group_coordinator import (CONSUMER_HEARTBEAT_INTERVAL_MS, CONSUMER_SESSION_TIMEOUT_MS,
                                                    ConsumerGroupHeartbeatRequest as Beat,
                                                    ConsumerGroupHeartbeatResult)
from broker_core.errors import (FencedInstanceId, FencedMemberEpoch, GroupIdNotFound, InconsistentGroupProtocol, InvalidRegularExpression,
                                InvalidRequest, NonEmptyGroup, StaleMemberEpoch, UnknownMemberId,
                                UnreleasedInstanceId, UnsupportedAssignor, UnsupportedVersion)

REBALANCE_MS = 30_000


async def join(cluster: Cluster, member_id: str = "", *, topics: tuple[str, ...] = ("orders",),
               regex: str | None = None, assignor: str | None = None, group: str = "g") -> ConsumerGroupHeartbeatResult:
    return await cluster.groups.consumer_group_heartbeat(Beat(
        group, member_id, 0, rebalance_timeout_ms=REBALANCE_MS, subscribed_topic_names=topics if not regex else None,
        subscribed_topic_regex=regex, server_assignor=assignor, owned_partitions={}, client_id=f"client-{member_id}",
        client_host="/127.0.0.1"))


async def beat(cluster: Cluster, member: ConsumerGroupHeartbeatResult | tuple[str, int],
               owned: Mapping[str, tuple[int, ...]] | None = None, group: str = "g") -> ConsumerGroupHeartbeatResult:
    member_id, epoch = (member.member_id, member.member_epoch) if isinstance(member, ConsumerGroupHeartbeatResult) \
        else member
    return await cluster.groups.consumer_group_heartbeat(Beat(group, member_id, epoch, owned_partitions=owned))


def by_topic(partitions: list[TopicPartition] | None) -> dict[str, tuple[int, ...]]:
    out: dict[str, list[int]] = {}
    for tp in partitions or []:
        out.setdefault(tp.topic, []).append(tp.partition)
    return {t: tuple(sorted(p)) for t, p in out.items()}


async def test_first_member_gets_every_partition_at_epoch_one(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 6)
    first = await join(cluster, "a")
    assert first.member_id == "a"
    assert first.member_epoch == 1
    assert first.heartbeat_interval_ms == CONSUMER_HEARTBEAT_INTERVAL_MS
    assert by_topic(first.assignment) == {"orders": (0, 1, 2, 3, 4, 5)}
    described = await cluster.groups.describe_group("g")
    assert (described.group_type, described.state, described.protocol) == ("consumer", "Stable", "uniform")
    assert (described.generation, described.assignment_epoch) == (1, 1)
    assert described.members[0].member_epoch == 1


async def test_a_new_member_gets_partitions_only_after_their_owner_revokes_them(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 6)
    a = await join(cluster, "a")
    b = await join(cluster, "b")
    # The group epoch is 2, but b's partitions are still a's: b waits at epoch 2 with nothing.
    assert b.member_epoch == 2
    assert b.assignment == []
    assert (await cluster.groups.describe_group("g")).state == "Reconciling"
    # a learns what to give up, keeping its epoch until it has done so.
    a_step = await beat(cluster, a, owned=by_topic(a.assignment))
    assert a_step.member_epoch == 1
    kept = by_topic(a_step.assignment)["orders"]
    assert len(kept) == 3
    # Still owning the revoked ones: nothing moves.
    again = await beat(cluster, a_step, owned=by_topic(a.assignment))
    assert again.member_epoch == 1 and again.assignment is None
    assert (await beat(cluster, b, owned={})).assignment is None
    # a revokes: it moves to epoch 2; then b receives what a released.
    a_done = await beat(cluster, a_step, owned={"orders": kept})
    assert a_done.member_epoch == 2
    b_done = await beat(cluster, b, owned={})
    assert set(by_topic(b_done.assignment)["orders"]) == set(range(6)) - set(kept)
    assert (await cluster.groups.describe_group("g")).state == "Stable"


async def test_a_leaving_member_hands_its_partitions_to_the_others(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 4)
    a = await join(cluster, "a")
    b = await join(cluster, "b")
    a = await beat(cluster, a, owned=by_topic(a.assignment))
    a = await beat(cluster, a, owned=by_topic(a.assignment))
    b = await beat(cluster, b, owned={})
    assert len(b.assignment or []) == 2
    left = await cluster.groups.consumer_group_heartbeat(Beat("g", "b", -1))
    assert left.member_epoch == -1
    a_after = await beat(cluster, a, owned=by_topic([TopicPartition("orders", p) for p in range(4)
                                                      if TopicPartition("orders", p) not in (b.assignment or [])]))
    assert by_topic(a_after.assignment) == {"orders": (0, 1, 2, 3)}
    assert a_after.member_epoch == 3


async def test_a_silent_member_is_fenced_after_the_session_timeout(cluster: Cluster, clock: ManualClock) -> None:
    await cluster.topics.create_topic("orders", 2)
    a = await join(cluster, "a")
    b = await join(cluster, "b")
    clock.advance(CONSUMER_SESSION_TIMEOUT_MS - 1)
    a = await beat(cluster, a, owned=by_topic(a.assignment))
    clock.advance(2)
    assert await cluster.groups.expire_members() == ["b"]
    assert [m.member_id for m in (await cluster.groups.describe_group("g")).members] == ["a"]
    with pytest.raises(UnknownMemberId):
        await beat(cluster, b, owned={})


async def test_a_member_that_keeps_revoked_partitions_past_its_rebalance_timeout_is_fenced(
        cluster: Cluster, clock: ManualClock) -> None:
    await cluster.topics.create_topic("orders", 2)
    a = await join(cluster, "a")
    b = await join(cluster, "b")
    a = await beat(cluster, a, owned={"orders": (0, 1)})  # told to revoke one
    assert len(a.assignment or []) == 1
    clock.advance(REBALANCE_MS - 1)
    b = await beat(cluster, b, owned={})
    assert b.assignment is None  # a still holds it: nothing for b yet
    a = await beat(cluster, a, owned={"orders": (0, 1)})  # a heartbeat does not extend the deadline
    clock.advance(1)
    assert await cluster.groups.expire_members() == ["a"]
    with pytest.raises(UnknownMemberId):
        await beat(cluster, a, owned={"orders": (0, 1)})
    b = await beat(cluster, b, owned={})
    assert by_topic(b.assignment) == {"orders": (0, 1)}


async def test_epochs_are_checked_as_kafka_checks_them(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 2)
    a = await join(cluster, "a")
    with pytest.raises(FencedMemberEpoch):
        await beat(cluster, ("a", 5), owned={})
    with pytest.raises(UnknownMemberId):
        await beat(cluster, ("nobody", 1), owned={})
    with pytest.raises(GroupIdNotFound):
        await beat(cluster, ("a", 1), owned={}, group="other")
    with pytest.raises(InvalidRequest, match="SubscribedTopicNames or SubscribedTopicRegex must be set"):
        await cluster.groups.consumer_group_heartbeat(Beat("g", "c", 0, rebalance_timeout_ms=1, owned_partitions={}))
    with pytest.raises(UnsupportedAssignor, match="Supported assignors: uniform, range"):
        await join(cluster, "c", assignor="sticky")
    with pytest.raises(InvalidRegularExpression):
        await join(cluster, "c", regex="orders(")
    assert a.member_epoch == 1


async def test_offset_commits_check_the_member_epoch(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 2)
    a = await join(cluster, "a")
    tp = TopicPartition("orders", 0)
    await cluster.groups.commit_offsets("g", a.member_epoch, "a", {tp: 5}, api_version=9)
    assert await cluster.groups.fetch_offsets("g", [tp], member_id="a", member_epoch=1) == {tp: 5}
    with pytest.raises(StaleMemberEpoch):
        await cluster.groups.commit_offsets("g", 0, "a", {tp: 6})
    with pytest.raises(UnknownMemberId):
        await cluster.groups.commit_offsets("g", 1, "nobody", {tp: 6})
    with pytest.raises(UnsupportedVersion):
        await cluster.groups.commit_offsets("g", 1, "a", {tp: 6}, api_version=8)
    with pytest.raises(StaleMemberEpoch):
        await cluster.groups.fetch_offsets("g", [tp], member_id="a", member_epoch=0)
    assert await cluster.groups.fetch_offsets("g") == {tp: 5}


async def test_a_group_is_either_classic_or_consumer(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 2)
    await join(cluster, "a")
    with pytest.raises(InconsistentGroupProtocol):
        await cluster.groups.join_group("g", "", client_id="old", host="h", session_timeout_ms=10_000,
                                        rebalance_timeout_ms=10_000, protocol_type="consumer",
                                        protocols=[("range", b"")])
    classic = await cluster.groups.join_group("c", "", client_id="old", host="h", session_timeout_ms=10_000,
                                              rebalance_timeout_ms=10_000, protocol_type="consumer",
                                              protocols=[("range", b"")])
    assert classic.generation == 1
    with pytest.raises(GroupIdNotFound, match="not a consumer group"):
        await join(cluster, "x", group="c")
    listed = {(g.group_id, g.group_type) for g in await cluster.groups.list_groups()}
    assert listed == {("g", "consumer"), ("c", "classic")}
    with pytest.raises(NonEmptyGroup):
        await cluster.groups.delete_group("g")
    await cluster.groups.consumer_group_heartbeat(Beat("g", "a", -1))
    await cluster.groups.delete_group("g")
    assert (await cluster.groups.describe_group("g")).state == "Dead"


async def test_a_regex_subscription_follows_topics_created_later(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders-eu", 1)
    a = await join(cluster, "a", regex="orders-.*")
    assert by_topic(a.assignment) == {"orders-eu": (0,)}
    await cluster.topics.create_topic("orders-us", 2)
    await cluster.topics.create_topic("payments", 2)
    a = await beat(cluster, a, owned=by_topic(a.assignment))
    assert by_topic(a.assignment) == {"orders-eu": (0,), "orders-us": (0, 1)}
    assert a.member_epoch == 2


async def test_range_is_chosen_by_the_members_and_splits_like_kafka(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 3)
    a = await join(cluster, "a", assignor="range")
    b = await join(cluster, "b", assignor="range")
    a_step = await beat(cluster, a, owned=by_topic(a.assignment))
    assert by_topic(a_step.assignment) == {"orders": (0, 1)}  # partition 2 is revoked
    await beat(cluster, a_step, owned=by_topic(a_step.assignment))
    b = await beat(cluster, b, owned={})
    assert by_topic(b.assignment) == {"orders": (2,)}
    described = await cluster.groups.describe_group("g")
    assert (described.protocol, described.state) == ("range", "Stable")


async def test_state_is_shared_through_the_data_file(cluster: Cluster, data_path, clock: ManualClock) -> None:
    await cluster.topics.create_topic("orders", 2)
    await join(cluster, "a")
    other = await Cluster.open(data_path, clock=clock)
    try:
        b = await join(other, "b")
        assert b.member_epoch == 2
        described = await other.groups.describe_group("g")
        assert sorted(m.member_id for m in described.members) == ["a", "b"]
    finally:
        await other.close()


# --- the core's own Consumer with group_protocol="consumer" ---

async def poll_until(consumers, condition, what: str, rounds: int = 200) -> None:
    for _ in range(rounds):
        for consumer in consumers:
            await consumer.poll(10)
        if condition():
            return
    raise AssertionError(f"never reached: {what}")


async def test_core_consumers_rebalance_incrementally_without_stopping(cluster: Cluster) -> None:
    from broker_core import Consumer, Producer

    await cluster.topics.create_topic("orders", 4)
    async with Producer(cluster) as producer:
        for i in range(8):
            await producer.send("orders", f"v{i}".encode(), partition=i % 4)
    first = Consumer(cluster, group_id="g", client_id="first", group_protocol="consumer", auto_offset_reset="earliest")
    changes: list[tuple[set, set]] = []
    first.rebalance_listeners.append(lambda revoked, assigned: changes.append((revoked, assigned)))
    first.subscribe(["orders"])
    await poll_until([first], lambda: len(first.assignment()) == 4, "the first member owning everything")
    assert first.generation == 1
    second = Consumer(cluster, group_id="g", client_id="second", group_protocol="consumer")
    second.subscribe(["orders"])
    await poll_until([first, second], lambda: len(first.assignment()) == 2 and len(second.assignment()) == 2,
                     "two partitions each")
    # Only the two partitions that moved were revoked; the first never stopped owning the others.
    assert [len(revoked) for revoked, _ in changes if revoked] == [2]
    assert changes[-1][0] == {tp for tp in second.assignment()}
    described = await cluster.groups.describe_group("g")
    assert described.state == "Stable" and {m.member_epoch for m in described.members} == {2}
    await first.commit()
    # The first member read every record before the second joined, and committed the two
    # partitions it gave up before revoking them (auto-commit), the others just now.
    assert await cluster.groups.fetch_offsets("g") == {TopicPartition("orders", p): 2 for p in range(4)}
    await second.close()
    await poll_until([first], lambda: len(first.assignment()) == 4, "the first member owning everything again")
    await first.close()
    assert (await cluster.groups.describe_group("g")).state == "Empty"


async def test_core_consumer_rejects_an_unknown_group_protocol(cluster: Cluster) -> None:
    from broker_core import Consumer

    with pytest.raises(ValueError, match="group.protocol: String must be one of: classic, consumer"):
        Consumer(cluster, group_id="g", group_protocol="eager")


async def test_a_static_member_comes_back_to_its_partitions_without_a_rebalance(cluster: Cluster,
                                                                                clock: ManualClock) -> None:
    await cluster.topics.create_topic("orders", 4)

    async def join_static(member_id: str, instance: str) -> ConsumerGroupHeartbeatResult:
        return await cluster.groups.consumer_group_heartbeat(Beat(
            "g", member_id, 0, instance_id=instance, rebalance_timeout_ms=REBALANCE_MS,
            subscribed_topic_names=("orders",), owned_partitions={}))

    a = await join_static("a1", "instance-a")
    b = await join_static("b1", "instance-b")
    a = await beat(cluster, ("a1", 1), owned=by_topic(a.assignment))
    a_parts = by_topic(a.assignment)
    await cluster.groups.consumer_group_heartbeat(Beat("g", "a1", 1, instance_id="instance-a", owned_partitions=a_parts))
    await beat(cluster, b, owned={})
    epoch = (await cluster.groups.describe_group("g")).generation
    # a restarts: it leaves for a while (-2) and keeps its partitions meanwhile.
    left = await cluster.groups.consumer_group_heartbeat(Beat("g", "a1", -2, instance_id="instance-a"))
    assert left.member_epoch == -2
    with pytest.raises(UnreleasedInstanceId):
        await join_static("b2", "instance-b")  # b never left: its instance id is still taken
    back = await join_static("a2", "instance-a")
    assert by_topic(back.assignment) == a_parts
    assert back.member_epoch == epoch
    described = await cluster.groups.describe_group("g")
    assert described.generation == epoch  # no new group epoch: nothing was rebalanced
    assert sorted(m.member_id for m in described.members) == ["a2", "b1"]
    with pytest.raises(FencedInstanceId):
        await cluster.groups.consumer_group_heartbeat(Beat("g", "a1", epoch, instance_id="instance-a",
                                                           owned_partitions={}))


async def test_a_fenced_members_topics_leave_the_subscription_in_the_same_epoch(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", 1)
    await cluster.topics.create_topic("payments", 1)
    a = await join(cluster, "a", regex="ord.*")
    await join(cluster, "b", topics=("payments",))
    await cluster.groups.consumer_group_heartbeat(Beat("g", "b", -1))  # b leaves: epoch 3
    a = await beat(cluster, a, owned={"orders": (0,)})
    # No further epoch for "payments" leaving the subscription: the leave already counted it.
    assert a.member_epoch == 3
    assert (await cluster.groups.describe_group("g")).generation == 3
