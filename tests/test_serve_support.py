"""Support for the ``kplay serve`` tests: a served cluster and the real clients that talk to it.

``ServedCluster`` runs ``KafkaServer`` on a private event loop in a background thread,
on loopback and free ports, so that blocking clients (kafka-python, confluent-kafka, kcat
in a subprocess) can run in the test's own thread. ``call`` runs a coroutine on the
server's loop, for what a test does to the cluster itself (stop a broker, read a log).

Each client library sits behind the same small interface (``ClientKit``): produce a
list of records and get their partitions and offsets back; open a consumer that polls,
reports its assignment and commits. Client timeouts are lowered so that the suite is
quick: the libraries' defaults are several seconds each.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import struct
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator, Sequence, TypeVar

import pytest

from broker_core import Cluster
from app.serve import KafkaServer

T = TypeVar("T")
HOST = "127.0.0.1"
#: Group timeouts every consumer here uses: the broker's minimum session timeout, and
#: heartbeats often enough that a rebalance is noticed within a fraction of a second.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 200


@dataclass(frozen=True)
class Sent:
    """A record to produce."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Got:
    """A record as a client consumed it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0, step: Callable[[], Any] | None = None) -> Any:
    """Call ``step`` (if any) and ``condition`` until the condition is truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {result!r})")
        if step is None:
            time.sleep(0.02)


class ServedCluster:
    """A data file served by ``KafkaServer`` from a background thread; ``bootstrap`` to connect."""

    def __init__(self, data_path: Path, **server_options: Any) -> None:
        self.data_path = data_path
        self._options = server_options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kplay-serve-test", daemon=True)
        self.cluster: Cluster | None = None
        self.server: KafkaServer | None = None

    def start(self) -> "ServedCluster":
        """Open the data file and the listeners (each broker on a free port)."""
        self._thread.start()

        async def open_() -> None:
            self.cluster = await Cluster.open(self.data_path)
            self.server = KafkaServer(self.cluster, host=HOST, port=0, **self._options)
            await self.server.start()

        self.call(open_())
        return self

    def stop(self) -> None:
        """Close the listeners and the data file, and end the thread."""
        async def close() -> None:
            if self.server is not None:
                await self.server.close()
            if self.cluster is not None:
                await self.cluster.close()

        try:
            self.call(close(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the server's loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    @property
    def core(self) -> Cluster:
        """The served cluster (use only through ``call``)."""
        assert self.cluster is not None
        return self.cluster

    @property
    def bootstrap(self) -> str:
        """``bootstrap.servers`` for every running broker."""
        assert self.server is not None
        return ",".join(f"{host}:{port}" for host, port in self.server.advertised_endpoints().values())

    def endpoint(self, broker_id: int) -> tuple[str, int]:
        """Where broker ``broker_id`` listens (it must be running)."""
        assert self.server is not None
        return self.server.advertised_endpoints()[broker_id]

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1, **config: Any) -> None:
        """Create a topic through the core."""
        self.call(self.core.topics.create_topic(name, partitions, replication_factor,
                                                {k.replace("_", "."): v for k, v in config.items()}))

    def log(self, topic: str, partition: int) -> list[Any]:
        """Every readable record of one partition, read through the core."""
        return self.call(self.core.logs.read(topic, partition, 0, max_records=1_000_000)).records

    def leader(self, topic: str, partition: int) -> int:
        """The partition's leader, as the core knows it."""
        return self.call(self.core.topics.describe_topic(topic)).partitions[partition].leader


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    """``kplay serve`` on free ports, one for the whole module: every test uses its own topics
    and groups. A module gets it by importing it (``from test_serve_support import served``)."""
    cluster = ServedCluster(Path(tmp_path_factory.mktemp("serve")) / "cluster.db").start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def served_one_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    """``kplay serve`` of a one-broker cluster, one for the whole module: every partition's leader
    answers on the same connection. A module gets it by importing it."""
    path = Path(tmp_path_factory.mktemp("serve-one-broker")) / "cluster.db"

    async def create() -> None:
        await (await Cluster.open(path, brokers=1)).close()

    asyncio.run(create())
    cluster = ServedCluster(path).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def quiet_feed(cluster: ServedCluster) -> Iterator[None]:
    """The server's change feed looks for other processes' commits only once a minute: what keeps
    answers fresh is then the server's own commit check, not an event that happened to come first."""
    feed: Any = cluster.core.feed
    interval = feed._interval

    def set_interval(value: float) -> None:
        feed._interval = value
        feed.wake()  # end the tick under way; the next one waits the new interval

    cluster._loop.call_soon_threadsafe(set_interval, 60.0)
    try:
        yield
    finally:
        cluster._loop.call_soon_threadsafe(set_interval, interval)


def raw_connection(served: ServedCluster, broker_id: int = 0) -> socket.socket:
    """A plain TCP connection to one broker, for hand-made bytes."""
    sock = socket.create_connection(served.endpoint(broker_id), timeout=10)
    return sock


def read_frame(sock: socket.socket) -> bytes | None:
    """One response frame (without its size), or None if the server closed the connection."""
    size = _read_exactly(sock, 4)
    if size is None:
        return None
    body = _read_exactly(sock, int.from_bytes(size, "big"))
    return body


def exchange(served: ServedCluster, frame_body: bytes, broker_id: int = 0) -> bytes:
    """Send one request (without its size) and return the response frame (without its size)."""
    sock = raw_connection(served, broker_id)
    try:
        sock.sendall(struct.pack(">i", len(frame_body)) + frame_body)
        frame = read_frame(sock)
    finally:
        sock.close()
    assert frame is not None, "the server closed the connection"
    return frame


def _read_exactly(sock: socket.socket, count: int) -> bytes | None:
    chunks = []
    while count:
        try:
            chunk = sock.recv(count)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


# -- the client libraries -------------------------------------------------------------------

class ConsumerHandle:
    """A consumer of one library: poll, assignment, commit, committed, close."""

    def poll(self, timeout_s: float = 0.2) -> list[Got]:
        raise NotImplementedError

    def assignment(self) -> set[tuple[str, int]]:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def committed(self, topic: str, partition: int) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


@dataclass
class ClientKit:
    """One client library: how it produces and how it opens consumers."""

    name: str
    bootstrap: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def produce(self, topic: str, records: Sequence[Sent], *, compression: str | None = None,
                acks: str = "all") -> list[tuple[int, int]]:
        """Produce ``records`` in order; (partition, offset) of each once acknowledged."""
        raise NotImplementedError

    def consumer(self, topic: str, group: str | None = None) -> ConsumerHandle:
        """A consumer from the beginning: of every partition without a group, or subscribed in ``group``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the kit holds."""


# kafka-python ---------------------------------------------------------------------------------

class KafkaPythonKit(ClientKit):
    """kafka-python (idempotent producer by default)."""

    def produce(self, topic: str, records: Sequence[Sent], *, compression: str | None = None,
                acks: str = "all") -> list[tuple[int, int]]:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks=acks if acks == "all" else int(acks),
                                 compression_type=compression, max_block_ms=15_000, request_timeout_ms=15_000)
        try:
            futures = [producer.send(topic, key=r.key, value=r.value, headers=list(r.headers)) for r in records]
            producer.flush(timeout=15)
            # flush() does not raise for a failed send: get() does.
            metadata = [future.get(timeout=15) for future in futures]
        finally:
            producer.close(timeout=5)
        return [(m.partition, m.offset) for m in metadata]

    def consumer(self, topic: str, group: str | None = None) -> ConsumerHandle:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(topic, bootstrap_servers=self.bootstrap, group_id=group,
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
                                 fetch_max_wait_ms=100, metadata_max_age_ms=5_000, retry_backoff_ms=50,
                                 request_timeout_ms=20_000)
        wait_for_partitions(consumer, topic)
        return _KafkaPythonConsumer(consumer)


