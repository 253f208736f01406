"""``kplay tui-perf-test``: how the playground holds up under load, as printed figures.

    kplay tui-perf-test --rate 10000 --seconds 10 --open-records 1000000

Two measurements on a fresh data file in a temporary directory:

1. Key latency under load. The playground's main screen runs headless at 160x45 with the
   topic selected, two consumer views (a standalone consumer and a group member) and the
   group panel, while a separate process (like ``kplay console-producer`` in another
   terminal) produces ``--rate`` records per second. A key is sent through the terminal
   driver every ``--key-interval-ms``; the time from sending it to its handler running is
   the key-to-handler latency (p50, p95, p99, max). PERF.md: measure the key, not
   ``pilot.press``, whose return time is mostly Textual's idle wait.
2. Opening a big partition. A partition of ``--open-records`` records is selected, then its
   log opened: the time until its newest records are on screen, and how much memory the
   process gained (resident set size) and how many records the views hold.

The machine's load average is printed with the figures: on a shared machine other
processes' CPU use shows up as latency.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Awaitable, Callable

import typer

from broker_core import Cluster, Producer
from broker_core.records import ProducerRecord

from .invocation import UsageProblem, one_line_errors

#: Payload of the generated records: an 8-byte key and a 100-byte value, as PERF.md.
VALUE = b"v" * 100
#: Records appended per transaction when filling the big partition.
FILL_BATCH = 10_000


@dataclass
class LoadFigures:
    """What the load phase measured."""

    offered_rate: int
    seconds: float
    appended: int = 0
    consumed: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        """Records appended per second while keys were measured."""
        return self.appended / self.seconds if self.seconds else 0.0


@dataclass
class OpenFigures:
    """What opening the big partition measured."""

    records: int
    fill_seconds: float
    strip_seconds: float
    log_seconds: float
    jump_seconds: float
    rss_before_kb: int
    rss_after_kb: int
    held_records: int


def percentile(values: list[float], point: float) -> float:
    """The value at index ``int(point * n)`` of the sorted values (Kafka's perf tools' rule)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(point * len(ordered)))]


def resident_kb() -> int:
    """This process's resident set size now, in KiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


async def _until(pilot, condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Let the app run until ``condition`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise UsageProblem(f"tui-perf-test: timed out waiting for {what}")
        await pilot.pause(0.002)


def perf_record(number: int) -> ProducerRecord:
    """Record ``number`` of a benchmark partition: key ``k0000042`` (8 bytes below 10M) and ``VALUE``."""
    return ProducerRecord(f"k{number:07d}".encode(), VALUE)


async def fill_partition(cluster: Cluster, topic: str, records: int, *,
                         record: Callable[[int], ProducerRecord] = perf_record,
                         advance: Callable[[int], None] | None = None) -> None:
    """Append ``records`` records to ``topic`` partition 0 through the core, FILL_BATCH per transaction."""
    for base in range(0, records, FILL_BATCH):
        end = min(records, base + FILL_BATCH)
        await cluster.logs.append(topic, 0, [record(number) for number in range(base, end)], acks=1)
        if advance is not None:
            advance(end - base)


async def until_strip_shows(pilot, view, last: int, timeout_s: float = 60.0) -> None:
    """Run the app until the partition view's strip for partition 0 ends at offset ``last``."""
    await _until(pilot, lambda: bool(view.partitions) and bool(view.tails.get(0))
                 and view.tails[0][-1].offset == last, "the partition strip", timeout_s)


async def until_log_shows(pilot, view, last: int, timeout_s: float = 60.0):
    """Open partition 0's log in the partition view and run the app until offset ``last`` is on screen."""
    view.open_log(0)
    log = view.log
    await _until(pilot, lambda: f"{last:>10}" in "".join(log.render_lines_as_text()),
                 "the newest records in the log", timeout_s)
    return log


