"""How fast real clients produce and consume through ``kplay serve``, next to the in-process API.

``kplay serve-perf-test`` runs, in one go and on one fresh data file: broker_core's own
``Producer`` and ``Consumer`` in this process (what the TUI and the CLI tools use), then
each real client library against a ``kplay serve --kafka-only`` started in its own
process, as a learner's program would reach it. Each run produces ``num_records``
records of ``record_size`` bytes to a topic of its own and reads them all back from
the beginning (a standalone consumer, no group), so the figures differ only by the path
the records take.

With ``compare`` (serve-perf-test's default) the same confluent-kafka run, and kcat producing lines, go
to Tansu as well: an independent Kafka-compatible broker in Rust, in memory
(``app.serve.tansu_broker``), started after ``kplay serve`` has stopped so the two never
share the machine. Issue 17's target is kplay at least half Tansu's rate.

Consume figures come two ways. ``consume`` runs from creating the consumer to the last
record, so it includes connecting, metadata, the offset lookup and the first fetch.
``consume_steady`` (confluent-kafka only) is the rate once fetching runs: the clock starts
when the first records arrive and stops at the last, counting the records after that first
batch. The comparison reads the records back ``CONSUME_ROUNDS`` times on each broker (a
fresh consumer each time) and takes the median.

The consumer sets ``fetch.queue.backoff.ms`` to 10 ms: with librdkafka's default (1 s), a
broker that fills its local queue past ``queued.min.messages`` (Tansu does, with 5 MB
fetches) makes it stop fetching for a whole second while the queue drains in a tenth of
that, which measured the client's back-off, not the broker (seen as 0.8-1 s pauses in
about half of the runs on Tansu).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import shutil
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
#: Lines kcat sends to each broker in the comparison (issue 17's measurement).
KCAT_LINES = 100_000
KCAT_MISSING = "kcat is not installed (Debian: apt-get install kcat)"
#: Consumers reading the records back in the comparison, on each broker; the median counts.
CONSUME_ROUNDS = 3
#: Issue 17's target: kplay serve at least this fraction of Tansu's rate, producing and consuming.
TARGET_RATIO = 0.5


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
    #: Consuming from the first records fetched on, without them (None when not measured).
    consume_steady: Leg | None = None


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

class ServerDidNotStart(RuntimeError):
    """``kplay serve`` exited or closed its output before printing its bootstrap servers."""


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
            raise ServerDidNotStart(f"kplay serve did not start: {process.stderr.read() if process.stderr else ''}")
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
    from confluent_kafka import Producer

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

    consumed, steady = confluent_consume(bootstrap, topic, settings.partitions, produced.records)
    return ClientResult("confluent-kafka", produced, consumed, f"{failed} failed" if failed else "", steady)


def confluent_consume(bootstrap: str, topic: str, partitions: int, expected: int) -> tuple[Leg, Leg | None]:
    """A standalone confluent-kafka Consumer reading ``topic`` from the beginning: (whole run, steady state).

    The steady state is None when the first batch brought every record: too few for one.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    start = time.perf_counter()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "serve-perf-test", "enable.auto.commit": False,
                         "fetch.queue.backoff.ms": 10})
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        count = size = 0
        first: tuple[float, int, int] | None = None  # when the first batch had arrived, its records and bytes
        last = time.perf_counter()
        while count < expected and time.perf_counter() - last < STALL_S:
            for message in consumer.consume(num_messages=10_000, timeout=0.2):
                if message.error() is None:
                    count += 1
                    size += len(message.value() or b"")
                    last = time.perf_counter()
            if first is None and count:
                first = (time.perf_counter(), count, size)
    finally:
        consumer.close()
    steady = (Leg(count - first[1], size - first[2], last - first[0])
              if first is not None and count > first[1] else None)
    return Leg(count, size, last - start), steady


def kcat_produce(bootstrap: str, topic: str, lines: int, record_size: int) -> ClientResult:
    """``kcat -P`` sending ``lines`` lines of ``record_size`` bytes from stdin (its defaults: acks=all, linger.ms 5).

    The time runs from starting kcat to its exit, so it includes its start-up and metadata.
    kcat exits non-zero when any message failed delivery.
    """
    binary = shutil.which("kcat")
    if binary is None:
        return ClientResult("kcat", None, None, KCAT_MISSING)
    data = (value_of(record_size) + b"\n") * lines
    start = time.perf_counter()
    try:
        answer = subprocess.run([binary, "-P", "-b", bootstrap, "-t", topic, "-p", "0"], input=data,
                                capture_output=True, timeout=STALL_S * 4)
    except subprocess.TimeoutExpired:
        return ClientResult("kcat", None, None, f"kcat did not finish within {STALL_S * 4:g} s")
    elapsed = time.perf_counter() - start
    if answer.returncode != 0:
        errors = [line for line in answer.stderr.decode(errors="replace").splitlines() if "ERROR" in line]
        # The first error says why (the last one is librdkafka's generic "all brokers are down").
        reason = (errors or answer.stderr.decode(errors="replace").splitlines()[-1:] or ["no message"])[0]
        return ClientResult("kcat", None, None, f"kcat failed (status {answer.returncode}): {reason.strip()[:240]}")
    return ClientResult("kcat", Leg(lines, lines * record_size, elapsed), None)