def wait_for_partitions(consumer: Any, topic: str) -> None:
    """Let a kafka-python consumer learn the topic's partitions before its first poll.

    kafka-python 3.0.12 loses a rebalance that a metadata change starts (the first join
    happened before the topic's partitions were known) when ``poll()`` times out during
    it: the member stays in the group with no partitions and never fetches. Knowing the
    partitions at the first join avoids that second rebalance.
    """
    wait_for(lambda: consumer.partitions_for_topic(topic), f"kafka-python to know the partitions of {topic}")


class _KafkaPythonConsumer(ConsumerHandle):
    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    def poll(self, timeout_s: float = 0.2) -> list[Got]:
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000))
        return [Got(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()))
                for messages in batches.values() for m in messages]

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def commit(self) -> None:
        self._consumer.commit()

    def committed(self, topic: str, partition: int) -> int | None:
        from kafka import TopicPartition

        return self._consumer.committed(TopicPartition(topic, partition))

    def close(self) -> None:
        self._consumer.close()


# confluent-kafka (librdkafka) ------------------------------------------------------------------

class ConfluentKit(ClientKit):
    """confluent-kafka, the Python binding of librdkafka."""

    def produce(self, topic: str, records: Sequence[Sent], *, compression: str | None = None,
                acks: str = "all") -> list[tuple[int, int]]:
        from confluent_kafka import Producer

        config = {"bootstrap.servers": self.bootstrap, "acks": acks, "linger.ms": 5,
                  "compression.type": compression or "none", "message.timeout.ms": 15_000}
        producer = Producer(config)
        results: list[Any] = [None] * len(records)

        def report(index: int) -> Callable[[Any, Any], None]:
            def delivered(error: Any, message: Any) -> None:
                results[index] = error if error is not None else (message.partition(), message.offset())
            return delivered

        for index, r in enumerate(records):
            producer.produce(topic, key=r.key, value=r.value, headers=list(r.headers) or None,
                             on_delivery=report(index))
            producer.poll(0)
        assert producer.flush(20) == 0, "confluent-kafka did not deliver every record"
        failures = [r for r in results if not isinstance(r, tuple)]
        assert not failures, failures
        return results

    def consumer(self, topic: str, group: str | None = None) -> ConsumerHandle:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        config = {"bootstrap.servers": self.bootstrap, "group.id": group or "kplay-test-standalone",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
                  "fetch.wait.max.ms": 100, "topic.metadata.refresh.interval.ms": 5_000}
        consumer = Consumer(config)
        if group is None:
            partitions = consumer.list_topics(topic, timeout=15).topics[topic].partitions
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        else:
            consumer.subscribe([topic])
        return _ConfluentConsumer(consumer)


