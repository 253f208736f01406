"""KIP-848 with a real client: librdkafka (confluent-kafka) with ``group.protocol=consumer`` against kplay serve.

The broker sets the group timers here (``group.consumer.session.timeout.ms`` 6 s, heartbeats
every 200 ms) so that a fenced member is seen within seconds. Each consumer polls in a
thread of its own, keeping every record it got; the tests wait on what the consumers and
the coordinator report, with deadlines, never on sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from app.serve.broker_settings import BrokerSettings
from test_serve_support import ServedCluster, wait_for

SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 200
PARTITIONS = 6
TOPIC = "kip848-orders"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedCluster]:
    cluster = ServedCluster(tmp_path / "cluster.db", settings=BrokerSettings(
        group_consumer_session_timeout_ms=SESSION_TIMEOUT_MS,
        group_consumer_heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS)).start()
    try:
        cluster.create_topic(TOPIC, PARTITIONS)
        yield cluster
    finally:
        cluster.stop()


def config(served: ServedCluster, group: str) -> dict[str, Any]:
    return {"bootstrap.servers": served.bootstrap, "group.id": group, "group.protocol": "consumer",
            "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100}


class PollingConsumer:
    """A KIP-848 consumer polling in its own thread: what it got, and its assignment."""

    def __init__(self, served: ServedCluster, group: str) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer(config(served, group))
        self.consumer.subscribe([TOPIC])
        self.records: list[tuple[int, int, bytes]] = []
        self.errors: list[str] = []
        self._assignment: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self.consumer.poll(0.1)
            assignment = {tp.partition for tp in self.consumer.assignment()}
            with self._lock:
                self._assignment = assignment
                if message is not None:
                    if message.error() is None:
                        self.records.append((message.partition(), message.offset(), message.value()))
                    else:
                        self.errors.append(message.error().str())

    @property
    def assignment(self) -> set[int]:
        with self._lock:
            return set(self._assignment)

    def got(self) -> list[tuple[int, int, bytes]]:
        with self._lock:
            return list(self.records)

    def close(self) -> None:
        """Stop polling and leave the group (librdkafka commits what it consumed, then leaves)."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.consumer.close()


