"""Randomised runs of brokers stopping and starting, lagging followers and producers.

Whatever happens, Kafka's replication invariants must hold after every step:

- the leader of an online partition is in the ISR, and every ISR member is alive;
- the high watermark never exceeds any in-sync replica's log end offset, and consumers
  never see a record at or above it;
- with unclean leader election disabled the high watermark never moves back, and no
  record acknowledged with acks=all is ever lost or changed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from broker_core import Cluster, ManualClock
from broker_core import log as partition_log
from broker_core.errors import KafkaError
from broker_core.records import ProducerRecord

SAFE, UNCLEAN = "safe", "unclean"
BROKERS = 3


class ReplicationMachine(RuleBasedStateMachine):
    """A 3-broker cluster with a clean topic (2 partitions, RF 3) and an unclean one (RF 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="kplay-replication-"))
        self.clock = ManualClock()
        self.cluster: Cluster = self.run(Cluster.open(self.dir / "cluster.db", clock=self.clock,
                                                          controllers="dedicated"))
        self.run(self.cluster.topics.create_topic(SAFE, 2, 3))
        self.run(self.cluster.topics.create_topic(UNCLEAN, 1, 2, {"unclean.leader.election.enable": "true"}))
        self.acked: dict[tuple[int, int], bytes] = {}  # (partition, offset) of SAFE -> value, acks=all
        self.high_watermarks: dict[int, int] = {0: 0, 1: 0}
        self.sequence = 0
        self.delay = 0

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.cluster.close())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    async def _append_acks_all(self, topic: str, p: int, values: list[bytes]):
        # A produce waiting for acks=all completes when the followers copy, so time must
        # move: once the append has read the clock, jump by the replication delay. One
        # jump always suffices, which keeps every run reproducible.
        task = asyncio.ensure_future(
            self.cluster.logs.append(topic, p, [ProducerRecord(value=v) for v in values], "all"))
        await asyncio.sleep(0)
        self.clock.advance(self.delay)
        return await asyncio.wait_for(task, 10)

    @rule(p=st.integers(0, 1), count=st.integers(1, 3), acks=st.sampled_from([1, "all"]))
    def produce_safe(self, p: int, count: int, acks) -> None:
        values = [f"s{self.sequence + i}".encode() for i in range(count)]
        self.sequence += count
        try:
            if acks == "all":
                result = self.run(self._append_acks_all(SAFE, p, values))
                for i, value in enumerate(values):
                    self.acked[(p, result.base_offset + i)] = value
            else:
                self.run(self.cluster.logs.append(SAFE, p, [ProducerRecord(value=v) for v in values], 1))
        except KafkaError:
            pass  # offline, not enough replicas, leader moved: refused or unacknowledged

    @rule(count=st.integers(1, 3), acks=st.sampled_from([1, "all"]))
    def produce_unclean(self, count: int, acks) -> None:
        values = [f"u{self.sequence + i}".encode() for i in range(count)]
        self.sequence += count
        try:
            if acks == "all":
                self.run(self._append_acks_all(UNCLEAN, 0, values))
            else:
                self.run(self.cluster.logs.append(UNCLEAN, 0, [ProducerRecord(value=v) for v in values], 1))
        except KafkaError:
            pass

    @rule(ms=st.sampled_from([0, 500, 2_000, 31_000]))
    def time_passes(self, ms: int) -> None:
        self.clock.advance(ms)
        self.run(self.cluster.controller.fetcher.run_once())

    @rule(broker=st.integers(0, BROKERS - 1))
    def stop(self, broker: int) -> None:
        self.run(self.cluster.controller.stop_broker(broker))

    @rule(broker=st.integers(0, BROKERS - 1))
    def start(self, broker: int) -> None:
        self.run(self.cluster.controller.start_broker(broker))

    @rule(delay=st.sampled_from([0, 2_000, 40_000]))
    def set_delay(self, delay: int) -> None:
        self.run(self.cluster.controller.set_replication_delay(delay))
        self.delay = delay

    @rule()
    def preferred_election(self) -> None:
        self.run(self.cluster.controller.elect_preferred_leaders())

    @invariant()
    def replication_invariants_hold(self) -> None:
        descriptions = self.run(self.cluster.topics.describe_topics())
        alive = {b.broker_id for b in self.run(self.cluster.controller.brokers()) if b.alive}
        for description in descriptions:
            for p in description.partitions:
                isr_ends = [r.log_end_offset for r in p.replica_states if r.in_isr]
                assert p.high_watermark <= p.log_end_offset
                if p.leader >= 0:
                    assert p.leader in p.isr and set(p.isr) <= alive, p
                    assert p.high_watermark <= min(isr_ends), p
                    records = self.read_all(description.name, p.partition, p.log_start_offset)
                    assert all(offset < p.high_watermark for offset, _ in records), p
                    assert [offset for offset, _ in records] == list(range(p.log_start_offset, p.high_watermark))
                    if description.name == SAFE:
                        got = dict(records)
                        for (partition, offset), value in self.acked.items():
                            if partition == p.partition:
                                assert got.get(offset) == value, (offset, value, p)
                if description.name == SAFE:
                    assert p.high_watermark >= self.high_watermarks[p.partition], p
                    self.high_watermarks[p.partition] = p.high_watermark
                    assert all(offset < p.high_watermark for partition, offset in self.acked
                               if partition == p.partition)

    def read_all(self, topic: str, p: int, start: int) -> list[tuple[int, bytes | None]]:
        out: list[tuple[int, bytes | None]] = []
        offset = start
        while True:
            result = self.run(self.cluster.logs.read(topic, p, offset))
            if not result.records:
                return out
            out.extend((r.offset, r.value) for r in result.records)
            offset = out[-1][0] + 1


def test_replication_invariants_hold_under_random_failures(monkeypatch) -> None:
    monkeypatch.setattr(partition_log, "ACKS_POLL_S", 0.001)
    machine = settings(max_examples=60, stateful_step_count=30, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow])(ReplicationMachine)
    machine.TestCase().runTest()
