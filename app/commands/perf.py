"""Benchmarks as ``kplay`` tools, modelled on Kafka's ``kafka-producer-perf-test`` and
``kafka-consumer-perf-test``, plus ``feed-perf-test`` for the change feed.

    kplay producer-perf-test --topic perf --num-records 100000 --record-size 100 --batch-size 1000 --compare-raw
    kplay producer-perf-test --topic perf --num-records 100000 --record-size 100 --direct-append --compare-raw
    kplay consumer-perf-test --topic perf --messages 100000 --compare-raw --repeat 5
    kplay feed-perf-test --commits 300 --idle-seconds 10

Results print in the shape of Kafka's tools (records/sec, MB/sec, latency avg, max and the
50th/95th/99th/99.9th percentiles). Latencies are shown with two decimals rather than
Kafka's whole milliseconds because most of them are below one millisecond here.
``--compare-raw`` measures, in the same run, plain ``sqlite3`` doing the same inserts or
selects on the same table shape (WITHOUT ROWID, WAL, synchronous=NORMAL, the same rows
per transaction), so the cost of the broker core shows as one ratio on one machine;
``--repeat N`` alternates the two N times and reports medians (this machine is noisy).
``--direct-append`` times the broker's log append alone, without the Producer client.
A progress bar is drawn on stderr when stderr is a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Iterator, Optional, Sequence

import typer

from broker_core import Cluster, Consumer, Producer, ProducerRecord, TopicPartition
from broker_core.errors import UnknownTopicOrPartition
from broker_core.events import RecordsAppended
from broker_core.log import EARLIEST, parse_acks
from broker_core.records import BATCH_OVERHEAD, record_size
from broker_core.record_batch import RecordBatch, load_compiled_builder
from broker_core.records import encode_headers
from broker_core.schema_migration import V1_RECORDS_TABLE

from .invocation import BootstrapServerOption, DataOption, UsageProblem, data_path, one_line_errors
from .properties import parse_properties

#: Kafka's tools print a progress line every reporting interval (5 s by default).
REPORTING_INTERVAL_S = 5.0
#: Without --batch-size, the latency of every this-many-th record is measured.
LATENCY_SAMPLE = 16
#: The percentiles Kafka's ProducerPerformance reports.
PERCENTILES = (0.5, 0.95, 0.99, 0.999)
MB = 1024 * 1024
#: The raw baselines store the same records one row each, in the per-record table kplay used
#: before it stored batches (schema version 1): what the batch layout has to beat.
RECORDS_DDL = V1_RECORDS_TABLE
RAW_SELECT = ("SELECT offset, timestamp, key, value, headers FROM records WHERE topic_id=? AND partition=?"
              " AND offset>=? ORDER BY offset LIMIT ?")


# -- measurements -------------------------------------------------------------------------

def percentiles(latencies_ms: Sequence[float], points: Sequence[float] = PERCENTILES) -> list[float]:
    """Kafka's percentiles: the value at index ``int(p * n)`` of the sorted latencies."""
    ordered = sorted(latencies_ms)
    if not ordered:
        return [0.0 for _ in points]
    return [ordered[min(len(ordered) - 1, int(p * len(ordered)))] for p in points]


def latency_summary(latencies_ms: Sequence[float]) -> str:
    """``avg, max, 50th, 95th, 99th, 99.9th`` in the words ProducerPerformance uses."""
    avg = sum(latencies_ms) / len(latencies_ms) if latencies_ms else 0.0
    worst = max(latencies_ms, default=0.0)
    p50, p95, p99, p999 = percentiles(latencies_ms)
    return (f"{avg:.2f} ms avg latency, {worst:.2f} ms max latency, {p50:.2f} ms 50th, "
            f"{p95:.2f} ms 95th, {p99:.2f} ms 99th, {p999:.2f} ms 99.9th.")


@dataclass
class Run:
    """One measured run: how many records and bytes moved in how long, and each record's latency."""

    label: str
    records: int = 0
    bytes: int = 0
    elapsed_s: float = 0.0
    transactions: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failed: int = 0
    first_error: str = ""

    @property
    def records_per_sec(self) -> float:
        """Throughput in records per second."""
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mb_per_sec(self) -> float:
        """Throughput in MB (2**20 bytes) per second, as Kafka counts it."""
        return self.bytes / MB / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def producer_line(self) -> str:
        """ProducerPerformance's total line."""
        return (f"{self.records} records sent, {self.records_per_sec:f} records/sec "
                f"({self.mb_per_sec:.2f} MB/sec), {latency_summary(self.latencies_ms)}")


