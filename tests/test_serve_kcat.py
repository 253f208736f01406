"""kcat (librdkafka's command-line client, Debian's ``kcat``) against ``kplay serve``.

The commands are the ones a tutorial shows: produce lines with ``-K:`` keys and ``-H``
headers, consume ``-o beginning -e``, a balanced consumer with ``-G``, ``-z`` codecs,
``-X acks=0``, an out-of-range ``-o 100`` and ``-L`` metadata. Without kcat these tests
skip, except on CI (``CI=true``), where kcat missing is a failure: ``make test`` installs it.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from typing import IO

import pytest

from broker_core.records import TopicPartition
from test_serve_support import ServedCluster, kcat_path, wait_for, served  # noqa: F401 (a fixture)

KCAT = kcat_path()
GROUP_SETTINGS = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=200",
                  "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=100"]

if KCAT is None:
    if os.environ.get("CI") == "true":
        pytestmark = pytest.mark.usefixtures("kcat_required")
    else:
        pytestmark = pytest.mark.skip(reason="kcat is not installed (Debian package 'kcat'; "
                                             "`make test` installs it when run as root)")


@pytest.fixture
def kcat_required() -> None:
    """On CI kcat must be there: its absence fails instead of skipping."""
    pytest.fail("kcat is not installed, and CI=true: `make test` should have installed the Debian package 'kcat'")


def kcat(served: ServedCluster, *args: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run ``kcat -b BOOTSTRAP ARGS`` to completion."""
    assert KCAT is not None
    result = subprocess.run([KCAT, "-b", served.bootstrap, *args], input=input, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


class RunningKcat:
    """A kcat left running (a balanced consumer), its stdout and stderr lines collected as they come."""

    def __init__(self, served: ServedCluster, *args: str) -> None:
        assert KCAT is not None
        self.proc = subprocess.Popen([KCAT, "-b", served.bootstrap, "-u", *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.stdout: list[str] = []
        self.assigned: set[int] = set()
        self._lock = threading.Lock()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream: IO[str], is_stdout: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            with self._lock:
                if is_stdout:
                    self.stdout.append(line)
                elif "rebalanced" in line and "assigned:" in line:
                    self.assigned = {int(p) for p in re.findall(r"\[(\d+)\]", line.split("assigned:")[1])}
                elif "rebalanced" in line and "revoked:" in line:
                    self.assigned = set()

    def owned(self) -> set[int]:
        with self._lock:
            return set(self.assigned)

    def records(self) -> list[str]:
        with self._lock:
            return list(self.stdout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_produce_keys_and_headers_and_consume_from_the_beginning(served: ServedCluster) -> None:
    kcat(served, "-P", "-t", "kc_mixed", "-K:", "-H", "trace=t1", "-H", "source=kcat", input="a:1\nb:2\n")
    kcat(served, "-P", "-t", "kc_mixed", input="plain-1\nplain-2\n")
    out = kcat(served, "-C", "-t", "kc_mixed", "-o", "beginning", "-e", "-q", "-f", r"%p|%o|%k|%s|%h\n").stdout
    assert out.splitlines() == ["0|0|a|1|trace=t1,source=kcat", "0|1|b|2|trace=t1,source=kcat",
                                "0|2||plain-1|", "0|3||plain-2|"]
    stored = served.log("kc_mixed", 0)
    assert [(r.key, r.value, tuple(r.headers)) for r in stored] == [
        (b"a", b"1", (("trace", b"t1"), ("source", b"kcat"))), (b"b", b"2", (("trace", b"t1"), ("source", b"kcat"))),
        (None, b"plain-1", ()), (None, b"plain-2", ())]


def test_metadata_lists_every_broker_at_its_own_listener(served: ServedCluster) -> None:
    served.create_topic("kc_meta", partitions=3, replication_factor=3)
    out = kcat(served, "-L", "-t", "kc_meta").stdout
    for broker_id in range(3):
        host, port = served.endpoint(broker_id)
        assert f"broker {broker_id} at {host}:{port}" in out
    for partition in range(3):
        assert re.search(rf"partition {partition}, leader {served.leader('kc_meta', partition)}, replicas: ", out)


def test_group_consumer_commits_its_offsets(served: ServedCluster) -> None:
    kcat(served, "-P", "-t", "kc_group", "-K:", input="".join(f"k{i}:v{i}\n" for i in range(10)))
    out = kcat(served, "-G", "kc_readers", "kc_group", "-e", "-q", "-f", r"%s\n", *GROUP_SETTINGS).stdout
    assert out.splitlines() == [f"v{i}" for i in range(10)]
    committed = served.call(served.core.groups.fetch_offsets("kc_readers"))
    assert committed == {TopicPartition("kc_group", 0): 10}
    # The group goes on from its commit: a second run reads only what came after.
    kcat(served, "-P", "-t", "kc_group", input="v10\n")
    again = kcat(served, "-G", "kc_readers", "kc_group", "-e", "-q", "-f", r"%s\n", *GROUP_SETTINGS).stdout
    assert again.splitlines() == ["v10"]


def test_two_balanced_consumers_split_a_topic(served: ServedCluster) -> None:
    served.create_topic("kc_split", partitions=4)
    args = ["-G", "kc_splitters", "kc_split", "-f", r"%p %s\n", *GROUP_SETTINGS]
    first = RunningKcat(served, *args)
    second: RunningKcat | None = None
    try:
        wait_for(lambda: first.owned() == {0, 1, 2, 3}, "the first kcat to own every partition")
        second = RunningKcat(served, *args)
        members = (first, second)
        wait_for(lambda: first.owned() and second.owned() and not first.owned() & second.owned()
                 and first.owned() | second.owned() == {0, 1, 2, 3}, "the two kcats to split the partitions")
        kcat(served, "-P", "-t", "kc_split", "-K:", input="".join(f"key{i}:v{i}\n" for i in range(40)))
        wait_for(lambda: sum(len(m.records()) for m in members) >= 40, "40 records between the two kcats")
        for member in members:
            lines = member.records()
            assert lines, "a member read nothing"
            assert {int(line.split()[0]) for line in lines} <= member.owned()
        values = sorted(line.split()[1] for member in members for line in member.records())
        assert values == sorted(f"v{i}" for i in range(40))
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_are_stored_as_records(served: ServedCluster, codec: str) -> None:
    topic = f"kc_{codec}"
    lines = [f"{codec}-{i} " + "x" * 50 for i in range(5)]
    kcat(served, "-P", "-t", topic, "-z", codec, input="\n".join(lines) + "\n")
    assert [r.value.decode() for r in served.log(topic, 0)] == lines
    out = kcat(served, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", r"%s\n").stdout
    assert out.splitlines() == lines


def test_acks_zero_produce_is_written_without_a_response(served: ServedCluster) -> None:
    kcat(served, "-P", "-t", "kc_acks0", "-X", "acks=0", input="fire\nand\nforget\n")
    wait_for(lambda: len(served.log("kc_acks0", 0)) == 3, "the acks=0 records in the log")
    assert [r.value for r in served.log("kc_acks0", 0)] == [b"fire", b"and", b"forget"]


def test_an_offset_past_the_end_is_out_of_range_and_resets(served: ServedCluster) -> None:
    kcat(served, "-P", "-t", "kc_range", input="one\ntwo\n")
    result = kcat(served, "-C", "-t", "kc_range", "-o", "100", "-e", "-f", r"%s\n")
    assert result.stdout == ""
    assert "Offset out of range" in result.stderr