async def run_benchmark(data: Path, *, rate: int, seconds: float, key_interval_ms: float,
                        open_records: int, say: Callable[[str], None],
                        freeze_gc: bool = True) -> tuple[LoadFigures, OpenFigures | None]:
    """Both measurements on the data file ``data`` (which must not exist yet).

    ``freeze_gc`` is the app's own: it moves every object alive once the main screen is up
    out of the garbage collector's reach (``gc.freeze()``), so a full collection scans only
    newer objects instead of the whole UI; without it the collector sees everything.
    """
    from textual import events  # late, as the TUI: every other kplay command starts without Textual

    from app.tui import PlaygroundApp
    from widgets.consumer_deck import ConsumerDeck
    from widgets.partition_view import PartitionStrips, PartitionView

    cluster = await Cluster.open(data)
    try:
        await cluster.topics.create_topic("perf", partitions=3, replication_factor=2)
        if open_records:
            await cluster.topics.create_topic("big", partitions=1)
        app = PlaygroundApp(cluster, keymap={}, freeze_gc=freeze_gc)
        async with app.run_test(size=(160, 45)) as pilot:
            screen = app.screen
            view = screen.query_one(PartitionView)
            view.display = True
            view.topic = "perf"
            deck = screen.query_one(ConsumerDeck)
            standalone = await deck.add_consumer("perf", from_beginning=False, label="perf-standalone")
            member = await deck.add_consumer("perf", group="perf-group", from_beginning=False, label="perf-member")
            await _until(pilot, lambda: len(member.assignment) == 3, "the group member's assignment")
            strips = screen.query_one(PartitionStrips)
            strips.focus()
            await pilot.pause()

            # The probe: the handler of the key we send, timed from the driver to the action.
            sent_at: list[float] = []
            latencies: list[float] = []
            original = strips.action_cursor_down

            def probe() -> None:
                if sent_at:
                    latencies.append((time.perf_counter() - sent_at.pop()) * 1000)
                original()

            strips.action_cursor_down = probe  # type: ignore[method-assign]

            say(f"producing {rate:,} records/s from a separate process for {seconds:g} s (+1 s warm-up)")
            producer = subprocess.Popen(
                [sys.executable, "-m", "app.commands.tui_perf", "produce", str(data), "perf", str(rate),
                 str(seconds + 1.5)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                await _until(pilot, lambda: member.consumed > 0 or producer.poll() is not None, "records to flow")
                await pilot.pause(1.0)  # warm-up: the flow is steady before keys are measured
                ends_before = await _partition_ends(cluster, "perf")
                consumed_before = standalone.consumed
                began = time.perf_counter()
                driver = app._driver
                assert driver is not None
                while time.perf_counter() - began < seconds:
                    key = events.Key("j", "j")
                    key.set_sender(app)
                    sent_at[:] = [time.perf_counter()]
                    driver.send_message(key)
                    await asyncio.sleep(key_interval_ms / 1000)
                elapsed = time.perf_counter() - began
                ends_after = await _partition_ends(cluster, "perf")
                figures = LoadFigures(rate, elapsed, ends_after - ends_before,
                                      standalone.consumed - consumed_before, latencies)
            finally:
                output, errors = producer.communicate(timeout=60)
            if producer.returncode != 0:
                raise UsageProblem(f"tui-perf-test: the producer process failed: {errors.strip()[-300:]}")
            strips.action_cursor_down = original  # type: ignore[method-assign]
            await deck.remove_consumer(member)
            await deck.remove_consumer(standalone)

            opened = None
            if open_records:
                opened = await _open_big_partition(cluster, pilot, view, open_records, say)
        return figures, opened
    finally:
        await cluster.close()


async def _partition_ends(cluster: Cluster, topic: str) -> int:
    description = await cluster.topics.describe_topic(topic)
    return sum(p.log_end_offset for p in description.partitions)


async def _open_big_partition(cluster: Cluster, pilot, view, records: int,
                              say: Callable[[str], None]) -> OpenFigures:
    say(f"filling a partition with {records:,} records")
    began = time.perf_counter()
    await fill_partition(cluster, "big", records)
    fill_seconds = time.perf_counter() - began
    last = records - 1
    await pilot.pause()
    rss_before = resident_kb()

    began = time.perf_counter()
    view.topic = "big"
    await until_strip_shows(pilot, view, last)
    await pilot.pause()
    strip_seconds = time.perf_counter() - began

    began = time.perf_counter()
    log = await until_log_shows(pilot, view, last)
    log_seconds = time.perf_counter() - began

    began = time.perf_counter()
    middle = records // 2
    log.scroll_to_offset(middle)
    await _until(pilot, lambda: f"{middle:>10}  k{middle:07d}" in "".join(log.render_lines_as_text()),
                 "the middle of the log")
    jump_seconds = time.perf_counter() - began
    held = log.cached_records + sum(len(cells) for cells in view.tails.values())
    return OpenFigures(records, fill_seconds, strip_seconds, log_seconds, jump_seconds, rss_before,
                       resident_kb(), held)


def format_report(load: LoadFigures, opened: OpenFigures | None, key_interval_ms: float) -> list[str]:
    """The figures, one per line."""
    lines = []
    lat = load.latencies_ms
    lines.append(f"load: {load.offered_rate:,} records/s offered, {load.achieved_rate:,.0f} records/s appended,"
                 f" {load.consumed / load.seconds if load.seconds else 0:,.0f} records/s read by a consumer view,"
                 f" over {load.seconds:.1f} s")
    if lat:
        lines.append(f"key-to-handler latency: {len(lat)} keys every {key_interval_ms:g} ms,"
                     f" p50 {percentile(lat, 0.5):.1f} ms, p95 {percentile(lat, 0.95):.1f} ms,"
                     f" p99 {percentile(lat, 0.99):.1f} ms, max {max(lat):.1f} ms,"
                     f" mean {statistics.fmean(lat):.1f} ms (target p99 < 50 ms)")
    else:
        lines.append("key-to-handler latency: no key reached its handler")
    if opened is not None:
        lines.append(f"open a {opened.records:,}-record partition: strip {opened.strip_seconds * 1000:.0f} ms,"
                     f" full log (newest records on screen) {opened.log_seconds * 1000:.0f} ms,"
                     f" jump to the middle {opened.jump_seconds * 1000:.0f} ms (target < 1 s)")
        lines.append(f"memory: resident {opened.rss_before_kb / 1024:.1f} MiB before, {opened.rss_after_kb / 1024:.1f} MiB"
                     f" after opening (+{(opened.rss_after_kb - opened.rss_before_kb) / 1024:.1f} MiB);"
                     f" records held by the views: {opened.held_records:,}"
                     f" (filling took {opened.fill_seconds:.1f} s)")
    return lines


def tui_perf_test(
    rate: Annotated[int, typer.Option("--rate", help="Records per second produced while keys are measured.")] = 10_000,
    seconds: Annotated[float, typer.Option("--seconds", help="How long keys are measured.")] = 10.0,
    key_interval_ms: Annotated[float, typer.Option("--key-interval-ms", help="Time between two keys.")] = 50.0,
    open_records: Annotated[int, typer.Option("--open-records",
                                              help="Records in the partition opened (0 skips it).")] = 1_000_000,
    freeze_gc: Annotated[bool, typer.Option("--freeze-gc/--no-freeze-gc",
                                            help="gc.freeze() once the screen is up, as the app does "
                                                 "(--no-freeze-gc measures without it).")] = True,
) -> None:
    """Measure the playground under load: key latency at --rate records/s, and opening a big partition."""
    with one_line_errors():
        if rate < 1 or seconds <= 0 or key_interval_ms <= 0 or open_records < 0:
            raise UsageProblem("--rate, --seconds and --key-interval-ms must be positive, --open-records >= 0")
        with tempfile.TemporaryDirectory(prefix="kplay-tui-perf-") as tmp:
            load, opened = asyncio.run(run_benchmark(
                Path(tmp) / "perf.db", rate=rate, seconds=seconds, key_interval_ms=key_interval_ms,
                open_records=open_records, say=lambda line: typer.echo(line, err=True), freeze_gc=freeze_gc))
        for line in format_report(load, opened, key_interval_ms):
            typer.echo(line)
        typer.echo(f"garbage collector: {'frozen after start-up (gc.freeze, as the app does)' if freeze_gc else 'not frozen'};"
                   f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


async def produce_at_rate(data: Path, topic: str, rate: int, seconds: float) -> int:
    """Send ``rate`` records per second to ``topic`` for ``seconds`` (the other process)."""
    sent = 0
    async with await Cluster.open(data) as cluster:
        async with Producer(cluster, acks=1, client_id="tui-perf-producer") as producer:
            began = time.monotonic()
            while (elapsed := time.monotonic() - began) < seconds:
                due = int(rate * elapsed)
                while sent < due:
                    await producer.send(topic, VALUE, f"key-{sent % 100:04d}".encode())
                    sent += 1
                await asyncio.sleep(0.005)
            await producer.flush()
    return sent


def register(app: typer.Typer) -> None:
    """Add ``tui-perf-test`` to the app."""
    app.command("tui-perf-test")(tui_perf_test)


def _main(argv: list[str], run: Callable[[Awaitable[int]], int] = asyncio.run) -> int:
    if len(argv) == 5 and argv[0] == "produce":
        print(run(produce_at_rate(Path(argv[1]), argv[2], int(argv[3]), float(argv[4]))))
        return 0
    print("usage: python -m app.commands.tui_perf produce DATA TOPIC RATE SECONDS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