class WindowReporter:
    """Prints ProducerPerformance's progress line every reporting interval."""

    def __init__(self, record_bytes: int) -> None:
        self._record_bytes = record_bytes
        self._start = time.perf_counter()
        self._count = 0
        self._total_ms = 0.0
        self._max_ms = 0.0
        self._stdout_gone = False

    def record(self, latencies_ms: Sequence[float]) -> None:
        """Count acknowledged records; print a window line when the interval has passed."""
        self._count += len(latencies_ms)
        self._total_ms += sum(latencies_ms)
        self._max_ms = max(self._max_ms, max(latencies_ms, default=0.0))
        now = time.perf_counter()
        if now - self._start >= REPORTING_INTERVAL_S and self._count and not self._stdout_gone:
            elapsed = now - self._start
            try:
                print(f"{self._count} records sent, {self._count / elapsed:.1f} records/sec "
                      f"({self._count * self._record_bytes / MB / elapsed:.2f} MB/sec), "
                      f"{self._total_ms / self._count:.1f} ms avg latency, "
                      f"{self._max_ms:.1f} ms max latency.", flush=True)
            except BrokenPipeError:
                # Whoever read our output went away (``| head -1``): finish the run quietly.
                self._stdout_gone = True
                with contextlib.suppress(OSError, ValueError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self._start, self._count, self._total_ms, self._max_ms = now, 0, 0.0, 0.0


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator["ProgressTick"]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield ProgressTick(None, None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        yield ProgressTick(progress, progress.add_task(description, total=total))


@dataclass
class ProgressTick:
    """Advances a progress bar (or does nothing when there is none)."""

    progress: object | None
    task: object | None

    def advance(self, amount: int) -> None:
        """Move the bar forward by ``amount``."""
        if self.progress is not None:
            self.progress.update(self.task, advance=amount)  # type: ignore[attr-defined]


def payload(record_size_bytes: int, seed: int = 0) -> bytes:
    """A value of random upper-case letters, as ProducerPerformance makes without a payload file."""
    rnd = random.Random(seed)
    return bytes(rnd.randint(65, 90) for _ in range(record_size_bytes))


def comparison_lines(rounds: Sequence[tuple[Run, Run]], what: str) -> list[str]:
    """The core's figures next to raw sqlite3's and their ratio; medians over several rounds.

    The ratio is taken within each round (kplay and sqlite3 ran back to back under the same
    machine load) and the median of those ratios is reported.
    """
    ratios = [core.records_per_sec / raw.records_per_sec if raw.records_per_sec else 0.0 for core, raw in rounds]
    core_rate = statistics.median(core.records_per_sec for core, _ in rounds)
    raw_rate = statistics.median(raw.records_per_sec for _, raw in rounds)
    core_mb = statistics.median(core.mb_per_sec for core, _ in rounds)
    raw_mb = statistics.median(raw.mb_per_sec for _, raw in rounds)
    how = "same run" if len(rounds) == 1 else f"{len(rounds)} rounds, each kplay then sqlite3, medians"
    ratio_line = f"  kplay / sqlite3 = {statistics.median(ratios):.2f}"
    if len(rounds) > 1:
        ratio_line += f" (rounds: {' '.join(f'{r:.2f}' for r in ratios)})"
    label = rounds[0][0].label
    return [
        f"{what}, {how}: {label} vs raw sqlite3 (WAL, synchronous=NORMAL, WITHOUT ROWID table)",
        f"  {label:<18} {core_rate:12.1f} records/sec ({core_mb:.2f} MB/sec)",
        f"  {'sqlite3':<18} {raw_rate:12.1f} records/sec ({raw_mb:.2f} MB/sec)",
        ratio_line,
    ]


# -- producer -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ProducerPerfSettings:
    """What one producer-perf-test run does."""

    topic: str
    num_records: int
    record_size: int
    batch_records: int | None  # records per transaction; None: Kafka's producer defaults
    throughput: float  # records/sec cap; <= 0 means none
    acks: int | str
    linger_ms: float = 5.0
    batch_size_bytes: int = 16_384
    buffer_memory: int = 32 * 1024 * 1024
    direct_append: bool = False  # the broker's log append alone, without the Producer client


class Throttle:
    """Kafka's ThroughputThrottler: keep the send rate at or under ``per_sec``."""

    def __init__(self, per_sec: float) -> None:
        self._per_sec = per_sec
        self._start = time.perf_counter()

    async def wait(self, sent: int) -> None:
        """Sleep if ``sent`` records is ahead of the target rate."""
        if self._per_sec <= 0:
            return
        ahead = self._start + sent / self._per_sec - time.perf_counter()
        if ahead > 0.001:
            await asyncio.sleep(ahead)


async def produce_with_core(cluster: Cluster, settings: ProducerPerfSettings, tick: ProgressTick) -> Run:
    """Send ``num_records`` null-key records through broker_core's ``Producer``.

    With ``batch_records`` set, each batch holds exactly that many records and at most one
    transaction is in flight while the next batch fills (Kafka's producer with
    ``max.in.flight.requests.per.connection=1``), so every transaction carries exactly
    ``batch_records`` records, as in the raw baseline. Otherwise the producer batches by
    ``batch.size`` and ``linger.ms`` as Kafka's does.
    """
    value = payload(settings.record_size)
    size = record_size(None, value)
    run = Run("kplay Producer")
    reporter = WindowReporter(settings.record_size)
    failures: list[BaseException] = []
    perf_counter = time.perf_counter

    def acknowledged(sent_at: Sequence[float], future: asyncio.Future) -> None:  # type: ignore[type-arg]
        """Record the acks of ``sent_at``'s records, all acknowledged with ``future`` (the last one's)."""
        if future.cancelled() or future.exception() is not None:
            failures.append(future.exception() or asyncio.CancelledError())
            return
        now = perf_counter()
        latencies = [(now - sent) * 1000 for sent in sent_at]
        run.latencies_ms.extend(latencies)
        reporter.record(latencies)

    throttle = Throttle(settings.throughput)
    topic = settings.topic
    if settings.batch_records:
        every = settings.batch_records
        producer = Producer(cluster, acks=settings.acks, linger_ms=3_600_000,
                            batch_size=BATCH_OVERHEAD + settings.batch_records * size)
    else:
        every = 200
        producer = Producer(cluster, acks=settings.acks, linger_ms=settings.linger_ms,
                            batch_size=settings.batch_size_bytes, buffer_memory=settings.buffer_memory)
    async with producer:
        start = perf_counter()
        in_flight: asyncio.Future | None = None  # type: ignore[type-arg]
        sent_at: list[float] = []
        for i in range(1, settings.num_records + 1):
            future = await producer.send(topic, value)
            if settings.batch_records:
                sent_at.append(perf_counter())
                if i % every:
                    continue
                # The batch is full, so the producer has closed it: one ack covers it all.
                await asyncio.sleep(0)  # the sender takes this batch alone into a transaction
                if future.done():
                    # An inline append acked it in that turn: record it now, with no callback
                    # (and its handle and loop turn) per batch.
                    acknowledged(sent_at, future)
                else:
                    future.add_done_callback(functools.partial(acknowledged, sent_at))
                sent_at = []
                if in_flight is not None and not in_flight.done():
                    # ... and the previous one has committed (asyncio.wait costs a loop
                    # iteration even for a future already done: most are, at one record).
                    await asyncio.wait([in_flight])
                in_flight = future
            else:
                # Records are acked in whatever batches formed. Kafka's tool has a callback per
                # record; here that would cost more than the producer itself (a callback and
                # its handle per record keep the garbage collector busy), so every
                # LATENCY_SAMPLE-th record is timed.
                if i % LATENCY_SAMPLE == 0:
                    future.add_done_callback(functools.partial(acknowledged, (perf_counter(),)))
                if i % every:
                    continue
                await asyncio.sleep(0)  # let the sender run, as Kafka's sender thread would
            tick.advance(every)
            await throttle.wait(i)
        if sent_at:
            future.add_done_callback(functools.partial(acknowledged, sent_at))
        await producer.flush()
        run.elapsed_s = perf_counter() - start
    await asyncio.sleep(0)  # let the last acknowledgement callbacks run
    run.records = producer.records_sent
    run.bytes = run.records * settings.record_size
    run.transactions = producer.transactions
    run.failed = settings.num_records - run.records
    if failures:
        run.first_error = f"{type(failures[0]).__name__}: {failures[0]}"
    return run


async def append_directly(cluster: Cluster, settings: ProducerPerfSettings, tick: ProgressTick) -> Run:
    """Append pre-built batches of ``batch_records`` records with ``cluster.logs.append``, one
    transaction each: the broker side of produce alone, with no Producer client (no futures,
    no accumulator), measured exactly as the raw baseline is."""
    value = payload(settings.record_size)
    batch_records = settings.batch_records or 1000
    partitions = await cluster.logs.partition_count(settings.topic)
    load_compiled_builder()  # as in any process that runs a Producer
    run = Run("kplay log append")
    reporter = WindowReporter(settings.record_size)
    throttle = Throttle(settings.throughput)
    perf_counter = time.perf_counter
    start = perf_counter()
    batch_index = 0
    while run.records < settings.num_records:
        count = min(batch_records, settings.num_records - run.records)
        batch_start = perf_counter()
        records = [ProducerRecord(None, value)] * count
        await cluster.logs.append(settings.topic, batch_index % partitions, records, acks=settings.acks)
        latency = (perf_counter() - batch_start) * 1000
        latencies = [latency] * count
        run.latencies_ms.extend(latencies)
        reporter.record(latencies)
        run.records += count
        run.transactions += 1
        batch_index += 1
        tick.advance(count)
        await throttle.wait(run.records)
    run.elapsed_s = perf_counter() - start
    run.bytes = run.records * settings.record_size
    return run


def produce_with_raw_sqlite(directory: Path, settings: ProducerPerfSettings, batch_records: int,
                            partitions: int) -> Run:
    """The same inserts through plain sqlite3 into a scratch file with the same table shape."""
    value = payload(settings.record_size)
    path = directory / "raw-sqlite-baseline.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(RECORDS_DDL)
        run = Run("sqlite3", bytes=settings.num_records * settings.record_size)
        next_offset = [0] * partitions
        perf_counter = time.perf_counter
        start = perf_counter()
        sent = 0
        batch_index = 0
        while sent < settings.num_records:
            count = min(batch_records, settings.num_records - sent)
            partition = batch_index % partitions
            first = next_offset[partition]
            batch_start = perf_counter()
            now_ms = time.time_ns() // 1_000_000
            rows = [(1, partition, first + j, now_ms, None, value, None) for j in range(count)]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO records(topic_id, partition, offset, timestamp, key, value, headers)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
            latency = (perf_counter() - batch_start) * 1000
            run.latencies_ms.extend([latency] * count)
            next_offset[partition] += count
            sent += count
            batch_index += 1
            run.transactions += 1
        run.elapsed_s = perf_counter() - start
        run.records = sent
        return run
    finally:
        conn.close()


async def producer_perf(cluster: Cluster, settings: ProducerPerfSettings, compare_raw: bool,
                        repeat: int = 1) -> list[str]:
    """Run the producer benchmark ``repeat`` times (each followed by the raw baseline) and
    return the lines to print."""
    try:
        partitions = await cluster.logs.partition_count(settings.topic)
    except UnknownTopicOrPartition:
        # auto.create.topics.enable, as on a default Kafka broker: 1 partition, replication factor 1.
        await cluster.topics.create_topic(settings.topic, 1, 1)
        partitions = 1
    lines: list[str] = []
    rounds: list[tuple[Run, Run]] = []
    per_txn = settings.batch_records or 1
    used_before = await _pages_in_use(cluster)
    appended = 0
    for _ in range(repeat):
        with progress_bar(f"producing to {settings.topic}", settings.num_records) as tick:
            if settings.direct_append:
                core = await append_directly(cluster, settings, tick)
            else:
                core = await produce_with_core(cluster, settings, tick)
        lines.append(core.producer_line())
        appended += core.records - core.failed
        if core.failed:
            lines.append(f"{core.failed} records failed, the first with {core.first_error}")
        per_txn = settings.batch_records or max(1, round(core.records / max(1, core.transactions)))
        lines.append(f"{core.transactions} transactions, {core.records / max(1, core.transactions):.1f} records "
                     f"per transaction, acks={settings.acks}.")
        if compare_raw:
            with tempfile.TemporaryDirectory(prefix="kplay-raw-", dir=cluster.path.parent) as scratch:
                raw = produce_with_raw_sqlite(Path(scratch), settings, per_txn, partitions)
            lines.append(f"raw sqlite3, {per_txn} rows per transaction: {raw.producer_line()}")
            rounds.append((core, raw))
    if rounds:
        lines.extend(comparison_lines(rounds, f"produce, {per_txn} records per transaction"))
    if appended:
        lines.append(await _data_file_line(cluster, settings, appended, await _pages_in_use(cluster) - used_before))
    return lines


async def _pages_in_use(cluster: Cluster) -> int:
    """Bytes of the data file in use (its pages minus the free ones), after a checkpoint."""
    await cluster.storage.fetchone("PRAGMA wal_checkpoint(PASSIVE)")
    pages = await cluster.storage.fetchone("PRAGMA page_count")
    free = await cluster.storage.fetchone("PRAGMA freelist_count")
    size = await cluster.storage.fetchone("PRAGMA page_size")
    return (pages[0] - free[0]) * size[0]  # type: ignore[index]


async def _data_file_line(cluster: Cluster, settings: ProducerPerfSettings, records: int, grown: int) -> str:
    """The data file's growth per record next to Kafka's log (its batches: records + 61 bytes per
    batch) and to the records' own bytes (key and value)."""
    row = await cluster.storage.fetchone(
        "SELECT sum(b.size), sum(b.record_count) FROM batches b JOIN topics t ON t.id=b.topic_id WHERE t.name=?",
        (settings.topic,))
    kafka_bytes, stored = (row[0] or 0, row[1] or 0) if row else (0, 0)
    own = settings.record_size
    kafka = kafka_bytes / max(1, stored)
    disk = grown / max(1, records)
    return (f"data file: {disk:.1f} bytes per record ({settings.record_size}-byte values, no key); Kafka's log "
            f"holds {kafka:.1f} (its batches: records + 61 bytes each); data file / Kafka's "
            f"{disk / max(kafka, 1e-9):.2f}x, / the records' own bytes {disk / max(own, 1):.2f}x")


def producer_perf_test(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Option("--topic", help="REQUIRED: produce messages to this topic.")] = None,
    num_records: Annotated[Optional[int], typer.Option("--num-records", help="REQUIRED: number of messages to produce.")] = None,
    record_size: Annotated[Optional[int], typer.Option("--record-size", help="Message size in bytes.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", metavar="RECORDS",
        help="Records per produce transaction, one transaction in flight while the next batch fills "
             "(kplay's addition; default: Kafka's producer batching, batch.size=16384 bytes, linger.ms=5).")] = None,
    throughput: Annotated[float, typer.Option(
        "--throughput", help="Throttle to about this many messages/sec; -1 for no limit.")] = -1,
    acks: Annotated[Optional[str], typer.Option("--acks", help="Producer acks: 0, 1, -1 or all (default all).")] = None,
    producer_props: Annotated[Optional[list[str]], typer.Option(
        "--producer-props", metavar="KEY=VALUE", help="Producer configs: acks, linger.ms, batch.size, buffer.memory.")] = None,
    compare_raw: Annotated[bool, typer.Option(
        "--compare-raw", help="Also time raw sqlite3 doing the same inserts in this run, and print the ratio.")] = False,
    repeat: Annotated[int, typer.Option(
        "--repeat", help="Run this many rounds (each kplay, then raw sqlite3) and report medians.")] = 1,
    direct_append: Annotated[bool, typer.Option(
        "--direct-append", help="Skip the Producer client: append pre-built batches of --batch-size records "
                                "(default 1000) with the broker core's log append, to separate broker and client cost.")] = False,
    bootstrap_server: BootstrapServerOption = None,
    data: DataOption = None,
) -> None:
    """Produce records as fast as possible (or at --throughput) and print Kafka's throughput and latency line."""
    with one_line_errors():
        if topic is None:
            raise UsageProblem("Missing required argument \"topic\"")
        if num_records is None or num_records < 1:
            raise UsageProblem("--num-records must be a positive number of messages")
        if record_size is None or record_size < 0:
            raise UsageProblem("Either --record-size or --payload-file must be specified but not both.")
        if repeat < 1:
            raise UsageProblem(f"--repeat must be at least 1, not {repeat}")
        if batch_size is not None and batch_size < 1:
            raise UsageProblem(f"--batch-size must be at least 1 record, not {batch_size}")
        props = parse_properties(producer_props)
        chosen_acks = acks if acks is not None else props.get("acks", "all")
        parse_acks(chosen_acks)
        try:
            linger_ms = float(props.get("linger.ms", "5"))
            batch_bytes = int(props.get("batch.size", "16384"))
            buffer_memory = int(props.get("buffer.memory", str(32 * 1024 * 1024)))
        except ValueError as exc:
            raise UsageProblem(f"Invalid producer property: {exc}") from None
        if direct_append and batch_size is None:
            batch_size = 1000
        settings = ProducerPerfSettings(topic, num_records, record_size, batch_size, throughput, chosen_acks,
                                        linger_ms, batch_bytes, buffer_memory, direct_append)
        path = data_path(ctx, data)

        async def session() -> list[str]:
            async with await Cluster.open(path) as cluster:
                return await producer_perf(cluster, settings, compare_raw, repeat)

        lines = asyncio.run(session())
        print("\n".join(lines), flush=True)


# -- consumer -----------------------------------------------------------------------------

@dataclass
class ConsumeRun(Run):
    """A consumer run: also when it started and ended (Kafka prints both)."""

    started: float = 0.0
    ended: float = 0.0


def _kafka_time(epoch_s: float) -> str:
    """Kafka's ``yyyy-MM-dd HH:mm:ss:SSS``."""
    stamp = dt.datetime.fromtimestamp(epoch_s)
    return stamp.strftime("%Y-%m-%d %H:%M:%S:") + f"{stamp.microsecond // 1000:03d}"


CONSUMER_HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
                   "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")


