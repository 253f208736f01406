"""``kplay tui-open-perf-test``: how fast the playground opens on a big partition, and in how much memory.

    kplay tui-open-perf-test --records 10000000

Issue 17's target: a partition of 10,000,000 records opens in the TUI in < 1 s with a
resident set below 200 MB.

1. Fill: a scratch data file (in a temporary directory, or ``--data PATH`` kept for the
   next run) gets topic ``big``, one partition of ``--records`` records (8-byte key,
   100-byte value), appended through the core's own append API ``FILL_BATCH`` records per
   transaction, with a progress bar on stderr when it is a terminal. A ``--data`` file that
   already holds exactly that partition is reused as it is.
2. Open, ``--repeat`` times, each in a fresh process as ``kplay --data FILE`` is: the time
   from starting the process until the main screen's partition view shows the topic's
   newest record (the topic list selects the only topic at start-up, as it does for a
   user), then until the partition's log, opened, shows its newest records. The process
   imports ``app.cli`` first, as ``kplay`` does (start-up and imports are the time to the
   strip less what the process timed itself: opening the file and the screen), and runs the whole playground (feed, replica
   fetcher, Connect worker) headless at 120x40; it waits on the widgets' state, never on a
   sleep. Its peak resident set size (``getrusage`` ``ru_maxrss``) is read at both points.
3. The data file's size per record, next to Kafka's own for the same records: v2 record
   batches as the fill appends them (``broker_core.record_batch.build_batch``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from broker_core import Cluster
from broker_core.errors import KafkaError

from .invocation import UsageProblem, one_line_errors
from .perf import progress_bar
from .tui_perf import FILL_BATCH, fill_partition, perf_record, until_log_shows, until_strip_shows

TOPIC = "big"
#: Issue 17's targets.
TARGET_OPEN_S = 1.0
TARGET_RSS_MB = 200
#: Issue 18's target for the data file: at most this many times the records' keys and values.
TARGET_FILE_PER_PAYLOAD = 1.3
#: How long one opening may take before the run counts as stuck.
OPEN_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Opening:
    """One fresh process opening the playground on the big partition."""

    #: From starting the process to the partition view showing the newest record.
    shown_s: float
    #: Inside the process: opening the data file, then the app until the strip shows.
    open_file_s: float
    screen_s: float
    #: Then opening the partition's log until its newest records are on screen.
    log_s: float
    peak_kb_shown: int
    peak_kb_log: int


def peak_kb() -> int:
    """This process's peak resident set size so far, in KiB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def prepare(data: Path, records: int, say: Callable[[str], None]) -> bool:
    """Whether topic ``big`` was filled now (in a new or empty ``data``) rather than found there, full."""
    async with await Cluster.open(data) as cluster:
        names = await cluster.topics.list_topics()
        if TOPIC in names:
            description = await cluster.topics.describe_topic(TOPIC)
            held = description.partitions[0].log_end_offset
            if len(description.partitions) != 1 or held != records:
                raise UsageProblem(f"{data} holds topic {TOPIC!r} with {held:,} records in "
                                   f"{len(description.partitions)} partition(s), not {records:,} in one: "
                                   f"give a new --data file")
            return False
        if names:
            raise UsageProblem(f"{data} holds other topics ({', '.join(sorted(names)[:3])}): give a new --data file")
        await cluster.topics.create_topic(TOPIC, partitions=1)
        say(f"filling {data} with {records:,} records")
        with progress_bar(f"filling {TOPIC}-0", records) as tick:
            await fill_partition(cluster, TOPIC, records, advance=tick.advance)
    return True


