"""``kplay find-perf-test``: how long a text search over a big partition takes, and how the UI keeps up.

    kplay find-perf-test --records 1000000

On a fresh data file in a temporary directory: fills one partition with ``--records``
records (8-byte key, 100-byte value; one holds the text searched for), then

1. the core alone: ``RecordSearch.scan`` for the text over the whole partition;
2. the playground: the find screen runs the same search headless (120x40) while a key is
   sent through the terminal driver every ``--key-interval-ms``; the time from sending it to
   its handler running is the key latency (PERF.md: the key, not ``pilot.press``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Callable

import typer

from broker_core import Cluster
from broker_core.record_search import RecordSearch, SearchQuery
from broker_core.records import ProducerRecord

from .invocation import UsageProblem, one_line_errors
from .tui_perf import VALUE, fill_partition, perf_record, percentile

NEEDLE = b"needle-7f3a"


async def _fill(cluster: Cluster, records: int) -> int:
    """Fill topic ``big`` partition 0; the one record holding ``NEEDLE`` is at 3/4 of the log."""
    await cluster.topics.create_topic("big", partitions=1)
    target = records * 3 // 4
    needle = ProducerRecord(perf_record(target).key, VALUE[:50] + NEEDLE + VALUE[61:])
    await fill_partition(cluster, "big", records,
                         record=lambda number: needle if number == target else perf_record(number))
    return target


async def run_benchmark(data: Path, *, records: int, key_interval_ms: float,
                        say: Callable[[str], None]) -> tuple[float, float, list[float], int]:
    """(core seconds, UI seconds, key latencies in ms, offset found) on the new data file ``data``."""
    from textual import events
    from textual.binding import Binding

    from app.screens.find_records import FindRecordsScreen
    from app.tui import PlaygroundApp

    latencies: list[float] = []
    sent_at: list[float] = []

    class ProbedFindScreen(FindRecordsScreen):
        """The find screen with one more key, whose handler notes when it ran."""

        BINDINGS = [Binding("f12", "probe", "Probe", show=False)]

        def action_probe(self) -> None:
            if sent_at:
                latencies.append((time.perf_counter() - sent_at.pop()) * 1000)

    async with await Cluster.open(data) as cluster:
        say(f"filling a partition with {records:,} records")
        target = await _fill(cluster, records)
        search = RecordSearch(cluster.storage, cluster.logs)
        began = time.perf_counter()
        found: list[int] = []
        async for progress in search.scan("big", SearchQuery("text", NEEDLE.decode())):
            found = [m.offset for m in progress.matches]
        core_seconds = time.perf_counter() - began
        if found != [target]:
            raise UsageProblem(f"find-perf-test: the core found {found}, not [{target}]")

        app = PlaygroundApp(cluster, keymap={}, connect=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = ProbedFindScreen(cluster, "big", 1, 0)
            await app.push_screen(screen)
            await pilot.pause()
            screen.query_one("#find-pattern").value = NEEDLE.decode()  # type: ignore[attr-defined]
            driver = app._driver
            assert driver is not None
            began = time.perf_counter()
            screen.action_search()
            while screen.running or not screen.results:
                key = events.Key("f12", None)
                key.set_sender(app)
                sent_at[:] = [time.perf_counter()]
                driver.send_message(key)
                await asyncio.sleep(key_interval_ms / 1000)
                if time.perf_counter() - began > 120:
                    raise UsageProblem("find-perf-test: the search in the find screen took over 120 s")
            ui_seconds = time.perf_counter() - began
            # The last probe key may still be queued: let it reach its handler before the app
            # closes (handled after the screens are gone, it failed the run at random).
            await pilot.pause()
            if [m.offset for m in screen.results] != [target]:
                raise UsageProblem(f"find-perf-test: the find screen found {screen.status}")
    return core_seconds, ui_seconds, latencies, target


def find_perf_test(
    records: Annotated[int, typer.Option("--records", help="Records in the partition searched.")] = 1_000_000,
    key_interval_ms: Annotated[float, typer.Option("--key-interval-ms", help="Time between two keys.")] = 10.0,
) -> None:
    """Measure a text search over one big partition: the core alone, and the find screen with key latency."""
    with one_line_errors():
        if records < 1 or key_interval_ms <= 0:
            raise UsageProblem("--records and --key-interval-ms must be positive")
        with tempfile.TemporaryDirectory(prefix="kplay-find-perf-") as tmp:
            core, ui, latencies, _ = asyncio.run(run_benchmark(
                Path(tmp) / "find.db", records=records, key_interval_ms=key_interval_ms,
                say=lambda line: typer.echo(line, err=True)))
        typer.echo(f"text search over {records:,} records in one partition: core {core:.2f} s"
                   f" ({records / core:,.0f} records/s); in the find screen {ui:.2f} s (target < 2 s)")
        if latencies:
            typer.echo(f"key-to-handler latency during the search: {len(latencies)} keys every {key_interval_ms:g} ms,"
                       f" p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms,"
                       f" max {max(latencies):.1f} ms, mean {statistics.fmean(latencies):.1f} ms (target p99 < 50 ms)")
        else:
            typer.echo("key-to-handler latency: no key reached its handler")
        typer.echo(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


def register(app: typer.Typer) -> None:
    """Add ``find-perf-test`` to the app."""
    app.command("find-perf-test")(find_perf_test)