def consumer_line(run: ConsumeRun) -> str:
    """ConsumerPerformance's result row (a standalone consumer: no rebalance)."""
    fetch_ms = run.elapsed_s * 1000
    return (f"{_kafka_time(run.started)}, {_kafka_time(run.ended)}, {run.bytes / MB:.4f}, {run.mb_per_sec:.4f}, "
            f"{run.records}, {run.records_per_sec:.4f}, 0, {fetch_ms:.0f}, {run.mb_per_sec:.4f}, "
            f"{run.records_per_sec:.4f}")


async def consume_with_core(cluster: Cluster, topic: str, messages: int, timeout_ms: int,
                            max_poll_records: int, tick: ProgressTick) -> ConsumeRun:
    """Read ``messages`` records from the start of every partition with broker_core's ``Consumer``."""
    partitions = await cluster.logs.partition_count(topic)
    consumer = Consumer(cluster, auto_offset_reset="earliest", max_poll_records=max_poll_records)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    await consumer.seek_to_beginning()
    run = ConsumeRun("kplay Consumer", started=time.time())
    perf_counter = time.perf_counter
    start = last_data = perf_counter()
    while run.records < messages:
        poll_start = perf_counter()
        records = await consumer.poll(timeout_ms=100)
        now = perf_counter()
        if not records:
            if (now - last_data) * 1000 > timeout_ms:
                break
            continue
        last_data = now
        run.latencies_ms.append((now - poll_start) * 1000)
        for record in records[:messages - run.records]:
            run.bytes += (len(record.key) if record.key is not None else 0) + \
                (len(record.value) if record.value is not None else 0)
        taken = min(len(records), messages - run.records)
        run.records += taken
        tick.advance(taken)
    run.elapsed_s = perf_counter() - start
    run.ended = time.time()
    await consumer.close()
    return run


