"""How fast real clients produce and consume through ``kplay serve``, next to the in-process API.

``kplay serve-perf-test`` runs, in one go and on one fresh data file: broker_core's own
``Producer`` and ``Consumer`` in this process (what the TUI and the CLI tools use), then
each real client library against a ``kplay serve --kafka-only`` started in its own
process, as a learner's program would reach it. Each run produces ``num_records``
records of ``record_size`` bytes to a topic of its own and reads them all back from
the beginning (a standalone consumer, no group), so the figures differ only by the path
the records take.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from broker_core import Cluster

MB = 1024 * 1024
#: Every client library the benchmark knows, with the Python package it needs.
CLIENTS = {"kafka-python": "kafka", "confluent-kafka": "confluent_kafka"}
#: How long a consumer may see nothing before the run counts as stalled.
STALL_S = 30.0


@dataclass(frozen=True)
class Leg:
    """One measured direction: records and bytes moved, in how many seconds."""

    records: int
    bytes: int
    seconds: float

    @property
    def records_per_sec(self) -> float:
        """Records per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_sec(self) -> float:
        """MB (2**20 bytes) per second, as Kafka's perf tools count."""
        return self.bytes / MB / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ClientResult:
    """A client's produce and consume legs (None when it could not run, with why)."""

    client: str
    produce: Leg | None
    consume: Leg | None
    note: str = ""


@dataclass(frozen=True)
class BenchmarkSettings:
    """What one serve-perf-test run does."""

    num_records: int
    record_size: int
    partitions: int
    acks: str


def value_of(size: int) -> bytes:
    """A record value of ``size`` bytes (upper-case letters, as Kafka's perf tool makes)."""
    return bytes(65 + (i * 7) % 26 for i in range(size))


# -- the in-process API --------------------------------------------------------------------

async def in_process(path: Path, settings: BenchmarkSettings) -> ClientResult:
    """broker_core's Producer and Consumer, as ``producer-perf-test`` and ``consumer-perf-test`` use them."""
    from app.commands.perf import ProducerPerfSettings, ProgressTick, consume_with_core, produce_with_core

    cluster = await Cluster.open(path)
    try:
        await cluster.topics.create_topic("perf-in-process", settings.partitions, 1)
        produced = await produce_with_core(cluster, ProducerPerfSettings(
            "perf-in-process", settings.num_records, settings.record_size, None, -1, settings.acks),
            ProgressTick(None, None))
        consumed = await consume_with_core(cluster, "perf-in-process", settings.num_records, int(STALL_S * 1000),
                                           500, ProgressTick(None, None))
    finally:
        await cluster.close()
    return ClientResult("in-process API", Leg(produced.records, produced.bytes, produced.elapsed_s),
                        Leg(consumed.records, consumed.bytes, consumed.elapsed_s))


# -- the server, in its own process ------------------------------------------------------

@contextlib.contextmanager
def served(path: Path) -> Iterator[str]:
    """``kplay serve --kafka-only`` on free loopback ports; yields ``bootstrap.servers``."""
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve", "--kafka-only", "--port", "0",
               "--data", str(path)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        bootstrap = None
        for line in process.stdout:
            if line.startswith("bootstrap.servers="):
                bootstrap = line.strip().split("=", 1)[1]
                break
        if bootstrap is None:
            raise RuntimeError(f"kplay serve did not start: {process.stderr.read() if process.stderr else ''}")
        yield bootstrap
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def create_topic(path: Path, name: str, partitions: int) -> None:
    """Create a topic in the data file the server serves (another process may create topics too)."""
    cluster = await Cluster.open(path)
    try:
        await cluster.topics.create_topic(name, partitions, 1)
    finally:
        await cluster.close()


# -- the real clients ----------------------------------------------------------------------

def kafka_python(bootstrap: str, topic: str, settings: BenchmarkSettings) -> ClientResult:
    """kafka-python's KafkaProducer (batch.size 16384, linger.ms 5) and KafkaConsumer."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    value = value_of(settings.record_size)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=settings.acks if settings.acks == "all" else
                             int(settings.acks), linger_ms=5)
    failed = 0
    try:
        start = time.perf_counter()
        futures = [producer.send(topic, value) for _ in range(settings.num_records)]
        producer.flush()
        elapsed = time.perf_counter() - start
        failed = sum(1 for future in futures if future.failed())
    finally:
        producer.close()
    produced = Leg(settings.num_records - failed, (settings.num_records - failed) * len(value), elapsed)

    start = time.perf_counter()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.partitions)])
        consumer.seek_to_beginning()
        count = size = 0
        last = time.perf_counter()
        while count < produced.records and time.perf_counter() - last < STALL_S:
            for messages in consumer.poll(timeout_ms=200, max_records=10_000).values():
                count += len(messages)
                size += sum(len(m.value) for m in messages)
                last = time.perf_counter()
        consumed = Leg(count, size, time.perf_counter() - start)
    finally:
        consumer.close()
    return ClientResult("kafka-python", produced, consumed, f"{failed} failed" if failed else "")


def confluent_kafka(bootstrap: str, topic: str, settings: BenchmarkSettings) -> ClientResult:
    """confluent-kafka (librdkafka) with its default batching, and a standalone Consumer."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    value = value_of(settings.record_size)
    delivered = failed = 0

    def report(error: object, message: object) -> None:
        nonlocal delivered, failed
        if error is None:
            delivered += 1
        else:
            failed += 1

    producer = Producer({"bootstrap.servers": bootstrap, "acks": settings.acks, "linger.ms": 5})
    start = time.perf_counter()
    for _ in range(settings.num_records):
        while True:
            try:
                producer.produce(topic, value, on_delivery=report)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
        producer.poll(0)
    producer.flush()
    produced = Leg(delivered, delivered * len(value), time.perf_counter() - start)

    start = time.perf_counter()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "serve-perf-test", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(settings.partitions)])
        count = size = 0
        last = time.perf_counter()
        while count < produced.records and time.perf_counter() - last < STALL_S:
            for message in consumer.consume(num_messages=10_000, timeout=0.2):
                if message.error() is None:
                    count += 1
                    size += len(message.value())
                    last = time.perf_counter()
        consumed = Leg(count, size, time.perf_counter() - start)
    finally:
        consumer.close()
    return ClientResult("confluent-kafka", produced, consumed, f"{failed} failed" if failed else "")


RUNNERS: dict[str, Callable[[str, str, BenchmarkSettings], ClientResult]] = {
    "kafka-python": kafka_python,
    "confluent-kafka": confluent_kafka,
}


def run_benchmark(path: Path, settings: BenchmarkSettings, clients: list[str]) -> list[ClientResult]:
    """The in-process API, then each client through ``kplay serve``, on one new data file at ``path``."""
    results = [asyncio.run(in_process(path, settings))]
    runnable = [c for c in clients if importlib.util.find_spec(CLIENTS[c]) is not None]
    with served(path) as bootstrap:
        for client in clients:
            if client not in runnable:
                results.append(ClientResult(client, None, None, f"not installed (pip install {client})"))
                continue
            topic = f"perf-{client}"
            asyncio.run(create_topic(path, topic, settings.partitions))
            results.append(RUNNERS[client](bootstrap, topic, settings))
    return results
