"""The perf tools run end to end as commands (tiny numbers: this shows they work, it times nothing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

KAFKA_PRODUCER_TOTAL = re.compile(
    r"^(?:raw sqlite3, \d+ rows per transaction: )?"
    r"(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, "
    r"[\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.$", re.M)
CONSUMER_HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
                   "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")


def kplay(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=120)


def test_producer_then_consumer_perf_test_print_kafkas_lines_and_the_raw_comparison(data_path: Path) -> None:
    produced = kplay(data_path, "producer-perf-test", "--topic", "perf", "--num-records", "300",
                     "--record-size", "50", "--batch-size", "100", "--compare-raw")
    assert produced.returncode == 0, produced.stderr
    totals = KAFKA_PRODUCER_TOTAL.findall(produced.stdout)
    assert totals == ["300", "300"]  # kplay's run, then raw sqlite3's
    assert "3 transactions, 100.0 records per transaction" in produced.stdout
    assert re.search(r"^  kplay / sqlite3 = \d+\.\d\d$", produced.stdout, re.M)

    consumed = kplay(data_path, "consumer-perf-test", "--topic", "perf", "--messages", "300", "--compare-raw",
                     "--repeat", "2")
    assert consumed.returncode == 0, consumed.stderr
    lines = consumed.stdout.splitlines()
    rows = [lines[i + 1].split(", ") for i, line in enumerate(lines) if line == CONSUMER_HEADER]
    assert len(rows) == 2
    for row in rows:
        assert len(row) == 10
        assert row[4] == "300" and float(row[2]) == pytest.approx(300 * 50 / 1024 / 1024, abs=1e-4)
    assert sum(1 for line in lines if line.startswith("raw sqlite3, pages of 500 rows")) == 2
    assert re.search(r"^  kplay / sqlite3 = \d+\.\d\d \(rounds: \d+\.\d\d \d+\.\d\d\)$", consumed.stdout, re.M)


def test_producer_perf_test_with_kafkas_default_batching(data_path: Path) -> None:
    produced = kplay(data_path, "producer-perf-test", "--topic", "perf", "--num-records", "500",
                     "--record-size", "10", "--throughput", "-1", "--acks", "1")
    assert produced.returncode == 0, produced.stderr
    assert KAFKA_PRODUCER_TOTAL.findall(produced.stdout) == ["500"]
    assert "acks=1" in produced.stdout


def test_producer_perf_test_direct_append_measures_the_log_alone(data_path: Path) -> None:
    produced = kplay(data_path, "producer-perf-test", "--topic", "perf", "--num-records", "250",
                     "--record-size", "20", "--batch-size", "100", "--direct-append", "--compare-raw")
    assert produced.returncode == 0, produced.stderr
    assert KAFKA_PRODUCER_TOTAL.findall(produced.stdout) == ["250", "250"]
    assert "3 transactions" in produced.stdout
    assert "kplay log append vs raw sqlite3" in produced.stdout


def test_feed_perf_test_reports_latency_and_idle_cost(data_path: Path) -> None:
    done = kplay(data_path, "feed-perf-test", "--commits", "10", "--interval-ms", "5", "--idle-seconds", "0.2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("10 commits in another process seen here as events, ")
    assert re.search(r"^idle CPU over .*% of one core with the feed polling", done.stdout, re.M)
    assert "WARNING" not in done.stdout


@pytest.mark.parametrize("args, message", [
    (["producer-perf-test", "--num-records", "5", "--record-size", "1"], 'Missing required argument "topic"'),
    (["producer-perf-test", "--topic", "t", "--num-records", "5", "--record-size", "1", "--acks", "2"],
     "Invalid acks: 2"),
    (["consumer-perf-test", "--topic", "nope", "--messages", "5"], "Topic 'nope' does not exist"),
])
def test_perf_tool_mistakes_are_one_line_errors(data_path: Path, args: list[str], message: str) -> None:
    done = kplay(data_path, *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
