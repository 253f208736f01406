"""Brokers fail, leaders move: replication, ISR, acks and leader election through the core API."""

from __future__ import annotations

import asyncio

import pytest

from broker_core import Cluster, Consumer, ManualClock, Producer, TopicPartition
from broker_core.errors import (BrokerNotAvailable, ElectionNotNeeded, InvalidConfig, LeaderNotAvailable,
                                NotEnoughReplicas, NotEnoughReplicasAfterAppend, NotLeaderOrFollower,
                                PreferredLeaderNotAvailable, RequestTimedOut)
from broker_core.events import Event
from broker_core.records import ProducerRecord
from broker_core.replication import ReplicaFetcher
from broker_core.topics import PartitionDescription

DEADLINE_S = 10


async def partition(cluster: Cluster, topic: str, p: int = 0) -> PartitionDescription:
    return (await cluster.topics.describe_topic(topic)).partitions[p]


def leo_of(desc: PartitionDescription, broker: int) -> int:
    return next(r.log_end_offset for r in desc.replica_states if r.broker_id == broker)


async def append(cluster: Cluster, topic: str, values: list[bytes], p: int = 0, acks: int | str = "all"):
    return await cluster.logs.append(topic, p, [ProducerRecord(value=v) for v in values], acks)


async def readable(cluster: Cluster, topic: str, p: int = 0) -> list[tuple[int, bytes | None]]:
    """Every record a consumer can read now, from the log start up to the high watermark."""
    desc = await partition(cluster, topic, p)
    offset, out = desc.log_start_offset, []
    while True:
        result = await cluster.logs.read(topic, p, offset)
        if not result.records:
            return out
        out.extend((r.offset, r.value) for r in result.records)
        offset = out[-1][0] + 1


async def next_event(subscription, kind: str, **fields) -> Event:
    """The next event of ``kind`` whose fields match, waiting at most DEADLINE_S."""
    async def wait() -> Event:
        while True:
            event = await subscription.get()
            if event.kind == kind and all(getattr(event, k) == v for k, v in fields.items()):
                return event
    return await asyncio.wait_for(wait(), DEADLINE_S)