async def consume_with_raw_sqlite(cluster: Cluster, topic: str, messages: int, page: int) -> ConsumeRun:
    """The same reads through plain sqlite3: pages of ``page`` rows of the same records, stored one
    row each (copied, untimed, into a scratch file beside the data file)."""
    topic_id = (await cluster.storage.fetchone("SELECT id FROM topics WHERE name=?", (topic,)))[0]  # type: ignore[index]
    partitions = await cluster.logs.partition_count(topic)
    starts = [await cluster.logs.list_offset(topic, p, EARLIEST) or 0 for p in range(partitions)]
    with tempfile.TemporaryDirectory(prefix="kplay-raw-", dir=cluster.path.parent) as scratch:
        path = Path(scratch) / "raw-sqlite-baseline.db"
        _copy_as_rows(cluster.path, path, topic_id)
        return _consume_rows(path, topic_id, partitions, starts, messages, page)


def _copy_as_rows(source: Path, target: Path, topic_id: int) -> None:
    """Copy a topic's records from the data file's batches into one row each in ``target``."""
    reader = sqlite3.connect(source, isolation_level=None)
    writer = sqlite3.connect(target, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA synchronous=NORMAL")
        writer.execute(RECORDS_DDL)
        writer.execute("BEGIN")
        for partition, data in reader.execute("SELECT partition, data FROM batches WHERE topic_id=?"
                                              " ORDER BY partition, base_offset", (topic_id,)):
            writer.executemany(
                "INSERT OR IGNORE INTO records(topic_id, partition, offset, timestamp, key, value, headers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(topic_id, partition, r.offset, r.timestamp, r.key, r.value, encode_headers(r.headers))
                 for r in RecordBatch(data).records()])
        writer.execute("COMMIT")
    finally:
        reader.close()
        writer.close()


