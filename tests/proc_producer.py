"""A producer in its own OS process, driven by the multi-process, crash and feed tests.

    python tests/proc_producer.py DATA TOPIC --count N [--partition P] [--prefix S]
        [--create-topic PARTITIONS] [--wait-go] [--print-acks] [--batch-records K] [--sync [--pause-ms MS]]

Record ``i`` carries the content ``record_content(prefix, i)`` so a test can rebuild
exactly what was sent from the index printed. With ``--print-acks`` every acknowledged
record is printed as ``ACK <offset> <i>`` the moment its future resolves; ``--wait-go``
prints ``READY`` and waits for a line on stdin before producing, so two processes can
start at the same instant. ``--count 0`` produces until the process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker_core import Cluster, Producer, RecordMetadata  # noqa: E402
from broker_core.records import RECORD_OVERHEAD  # noqa: E402


def record_content(prefix: str, i: int) -> tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]:
    """Key, value and headers of record ``i``: varied lengths, and bytes that are not UTF-8."""
    key = f"{prefix}-k{i}".encode()
    value = f"{prefix}-v{i}:".encode() + bytes((i * 7 + j) % 256 for j in range(i % 37))
    headers = (("seq", str(i).encode()), ("bin", bytes([i % 256, 0xFF, 0x00])))
    return key, value, headers


async def produce(args: argparse.Namespace) -> None:
    async with await Cluster.open(args.data) as cluster:
        if args.create_topic:
            await cluster.topics.create_topic(args.topic, partitions=args.create_topic, replication_factor=1)
        if args.wait_go:
            print("READY", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        # Room for about batch_records records of this size in one batch.
        batch_size = args.batch_records * (RECORD_OVERHEAD + 80) if args.batch_records else 16_384
        args.batch_records = args.batch_records or 100
        async with Producer(cluster, linger_ms=args.linger_ms, batch_size=batch_size) as producer:
            i = 0
            while args.count == 0 or i < args.count:
                key, value, headers = record_content(args.prefix, i)
                future = await producer.send(args.topic, value, key, partition=args.partition, headers=headers)
                if args.print_acks:
                    future.add_done_callback(_printer(i))
                i += 1
                if args.sync and i % args.batch_records == 0:
                    # An application that waits for each batch (and may then work a little,
                    # leaving the file free for other writers between transactions).
                    await producer.flush()
                    await asyncio.sleep(args.pause_ms / 1000)
                elif i % 50 == 0:
                    await asyncio.sleep(0)  # let the sender run, as an application would
            await producer.flush()
    print("DONE", flush=True)


def _printer(i: int):  # type: ignore[no-untyped-def]
    def on_ack(future: asyncio.Future[RecordMetadata]) -> None:
        if future.exception() is None:
            sys.stdout.write(f"ACK {future.result().offset} {i}\n")
            sys.stdout.flush()
    return on_ack


class OutputLines:
    """The stdout lines of a helper process, read with a deadline (a thread pumps the pipe)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def next(self, deadline: float) -> str | None:
        """The next complete line (None at end of output); AssertionError past ``deadline``."""
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("helper process produced no output before the deadline") from None
        return line

    def rest(self, timeout_s: float = 30.0) -> list[str]:
        """Every remaining line, once the process has closed its output."""
        deadline = time.monotonic() + timeout_s
        lines = []
        while (line := self.next(deadline)) is not None:
            lines.append(line)
        return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("topic")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--partition", type=int, default=None)
    parser.add_argument("--prefix", default="p")
    parser.add_argument("--create-topic", type=int, default=0, metavar="PARTITIONS")
    parser.add_argument("--wait-go", action="store_true")
    parser.add_argument("--print-acks", action="store_true")
    parser.add_argument("--batch-records", type=int, default=0)
    parser.add_argument("--linger-ms", type=float, default=5.0)
    parser.add_argument("--sync", action="store_true", help="wait for each batch before the next")
    parser.add_argument("--pause-ms", type=float, default=0.0, help="with --sync: pause after each batch")
    asyncio.run(produce(parser.parse_args()))


if __name__ == "__main__":
    main()