async def until_done(task: asyncio.Task, clock: ManualClock, step_ms: int) -> object:
    """Advance the clock in steps until ``task`` (a produce waiting for acks) finishes."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not task.done():
        await asyncio.wait([task], timeout=0.05)
        if not task.done():
            assert asyncio.get_running_loop().time() < deadline, "the produce never completed"
            clock.advance(step_ms)
    return task.result()


async def test_leader_moves_to_an_isr_follower_and_no_acks_all_record_is_lost(cluster):
    await cluster.topics.create_topic("orders", 1, 3, {"min.insync.replicas": 2})
    before = await partition(cluster, "orders")
    async with Producer(cluster, acks="all") as producer:
        futures = [await producer.send("orders", f"v{i}".encode(), partition=0) for i in range(20)]
        await producer.flush()
        acked = [await f for f in futures]
        consumer = Consumer(cluster, auto_offset_reset="earliest")
        consumer.assign([TopicPartition("orders", 0)])
        assert len(await consumer.poll(timeout_ms=1000)) == 20

        change = await cluster.controller.stop_broker(before.leader)

        after = await partition(cluster, "orders")
        survivors = [b for b in before.replicas if b != before.leader]
        assert after.leader == survivors[0]  # first live in-sync replica in replica order
        assert after.leader_epoch == before.leader_epoch + 1
        assert set(after.isr) == set(survivors)
        assert [str(e) for e in change.elections] == [
            f"partition orders-0: leader {before.leader} -> {after.leader}, epoch 1, ISR "
            f"[{','.join(map(str, after.isr))}]"]
        assert await readable(cluster, "orders") == [(m.offset, f"v{i}".encode()) for i, m in enumerate(acked)]
        # The same producer and consumer carry on against the new leader.
        meta = await producer.send_and_wait("orders", b"after", partition=0)
        assert meta.offset == 20
        assert [r.value for r in await consumer.poll(timeout_ms=1000)] == [b"after"]


async def test_a_live_but_out_of_sync_replica_never_leads_without_unclean_election(cluster, clock):
    await cluster.controller.set_replication_delay(60_000)
    await cluster.topics.create_topic("strict", 1, 2)
    leader, follower = (await partition(cluster, "strict")).replicas
    await cluster.controller.stop_broker(follower)
    await append(cluster, "strict", [b"acked"])  # the ISR is the leader alone: acked at once
    await cluster.controller.start_broker(follower)  # back, but may copy nothing for a minute
    desc = await partition(cluster, "strict")
    assert desc.isr == (leader,) and leo_of(desc, follower) == 0

    await cluster.controller.stop_broker(leader)

    assert (await partition(cluster, "strict")).leader == -1  # offline rather than lose "acked"
    await cluster.controller.start_broker(leader)
    assert [v for _, v in await readable(cluster, "strict")] == [b"acked"]


async def test_every_replica_down_makes_the_partition_offline_until_its_last_isr_member_returns(dedicated_cluster):
    cluster = dedicated_cluster
    await cluster.topics.create_topic("t", 1, 2)
    desc = await partition(cluster, "t")
    leader, follower = desc.replicas
    await append(cluster, "t", [b"a", b"b", b"c"])
    await cluster.controller.stop_broker(follower)
    assert (await partition(cluster, "t")).isr == (leader,)
    await cluster.controller.stop_broker(leader)

    offline = await partition(cluster, "t")
    assert offline.leader == -1
    assert offline.isr == (leader,)  # Kafka keeps the last in-sync replica, the one to wait for
    with pytest.raises(LeaderNotAvailable):
        await append(cluster, "t", [b"d"], acks=1)
    with pytest.raises(LeaderNotAvailable):
        await cluster.logs.read("t", 0, 0)
    async with Producer(cluster, acks=1) as producer:
        future = await producer.send("t", b"d", partition=0)
        await producer.flush()
        with pytest.raises(LeaderNotAvailable):
            await future

    # The out-of-sync replica may not lead (unclean.leader.election.enable is false).
    await cluster.controller.start_broker(follower)
    assert (await partition(cluster, "t")).leader == -1

    change = await cluster.controller.start_broker(leader)
    back = await partition(cluster, "t")
    assert back.leader == leader and back.leader_epoch == offline.leader_epoch + 1
    assert set(back.isr) == {leader, follower}  # the follower caught up at once and rejoined
    assert [v for _, v in await readable(cluster, "t")] == [b"a", b"b", b"c"]
    assert change.elections[0].previous == -1 and change.elections[0].leader == leader


async def test_unclean_election_truncates_exactly_the_unreplicated_records_and_reuses_their_offsets(cluster):
    await cluster.topics.create_topic("u", 1, 2, {"unclean.leader.election.enable": "true"})
    leader, follower = (await partition(cluster, "u")).replicas
    feed = await cluster.start_feed()
    events = feed.subscribe("log_truncated", "leader_elected")
    await append(cluster, "u", [b"r0", b"r1", b"r2", b"r3", b"r4"])
    await cluster.controller.stop_broker(follower)
    await append(cluster, "u", [b"x5", b"x6", b"x7"], acks=1)  # only the leader has these
    await cluster.controller.stop_broker(leader)

    change = await cluster.controller.start_broker(follower)

    desc = await partition(cluster, "u")
    assert desc.leader == follower and desc.isr == (follower,)
    assert desc.log_end_offset == 5 and desc.high_watermark == 5
    assert (change.elections[0].truncated_to, change.elections[0].removed) == (5, 3)
    truncated = await next_event(events, "log_truncated", broker=-1)
    assert (truncated.end_offset, truncated.removed) == (5, 3)
    elected = await next_event(events, "leader_elected", leader=follower)
    assert "unclean" in elected.reason
    assert await readable(cluster, "u") == [(i, f"r{i}".encode()) for i in range(5)]

    result = await append(cluster, "u", [b"n5", b"n6"])
    assert (result.base_offset, result.last_offset) == (5, 6)
    assert (await readable(cluster, "u"))[5:] == [(5, b"n5"), (6, b"n6")]

    # The old leader comes back: it drops its diverged records and catches up.
    await cluster.controller.start_broker(leader)
    replica_truncated = await next_event(events, "log_truncated", broker=leader)
    assert (replica_truncated.end_offset, replica_truncated.removed) == (5, 3)
    desc = await partition(cluster, "u")
    assert desc.leader == follower and set(desc.isr) == {leader, follower}
    assert leo_of(desc, leader) == 7


async def test_acks_all_below_min_insync_replicas_fails_and_appends_nothing(cluster):
    await cluster.topics.create_topic("safe", 1, 3, {"min.insync.replicas": 2})
    desc = await partition(cluster, "safe")
    await append(cluster, "safe", [b"ok"])
    for follower in desc.replicas[1:]:
        await cluster.controller.stop_broker(follower)

    with pytest.raises(NotEnoughReplicas, match="insufficient to satisfy the min.isr requirement of 2"):
        await append(cluster, "safe", [b"refused"])
    assert (await partition(cluster, "safe")).log_end_offset == 1
    assert (await append(cluster, "safe", [b"acks=1 still works"], acks=1)).base_offset == 1

    await cluster.controller.start_broker(desc.replicas[1])
    assert (await append(cluster, "safe", [b"accepted again"])).base_offset == 2


async def test_isr_shrinks_when_a_follower_lags_too_long_and_expands_when_it_catches_up(cluster, clock):
    await cluster.controller.set_replication_delay(60_000)  # longer than replica.lag.time.max.ms
    await cluster.topics.create_topic("lag", 1, 2)
    leader, follower = (await partition(cluster, "lag")).replicas
    feed = await cluster.start_feed()
    isr_events = feed.subscribe("isr_changed")
    await append(cluster, "lag", [b"slow"], acks=1)
    desc = await partition(cluster, "lag")
    assert (desc.high_watermark, leo_of(desc, follower), desc.isr) == (0, 0, (leader, follower))

    clock.advance(30_000)
    await cluster.controller.fetcher.run_once()
    assert (await partition(cluster, "lag")).isr == (leader, follower)  # not more than 30 s yet

    clock.advance(1)
    await cluster.controller.fetcher.run_once()
    shrunk = await partition(cluster, "lag")
    assert shrunk.isr == (leader,)
    assert shrunk.high_watermark == 1  # the ISR is the leader alone now
    event = await next_event(isr_events, "isr_changed", isr=[leader])
    assert "replica.lag.time.max.ms=30000" in event.reason

    clock.advance(29_999)  # 60 s after the append: the follower copies it
    await cluster.controller.fetcher.run_once()
    expanded = await partition(cluster, "lag")
    assert expanded.isr == (leader, follower) and leo_of(expanded, follower) == 1
    await next_event(isr_events, "isr_changed", isr=[leader, follower])


async def test_a_follower_within_the_lag_limit_stays_in_sync_and_holds_the_high_watermark(cluster, clock):
    await cluster.controller.set_replication_delay(1_000)
    await cluster.topics.create_topic("hw", 1, 3)
    await append(cluster, "hw", [b"one", b"two"], acks=1)
    assert await readable(cluster, "hw") == []  # nobody but the leader has them yet
    clock.advance(999)
    await cluster.controller.fetcher.run_once()
    assert (await partition(cluster, "hw")).high_watermark == 0
    clock.advance(1)
    await cluster.controller.fetcher.run_once()
    desc = await partition(cluster, "hw")
    assert desc.high_watermark == 2 and len(desc.isr) == 3
    assert [v for _, v in await readable(cluster, "hw")] == [b"one", b"two"]


async def test_acks_1_loses_records_a_lagging_follower_never_had(cluster, clock):
    await cluster.controller.set_replication_delay(5_000)
    await cluster.topics.create_topic("fast", 1, 3)
    leader = (await partition(cluster, "fast")).leader
    await append(cluster, "fast", [b"kept0", b"kept1"], acks=1)
    clock.advance(5_000)
    await cluster.controller.fetcher.run_once()
    acked = await append(cluster, "fast", [b"lost2", b"lost3", b"lost4"], acks=1)
    assert (acked.base_offset, acked.last_offset) == (2, 4)  # acknowledged by the leader

    change = await cluster.controller.stop_broker(leader)  # before any follower copied them

    assert (change.elections[0].truncated_to, change.elections[0].removed) == (2, 3)
    desc = await partition(cluster, "fast")
    assert desc.leader != leader and desc.log_end_offset == 2
    assert [v for _, v in await readable(cluster, "fast")] == [b"kept0", b"kept1"]


async def test_acks_all_with_min_insync_replicas_2_waits_for_followers_and_loses_nothing(cluster, clock):
    await cluster.controller.set_replication_delay(5_000)
    await cluster.topics.create_topic("durable", 1, 3, {"min.insync.replicas": 2})
    leader = (await partition(cluster, "durable")).leader
    task = asyncio.ensure_future(append(cluster, "durable", [b"d0", b"d1", b"d2"], acks="all"))
    for _ in range(3):
        await cluster.controller.fetcher.run_once()
    assert not task.done()  # waiting for the followers, as Kafka's produce purgatory does

    result = await until_done(task, clock, 5_000)
    assert result.high_watermark == 3

    await cluster.controller.stop_broker(leader)
    assert [v for _, v in await readable(cluster, "durable")] == [b"d0", b"d1", b"d2"]


async def test_acks_all_fails_with_not_leader_when_the_leader_dies_before_the_followers_copy(cluster, clock):
    await cluster.controller.set_replication_delay(5_000)
    await cluster.topics.create_topic("moving", 1, 2)
    leader = (await partition(cluster, "moving")).leader
    task = asyncio.ensure_future(append(cluster, "moving", [b"unacked"], acks="all"))
    await cluster.controller.fetcher.run_once()
    assert not task.done()
    await cluster.controller.stop_broker(leader)
    with pytest.raises(NotLeaderOrFollower):
        await asyncio.wait_for(task, DEADLINE_S)
    assert await readable(cluster, "moving") == []


async def test_acks_all_reports_too_few_replicas_after_append_when_the_isr_shrinks_meanwhile(cluster, clock):
    await cluster.controller.set_replica_lag_time_max(20_000)  # shorter than request.timeout.ms
    await cluster.controller.set_replication_delay(60_000)
    await cluster.topics.create_topic("shrinking", 1, 2, {"min.insync.replicas": 2})
    task = asyncio.ensure_future(append(cluster, "shrinking", [b"written"], acks="all"))
    with pytest.raises(NotEnoughReplicasAfterAppend):
        await until_done(task, clock, 10_000)
    # Kafka's meaning of the error: written, but to fewer in-sync replicas than required.
    assert (await partition(cluster, "shrinking")).log_end_offset == 1


async def test_acks_all_times_out_after_request_timeout_when_followers_never_catch_up(cluster, clock):
    await cluster.controller.set_replica_lag_time_max(120_000)
    await cluster.controller.set_replication_delay(100_000)
    await cluster.topics.create_topic("stuck", 1, 2)
    task = asyncio.ensure_future(append(cluster, "stuck", [b"late"], acks="all"))
    with pytest.raises(RequestTimedOut):
        await until_done(task, clock, 10_000)


async def test_lowering_the_replication_delay_lets_followers_catch_up_at_once(cluster, clock):
    await cluster.controller.set_replication_delay(60_000)
    await cluster.topics.create_topic("knob", 1, 3)
    await append(cluster, "knob", [b"a"], acks=1)
    assert (await partition(cluster, "knob")).high_watermark == 0
    await cluster.controller.set_replication_delay(0)
    assert (await cluster.controller.replication_settings()).replication_delay_ms == 0
    desc = await partition(cluster, "knob")
    assert desc.high_watermark == 1 and all(r.log_end_offset == 1 for r in desc.replica_states)
    with pytest.raises(InvalidConfig):
        await cluster.controller.set_replication_delay(-1)


async def test_the_active_controller_is_elected_by_a_majority_of_voters_and_is_none_without_one(cluster):
    feed = await cluster.start_feed()
    events = feed.subscribe("controller_changed")

    def controller(brokers) -> list[int]:
        return [b.broker_id for b in brokers if b.is_controller]

    assert controller(await cluster.controller.brokers()) == [0]
    assert all(b.is_voter for b in await cluster.controller.brokers())  # combined broker+controller nodes
    change = await cluster.controller.stop_broker(0)
    assert (change.previous_controller, change.controller) == (0, 1)
    assert controller(await cluster.controller.brokers()) == [1]
    event = await next_event(events, "controller_changed", controller=1)
    assert (event.previous, event.epoch) == (0, 2)

    # 1 of 3 voters left: no majority, no active controller.
    change = await cluster.controller.stop_broker(2)
    assert change.controller == -1 and "No active controller: 1 of 3" in change.lines()[-1]
    assert controller(await cluster.controller.brokers()) == []
    await next_event(events, "controller_changed", controller=-1)
    await cluster.controller.start_broker(2)  # 2 of 3 again: a majority elects a controller
    assert controller(await cluster.controller.brokers()) == [1]
    assert (await next_event(events, "controller_changed", controller=1)).epoch == 3


async def test_stopping_or_starting_an_unknown_broker_names_the_problem(cluster):
    with pytest.raises(BrokerNotAvailable, match="Broker 7 does not exist .*0, 1, 2"):
        await cluster.controller.stop_broker(7)
    with pytest.raises(BrokerNotAvailable):
        await cluster.controller.start_broker(-1)
    again = await cluster.controller.start_broker(0)
    assert not again.changed and again.lines() == ["Broker 0 is already running."]


async def test_preferred_leader_election_moves_leadership_back_to_the_first_replica(cluster):
    await cluster.topics.create_topic("pref", 3, 3)
    preferred = {p.partition: p.replicas[0] for p in (await cluster.topics.describe_topic("pref")).partitions}
    moved = next(p for p, b in preferred.items() if b == 0)
    tp = TopicPartition("pref", moved)
    await cluster.controller.stop_broker(0)
    assert (await partition(cluster, "pref", moved)).leader != 0
    with pytest.raises(PreferredLeaderNotAvailable):
        raise (await cluster.controller.elect_preferred_leaders([tp]))[tp]  # type: ignore[misc]

    await cluster.controller.start_broker(0)
    assert (await partition(cluster, "pref", moved)).leader != 0  # no automatic rebalance
    counts = {b.broker_id: b.leader_count for b in await cluster.controller.brokers()}
    assert counts[0] == 0

    assert await cluster.controller.elect_preferred_leaders() == {tp: None}
    desc = await partition(cluster, "pref", moved)
    assert desc.leader == 0 and desc.leader_epoch == 2
    assert isinstance((await cluster.controller.elect_preferred_leaders([tp]))[tp], ElectionNotNeeded)
    assert await cluster.controller.elect_preferred_leaders() == {}  # nothing needed: left out


async def test_unclean_election_on_request_gives_an_offline_partition_a_leader(cluster):
    await cluster.topics.create_topic("rescue", 1, 2)
    leader, follower = (await partition(cluster, "rescue")).replicas
    await append(cluster, "rescue", [b"a"])
    await cluster.controller.stop_broker(follower)
    await append(cluster, "rescue", [b"only on the leader"])
    await cluster.controller.stop_broker(leader)
    await cluster.controller.start_broker(follower)
    tp = TopicPartition("rescue", 0)
    assert (await partition(cluster, "rescue")).leader == -1

    assert await cluster.controller.elect_leaders("unclean", [tp]) == {tp: None}
    desc = await partition(cluster, "rescue")
    assert desc.leader == follower and desc.log_end_offset == 1
    assert isinstance((await cluster.controller.elect_leaders("unclean", [tp]))[tp], ElectionNotNeeded)


async def test_every_election_is_narrated_on_the_change_feed(dedicated_cluster):
    cluster = dedicated_cluster
    await cluster.topics.create_topic("told", 1, 3)
    desc = await partition(cluster, "told")
    feed = await cluster.start_feed()
    events = feed.subscribe("leader_elected", "broker_state", "isr_changed")
    await cluster.controller.stop_broker(desc.replicas[1])
    assert (await next_event(events, "broker_state", broker=desc.replicas[1])).alive is False
    shrink = await next_event(events, "isr_changed")
    assert shrink.isr == [desc.replicas[0], desc.replicas[2]] and "stopped" in shrink.reason
    await cluster.controller.stop_broker(desc.leader)
    elected = await next_event(events, "leader_elected")
    assert (elected.previous, elected.leader, elected.leader_epoch) == (desc.leader, desc.replicas[2], 1)
    assert elected.isr == [desc.replicas[2]] and "leader broker" in elected.reason


async def test_a_stopped_leader_keeps_the_log_end_it_had_and_catches_up_when_it_starts(cluster):
    # Appends do not write the leader's replica row (its log end is the partition's): a leader
    # that stops must still be shown, and elected from, with the log end it really had.
    await cluster.topics.create_topic("t", 1, 3)
    await append(cluster, "t", [b"a"] * 5)
    old_leader = (await partition(cluster, "t")).leader
    assert {r.log_end_offset for r in (await partition(cluster, "t")).replica_states} == {5}

    await cluster.controller.stop_broker(old_leader)
    await append(cluster, "t", [b"b"] * 2)
    desc = await partition(cluster, "t")
    assert desc.leader != old_leader
    assert leo_of(desc, old_leader) == 5 and leo_of(desc, desc.leader) == 7 and desc.high_watermark == 7

    await cluster.controller.start_broker(old_leader)
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while leo_of(desc := await partition(cluster, "t"), old_leader) != 7 or old_leader not in desc.isr:
        assert asyncio.get_running_loop().time() < deadline, f"broker {old_leader} never caught up: {desc}"
        await ReplicaFetcher(cluster.storage, cluster.clock).run_once()
        await asyncio.sleep(0.01)
