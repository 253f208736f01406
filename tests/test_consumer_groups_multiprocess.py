"""Two consumers of one group in two OS processes split a topic and read every record exactly once.

Each member is a separate Python process on the same data file (as two terminals running
``kplay console-consumer --group``): they coordinate only through the file. The second
process joins while the first is consuming and while records keep arriving; auto-commit
(and the commit before giving partitions up) means no record is read twice or skipped.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from broker_core import Cluster, Producer, TopicPartition

pytestmark = pytest.mark.slow

PARTITIONS = 4
PER_ROUND = 150

MEMBER_SCRIPT = r"""
import asyncio, json, sys
from pathlib import Path
from broker_core import Cluster, Consumer

async def main(data, stop_file, name):
    async with await Cluster.open(data) as cluster:
        consumer = Consumer(cluster, group_id="workers", client_id=name, auto_offset_reset="earliest",
                            auto_commit_interval_ms=100, heartbeat_interval_ms=500, session_timeout_ms=10000,
                            max_poll_records=20)
        def report(revoked, assigned):
            # After the stop file appeared: the other member may have left first, and its partitions
            # come here before this loop sees the file (as in Kafka when a member leaves).
            late = "LATE " if Path(stop_file).exists() else ""
            print(late + "ASSIGNED " + json.dumps(sorted(p for _, p in consumer.assignment())), flush=True)
        consumer.rebalance_listeners.append(report)
        consumer.subscribe(["jobs"])
        seen = []
        while not Path(stop_file).exists():
            for record in await consumer.poll(100):
                seen.append([record.partition, record.offset, record.value.decode()])
        await consumer.close()
        print("SEEN " + json.dumps(seen), flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


class Member:
    """One member process and the lines it printed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))

    def reports(self, *, late: bool = True) -> list[list[int]]:
        """Every assignment it reported, oldest first (``late``: also those once the test said stop)."""
        prefixes = ("ASSIGNED ", "LATE ASSIGNED ") if late else ("ASSIGNED ",)
        return [json.loads(line.split("ASSIGNED ", 1)[1]) for line in self.lines if line.startswith(prefixes)]

    def assigned(self) -> list[int] | None:
        """The partitions it reported last (None before its first assignment)."""
        reports = self.reports()
        return reports[-1] if reports else None

    def seen(self) -> list[list]:
        return next(json.loads(line.split(" ", 1)[1]) for line in self.lines if line.startswith("SEEN "))


async def start_member(data: Path, stop_file: Path, name: str) -> Member:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MEMBER_SCRIPT, str(data), str(stop_file), name,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent)
    return Member(process)


async def wait_until(condition, what: str, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def produce_round(cluster: Cluster, round_: int) -> None:
    async with Producer(cluster) as producer:
        for i in range(PER_ROUND):
            await producer.send("jobs", f"r{round_}-{i}".encode(), key=f"k{i}".encode())
        await producer.flush()


async def test_two_processes_share_a_group_and_read_every_record_once(data_path: Path, tmp_path: Path) -> None:
    stop_file = tmp_path / "stop"
    members: list[Member] = []
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("jobs", partitions=PARTITIONS, replication_factor=1)
        await produce_round(cluster, 0)
        try:
            first = await start_member(data_path, stop_file, "first")
            members.append(first)

            async def first_owns_everything() -> bool:
                return first.assigned() == list(range(PARTITIONS))
            await wait_until(first_owns_everything, "the first member's assignment")

            second = await start_member(data_path, stop_file, "second")
            members.append(second)
            await produce_round(cluster, 1)  # records keep arriving while the group rebalances

            async def split() -> bool:
                mine, theirs = first.assigned(), second.assigned()
                return (mine is not None and theirs is not None and len(mine) == len(theirs) == PARTITIONS // 2
                        and sorted(mine + theirs) == list(range(PARTITIONS)))
            await wait_until(split, "the two members to split the partitions")
            await produce_round(cluster, 2)

            ends = {p.partition: p.high_watermark for p in (await cluster.topics.describe_topic("jobs")).partitions}

            async def all_committed() -> bool:
                committed = await cluster.groups.fetch_offsets("workers")
                return committed == {TopicPartition("jobs", p): end for p, end in ends.items()}
            await wait_until(all_committed, "every record to be committed")
            lags = await cluster.groups.group_lag("workers")
            assert [row.lag for row in lags] == [0] * PARTITIONS
            assert {row.client_id for row in lags} == {"first", "second"}
        finally:
            stop_file.touch()
            for member in members:
                try:
                    await asyncio.wait_for(member.process.wait(), 30)
                except asyncio.TimeoutError:
                    member.process.kill()
                    await member.process.wait()
                await member.reader
        for member in members:
            assert member.process.returncode == 0, (await member.process.stderr.read()).decode()  # type: ignore[union-attr]
        assert (await cluster.groups.describe_group("workers")).state == "Empty"  # both left on close

    seen_first, seen_second = first.seen(), second.seen()
    everything = sorted((p, o) for p, o, _ in seen_first + seen_second)
    assert len(everything) == 3 * PER_ROUND, f"read {len(seen_first)} + {len(seen_second)} records"
    assert len(set(everything)) == len(everything), "a record was read twice"
    assert sorted(v for _, _, v in seen_first + seen_second) == sorted(
        f"r{r}-{i}" for r in range(3) for i in range(PER_ROUND))
    # After the split each member reads only its own partitions.
    owned = [partitions for partitions in second.reports(late=False) if partitions]
    assert len(owned) == 1 and {p for p, _, _ in seen_second} == set(owned[0])
    assert second.assigned() == []  # it gave its partitions up when it closed
    assert any(v.startswith("r2-") for _, _, v in seen_first)
    assert any(v.startswith("r2-") for _, _, v in seen_second)
