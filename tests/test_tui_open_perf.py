"""``kplay tui-open-perf-test`` fills a partition, opens the playground on it in fresh processes and prints
what it measured (small numbers: the figures are not held to the targets here; timing tests are not tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

KPLAY = [sys.executable, "-c", "from app.cli import main; main()", "tui-open-perf-test"]
RUN = re.compile(r"  run (\d): partition shown (\d+) ms after the process started \(start-up and imports -?\d+,"
                 r" opening the file \d+, the screen until the strip shows \d+\); log open \+(\d+) ms;"
                 r" peak RSS ([\d.]+) MB shown, ([\d.]+) MB with the log")


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KPLAY, *args], capture_output=True, text=True, timeout=300)


def test_fills_then_times_each_fresh_opening_and_reuses_the_filled_file(tmp_path: Path) -> None:
    data = tmp_path / "open.db"
    result = tool("--records", "2000", "--repeat", "2", "--data", str(data))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tui-open-perf-test: a partition of 2,000 records")
    runs = [RUN.fullmatch(line) for line in lines[1:3]]
    assert all(runs), lines[1:3]
    assert [run.group(1) for run in runs] == ["1", "2"]  # type: ignore[union-attr]
    for run in runs:
        assert float(run.group(5)) >= float(run.group(4)) > 0  # type: ignore[union-attr]  # a peak only grows
    shown = sorted(int(run.group(2)) for run in runs)  # type: ignore[union-attr]
    median = re.fullmatch(r"median of 2: opens in (\d+) ms \(target < 1000 ms\), log \+\d+ ms;"
                          r" peak RSS [\d.]+ MB \(target < 200 MB\)", lines[3])
    assert median, lines[3]
    assert abs(int(median.group(1)) - sum(shown) / 2) <= 1
    size = re.fullmatch(r"data file: [\d.,]+ MB, ([\d.]+) bytes per record \(([\d.]+)x the 108-byte payload;"
                        r" issue 18's target <= 1.3x\); Kafka's log: ([\d.]+) bytes per record"
                        r" \(v2 batches of 2,000 records\)", lines[4])
    assert size, lines[4]
    assert abs(float(size.group(1)) / 108 - float(size.group(2))) < 0.01
    # Kafka's v2 record of an 8-byte key and a 100-byte value is about 116 bytes, plus 61 per batch.
    assert 110 < float(size.group(3)) < 125 and float(size.group(1)) > 100
    assert lines[5].startswith("filled in ") and "10,000 per transaction" in lines[5]
    assert "filling" in result.stderr

    again = tool("--records", "2000", "--repeat", "1", "--data", str(data))
    assert again.returncode == 0, again.stderr
    assert "the data file was reused as it was (not filled in this run)" in again.stdout.splitlines()
    assert "filling" not in again.stderr


def test_a_file_holding_another_partition_or_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    data = tmp_path / "open.db"
    assert tool("--records", "300", "--repeat", "1", "--data", str(data)).returncode == 0
    other = tool("--records", "500", "--data", str(data))
    assert other.returncode == 1 and other.stdout == ""
    assert other.stderr.strip() == (f"{data} holds topic 'big' with 300 records in 1 partition(s), not 500 in one:"
                                    " give a new --data file")
    bad = tool("--records", "0")
    assert bad.returncode == 1 and bad.stderr.strip() == "--records and --repeat must be at least 1"
