"""The group coordinator's protocol, driven the way a client drives it: join, sync, heartbeat, leave.

Members here are raw protocol calls (as a real Kafka client would make over the wire), so
each test can put the group exactly where it wants it. The clock is a ManualClock:
session timeouts and rebalance deadlines pass only when a test advances it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from broker_core import Cluster, ManualClock, Producer, TopicPartition
from broker_core.consumer_protocol import (ConsumerProtocolAssignment, ConsumerProtocolSubscription,
                                           decode_assignment, encode_assignment, encode_subscription)
from broker_core.errors import (GroupIdNotFound, IllegalGeneration, InconsistentGroupProtocol, InvalidGroupId,
                                InvalidSessionTimeout, NonEmptyGroup, RebalanceInProgress, UnknownMemberId,
                                UnknownTopicOrPartition)
from broker_core.groups import GroupCoordinator, JoinGroupResult

SESSION_MS = 10_000
REBALANCE_MS = 60_000
WAIT_S = 10  # upper bound for anything that should happen at once


def subscription(*topics: str) -> bytes:
    return encode_subscription(ConsumerProtocolSubscription(tuple(topics)))


def assignment(*partitions: tuple[str, int]) -> bytes:
    return encode_assignment(ConsumerProtocolAssignment(tuple(TopicPartition(*p) for p in partitions)))


async def join(groups: GroupCoordinator, member_id: str = "", *, group: str = "g", client_id: str = "client",
               protocols: list[tuple[str, bytes]] | None = None,
               session_timeout_ms: int = SESSION_MS) -> JoinGroupResult:
    return await groups.join_group(
        group, member_id, client_id=client_id, host="/10.0.0.1", session_timeout_ms=session_timeout_ms,
        rebalance_timeout_ms=REBALANCE_MS, protocol_type="consumer",
        protocols=protocols if protocols is not None else [("range", subscription("orders"))])


async def stable_group_of_two(groups: GroupCoordinator) -> tuple[str, str]:
    """Two members, both synced: returns (leader, follower) at generation 2."""
    first = await join(groups, client_id="first")
    await groups.sync_group("g", first.generation, first.member_id, {first.member_id: assignment(("orders", 0))})
    second = asyncio.create_task(join(groups, client_id="second"))
    await wait_for_state(groups, "PreparingRebalance")
    with pytest.raises(RebalanceInProgress):
        await groups.heartbeat("g", 1, first.member_id)
    rejoined = await asyncio.wait_for(join(groups, first.member_id), WAIT_S)
    joined = await asyncio.wait_for(second, WAIT_S)
    follower_sync = asyncio.create_task(groups.sync_group("g", 2, joined.member_id, None))
    await groups.sync_group("g", 2, first.member_id, {first.member_id: assignment(("orders", 0)),
                                                       joined.member_id: assignment(("orders", 1))})
    await asyncio.wait_for(follower_sync, WAIT_S)
    assert rejoined.generation == joined.generation == 2
    return first.member_id, joined.member_id


async def wait_for_state(groups: GroupCoordinator, state: str, group: str = "g") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while (await groups.describe_group(group)).state != state:
        assert loop.time() < deadline, f"group {group} never reached {state}"
        await asyncio.sleep(0.01)


async def test_first_member_leads_generation_one_and_its_sync_makes_the_group_stable(cluster: Cluster) -> None:
    groups = cluster.groups
    result = await join(groups, client_id="alice")
    assert result.generation == 1
    assert result.member_id.startswith("alice-")
    assert result.leader_id == result.member_id and result.is_leader
    assert result.protocol_name == "range"
    assert result.members == [(result.member_id, subscription("orders"))]
    assert (await groups.describe_group("g")).state == "CompletingRebalance"

    mine = await groups.sync_group("g", 1, result.member_id, {result.member_id: assignment(("orders", 0))})
    assert decode_assignment(mine).partitions == (TopicPartition("orders", 0),)
    described = await groups.describe_group("g")
    assert described.state == "Stable"
    assert described.protocol == "range" and described.leader == result.member_id
    assert [(m.client_id, m.host, m.assignment) for m in described.members] == [
        ("alice", "/10.0.0.1", [TopicPartition("orders", 0)])]


async def test_a_join_rebalances_and_the_follower_waits_for_the_leaders_assignment(cluster: Cluster) -> None:
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    described = await groups.describe_group("g")
    assert described.state == "Stable" and described.generation == 2 and described.leader == leader
    assert {m.member_id: m.assignment for m in described.members} == {
        leader: [TopicPartition("orders", 0)], follower: [TopicPartition("orders", 1)]}
    # The old generation is gone for everybody.
    with pytest.raises(IllegalGeneration):
        await groups.heartbeat("g", 1, leader)
    await groups.heartbeat("g", 2, follower)


async def test_the_leader_gets_every_members_metadata_and_followers_get_none(cluster: Cluster) -> None:
    groups = cluster.groups
    first = await join(groups, protocols=[("range", subscription("a"))])
    await groups.sync_group("g", 1, first.member_id, {})
    second = asyncio.create_task(join(groups, protocols=[("range", subscription("a", "b"))]))
    await wait_for_state(groups, "PreparingRebalance")
    leader = await asyncio.wait_for(join(groups, first.member_id, protocols=[("range", subscription("a"))]), WAIT_S)
    follower = await asyncio.wait_for(second, WAIT_S)
    assert leader.members == [(first.member_id, subscription("a")), (follower.member_id, subscription("a", "b"))]
    assert follower.members == [] and follower.leader_id == first.member_id


async def test_a_member_that_does_not_rejoin_in_time_is_removed(cluster: Cluster, clock: ManualClock) -> None:
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    newcomer = asyncio.create_task(join(groups, client_id="third"))
    await wait_for_state(groups, "PreparingRebalance")
    rejoin = asyncio.create_task(join(groups, leader))
    # The follower never rejoins (its heartbeats keep it alive, but it must rejoin).
    for step in [5_000] * 11 + [4_999]:
        clock.advance(step)
        with pytest.raises(RebalanceInProgress):
            await groups.heartbeat("g", 2, follower)
    assert not rejoin.done()  # 59.999 s into the 60 s rebalance timeout
    clock.advance(1)
    result = await asyncio.wait_for(rejoin, WAIT_S)
    third = await asyncio.wait_for(newcomer, WAIT_S)
    assert result.generation == third.generation == 3
    assert [m for m, _ in result.members] == [leader, third.member_id]
    with pytest.raises(UnknownMemberId):
        await groups.heartbeat("g", 3, follower)


async def test_a_silent_member_expires_after_its_session_timeout(cluster: Cluster, clock: ManualClock) -> None:
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    clock.advance(SESSION_MS - 4_000)
    await groups.heartbeat("g", 2, leader)
    clock.advance(3_999)
    assert await groups.expire_members() == []  # 9.999 s without a heartbeat: still alive
    clock.advance(1)
    assert await groups.expire_members() == [follower]
    described = await groups.describe_group("g")
    assert described.state == "PreparingRebalance"
    assert [m.member_id for m in described.members] == [leader]
    with pytest.raises(RebalanceInProgress):
        await groups.heartbeat("g", 2, leader)
    result = await asyncio.wait_for(join(groups, leader), WAIT_S)
    assert result.generation == 3 and [m for m, _ in result.members] == [leader]


async def test_a_member_of_a_dead_process_expires_on_any_call_without_a_daemon(cluster: Cluster,
                                                                                clock: ManualClock) -> None:
    groups = cluster.groups
    only = await join(groups)
    await groups.sync_group("g", 1, only.member_id, {})
    clock.advance(SESSION_MS)
    described = await groups.describe_group("g")  # nobody called expire_members()
    assert described.state == "Empty" and described.members == []
    assert described.generation == 2


async def test_members_blocked_in_a_join_are_kept_alive_past_their_session(cluster: Cluster,
                                                                          clock: ManualClock) -> None:
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    rejoin = asyncio.create_task(join(groups, leader))
    await wait_for_state(groups, "PreparingRebalance")
    clock.advance(SESSION_MS + 1)  # the follower is silent, the leader is waiting in its join
    result = await asyncio.wait_for(rejoin, WAIT_S)
    assert [m for m, _ in result.members] == [leader]


async def test_leaving_rebalances_and_the_last_leave_empties_the_group(cluster: Cluster) -> None:
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    await groups.leave_group("g", leader)
    assert (await groups.describe_group("g")).state == "PreparingRebalance"
    with pytest.raises(UnknownMemberId):
        await groups.leave_group("g", leader)
    result = await asyncio.wait_for(join(groups, follower), WAIT_S)
    assert result.generation == 3 and result.leader_id == follower  # leadership passed on
    await groups.sync_group("g", 3, follower, {})
    await groups.leave_group("g", follower)
    described = await groups.describe_group("g")
    assert (described.state, described.generation, described.members) == ("Empty", 4, [])


async def test_a_follower_rejoining_with_the_same_metadata_does_not_rebalance(cluster: Cluster) -> None:
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    again = await join(groups, follower, client_id="second")
    assert (again.generation, again.leader_id, again.members) == (2, leader, [])
    assert (await groups.describe_group("g")).state == "Stable"
    changed = asyncio.create_task(join(groups, follower, protocols=[("range", subscription("orders", "x"))]))
    await wait_for_state(groups, "PreparingRebalance")
    await asyncio.wait_for(join(groups, leader), WAIT_S)
    assert (await asyncio.wait_for(changed, WAIT_S)).generation == 3


async def test_the_protocol_is_chosen_by_vote_among_those_every_member_supports(cluster: Cluster) -> None:
    groups = cluster.groups
    meta = subscription("orders")
    first = await join(groups, protocols=[("roundrobin", meta), ("range", meta), ("sticky", meta)])
    await groups.sync_group("g", 1, first.member_id, {})
    second = asyncio.create_task(join(groups, protocols=[("range", meta), ("roundrobin", meta)]))
    await wait_for_state(groups, "PreparingRebalance")
    with pytest.raises(InconsistentGroupProtocol):
        await join(groups, protocols=[("sticky", meta)])  # the second member cannot do sticky
    third = asyncio.create_task(join(groups, protocols=[("range", meta)]))
    leader = await asyncio.wait_for(join(groups, first.member_id,
                                         protocols=[("roundrobin", meta), ("range", meta), ("sticky", meta)]), WAIT_S)
    await asyncio.wait_for(asyncio.gather(second, third), WAIT_S)
    assert leader.protocol_name == "range"  # the only protocol all three support


async def test_join_validates_its_arguments(cluster: Cluster) -> None:
    groups = cluster.groups
    with pytest.raises(InvalidGroupId):
        await join(groups, group="")
    with pytest.raises(InvalidSessionTimeout, match="group.min.session.timeout.ms=6000"):
        await join(groups, session_timeout_ms=5_999)
    with pytest.raises(InconsistentGroupProtocol):
        await join(groups, protocols=[])
    with pytest.raises(UnknownMemberId):
        await join(groups, "someone-who-never-joined")


async def test_a_commit_from_a_stale_generation_is_refused(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    with pytest.raises(IllegalGeneration):
        await groups.commit_offsets("g", 1, leader, {TopicPartition("orders", 0): 5})
    with pytest.raises(UnknownMemberId):
        await groups.commit_offsets("g", 2, "not-a-member", {TopicPartition("orders", 0): 5})
    with pytest.raises(UnknownTopicOrPartition):
        await groups.commit_offsets("g", 2, leader, {TopicPartition("orders", 7): 5})
    assert await groups.fetch_offsets("g") == {}
    await groups.commit_offsets("g", 2, leader, {TopicPartition("orders", 0): 5})
    assert await groups.fetch_offsets("g") == {TopicPartition("orders", 0): 5}


async def test_commits_during_a_rebalance_follow_kafkas_rules(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)
    newcomer = asyncio.create_task(join(groups))
    await wait_for_state(groups, "PreparingRebalance")
    # Still allowed while preparing: members learn of the rebalance from their heartbeat.
    await groups.commit_offsets("g", 2, follower, {TopicPartition("orders", 1): 3})
    await asyncio.wait_for(asyncio.gather(join(groups, leader), join(groups, follower), newcomer), WAIT_S)
    assert (await groups.describe_group("g")).state == "CompletingRebalance"
    with pytest.raises(RebalanceInProgress):
        await groups.commit_offsets("g", 3, follower, {TopicPartition("orders", 1): 4})
    assert await groups.fetch_offsets("g") == {TopicPartition("orders", 1): 3}


async def test_a_standalone_consumer_may_commit_only_while_the_group_has_no_members(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    groups = cluster.groups
    await groups.commit_offsets("solo", -1, "", {TopicPartition("orders", 0): 1})
    assert [(g.group_id, g.state, g.protocol_type) for g in await groups.list_groups()] == [("solo", "Empty", "")]
    await stable_group_of_two(groups)
    with pytest.raises(UnknownMemberId):
        await groups.commit_offsets("g", -1, "", {TopicPartition("orders", 0): 1})
    with pytest.raises(IllegalGeneration):
        await groups.commit_offsets("never-created", 3, "x", {TopicPartition("orders", 0): 1})


async def test_lag_is_the_high_watermark_minus_the_committed_offset(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=3, replication_factor=1)
    async with Producer(cluster) as producer:
        for partition, count in ((0, 10), (1, 4), (2, 7)):
            for i in range(count):
                await producer.send("orders", b"v", partition=partition)
        await producer.flush()
    groups = cluster.groups
    leader, follower = await stable_group_of_two(groups)  # orders-0 to the leader, orders-1 to the follower
    await groups.commit_offsets("g", 2, leader, {TopicPartition("orders", 0): 6, TopicPartition("orders", 2): 7})
    rows = {(r.topic, r.partition): r for r in await groups.group_lag("g")}
    assert sorted(rows) == [("orders", 0), ("orders", 1), ("orders", 2)]
    assert (rows["orders", 0].committed, rows["orders", 0].log_end_offset, rows["orders", 0].lag) == (6, 10, 4)
    assert rows["orders", 0].member_id == leader and rows["orders", 0].client_id == "first"
    # Assigned but never committed: no lag to show, as kafka-consumer-groups prints "-".
    assert (rows["orders", 1].committed, rows["orders", 1].lag, rows["orders", 1].member_id) == (None, None, follower)
    # Committed but assigned to nobody.
    assert (rows["orders", 2].lag, rows["orders", 2].member_id, rows["orders", 2].host) == (0, None, None)
    with pytest.raises(GroupIdNotFound, match="Consumer group 'nope' does not exist."):
        await groups.group_lag("nope")


async def test_offsets_can_only_be_reset_while_the_group_is_inactive(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    groups = cluster.groups
    await groups.reset_offsets("fresh", {TopicPartition("orders", 1): 0})  # a group that does not exist yet
    assert await groups.fetch_offsets("fresh") == {TopicPartition("orders", 1): 0}
    leader, follower = await stable_group_of_two(groups)
    with pytest.raises(NonEmptyGroup) as refused:
        await groups.reset_offsets("g", {TopicPartition("orders", 0): 0})
    assert str(refused.value) == ("Assignments can only be reset if the group 'g' is inactive,"
                                  " but the current state is Stable.")
    await groups.leave_group("g", leader)
    await groups.leave_group("g", follower)
    await groups.reset_offsets("g", {TopicPartition("orders", 0): 2})
    assert await groups.fetch_offsets("g", [TopicPartition("orders", 0)]) == {TopicPartition("orders", 0): 2}


async def test_only_an_empty_group_can_be_deleted(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    groups = cluster.groups
    with pytest.raises(GroupIdNotFound):
        await groups.delete_group("g")
    leader, follower = await stable_group_of_two(groups)
    await groups.commit_offsets("g", 2, leader, {TopicPartition("orders", 0): 1})
    with pytest.raises(NonEmptyGroup):
        await groups.delete_group("g")
    await groups.leave_group("g", leader)
    await groups.leave_group("g", follower)
    await groups.delete_group("g")
    assert (await groups.describe_group("g")).state == "Dead"
    assert await groups.fetch_offsets("g") == {}
    assert await groups.list_groups() == []


async def test_every_step_is_published_on_the_change_feed(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=1, replication_factor=1)
    feed = await cluster.start_feed()
    events = feed.subscribe("group_state", "group_rebalanced", "offsets_committed")
    groups = cluster.groups
    result = await join(groups)
    await groups.sync_group("g", 1, result.member_id, {result.member_id: assignment(("orders", 0))})
    await groups.commit_offsets("g", 1, result.member_id, {TopicPartition("orders", 0): 3})
    seen = []
    while len(seen) < 5:
        seen.append(await asyncio.wait_for(events.get(), WAIT_S))
    assert [(e.kind, getattr(e, "state", None)) for e in seen] == [
        ("group_state", "PreparingRebalance"), ("group_state", "CompletingRebalance"),
        ("group_state", "Stable"), ("group_rebalanced", None), ("offsets_committed", None)]
    rebalanced, committed = seen[3], seen[4]
    assert (rebalanced.group, rebalanced.generation, rebalanced.protocol, rebalanced.leader) == (
        "g", 1, "range", result.member_id)
    assert rebalanced.assignment == {result.member_id: [["orders", 0]]}
    assert (committed.group, committed.offsets) == ("g", [["orders", 0, 3]])


async def test_groups_and_offsets_survive_closing_the_data_file(data_path: Path, clock: ManualClock) -> None:
    async with await Cluster.open(data_path, clock=clock) as cluster:
        await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
        leader, follower = await stable_group_of_two(cluster.groups)
        await cluster.groups.commit_offsets("g", 2, follower, {TopicPartition("orders", 1): 42})
        before = await cluster.groups.describe_group("g")
    async with await Cluster.open(data_path, clock=clock) as cluster:
        assert await cluster.groups.describe_group("g") == before
        assert await cluster.groups.fetch_offsets("g") == {TopicPartition("orders", 1): 42}
        await cluster.groups.heartbeat("g", 2, leader)  # the members carry on where they were