def _consume_rows(path: Path, topic_id: int, partitions: int, starts: list[int], messages: int,
                  page: int) -> ConsumeRun:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        run = ConsumeRun("sqlite3", started=time.time())
        perf_counter = time.perf_counter
        start = perf_counter()
        positions = list(starts)
        exhausted: set[int] = set()
        partition = 0
        while run.records < messages and len(exhausted) < partitions:
            partition = (partition + 1) % partitions
            if partition in exhausted:
                continue
            page_start = perf_counter()
            rows = conn.execute(RAW_SELECT, (topic_id, partition, positions[partition],
                                             min(page, messages - run.records))).fetchall()
            if not rows:
                exhausted.add(partition)
                continue
            run.latencies_ms.append((perf_counter() - page_start) * 1000)
            for row in rows:
                run.bytes += (len(row[2]) if row[2] is not None else 0) + (len(row[3]) if row[3] is not None else 0)
            run.records += len(rows)
            positions[partition] = rows[-1][0] + 1
        run.elapsed_s = perf_counter() - start
        run.ended = time.time()
        return run
    finally:
        conn.close()


async def consumer_perf(cluster: Cluster, topic: str, messages: int, timeout_ms: int, max_poll_records: int,
                        compare_raw: bool, repeat: int = 1) -> list[str]:
    """Run the consumer benchmark ``repeat`` times (each followed by the raw baseline) and
    return the lines to print."""
    lines: list[str] = []
    rounds: list[tuple[Run, Run]] = []
    for _ in range(repeat):
        with progress_bar(f"consuming from {topic}", messages) as tick:
            core = await consume_with_core(cluster, topic, messages, timeout_ms, max_poll_records, tick)
        if core.records < messages:
            lines.append(f"WARNING: Exiting before consuming the expected number of messages: timeout "
                         f"({timeout_ms} ms) exceeded. You can use the --timeout option to increase the timeout.")
        lines += [CONSUMER_HEADER, consumer_line(core),
                  f"poll latency over {len(core.latencies_ms)} polls of up to {max_poll_records} records: "
                  f"{latency_summary(core.latencies_ms)}"]
        if compare_raw and core.records:
            raw = await consume_with_raw_sqlite(cluster, topic, core.records, max_poll_records)
            lines += [f"raw sqlite3, pages of {max_poll_records} rows:", consumer_line(raw),
                      f"page latency over {len(raw.latencies_ms)} selects: {latency_summary(raw.latencies_ms)}"]
            rounds.append((core, raw))
    if rounds:
        lines += comparison_lines(rounds, f"fetch, pages of {max_poll_records} records")
    return lines


