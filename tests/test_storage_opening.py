"""Opening bad data files: every refusal is one line, prompt, and leaves the file as it was.

Each case runs ``kplay`` as a subprocess (a failed open used to hang on aiosqlite's
non-daemon threads, so only a separate process shows it), and checks the file's SHA-256
before and after. Also here: damage found while running stops writes, the replica
fetcher ends quietly when its cluster closes under it, and the tracebacks issue 18
item 12 listed for ``consumer-groups --by-duration`` and Ctrl+C on ``kplay serve``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from broker_core import Cluster
from broker_core import storage as storage_module
from broker_core.errors import StorageError
from broker_core.records import ProducerRecord
from cli_harness import KPLAY, ROOT, LiveTool, create_topics, kplay

#: A failed open must end by itself well within this (it used to hang forever).
PROMPT_S = 30


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_line_refusal(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "disk I/O error" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def edit_meta(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_meta_without_cluster_id_is_refused_promptly_untouched(data_path: Path) -> None:
    create_topics(data_path, {"t": 1})
    edit_meta(data_path, "DELETE FROM meta WHERE key='cluster_id'")
    before = sha256(data_path)
    result = kplay(data_path, "topics", "--list", timeout=PROMPT_S)
    assert_one_line_refusal(result, "meta table has no cluster_id")
    assert sha256(data_path) == before


def test_a_non_numeric_schema_version_is_one_line(data_path: Path) -> None:
    create_topics(data_path, {"t": 1})
    edit_meta(data_path, "UPDATE meta SET value='two' WHERE key='schema_version'")
    before = sha256(data_path)
    result = kplay(data_path, "topics", "--list", timeout=PROMPT_S)
    assert_one_line_refusal(result, "schema_version is 'two', not a number")
    assert sha256(data_path) == before


def test_an_sqlite_file_holding_only_a_view_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "views.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW answer AS SELECT 42")
    conn.commit()
    conn.close()
    before = sha256(path)
    result = kplay(path, "topics", "--create", "--topic", "t", "--partitions", "1", "--replication-factor", "1",
                   timeout=PROMPT_S)
    assert_one_line_refusal(result, "is not a kplay data file")
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["views.db"]


def test_a_directory_or_a_fifo_is_named_for_what_it_is(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    assert_one_line_refusal(kplay(directory, "topics", "--list", timeout=PROMPT_S), "is a directory")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_one_line_refusal(kplay(fifo, "topics", "--list", timeout=PROMPT_S), "is not a regular file")


def test_a_wal_or_shm_path_that_is_not_a_file_is_named_and_the_data_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "cluster.db"
    created = kplay(path, "topics", "--create", "--topic", "t", "--partitions", "1", "--replication-factor", "1",
                    timeout=PROMPT_S)
    assert created.returncode == 0, created.stderr
    before = sha256(path)
    for suffix in ("-wal", "-shm"):
        sidecar = tmp_path / f"cluster.db{suffix}"
        sidecar.mkdir()  # SQLite alone says only "disk I/O error" here
        assert_one_line_refusal(kplay(path, "topics", "--list", timeout=PROMPT_S),
                                f"{sidecar} is not a regular file")
        assert sha256(path) == before
        sidecar.rmdir()
    listed = kplay(path, "topics", "--list", timeout=PROMPT_S)
    assert listed.returncode == 0 and listed.stdout.split() == ["t"], listed


def test_a_path_in_a_missing_directory_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "deeper" / "cluster.db"
    result = kplay(path, "topics", "--list", timeout=PROMPT_S)
    assert_one_line_refusal(result, f"the directory {path.parent} does not exist")
    assert not (tmp_path / "typo").exists()


def test_the_default_data_directory_is_still_created_on_first_run(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "KPLAY_DATA"}
    env["XDG_DATA_HOME"] = str(tmp_path / "fresh-home" / "share")
    result = subprocess.run([*KPLAY, "topics", "--list"], capture_output=True, text=True, timeout=PROMPT_S,
                            cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh-home" / "share" / "kplay" / "cluster.db").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_one_line_and_exits(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = kplay(locked / "cluster.db", "topics", "--list", timeout=PROMPT_S)
    finally:
        locked.chmod(0o755)
    assert_one_line_refusal(result, "permission denied")


def damage(path: Path, seed: int = 7) -> None:
    """Random overwrites in the second half of the file (record pages, not the schema)."""
    rng = random.Random(seed)
    size = path.stat().st_size
    with path.open("r+b") as file:
        for _ in range(20):
            file.seek(rng.randrange(size // 2, size - 64))
            file.write(rng.randbytes(64))


def test_a_damaged_file_is_refused_before_anything_writes_to_it(data_path: Path) -> None:
    create_topics(data_path, {"t": 1})
    produced = kplay(data_path, "console-producer", "--topic", "t", input="".join(f"{i}\n" for i in range(20_000)))
    assert produced.returncode == 0, produced.stderr
    damage(data_path)
    before = sha256(data_path)
    result = kplay(data_path, "console-producer", "--topic", "t", input="one more\n", timeout=PROMPT_S)
    assert_one_line_refusal(result, "is damaged", "will not write to it")
    assert sha256(data_path) == before


async def test_damage_found_while_running_stops_every_later_write(data_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A file too large for the check on open: SQLite finds the damage when it reads the page.
    monkeypatch.setattr(storage_module, "QUICK_CHECK_MAX_BYTES", 0)
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("t", 1, 1)
        await cluster.logs.append("t", 0, [ProducerRecord(value=b"x" * 200) for _ in range(20_000)])
    damage(data_path)
    before = sha256(data_path)
    async with await Cluster.open(data_path) as cluster:
        with pytest.raises(StorageError, match="is damaged"):
            for offset in range(0, 20_000, 500):
                await cluster.logs.read("t", 0, offset)
        # Even a write that would not touch the damaged pages is refused from now on.
        with pytest.raises(StorageError, match="is damaged"):
            await cluster.topics.create_topic("u", 1, 1)
    assert sha256(data_path) == before


async def test_the_replica_fetcher_ends_quietly_when_its_cluster_closes(data_path: Path) -> None:
    cluster = await Cluster.open(data_path)
    await cluster.topics.create_topic("t", 3, 3)
    fetcher = asyncio.ensure_future(cluster.controller.fetcher.run(interval_s=0))
    for _ in range(20):  # let it go round a few times, mid-snapshot at some point
        await asyncio.sleep(0)
    await cluster.close()
    await asyncio.wait_for(fetcher, PROMPT_S)  # returns, raises nothing


def test_reset_by_a_duration_before_year_one_goes_to_the_earliest_offset(data_path: Path) -> None:
    create_topics(data_path, {"t": 1})
    assert kplay(data_path, "console-producer", "--topic", "t", input="a\nb\n").returncode == 0
    result = kplay(data_path, "consumer-groups", "--reset-offsets", "--group", "g", "--topic", "t",
                   "--by-duration", "P999999999D", "--execute")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["g", "t", "0", "0"]
    result = kplay(data_path, "consumer-groups", "--reset-offsets", "--group", "g", "--topic", "t",
                   "--by-duration", "P99999999999D", "--execute")
    assert_one_line_refusal(result, "Text cannot be parsed to a Duration: P99999999999D")


def test_ctrl_c_on_serve_with_clients_connected_is_clean(data_path: Path) -> None:
    tool = LiveTool(data_path, "serve", "--port", "0", "--kafka-only")
    clients: list[socket.socket] = []
    try:
        lines: list[str] = []
        while not lines or lines[-1] != "Press Ctrl+C to stop.":
            more = tool.read_lines(1, timeout_s=60)
            assert more, f"kplay serve did not start: {lines} {tool.stderr_so_far()}"
            lines.extend(more)
        for line in lines:
            if line.startswith("Kafka broker "):
                host, port = line.split(": ")[1].rsplit(":", 1)
                clients.append(socket.create_connection((host, int(port)), timeout=10))
        assert len(clients) == 3
        # The server has taken each connection once it answers a request on it; an empty
        # ApiVersions v0 (size, api key 18, version 0, correlation id 7, no client id).
        for client in clients:
            client.sendall(bytes.fromhex("0000000a" "0012" "0000" "00000007" "ffff"))
            assert client.recv(4)
        code, stderr = tool.stop()
    finally:
        for client in clients:
            client.close()
        tool.kill()
    assert code == 0, stderr
    assert not any("Traceback" in line or "CancelledError" in line for line in stderr), stderr


async def test_space_freed_by_a_delete_goes_back_to_the_file_system(data_path: Path) -> None:
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("big", 1, 1)
        # 14 MB of values (stored as batches with little overhead: the file holds about that).
        for _ in range(8):
            await cluster.logs.append("big", 0, [ProducerRecord(key=b"k", value=random.randbytes(900))
                                                 for _ in range(2_000)], acks=1)
        # Copied into the file now (the WAL would hold it until WAL_CHECKPOINT_FRAMES pages).
        probe = sqlite3.connect(data_path)
        probe.execute("PRAGMA wal_checkpoint(PASSIVE)")
        probe.close()
        full = data_path.stat().st_size
        assert full > 8_000_000
        await cluster.topics.delete_topic("big")
        deadline = asyncio.get_running_loop().time() + 60
        # Given back by itself, shortly after the writes stop (the file shrinks at a checkpoint).
        while data_path.stat().st_size > full // 10:
            assert asyncio.get_running_loop().time() < deadline, data_path.stat().st_size
            await asyncio.sleep(0.05)
        await cluster.topics.create_topic("after", 1, 1)  # still a working file
    wal = data_path.with_name(data_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size <= storage_module.JOURNAL_SIZE_LIMIT_BYTES
