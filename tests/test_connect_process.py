"""Kafka Connect as a user runs it: ``kplay connect`` and ``kplay generator`` as processes, and a
worker killed with SIGKILL mid-stream whose connectors another worker finishes."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy

from broker_core import Cluster
from broker_core.connect.databases import open_engine
from broker_core.connect.generator import iris_rows
from cli_harness import KPLAY, ROOT, LiveTool, kplay
from test_connect_support import sink_config, source_config, topic_ids

pytestmark = pytest.mark.slow

#: A worker that loses its connectors quickly once it stops heartbeating.
FAST_WORKER = ["--property", "session.timeout.ms=1500", "--property", "heartbeat.interval.ms=200"]


def rows(url: str, table: str) -> list[tuple]:
    """Every row of ``table`` by id ([] while it does not exist)."""
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            if not sqlalchemy.inspect(conn).has_table(table):
                return []
            reflected = sqlalchemy.Table(table, sqlalchemy.MetaData(), autoload_with=conn)
            return [tuple(r) for r in conn.execute(sqlalchemy.select(reflected).order_by(reflected.c.id))]
    finally:
        engine.dispose()


def wait_for(condition, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it is truthy, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(0.05)


async def ids_in_topic(data_path: Path, topic: str) -> list[int]:
    """The ``id`` of every record in the topic, read from the data file."""
    cluster = await Cluster.open(data_path)
    try:
        return await topic_ids(cluster, topic)
    finally:
        await cluster.close()


def generator(*args: str) -> subprocess.CompletedProcess:
    """Run ``kplay generator ARGS`` (it takes no --data: it writes to a database, not the cluster)."""
    return subprocess.run([*KPLAY, "generator", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def write_json(path: Path, body: dict) -> Path:
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def wait_for_line(tool: LiveTool, fragment: str, timeout: float = 30.0) -> list[str]:
    """Read the tool's stdout until a line contains ``fragment``; return the lines read."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = tool.read_lines(1, timeout_s=max(0.0, deadline - time.monotonic()))
        if not lines:
            break
        seen.extend(lines)
        if fragment in lines[0]:
            return seen
    raise AssertionError(f"no line with {fragment!r} in {seen}")