def consumer_perf_test(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Option("--topic", help="REQUIRED: the topic to consume from.")] = None,
    messages: Annotated[Optional[int], typer.Option("--messages", help="REQUIRED: the number of messages to consume.")] = None,
    timeout: Annotated[int, typer.Option(
        "--timeout", metavar="MS", help="Give up after this long without a new record (default 10000).")] = 10_000,
    max_poll_records: Annotated[int, typer.Option(
        "--max-poll-records", help="max.poll.records: records one poll returns at most (default 500).")] = 500,
    compare_raw: Annotated[bool, typer.Option(
        "--compare-raw", help="Also time raw sqlite3 selecting the same rows in this run, and print the ratio.")] = False,
    repeat: Annotated[int, typer.Option(
        "--repeat", help="Run this many rounds (each kplay, then raw sqlite3) and report medians.")] = 1,
    bootstrap_server: BootstrapServerOption = None,
    data: DataOption = None,
) -> None:
    """Consume records from the beginning of a topic and print Kafka's consumer throughput row."""
    with one_line_errors():
        if topic is None:
            raise UsageProblem("Missing required argument \"topic\"")
        if messages is None or messages < 1:
            raise UsageProblem("--messages must be a positive number of messages")
        if repeat < 1:
            raise UsageProblem(f"--repeat must be at least 1, not {repeat}")
        if max_poll_records < 1:
            raise UsageProblem(f"Invalid value {max_poll_records} for configuration max.poll.records: "
                               "Value must be at least 1")
        path = data_path(ctx, data)

        async def session() -> list[str]:
            async with await Cluster.open(path) as cluster:
                return await consumer_perf(cluster, topic, messages, timeout, max_poll_records, compare_raw, repeat)

        lines = asyncio.run(session())
        print("\n".join(lines), flush=True)