class _ConfluentConsumer(ConsumerHandle):
    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    def poll(self, timeout_s: float = 0.2) -> list[Got]:
        messages = self._consumer.consume(num_messages=1000, timeout=timeout_s)
        got = []
        for m in messages:
            if m.error() is not None:
                continue  # partition EOF and the like are events, not records
            got.append(Got(m.topic(), m.partition(), m.offset(), m.key(), m.value(), tuple(m.headers() or ())))
        return got

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def commit(self) -> None:
        self._consumer.commit(asynchronous=False)

    def committed(self, topic: str, partition: int) -> int | None:
        from confluent_kafka import TopicPartition

        offset = self._consumer.committed([TopicPartition(topic, partition)], timeout=15)[0].offset
        return offset if offset >= 0 else None

    def close(self) -> None:
        self._consumer.close()


# aiokafka ----------------------------------------------------------------------------------------

class AiokafkaKit(ClientKit):
    """aiokafka, on an event loop of its own in a background thread (its consumers run concurrently)."""

    def __init__(self, name: str, bootstrap: str = "") -> None:
        super().__init__(name, bootstrap)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aiokafka-test", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def produce(self, topic: str, records: Sequence[Sent], *, compression: str | None = None,
                acks: str = "all") -> list[tuple[int, int]]:
        from aiokafka import AIOKafkaProducer

        async def send_all() -> list[tuple[int, int]]:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks=acks if acks == "all" else int(acks),
                                        compression_type=compression, request_timeout_ms=15_000)
            await producer.start()
            try:
                futures = [await producer.send(topic, key=r.key, value=r.value, headers=list(r.headers) or None)
                           for r in records]
                metadata = [await future for future in futures]
            finally:
                await producer.stop()
            return [(m.partition, m.offset) for m in metadata]

        return self.run(send_all())

    def consumer(self, topic: str, group: str | None = None) -> ConsumerHandle:
        from aiokafka import AIOKafkaConsumer

        async def open_() -> Any:
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.bootstrap, group_id=group,
                                        auto_offset_reset="earliest", enable_auto_commit=False,
                                        session_timeout_ms=SESSION_TIMEOUT_MS,
                                        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS, fetch_max_wait_ms=100,
                                        metadata_max_age_ms=5_000, retry_backoff_ms=50)
            await consumer.start()
            return consumer

        return _AiokafkaConsumer(self, self.run(open_()))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


class _AiokafkaConsumer(ConsumerHandle):
    def __init__(self, kit: AiokafkaKit, consumer: Any) -> None:
        self._kit = kit
        self._consumer = consumer

    def poll(self, timeout_s: float = 0.2) -> list[Got]:
        batches = self._kit.run(self._consumer.getmany(timeout_ms=int(timeout_s * 1000)))
        return [Got(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()))
                for messages in batches.values() for m in messages]

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def commit(self) -> None:
        self._kit.run(self._consumer.commit())

    def committed(self, topic: str, partition: int) -> int | None:
        from aiokafka import TopicPartition

        return self._kit.run(self._consumer.committed(TopicPartition(topic, partition)))

    def close(self) -> None:
        self._kit.run(self._consumer.stop())


KITS: dict[str, Callable[[str], ClientKit]] = {
    "kafka-python": lambda bootstrap: KafkaPythonKit("kafka-python", bootstrap),
    "aiokafka": lambda bootstrap: AiokafkaKit("aiokafka", bootstrap),
    "confluent-kafka": lambda bootstrap: ConfluentKit("confluent-kafka", bootstrap),
}


def kcat_path() -> str | None:
    """The kcat executable, if installed."""
    return shutil.which("kcat")
