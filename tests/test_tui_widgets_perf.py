"""``kplay tui-perf-test`` runs end to end and prints its figures (small numbers: a smoke test)."""

from __future__ import annotations

import re
import subprocess
import sys

from app.commands.tui_perf import LoadFigures, OpenFigures, format_report, percentile


def test_percentile_is_kafkas_index_rule() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0 and percentile(values, 0.99) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_report_names_every_figure() -> None:
    load = LoadFigures(10_000, 10.0, 99_000, 98_000, [1.0, 2.0, 40.0])
    opened = OpenFigures(1_000_000, 9.0, 0.02, 0.1, 0.15, 80_000, 81_000, 600)
    text = "\n".join(format_report(load, opened, 50))
    assert "9,900 records/s appended" in text
    assert "p50 2.0 ms" in text and "p99 40.0 ms" in text
    assert "1,000,000-record partition" in text and "full log (newest records on screen) 100 ms" in text
    assert "records held by the views: 600" in text


def test_the_command_prints_latency_and_open_figures() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "tui-perf-test",
         "--rate", "300", "--seconds", "1", "--key-interval-ms", "50", "--open-records", "3000"],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert re.search(r"key-to-handler latency: \d+ keys every 50 ms, p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms",
                     result.stdout), result.stdout
    assert re.search(r"open a 3,000-record partition: strip \d+ ms, full log \(newest records on screen\) \d+ ms",
                     result.stdout), result.stdout


def test_bad_options_are_one_line_errors() -> None:
    result = subprocess.run([sys.executable, "-c", "from app.cli import main; main()", "tui-perf-test", "--rate", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "--rate" in result.stderr
