"""A producer process killed with SIGKILL loses nothing it was told had been written."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker_core import Cluster, ProducerRecord
from proc_producer import OutputLines, record_content

HELPER = Path(__file__).with_name("proc_producer.py")
ACKS_BEFORE_KILL = 1_500

pytestmark = pytest.mark.slow


async def _read_partition(cluster: Cluster, topic: str, partition: int) -> list:
    records = []
    offset = 0
    while True:
        fetched = await cluster.logs.read(topic, partition, offset, max_records=5_000)
        if not fetched.records:
            return records
        records.extend(fetched.records)
        offset = fetched.records[-1].offset + 1


# One record per transaction, waiting for each ack (a console producer); and a tight loop
# that never waits, so batches of about 40 records pile up in the producer.
@pytest.mark.parametrize("mode", [["--batch-records", "1", "--sync"], ["--batch-records", "40"]],
                         ids=["one-record-per-transaction", "pipelined-batches"])
async def test_sigkill_mid_produce_keeps_every_acknowledged_record(data_path: Path, mode: list[str]) -> None:
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("crash", partitions=1, replication_factor=3)
    # --count 0: produce until killed; every ack is printed the moment its future resolves.
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(data_path), "crash", "--partition", "0", "--count", "0",
         "--print-acks", *mode, "--linger-ms", "1", "--prefix", "c"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output = OutputLines(proc)
    acked: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while len(acked) < ACKS_BEFORE_KILL:
            line = output.next(deadline)
            assert line is not None, proc.stderr.read()  # type: ignore[union-attr]
            _, offset, index = line.split()
            acked[int(offset)] = int(index)
        proc.send_signal(signal.SIGKILL)  # in the middle of the loop: it is still producing
        proc.wait(timeout=30)
        # Acks printed between our last read and the kill count too; a torn last line does not.
        for line in output.rest():
            if line.endswith("\n"):
                _, offset, index = line.split()
                acked[int(offset)] = int(index)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # The file opens cleanly: SQLite finds no damage, and kplay opens it without complaint.
    check = sqlite3.connect(data_path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        check.close()
    async with await Cluster.open(data_path) as cluster:
        records = await _read_partition(cluster, "crash", 0)
        partition = (await cluster.topics.describe_topic("crash")).partitions[0]
        # The log keeps going from where it was, with no gap.
        appended = await cluster.logs.append("crash", 0, [ProducerRecord(b"k", b"after the crash")])
        assert appended.base_offset == len(records)

    assert [r.offset for r in records] == list(range(len(records)))
    assert partition.log_end_offset == partition.high_watermark == len(records)
    assert len(records) >= len(acked) >= ACKS_BEFORE_KILL
    for offset, index in acked.items():
        key, value, headers = record_content("c", index)
        record = records[offset]
        assert (record.key, record.value, record.headers) == (key, value, headers)
    # Records are in send order: record i of the loop sits at offset i.
    for record in records:
        assert dict(record.headers)["seq"] == str(record.offset).encode()