def test_a_worker_killed_mid_stream_is_finished_by_another_without_duplicates_or_gaps(
        tmp_path: Path, data_path: Path) -> None:
    url = f"jdbc:sqlite:{tmp_path / 'pipeline.db'}"
    source = source_config("jdbc-source", url, **{"batch.max.rows": "20"})
    sink = sink_config("jdbc-sink", url, "db-iris_data", **{"batch.size": "20"})
    for name, body in (("source", {"name": source.pop("name"), "config": source}), ("sink", sink)):
        created = kplay(data_path, "connect", "--create", str(write_json(tmp_path / f"{name}.json", body)))
        assert created.returncode == 0, created.stderr
    generator = subprocess.Popen([*KPLAY, "generator", "--db", url, "--rate", "400/s", "--count", "1200"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    first = LiveTool(data_path, "connect", "--worker", *FAST_WORKER, "--property", "worker.id=first")
    second = None
    try:
        wait_for(lambda: len(rows(url, "iris_copy")) >= 100, "the first worker to copy rows")
        first.proc.send_signal(signal.SIGKILL)
        first.wait()
        copied_at_kill = len(rows(url, "iris_copy"))
        second = LiveTool(data_path, "connect", "--worker", *FAST_WORKER, "--property", "worker.id=second")
        assert generator.wait(60) == 0
        wait_for(lambda: len(rows(url, "iris_copy")) == 1200, "every row in the target", timeout=60)
        assert rows(url, "iris_copy") == rows(url, "iris_data")
        assert copied_at_kill < 1200  # the kill really landed mid-stream
        status = json.loads(kplay(data_path, "connect", "--status", "jdbc-source").stdout)
        assert status["connector"] == {"state": "RUNNING", "worker_id": "second"}
        # The source wrote each row to the topic exactly once, through both workers.
        assert asyncio.run(ids_in_topic(data_path, "db-iris_data")) == list(range(1, 1201))
    finally:
        if generator.poll() is None:
            generator.kill()
        generator.wait()
        for tool in (first, second):
            if tool is not None:
                tool.kill()


def test_connect_cli_creates_lists_reports_and_controls_connectors(tmp_path: Path, data_path: Path) -> None:
    url = f"jdbc:sqlite:{tmp_path / 'pipeline.db'}"
    generated = generator("--db", url, "--rate", "500/s", "--count", "7")
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.strip() == "Inserted 7 rows into iris_data (last id 7) at 500/s."
    expected = [tuple(r.values()) for r in iris_rows()[:7]]
    assert [row[1:6] for row in rows(url, "iris_data")] == expected

    config = source_config("jdbc-source", url)
    created = kplay(data_path, "connect", "--create", str(write_json(tmp_path / "src.json", config)))
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"name": "jdbc-source", "config": config, "tasks": [], "type": "source"}
    assert json.loads(kplay(data_path, "connect", "--list").stdout) == ["jdbc-source"]
    unassigned = json.loads(kplay(data_path, "connect", "--status", "jdbc-source").stdout)
    assert unassigned["connector"]["state"] == "UNASSIGNED"

    worker = LiveTool(data_path, "connect", "--worker", *FAST_WORKER, "--property", "worker.id=cli")
    try:
        wait_for_line(worker, "task-jdbc-source-0 is RUNNING on worker cli")
        status = json.loads(kplay(data_path, "connect", "--status", "jdbc-source").stdout)
        assert status == {"name": "jdbc-source", "connector": {"state": "RUNNING", "worker_id": "cli"},
                          "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "cli"}], "type": "source"}
        paused = kplay(data_path, "connect", "--pause", "jdbc-source")
        assert paused.stdout.strip() == "Connector jdbc-source paused."
        wait_for_line(worker, "task-jdbc-source-0 is PAUSED")
        assert kplay(data_path, "connect", "--resume", "jdbc-source").returncode == 0
        wait_for_line(worker, "task-jdbc-source-0 is RUNNING")
        restarted = kplay(data_path, "connect", "--restart", "jdbc-source", "--include-tasks")
        assert restarted.stdout.strip() == "Restart of connector jdbc-source requested."
        wait_for_line(worker, "connector-jdbc-source is RESTARTING")
        wait_for_line(worker, "task-jdbc-source-0 is RUNNING")
        assert json.loads(kplay(data_path, "connect", "--config", "jdbc-source").stdout) == config
        deleted = kplay(data_path, "connect", "--delete", "jdbc-source")
        assert deleted.stdout.strip() == "Connector jdbc-source deleted."
        assert json.loads(kplay(data_path, "connect", "--list").stdout) == []
        code, errors = worker.stop(signal.SIGINT)
        assert code == 0, errors
    finally:
        worker.kill()


@pytest.mark.parametrize("args, message", [
    (["connect", "--status", "nope"], "Error: No status found for connector nope"),
    (["connect", "--pause", "nope"], "Error: Connector nope not found"),
    (["connect", "--list", "--delete", "x"], "Command must include exactly one action"),
    (["connect", "--create", "missing.json"], "Error: cannot read missing.json"),
    (["generator", "--db", "jdbc:sqlite:x.db", "--rate", "fast"], "Error: 'fast' is not a rate"),
    (["generator", "--db", "jdbc:postgresql://127.0.0.1:1/nowhere", "--count", "1"], "Error: OperationalError"),
    (["generator", "--rate", "1/s"], 'Missing required option "--db"'),
])
def test_connect_cli_mistakes_are_one_line_errors(tmp_path: Path, data_path: Path, args: list[str],
                                                   message: str) -> None:
    done = generator(*args[1:]) if args[0] == "generator" else kplay(data_path, *args)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


def test_a_bad_connector_file_is_refused_naming_the_key(tmp_path: Path, data_path: Path) -> None:
    config = source_config("bad", "jdbc:sqlite:x.db", colour="red")
    done = kplay(data_path, "connect", "--create", str(write_json(tmp_path / "bad.json", config)))
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error: Connector configuration is invalid and contains the following 1 error(s): "
                                   'Unknown configuration "colour" for JdbcSourceConnector')
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    broken = kplay(data_path, "connect", "--create", str(tmp_path / "broken.json"))
    assert broken.returncode == 1 and "is not valid JSON" in broken.stderr
