"""auto.leader.rebalance.enable (default true): every leader.imbalance.check.interval.seconds
(300 s) the active controller moves leadership back to preferred replicas that are running and
in sync, as KRaft's QuorumController.maybeBalancePartitionLeaders does. Time is the cluster's
clock, fast-forwarded here."""

from __future__ import annotations

from broker_core.controller import AutoLeaderRebalancer


async def leaders(cluster, topic: str) -> list[int]:
    return [p.leader for p in (await cluster.topics.describe_topic(topic)).partitions]


async def test_leadership_returns_to_preferred_replicas_after_the_check_interval(cluster, clock):
    await cluster.topics.create_topic("t", 3, 3)
    preferred = await leaders(cluster, "t")
    assert preferred == [p.replicas[0] for p in (await cluster.topics.describe_topic("t")).partitions]
    rebalancer = cluster.leader_rebalancer
    assert rebalancer.enabled and rebalancer.check_interval_ms == 300_000
    await cluster.controller.stop_broker(0)
    await cluster.controller.start_broker(0)  # back in the ISR, but not leading
    moved = await leaders(cluster, "t")
    assert moved != preferred and 0 not in moved

    clock.advance(299_000)
    assert await rebalancer.tick() == {}
    assert await leaders(cluster, "t") == moved
    clock.advance(1_000)
    elected = await rebalancer.tick()
    assert len(elected) == 1
    assert await leaders(cluster, "t") == preferred
    assert await rebalancer.tick() == {}  # the next check is 300 s later


async def test_disabled_or_without_an_active_controller_nothing_moves(cluster, clock):
    await cluster.topics.create_topic("t", 3, 3)
    await cluster.controller.stop_broker(0)
    await cluster.controller.start_broker(0)
    moved = await leaders(cluster, "t")
    disabled = AutoLeaderRebalancer(cluster.controller, clock, enabled=False)
    clock.advance(300_000)
    assert await disabled.tick() == {}
    assert await leaders(cluster, "t") == moved
    await cluster.controller.stop_broker(1)
    await cluster.controller.stop_broker(2)  # no majority of voters: no active controller
    frozen = await leaders(cluster, "t")
    assert frozen != [p.replicas[0] for p in (await cluster.topics.describe_topic("t")).partitions]
    assert await cluster.leader_rebalancer.tick() == {}
    assert await leaders(cluster, "t") == frozen