# -- change feed --------------------------------------------------------------------------

async def feed_writer(path: Path, topic: str, commits: int, interval_ms: float) -> None:
    """The writing side of feed-perf-test, run in its own process: one commit at a time,
    printing ``<end offset> <monotonic time>`` right after each commit returns."""
    rnd = random.Random()
    async with await Cluster.open(path) as cluster:
        record = [ProducerRecord(None, b"feed-perf-test")]
        for _ in range(commits):
            # Commits at random phases of the reader's poll interval, not in step with it.
            await asyncio.sleep(rnd.uniform(0.5, 1.5) * interval_ms / 1000)
            result = await cluster.logs.append(topic, 0, record, acks=1)
            print(f"{result.last_offset + 1} {time.monotonic():.6f}", flush=True)


async def idle_cpu_share(seconds: float) -> float:
    """Share of one core this process used while idle for ``seconds`` (CPU time / wall time)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


async def feed_perf(cluster: Cluster, topic: str, commits: int, interval_ms: float, idle_s: float) -> list[str]:
    """Latency of commits from another process reaching this one as events, then idle cost."""
    if topic not in await cluster.topics.list_topics():
        await cluster.topics.create_topic(topic, 1, 1)
    feed = await cluster.start_feed()
    subscription = feed.subscribe(RecordsAppended.kind)
    arrivals: dict[int, float] = {}
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.commands.perf", "feed-writer", str(cluster.path), topic, str(commits),
        str(interval_ms), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    commit_times: dict[int, float] = {}

    async def read_writer() -> None:
        assert writer.stdout is not None
        async for line in writer.stdout:
            end, at = line.split()
            commit_times[int(end)] = float(at)

    async def collect() -> None:
        while len(arrivals) < commits:
            event = await subscription.get()
            if isinstance(event, RecordsAppended) and event.topic == topic:
                arrivals[event.end_offset] = time.monotonic()

    reader = asyncio.create_task(read_writer())
    with progress_bar("commits seen", commits) as tick:
        collector = asyncio.create_task(collect())
        deadline = time.monotonic() + commits * interval_ms * 2 / 1000 + 30
        seen = 0
        while not collector.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            tick.advance(len(arrivals) - seen)
            seen = len(arrivals)
        collector.cancel()
    await reader  # the writer's stdout, to its end
    assert writer.stderr is not None
    err = await writer.stderr.read()
    await writer.wait()
    if writer.returncode != 0:
        raise UsageProblem(f"the writer process failed: {err.decode().strip().splitlines()[-1:]}")
    latencies = [(arrivals[end] - at) * 1000 for end, at in commit_times.items() if end in arrivals]
    missing = len(commit_times) - len(latencies)
    subscription.close()
    idle_with_feed = await idle_cpu_share(idle_s)
    await feed.stop()
    idle_without = await idle_cpu_share(idle_s)
    p99 = percentiles(latencies)[2]
    feed_cost = max(0.0, idle_with_feed - idle_without)
    lines = [
        f"{len(latencies)} commits in another process seen here as events, {latency_summary(latencies)}",
        f"idle CPU over {idle_s:.0f} s: {idle_with_feed * 100:.2f}% of one core with the feed polling, "
        f"{idle_without * 100:.2f}% with it stopped; the feed costs {feed_cost * 100:.2f}%.",
        f"targets: p99 < 50 ms ({'met' if p99 < 50 else 'missed'}), feed idle cost < 2% of one core "
        f"({'met' if feed_cost < 0.02 else 'missed'}).",
    ]
    if missing:
        lines.insert(0, f"WARNING: {missing} commits produced no event before the deadline.")
    return lines


def feed_perf_test(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option("--topic", help="Topic the writer appends to (created if missing).")] = "feed-perf-test",
    commits: Annotated[int, typer.Option("--commits", help="How many commits the other process makes.")] = 300,
    interval_ms: Annotated[float, typer.Option(
        "--interval-ms", help="Mean time between two commits (each is 0.5x-1.5x of it, at random).")] = 20.0,
    idle_seconds: Annotated[float, typer.Option(
        "--idle-seconds", help="How long to measure idle CPU, with the feed running and then stopped.")] = 10.0,
    data: DataOption = None,
) -> None:
    """Time commits made by another process until they arrive here as change-feed events,
    then measure what the feed's polling costs while nothing happens."""
    with one_line_errors():
        if commits < 1:
            raise UsageProblem(f"--commits must be at least 1, not {commits}")
        if idle_seconds < 0 or interval_ms < 0:
            raise UsageProblem("--idle-seconds and --interval-ms must not be negative")
        path = data_path(ctx, data)

        async def session() -> list[str]:
            async with await Cluster.open(path) as cluster:
                return await feed_perf(cluster, topic, commits, interval_ms, idle_seconds)

        lines = asyncio.run(session())
        print("\n".join(lines), flush=True)


def register(app: typer.Typer) -> None:
    """Add the perf tools to the app."""
    app.command("producer-perf-test")(producer_perf_test)
    app.command("consumer-perf-test")(consumer_perf_test)
    app.command("feed-perf-test")(feed_perf_test)


if __name__ == "__main__":
    # ``python -m app.commands.perf feed-writer DATA TOPIC COMMITS INTERVAL_MS``: feed-perf-test's other process.
    if len(sys.argv) == 6 and sys.argv[1] == "feed-writer":
        asyncio.run(feed_writer(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
    else:
        sys.exit("usage: python -m app.commands.perf feed-writer DATA TOPIC COMMITS INTERVAL_MS")
