"""``kplay delete-perf-test``: how long big deletions keep other writers waiting, as figures.

    kplay delete-perf-test --num-records 1000000

On a fresh data file in a temporary directory: a partition is filled with ``--num-records``
records of 100 bytes, then (1) retention deletes them all and (2) a second topic as big is
deleted. Meanwhile a second opener of the file (as another process would be) appends one
record every few milliseconds to a third topic: each append's time, from asking for the
write lock to commit, is how long the deletion held the lock (longest, p99, median).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Awaitable, Callable

import typer

from broker_core import Cluster, ManualClock
from broker_core.records import ProducerRecord

from .invocation import UsageProblem, one_line_errors
from .output import print_lines

VALUE = b"v" * 100
FILL_BATCH = 10_000
DAY_MS = 86_400_000


async def _fill(cluster: Cluster, topic: str, count: int, retention_ms: int) -> None:
    await cluster.topics.create_topic(topic, 1, 1, config={"retention.ms": retention_ms})
    for first in range(0, count, FILL_BATCH):
        await cluster.logs.append(topic, 0, [ProducerRecord(f"{i:08d}".encode(), VALUE)
                                             for i in range(first, min(count, first + FILL_BATCH))])


async def _while_probing(path: Path, clock: ManualClock, work: Callable[[], Awaitable[object]]
                         ) -> tuple[float, list[float]]:
    """Run ``work`` while another opener of the file appends every 5 ms; its time and the appends' times."""
    probe = await Cluster.open(path, clock=clock)
    waits: list[float] = []
    done = asyncio.Event()

    async def appender() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await probe.logs.append("probe", 0, [ProducerRecord(b"k", b"v")])
            waits.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(0.005)

    try:
        task = asyncio.create_task(appender())
        await asyncio.sleep(0.05)
        began = time.perf_counter()
        await work()
        elapsed = time.perf_counter() - began
        done.set()
        await task
    finally:
        await probe.close()
    return elapsed, waits


async def measure(path: Path, records: int) -> list[str]:
    """Fill, delete by retention, delete a topic; the figures as lines."""
    clock = ManualClock()
    cluster = await Cluster.open(path, clock=clock)
    try:
        await cluster.topics.create_topic("probe", 1, 1)
        await _fill(cluster, "expiring", records, DAY_MS)
        await _fill(cluster, "doomed", records, -1)  # kept by retention, for the topic deletion
        clock.advance(2 * DAY_MS)
        lines = [f"delete-perf-test: {records} records of {len(VALUE)} bytes per topic; another opener of the "
                 "file appends one record every 5 ms meanwhile (its append time = how long it waited for the "
                 "write lock)"]
        for what, work in (("retention deletes every record", cluster.cleaner.run_once),
                           ("topic deletion", lambda: cluster.topics.delete_topic("doomed"))):
            elapsed, waits = await _while_probing(path, clock, work)
            waits.sort()
            p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))] if waits else 0.0
            lines.append(f"{what}: {elapsed:.2f} s; {len(waits)} appends meanwhile, append time median "
                         f"{statistics.median(waits) if waits else 0:.1f} ms, p99 {p99:.1f} ms, "
                         f"longest {waits[-1] if waits else 0:.1f} ms")
        left = await cluster.storage.fetchone("SELECT coalesce(sum(record_count), 0) FROM batches WHERE topic_id IN "
                                              "(SELECT id FROM topics WHERE name='expiring') OR topic_id NOT IN "
                                              "(SELECT id FROM topics)")
        lines.append(f"records left behind: {left[0] if left else 0}")
        return lines
    finally:
        await cluster.close()


def delete_perf_test(
    num_records: Annotated[int, typer.Option("--num-records", metavar="N", help="Records in each big topic.")
                           ] = 1_000_000,
) -> None:
    """How long deleting a big partition (retention) and a big topic keep another writer waiting."""
    with one_line_errors("Error: "):
        if num_records < 1:
            raise UsageProblem("--num-records must be at least 1")
        with tempfile.TemporaryDirectory(prefix="kplay-delete-perf-") as directory:
            print_lines(asyncio.run(measure(Path(directory) / "delete-perf-test.db", num_records)))


def register(app: typer.Typer) -> None:
    """Add ``delete-perf-test`` to the app."""
    app.command("delete-perf-test")(delete_perf_test)