def open_in_fresh_process(data: Path, last: int) -> Opening:
    """Start a process that opens the playground on ``data``; time it until offset ``last`` shows."""
    began = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "app.commands.tui_open_perf", "open", str(data), str(last)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # "shown", written the moment the strip ends at ``last``
        shown_s = time.perf_counter() - began
        try:
            rest, errors = child.communicate(timeout=OPEN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise UsageProblem(f"tui-open-perf-test: the playground process did not finish within {OPEN_TIMEOUT_S:.0f} s"
                               f" (it printed {first.strip()!r} first)") from None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode != 0 or first.strip() != "shown":
        reason = (errors.strip().splitlines() or [first.strip() or f"exit status {child.returncode}"])[-1]
        raise UsageProblem(f"tui-open-perf-test: the playground process failed: {reason}")
    inside = json.loads(rest)
    return Opening(shown_s, inside["open_file_s"], inside["screen_s"], inside["log_s"], inside["peak_kb_shown"],
                   inside["peak_kb_log"])


def kafka_bytes_per_record(records: int) -> float:
    """Bytes per record in Kafka's log for the fill's records: v2 batches of FILL_BATCH records (header 61 bytes)."""
    from broker_core.record_batch import build_batch

    count = min(records, FILL_BATCH)
    now = int(time.time() * 1000)
    batch = build_batch([(r.key, r.value, (), now) for r in map(perf_record, range(count))])
    return len(batch) / count


def data_file_bytes(data: Path) -> int:
    """The data file with its write-ahead log (what the cluster takes on disk)."""
    return sum(path.stat().st_size for path in (data, Path(f"{data}-wal")) if path.exists())


def report_lines(records: int, openings: list[Opening], fill_s: float | None, file_bytes: int,
                 kafka_per_record: float) -> list[str]:
    """The figures, one per line: each opening, their medians next to the targets, the file's size."""
    lines = [f"tui-open-perf-test: a partition of {records:,} records (8-byte key, 100-byte value),"
             f" the playground headless at 120x40, each opening in a fresh process"]
    for number, opening in enumerate(openings, 1):
        start_up = opening.shown_s - opening.open_file_s - opening.screen_s
        lines.append(f"  run {number}: partition shown {opening.shown_s * 1000:.0f} ms after the process started"
                     f" (start-up and imports {start_up * 1000:.0f}, opening the file {opening.open_file_s * 1000:.0f},"
                     f" the screen until the strip shows {opening.screen_s * 1000:.0f}); log open"
                     f" +{opening.log_s * 1000:.0f} ms; peak RSS {opening.peak_kb_shown * 1024 / 1e6:.1f} MB shown,"
                     f" {opening.peak_kb_log * 1024 / 1e6:.1f} MB with the log")
    shown = statistics.median(o.shown_s for o in openings)
    log = statistics.median(o.log_s for o in openings)
    peak = statistics.median(o.peak_kb_log for o in openings) * 1024 / 1e6
    lines.append(f"median of {len(openings)}: opens in {shown * 1000:.0f} ms (target < {TARGET_OPEN_S * 1000:.0f} ms),"
                 f" log +{log * 1000:.0f} ms; peak RSS {peak:.1f} MB (target < {TARGET_RSS_MB} MB)")
    payload = len(perf_record(0).key or b"") + len(perf_record(0).value or b"")
    lines.append(f"data file: {file_bytes / 1e6:,.1f} MB, {file_bytes / records:.1f} bytes per record"
                 f" ({file_bytes / records / payload:.2f}x the {payload}-byte payload; issue 18's target"
                 f" <= {TARGET_FILE_PER_PAYLOAD}x); Kafka's log: {kafka_per_record:.1f} bytes per record"
                 f" (v2 batches of {min(records, FILL_BATCH):,} records)")
    if fill_s is not None:
        lines.append(f"filled in {fill_s:.1f} s ({records / fill_s:,.0f} records/s through the core's append,"
                     f" {FILL_BATCH:,} per transaction)")
    else:
        lines.append("the data file was reused as it was (not filled in this run)")
    lines.append(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    return lines


def tui_open_perf_test(
    records: Annotated[int, typer.Option("--records", help="Records in the partition opened.")] = 10_000_000,
    repeat: Annotated[int, typer.Option("--repeat", help="Openings, each in a fresh process.")] = 3,
    data: Annotated[Optional[Path], typer.Option(
        "--data", metavar="PATH",
        help="Fill this data file and keep it (reused when it already holds the partition); default: a temporary"
             " file, deleted after.")] = None,
) -> None:
    """Time opening the playground on a partition of --records records, in fresh processes, and its peak memory."""
    with one_line_errors():
        if records < 1 or repeat < 1:
            raise UsageProblem("--records and --repeat must be at least 1")
        with tempfile.TemporaryDirectory(prefix="kplay-tui-open-perf-") as tmp:
            path = data if data is not None else Path(tmp) / "open.db"
            began = time.perf_counter()
            try:
                filled = asyncio.run(prepare(path, records, lambda line: typer.echo(line, err=True)))
            except KafkaError as error:
                raise UsageProblem(f"{path}: {error}") from None
            fill_s = time.perf_counter() - began if filled else None
            openings = [open_in_fresh_process(path, records - 1) for _ in range(repeat)]
            lines = report_lines(records, openings, fill_s, data_file_bytes(path), kafka_bytes_per_record(records))
        for line in lines:
            typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add ``tui-open-perf-test`` to the app."""
    app.command("tui-open-perf-test")(tui_open_perf_test)


async def open_playground(data: Path, last: int) -> dict[str, float | int]:
    """The fresh process's side: open the playground on ``data`` and wait for offset ``last``.

    Writes ``shown`` to stdout the moment the strip ends at ``last`` (the parent times the
    process to that line), then opens the partition's log; returns the process's own figures.
    """
    from app.tui import PlaygroundApp
    from widgets.partition_view import PartitionView

    began = time.perf_counter()
    cluster = await Cluster.open(data)
    open_file_s = time.perf_counter() - began
    try:
        app = PlaygroundApp(cluster, keymap={})
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.screen.query_one(PartitionView)
            await until_strip_shows(pilot, view, last, OPEN_TIMEOUT_S)
            screen_s = time.perf_counter() - began - open_file_s
            print("shown", flush=True)
            peak_kb_shown = peak_kb()
            began_log = time.perf_counter()
            await until_log_shows(pilot, view, last, OPEN_TIMEOUT_S)
            log_s = time.perf_counter() - began_log
            peak_kb_log = peak_kb()
    finally:
        await cluster.close()
    return {"open_file_s": open_file_s, "screen_s": screen_s, "log_s": log_s,
            "peak_kb_shown": peak_kb_shown, "peak_kb_log": peak_kb_log}


def _main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "open":
        import app.cli  # noqa: F401  -- what ``kplay`` imports before it opens the playground

        gc.disable()  # as ``kplay`` opens the playground (app.cli), until the app turns collections on
        print(json.dumps(asyncio.run(open_playground(Path(argv[1]), int(argv[2])))))
        return 0
    print("usage: python -m app.commands.tui_open_perf open DATA LAST_OFFSET", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