def produce(served: ServedCluster, first: int, count: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": served.bootstrap})
    for i in range(first, first + count):
        producer.produce(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert producer.flush(20) == 0


def split_evenly(consumers: list[PollingConsumer], partitions: int = PARTITIONS) -> bool:
    owned = [c.assignment for c in consumers]
    share = partitions // len(consumers)
    return all(len(o) == share for o in owned) and set().union(*owned) == set(range(partitions))


def assert_exactly_once(consumers: list[PollingConsumer], total: int) -> None:
    """Every value seen once, and each partition's offsets dense from 0 (no duplicates, no gaps)."""
    got = [r for c in consumers for r in c.got()]
    values = Counter(value for _, _, value in got)
    assert [v for v, n in values.items() if n > 1] == []
    assert len(values) == total
    for partition in range(PARTITIONS):
        offsets = sorted(offset for p, offset, _ in got if p == partition)
        assert offsets == list(range(len(offsets))), f"partition {partition}: {offsets[:10]}..."


def test_three_consumers_share_six_partitions_with_no_duplicates_and_no_gaps(served: ServedCluster) -> None:
    consumers = [PollingConsumer(served, "shared") for _ in range(3)]
    try:
        wait_for(lambda: split_evenly(consumers), "two partitions for each of the three consumers")
        produce(served, 0, 600)
        wait_for(lambda: sum(len(c.got()) for c in consumers) >= 600, "every record consumed")
        assert_exactly_once(consumers, 600)
        described = served.call(served.core.groups.describe_group("shared"))
        assert (described.group_type, described.state, described.protocol) == ("consumer", "Stable", "uniform")
        assert {m.member_epoch for m in described.members} == {described.assignment_epoch}
        assert all(c.errors == [] for c in consumers)
        # librdkafka's admin client reads the group through ConsumerGroupDescribe and ListGroups.
        from confluent_kafka import ConsumerGroupState, ConsumerGroupType
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": served.bootstrap})
        group = admin.describe_consumer_groups(["shared"], request_timeout=10)["shared"].result(timeout=15)
        assert (group.type, group.state, group.partition_assignor) == (
            ConsumerGroupType.CONSUMER, ConsumerGroupState.STABLE, "uniform")
        assert sorted(len(m.assignment.topic_partitions) for m in group.members) == [2, 2, 2]
        assert all(sorted(tp.partition for tp in m.assignment.topic_partitions)
                   == sorted(tp.partition for tp in m.target_assignment.topic_partitions) for m in group.members)
        listed = admin.list_consumer_groups(request_timeout=10).result(timeout=15).valid
        assert [(g.group_id, g.type) for g in listed] == [("shared", ConsumerGroupType.CONSUMER)]
    finally:
        for consumer in consumers:
            consumer.close()


def test_a_member_leaving_hands_its_partitions_to_the_others(served: ServedCluster) -> None:
    consumers = [PollingConsumer(served, "leaving") for _ in range(3)]
    try:
        wait_for(lambda: split_evenly(consumers), "two partitions each")
        produce(served, 0, 300)
        wait_for(lambda: sum(len(c.got()) for c in consumers) >= 300, "the first records consumed")
        leaver = consumers.pop()
        handed = leaver.assignment
        leaver.close()
        wait_for(lambda: split_evenly(consumers), "three partitions for each remaining consumer")
        assert handed <= consumers[0].assignment | consumers[1].assignment
        produce(served, 300, 300)
        wait_for(lambda: sum(len(c.got()) for c in consumers + [leaver]) >= 600, "every record consumed")
        assert_exactly_once(consumers + [leaver], 600)
        described = served.call(served.core.groups.describe_group("leaving"))
        assert len(described.members) == 2
    finally:
        for consumer in consumers:
            consumer.close()


CHILD = """
import sys
from confluent_kafka import Consumer
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "group.protocol": "consumer",
                     "auto.offset.reset": "earliest"})
consumer.subscribe([sys.argv[3]])
reported = None
while True:
    consumer.poll(0.1)
    owned = sorted(tp.partition for tp in consumer.assignment())
    if owned != reported:
        print(",".join(map(str, owned)), flush=True)
        reported = owned
"""


def test_a_killed_member_is_fenced_after_the_session_timeout_and_its_partitions_move(served: ServedCluster) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, served.bootstrap, "killed", TOPIC],
                             stdout=subprocess.DEVNULL)
    survivor = PollingConsumer(served, "killed")
    try:
        wait_for(lambda: len(survivor.assignment) == PARTITIONS // 2, "the survivor owning half of the partitions")
        members = served.call(served.core.groups.describe_group("killed")).members
        assert len(members) == 2
        os.kill(child.pid, signal.SIGKILL)  # no leave: only the session timeout can free its partitions
        child.wait(10)
        killed_at = time.monotonic()
        wait_for(lambda: survivor.assignment == set(range(PARTITIONS)), "the survivor owning every partition",
                 timeout=SESSION_TIMEOUT_MS / 1000 + 15)
        # Fenced by the session timeout, not before (a heartbeat was due every 200 ms).
        assert time.monotonic() - killed_at > SESSION_TIMEOUT_MS / 1000 - 1
        (left,) = served.call(served.core.groups.describe_group("killed")).members
        assert left.member_id in {m.member_id for m in members}
        assert len(left.assignment) == PARTITIONS
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        survivor.close()


def test_offsets_committed_by_a_consumer_protocol_member_are_resumed(served: ServedCluster) -> None:
    produce(served, 0, 120)
    first = PollingConsumer(served, "resume")
    try:
        wait_for(lambda: len(first.got()) >= 120, "the first consumer reading everything")
    finally:
        first.close()  # commits (auto-commit on close) and leaves
    committed = served.call(served.core.groups.fetch_offsets("resume"))
    assert sum(committed.values()) == 120
    produce(served, 120, 30)
    second = PollingConsumer(served, "resume")
    try:
        wait_for(lambda: len(second.got()) >= 30, "the second consumer reading the new records")
        assert sorted(v for _, _, v in second.got()) == sorted(f"v{i}".encode() for i in range(120, 150))
    finally:
        second.close()


def test_a_regex_subscription_is_resolved_by_the_broker_and_follows_new_topics(served: ServedCluster) -> None:
    from confluent_kafka import Consumer

    served.create_topic("orders-eu", 2)
    served.create_topic("payments", 1)
    consumer = Consumer({**config(served, "regex"), "topic.metadata.refresh.interval.ms": 1_000})
    try:
        consumer.subscribe(["^orders-.*"])  # librdkafka sends it as SubscribedTopicRegex (v1)

        def owned() -> list[tuple[str, int]]:
            consumer.poll(0.1)
            return sorted((tp.topic, tp.partition) for tp in consumer.assignment())

        wait_for(lambda: owned() == [("orders-eu", 0), ("orders-eu", 1)], "the orders-* partitions")
        served.create_topic("orders-us", 1)  # the broker matches it at the next heartbeat
        wait_for(lambda: owned() == [("orders-eu", 0), ("orders-eu", 1), ("orders-us", 0)], "the new topic's partition")
        (member,) = served.call(served.core.groups.describe_group("regex")).members
        assert "orders-.*" in (member.subscribed_topic_regex or "")
    finally:
        consumer.close()
