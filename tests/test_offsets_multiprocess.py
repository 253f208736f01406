"""Two OS processes appending to one partition at once still get dense, gap-free offsets."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker_core import Cluster, Producer
from proc_producer import OutputLines, record_content

HELPER = Path(__file__).with_name("proc_producer.py")
PER_PROCESS = 5_000

pytestmark = pytest.mark.slow


def _start_producer(data: Path, prefix: str) -> subprocess.Popen[str]:
    # Small batches make many transactions, and a short pause after each (as an application
    # that does some work between sends) lets the other writer in, so the two really interleave.
    return subprocess.Popen(
        [sys.executable, str(HELPER), str(data), "shared", "--partition", "0", "--count", str(PER_PROCESS),
         "--prefix", prefix, "--wait-go", "--batch-records", "25", "--linger-ms", "1", "--sync", "--pause-ms", "2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_two_processes_appending_to_one_partition_get_dense_offsets(data_path: Path) -> None:
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("shared", partitions=1, replication_factor=3)
    writers = {prefix: _start_producer(data_path, prefix) for prefix in ("a", "b")}
    outputs = {prefix: OutputLines(proc) for prefix, proc in writers.items()}
    try:
        deadline = time.monotonic() + 60
        for output in outputs.values():
            assert output.next(deadline) == "READY\n"
        for proc in writers.values():  # both start producing at the same instant
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = {prefix: ("".join(outputs[prefix].rest(120)), proc.stderr.read())  # type: ignore[union-attr]
                    for prefix, proc in writers.items()}
        for proc in writers.values():
            proc.wait(timeout=30)
    finally:
        for proc in writers.values():
            if proc.poll() is None:
                proc.kill()
    for prefix, (out, err) in outcomes.items():
        assert "database is locked" not in err
        assert writers[prefix].returncode == 0, err
        assert out.strip().endswith("DONE")

    async with await Cluster.open(data_path) as cluster:
        records = []
        offset = 0
        while True:
            fetched = await cluster.logs.read("shared", 0, offset, max_records=5_000)
            if not fetched.records:
                break
            records.extend(fetched.records)
            offset = fetched.records[-1].offset + 1
        description = await cluster.topics.describe_topic("shared")

    total = 2 * PER_PROCESS
    assert [r.offset for r in records] == list(range(total))
    assert description.partitions[0].log_end_offset == description.partitions[0].high_watermark == total
    by_content = {(r.key, r.value, r.headers): r.offset for r in records}
    assert len(by_content) == total  # every record exactly once
    for prefix in ("a", "b"):
        offsets = []
        for i in range(PER_PROCESS):
            key, value, headers = record_content(prefix, i)
            offsets.append(by_content[(key, value, headers)])
        # One producer's records to one partition keep their send order.
        assert offsets == sorted(offsets)
    # The two writers really interleaved: neither wrote all of its records in one run.
    owners = [r.key.split(b"-")[0] for r in records]  # type: ignore[union-attr]
    switches = sum(1 for x, y in zip(owners, owners[1:]) if x != y)
    assert switches > 2


async def test_a_backlog_larger_than_one_request_goes_in_several_transactions_with_dense_offsets(
        cluster: Cluster) -> None:
    await cluster.topics.create_topic("backlog", partitions=1)
    # Batches of about 4 records, requests of at most about 3 batches: 60 records need 5+ requests.
    async with Producer(cluster, linger_ms=60_000, batch_size=150, max_request_size=450) as producer:
        futures = [await producer.send("backlog", f"v{i:02d}".encode()) for i in range(60)]
        await producer.flush()
        assert producer.transactions >= 5
    assert [(await f).offset for f in futures] == list(range(60))
    fetched = await cluster.logs.read("backlog", 0, 0)
    assert [r.value for r in fetched.records] == [f"v{i:02d}".encode() for i in range(60)]