RUNNERS: dict[str, Callable[[str, str, BenchmarkSettings], ClientResult]] = {
    "kafka-python": kafka_python,
    "confluent-kafka": confluent_kafka,
}


@dataclass(frozen=True)
class BrokerComparison:
    """kplay serve next to Tansu in one run; a side that could not run has a note instead of figures.

    ``kplay_rounds`` and ``native_rounds`` are the steady-state consume legs of every round
    (the first is the one in ``kplay`` / ``native``), each a fresh consumer from the beginning.
    """

    tansu: str
    kplay: ClientResult
    native: ClientResult
    kplay_rounds: list[Leg | None]
    native_rounds: list[Leg | None]
    kcat_lines: int
    kcat_kplay: ClientResult
    kcat_native: ClientResult


def create_native_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create a topic on a broker through Kafka's CreateTopics (confluent-kafka's AdminClient)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    # log_level 3: errors only, not librdkafka's notice about purging its queue as the client goes.
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=STALL_S)


def more_rounds(bootstrap: str, topic: str, settings: BenchmarkSettings, first: ClientResult,
                rounds: int) -> list[Leg | None]:
    """The steady-state consume legs of ``first`` and of ``rounds - 1`` more consumers of the same records."""
    if first.produce is None:
        return [None]
    return [first.consume_steady] + [confluent_consume(bootstrap, topic, settings.partitions, first.produce.records)[1]
                                     for _ in range(rounds - 1)]


def against_tansu(settings: BenchmarkSettings, kcat_lines: int,
                  rounds: int) -> tuple[str, ClientResult, list[Leg | None], ClientResult]:
    """(Tansu's version, confluent-kafka's result, its consume rounds, kcat's result) on a Tansu run here."""
    from confluent_kafka import KafkaException

    from .tansu_broker import TansuUnavailable, tansu, tansu_binary, tansu_version

    try:
        version = f"{tansu_version(tansu_binary())} (Rust, in memory)"
        with tansu() as bootstrap:
            create_native_topic(bootstrap, "perf-confluent-kafka", settings.partitions)
            native = confluent_kafka(bootstrap, "perf-confluent-kafka", settings)
            native_rounds = more_rounds(bootstrap, "perf-confluent-kafka", settings, native, rounds)
            if shutil.which("kcat") is None:
                kcat = ClientResult("kcat", None, None, KCAT_MISSING)
            else:
                create_native_topic(bootstrap, "perf-kcat", 1)
                kcat = kcat_produce(bootstrap, "perf-kcat", kcat_lines, settings.record_size)
    except (TansuUnavailable, KafkaException) as why:  # Tansu would not start, or refused the topic
        unavailable = str(why)
        return ("Tansu", ClientResult("confluent-kafka", None, None, unavailable), [None],
                ClientResult("kcat", None, None, unavailable))
    return version, native, native_rounds, kcat


def run_benchmark(path: Path, settings: BenchmarkSettings, clients: list[str], *, compare: bool = False,
                  kcat_lines: int = KCAT_LINES,
                  rounds: int = CONSUME_ROUNDS) -> tuple[list[ClientResult], BrokerComparison | None]:
    """The in-process API, then each client through ``kplay serve``, on one new data file at ``path``.

    With ``compare`` (which needs confluent-kafka among ``clients``), confluent-kafka consumes
    its records ``rounds`` times and kcat sends ``kcat_lines`` lines to ``kplay serve`` too,
    then ``kplay serve`` stops and the same runs go to Tansu.
    """
    results = [asyncio.run(in_process(path, settings))]
    runnable = [c for c in clients if importlib.util.find_spec(CLIENTS[c]) is not None]
    kcat_kplay = ClientResult("kcat", None, None, KCAT_MISSING)
    with served(path) as bootstrap:
        for client in clients:
            if client not in runnable:
                results.append(ClientResult(client, None, None, f"not installed (pip install {client})"))
                continue
            topic = f"perf-{client}"
            asyncio.run(create_topic(path, topic, settings.partitions))
            results.append(RUNNERS[client](bootstrap, topic, settings))
        kplay = next((r for r in results if r.client == "confluent-kafka" and r.produce is not None), None)
        if not compare or kplay is None:
            return results, None
        kplay_rounds = more_rounds(bootstrap, "perf-confluent-kafka", settings, kplay, rounds)
        if shutil.which("kcat") is not None:
            asyncio.run(create_topic(path, "perf-kcat", 1))
            kcat_kplay = kcat_produce(bootstrap, "perf-kcat", kcat_lines, settings.record_size)
    version, native, native_rounds, kcat_native = against_tansu(settings, kcat_lines, rounds)
    return results, BrokerComparison(version, kplay, native, kplay_rounds, native_rounds, kcat_lines, kcat_kplay,
                                     kcat_native)
