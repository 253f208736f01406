"""``kplay fetch-session-perf-test``: what one incremental Fetch costs kplay serve while records flow.

    kplay fetch-session-perf-test --partitions 100,10000 --rounds 15

Issue 18's item 9 asks that a Fetch cost what has data, not what is assigned (Kafka's
incremental fetch sessions, KIP-227). For each partition count, on a fresh data file: a
one-broker cluster with topic ``fetch-session`` of that many partitions, ``kplay serve`` in its
own process, and one raw connection that opens a fetch session with a full Fetch of every
partition. Then each round appends one record to each of ``--partitions-with-data`` partitions
from this process (another process than the server, so the server must notice a commit it did
not make, as when a TUI or console-producer writes) and times one incremental Fetch naming only
those partitions, checking that exactly they are answered. Last, a Fetch without a session
naming every partition, as librdkafka sends them. Figures are medians of the rounds.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import struct
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from broker_core import Cluster
from broker_core.records import ProducerRecord

from .fetch_perf import partition_counts, serving
from .invocation import UsageProblem, one_line_errors
from .output import print_lines

TOPIC = "fetch-session"
FETCH_VERSION = 12  # sessions by topic name (v7-v12); v13+ names topics by id


def fetch_session_perf_test(
    partitions: Annotated[str, typer.Option("--partitions", metavar="LIST",
                                            help="Comma-separated partition counts to compare.")] = "100,10000",
    with_data: Annotated[int, typer.Option("--partitions-with-data", metavar="N",
                                           help="Partitions that get a record before each fetch.")] = 10,
    rounds: Annotated[int, typer.Option("--rounds", metavar="N", help="Incremental fetches timed.")] = 15,
) -> None:
    """Time an incremental Fetch (KIP-227) in a session of many partitions while a few get records."""
    with one_line_errors("Error: "):
        counts = partition_counts(partitions)
        if not counts or min(counts) < 1 or with_data < 1 or rounds < 1:
            raise UsageProblem("--partitions, --partitions-with-data and --rounds must be at least 1")
        lines = [f"fetch-session-perf-test: kplay serve in its own process; before each of {rounds} incremental "
                 f"fetches, another process appends one record to each of {with_data} partition(s)",
                 f"{'partitions':>12}{'incremental ms':>16}{'vs first':>10}{'no session ms':>15}{'vs first':>10}"]
        first: tuple[float, float] | None = None
        for count in counts:
            incremental, full = _measure(count, min(with_data, count), rounds)
            first = first or (incremental, full)
            lines.append(f"{count:>12}{incremental:>16.2f}{incremental / first[0]:>9.2f}x"
                         f"{full:>15.1f}{full / first[1]:>9.2f}x")
        print_lines(lines + [f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)"])


class _Connection:
    """One Kafka connection speaking kafka-python's request classes."""

    def __init__(self, host: str, port: int) -> None:
        self._sock = socket.create_connection((host, port), timeout=120)
        self._correlation = 0

    def fetch(self, session_id: int, epoch: int, offsets: dict[int, int]) -> Any:
        from kafka.protocol.consumer import FetchRequest, FetchResponse

        self._correlation += 1
        request = FetchRequest(
            version=FETCH_VERSION, replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 26, isolation_level=0,
            session_id=session_id, session_epoch=epoch, rack_id="", forgotten_topics_data=[],
            topics=[FetchRequest.FetchTopic(topic=TOPIC, partitions=[
                FetchRequest.FetchTopic.FetchPartition(partition=p, current_leader_epoch=-1, fetch_offset=offset,
                                                       last_fetched_epoch=-1, log_start_offset=-1,
                                                       partition_max_bytes=1 << 20)
                for p, offset in offsets.items()])])
        request.with_header(correlation_id=self._correlation, client_id="fetch-session-perf-test")
        self._sock.sendall(request.encode(header=True, framed=True))
        (size,) = struct.unpack(">i", self._read(4))
        response = FetchResponse.decode(self._read(size), version=FETCH_VERSION, header=True)
        if response.error_code:
            raise UsageProblem(f"kplay serve answered the Fetch with error code {response.error_code}")
        return response

    def _read(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self._sock.recv(count - len(data))
            if not chunk:
                raise UsageProblem("kplay serve closed the connection")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self._sock.close()


def _answered(response: Any) -> list[int]:
    return sorted(p.partition_index for topic in response.responses for p in topic.partitions)


def _measure(partitions: int, with_data: int, rounds: int) -> tuple[float, float]:
    """(median incremental Fetch, median sessionless Fetch of every partition), in ms."""
    with tempfile.TemporaryDirectory(prefix="kplay-fetch-session-perf-") as directory:
        data = Path(directory) / "fetch-session-perf.db"
        asyncio.run(_create(data, partitions))
        with serving(data) as bootstrap:
            host, port = bootstrap.split(",")[0].rsplit(":", 1)
            return asyncio.run(_rounds(data, _Connection(host, int(port)), partitions, with_data, rounds))


async def _create(data: Path, partitions: int) -> None:
    async with await Cluster.open(data, brokers=1) as cluster:
        await cluster.topics.create_topic(TOPIC, partitions, 1)


async def _rounds(data: Path, connection: _Connection, partitions: int, with_data: int,
                  rounds: int) -> tuple[float, float]:
    positions = dict.fromkeys(range(partitions), 0)
    try:
        session = connection.fetch(0, 0, positions).session_id
        if not session:
            raise UsageProblem("kplay serve opened no fetch session")
        incremental: list[float] = []
        async with await Cluster.open(data) as writer:
            for epoch in range(1, rounds + 1):
                for p in range(with_data):
                    await writer.logs.append(TOPIC, p, [ProducerRecord(value=b"x" * 100)], acks=1)
                started = time.perf_counter()
                response = connection.fetch(session, epoch, {p: positions[p] for p in range(with_data)})
                incremental.append(time.perf_counter() - started)
                if _answered(response) != list(range(with_data)):
                    raise UsageProblem(f"the incremental Fetch answered partitions {_answered(response)[:20]}, "
                                       f"not the {with_data} that got records")
                for p in range(with_data):
                    positions[p] += 1
        full: list[float] = []
        for _ in range(3):
            started = time.perf_counter()
            connection.fetch(0, -1, positions)
            full.append(time.perf_counter() - started)
        return statistics.median(incremental) * 1000, statistics.median(full) * 1000
    finally:
        connection.close()


def register(app: typer.Typer) -> None:
    """Add ``fetch-session-perf-test`` to the app."""
    app.command("fetch-session-perf-test")(fetch_session_perf_test)
