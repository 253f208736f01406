"""A broker fails under real clients: leadership moves and no acknowledged record is lost.

A real producer (acks=all) and a real consumer in a group run against ``kplay serve``;
half-way through, the broker leading partition 0 is stopped, as ``kplay brokers --stop``
or the TUI would. Its listener closes and its connections drop; the clients get refused
connections or NOT_LEADER_OR_FOLLOWER, refresh their metadata and carry on with the new
leaders (and, if it was the coordinator, the new coordinator). Every record the producer
saw acknowledged is in the log at the offset it was given, and the consumer reads it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from test_serve_support import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, ServedCluster, wait_for, wait_for_partitions

RECORDS = 400


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedCluster]:
    """A served cluster of its own: these tests stop brokers."""
    cluster = ServedCluster(tmp_path / "cluster.db").start()
    try:
        yield cluster
    finally:
        cluster.stop()


class Traffic:
    """What the producer had acknowledged and what the consumer read, shared with the test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[bytes, tuple[int, int]] = {}
        self.failed: list[Any] = []
        self.consumed: set[bytes] = set()
        self.producing_done = threading.Event()
        self.stop_consuming = threading.Event()
        self.errors: list[BaseException] = []
        self._allowance = 0
        self._allowed = threading.Condition()

    def allow(self, count: int) -> None:
        """Let the producer send up to ``count`` records in all."""
        with self._allowed:
            self._allowance = count
            self._allowed.notify_all()

    def wait_allowed(self, count: int) -> None:
        """Block the producer until it may send ``count`` records in all."""
        with self._allowed:
            if not self._allowed.wait_for(lambda: self._allowance >= count, timeout=60):
                raise TimeoutError("the test never allowed more records")

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def consumed_all_acked(self) -> bool:
        with self.lock:
            return set(self.acked) <= self.consumed


def kafka_python_producer(served: ServedCluster, topic: str, traffic: Traffic) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=served.bootstrap, acks="all", retries=2**31 - 1,
                             request_timeout_ms=5_000, delivery_timeout_ms=60_000, retry_backoff_ms=50,
                             reconnect_backoff_ms=50, metadata_max_age_ms=2_000)
    try:
        for start in range(0, RECORDS, 20):
            traffic.wait_allowed(start + 20)
            futures = [(f"r{i}".encode(), producer.send(topic, key=f"r{i}".encode(), value=f"value {i}".encode()))
                       for i in range(start, start + 20)]
            producer.flush(timeout=60)
            for key, future in futures:
                try:
                    metadata = future.get(timeout=60)
                except Exception as error:  # a record that failed is not acknowledged: it may be absent
                    traffic.failed.append(error)
                    continue
                with traffic.lock:
                    traffic.acked[key] = (metadata.partition, metadata.offset)
    finally:
        producer.close(timeout=10)


def confluent_producer(served: ServedCluster, topic: str, traffic: Traffic) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": served.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5, "message.timeout.ms": 60_000, "retry.backoff.ms": 50,
                         "reconnect.backoff.ms": 50, "topic.metadata.refresh.interval.ms": 2_000})

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            traffic.failed.append(error)
            return
        with traffic.lock:
            traffic.acked[message.key()] = (message.partition(), message.offset())

    for i in range(RECORDS):
        traffic.wait_allowed(i + 1)
        producer.produce(topic, key=f"r{i}".encode(), value=f"value {i}".encode(), on_delivery=delivered)
        if i % 20 == 19:
            producer.flush(60)
    assert producer.flush(60) == 0


def kafka_python_consumer(served: ServedCluster, topic: str, traffic: Traffic) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=served.bootstrap, group_id=f"{topic}-readers",
                             auto_offset_reset="earliest", enable_auto_commit=True, auto_commit_interval_ms=200,
                             session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
                             fetch_max_wait_ms=100, metadata_max_age_ms=2_000, retry_backoff_ms=50,
                             reconnect_backoff_ms=50, request_timeout_ms=10_000)
    wait_for_partitions(consumer, topic)
    try:
        while not traffic.stop_consuming.is_set():
            for messages in consumer.poll(timeout_ms=100).values():
                with traffic.lock:
                    traffic.consumed.update(m.key for m in messages)
    finally:
        consumer.close()


def confluent_consumer(served: ServedCluster, topic: str, traffic: Traffic) -> None:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": served.bootstrap, "group.id": f"{topic}-readers",
                         "auto.offset.reset": "earliest", "session.timeout.ms": SESSION_TIMEOUT_MS,
                         "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS, "fetch.wait.max.ms": 100,
                         "topic.metadata.refresh.interval.ms": 2_000, "reconnect.backoff.ms": 50})
    consumer.subscribe([topic])
    try:
        while not traffic.stop_consuming.is_set():
            for message in consumer.consume(num_messages=500, timeout=0.1):
                if message.error() is None:
                    with traffic.lock:
                        traffic.consumed.add(message.key())
    finally:
        consumer.close()


CLIENTS: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {
    "kafka-python": (kafka_python_producer, kafka_python_consumer),
    "confluent-kafka": (confluent_producer, confluent_consumer),
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_leader_failover_under_a_running_producer_and_consumer_loses_nothing(served: ServedCluster,
                                                                            client: str) -> None:
    topic = "failover"
    served.create_topic(topic, partitions=3, replication_factor=3, min_insync_replicas=2)
    produce, consume = CLIENTS[client]
    traffic = Traffic()

    def run(target: Callable[..., None], done: threading.Event | None) -> threading.Thread:
        def body() -> None:
            try:
                target(served, topic, traffic)
            except BaseException as error:  # reported by the test thread
                traffic.errors.append(error)
            finally:
                if done is not None:
                    done.set()
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread

    consumer = run(consume, None)
    producer = run(produce, traffic.producing_done)
    try:
        traffic.allow(RECORDS // 4)
        wait_for(lambda: traffic.acked_count() >= RECORDS // 4 or traffic.errors, "the first acknowledged records")
        # The next records are on their way (or about to be) when the leader's broker stops.
        traffic.allow(RECORDS // 2)
        victim = served.leader(topic, 0)
        served.call(served.core.controller.stop_broker(victim))
        assert served.leader(topic, 0) != victim
        traffic.allow(RECORDS)
        wait_for(lambda: traffic.producing_done.is_set(), "the producer to finish", timeout=90)
        assert not traffic.errors, traffic.errors
        wait_for(traffic.consumed_all_acked, "the consumer to read every acknowledged record", timeout=60)
        served.call(served.core.controller.start_broker(victim))
    finally:
        traffic.stop_consuming.set()
        producer.join(timeout=30)
        consumer.join(timeout=30)
    assert not traffic.errors, traffic.errors
    assert not traffic.failed, traffic.failed[:3]
    assert len(traffic.acked) == RECORDS
    # Each acknowledged record is in the log, once, at the offset its acknowledgement named.
    logs = {p: {r.offset: r.key for r in served.log(topic, p)} for p in range(3)}
    for key, (partition, offset) in traffic.acked.items():
        assert logs[partition].get(offset) == key, (key, partition, offset)
    stored_keys = [key for log in logs.values() for key in log.values()]
    assert sorted(stored_keys) == sorted(traffic.acked)
