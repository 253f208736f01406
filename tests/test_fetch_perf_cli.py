"""``kplay fetch-perf-test`` as a user runs it: one table per client, figures for every partition
count, and bad options refused in one line."""

from __future__ import annotations

import subprocess

from cli_harness import KPLAY, ROOT, _env


def fetch_perf_test(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``kplay fetch-perf-test ARGS`` (it makes its own data files: no --data)."""
    return subprocess.run([*KPLAY, "fetch-perf-test", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=_env())


def test_fetch_perf_test_prints_a_table_per_client() -> None:
    result = fetch_perf_test("--partitions", "2,20", "--num-records", "200",
                   "--partitions-with-data", "2", "--client", "kafka-python,core", timeout=180)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fetch-perf-test: 200 records of 100 bytes in 2 partition(s)")
    for name in ("kafka-python", "core"):
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}: "))
        rows = [line.split() for line in lines[start + 2:start + 4]]
        assert [row[0] for row in rows] == ["2", "20"]
        assert all(float(row[1]) > 0 for row in rows) and rows[0][3] == "1.00x"
    assert lines[-1].startswith("(load average ")


def test_fetch_perf_test_refuses_an_unknown_client_in_one_line() -> None:
    result = fetch_perf_test("--client", "kafka-java")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "--client must name some of kafka-python, confluent-kafka, core, not 'kafka-java'"]


def test_fetch_session_perf_test_times_incremental_fetches_per_partition_count() -> None:
    result = subprocess.run([*KPLAY, "fetch-session-perf-test", "--partitions", "3,30", "--partitions-with-data", "2",
                             "--rounds", "3"], capture_output=True, text=True, timeout=180, cwd=ROOT, env=_env())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fetch-session-perf-test: kplay serve in its own process; before each of 3 "
                               "incremental fetches, another process appends one record to each of 2 partition(s)")
    rows = [line.split() for line in lines[2:4]]
    assert [row[0] for row in rows] == ["3", "30"]
    assert all(float(row[1]) > 0 and float(row[3]) > 0 for row in rows) and rows[0][2] == rows[0][4] == "1.00x"
    assert lines[-1].startswith("(load average ")


def test_fetch_session_perf_test_refuses_a_bad_count_in_one_line() -> None:
    result = subprocess.run([*KPLAY, "fetch-session-perf-test", "--partitions", "10,ten"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT, env=_env())
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "--partitions must be a comma-separated list of numbers, not '10,ten'"]
