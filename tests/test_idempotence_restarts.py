"""Idempotent producers across restarts of the server (issue 18 item 2).

The producer state (epoch and last five batches per producer and partition) is written in
the same transaction as the records, so a batch retried after ``kplay serve`` was killed
between its commit and its response gets its original offset instead of being written
twice. Checked byte for byte with hand-made requests against a restarted server, and end
to end with confluent-kafka (enable.idempotence=true) against ``kplay serve`` SIGKILLed
and restarted mid-stream.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from kafka.protocol.producer import InitProducerIdRequest, InitProducerIdResponse

from broker_core import Cluster
from cli_harness import KPLAY, ROOT, _env, create_topics
from test_serve_protocol import Client, produce, produce_batch
from test_serve_support import ServedCluster, wait_for


def first_partition(response) -> tuple[int, int]:
    part = response.responses[0].partition_responses[0]
    return part.error_code, part.base_offset


def test_a_retry_after_a_restart_gets_its_original_offset(tmp_path: Path) -> None:
    data = tmp_path / "cluster.db"
    served = ServedCluster(data).start()
    try:
        served.create_topic("orders")
        client = Client(served, served.leader("orders", 0))
        ids = client.call(InitProducerIdRequest, InitProducerIdResponse, 1, transactional_id=None,
                          transaction_timeout_ms=60_000)
        batches = [produce_batch((b"k", f"v{n}".encode()), (b"k", f"w{n}".encode()),
                                 producer_id=ids.producer_id, sequence=2 * n) for n in range(3)]
        first = [first_partition(produce(client, "orders", 0, batch)) for batch in batches]
        client.close()
    finally:
        served.stop()
    assert first == [(0, 0), (0, 2), (0, 4)]

    restarted = ServedCluster(data).start()
    try:
        client = Client(restarted, restarted.leader("orders", 0))
        # Each of the last batches again, as a producer retries after a lost response.
        retried = [first_partition(produce(client, "orders", 0, batch)) for batch in reversed(batches)]
        skipped = first_partition(produce(client, "orders", 0, produce_batch(
            (b"k", b"gap"), producer_id=ids.producer_id, sequence=9)))
        following = first_partition(produce(client, "orders", 0, produce_batch(
            (b"k", b"next"), producer_id=ids.producer_id, sequence=6)))
        older_epoch = first_partition(produce(client, "orders", 0, produce_batch(
            (b"k", b"old"), producer_id=ids.producer_id, sequence=7)))  # epoch 0 is still current: in order
        other = client.call(InitProducerIdRequest, InitProducerIdResponse, 1, transactional_id=None,
                            transaction_timeout_ms=60_000)
        client.close()
        values = [record.value for record in restarted.log("orders", 0)]
    finally:
        restarted.stop()
    assert retried == [(0, 4), (0, 2), (0, 0)]
    assert skipped[0] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
    assert following == (0, 6) and older_epoch == (0, 7)
    assert values == [b"v0", b"w0", b"v1", b"w1", b"v2", b"w2", b"next", b"old"]
    assert other.producer_id != ids.producer_id  # ids are never handed out twice, restarts included


def free_port_run(count: int) -> int:
    """A port P with P..P+count-1 all free now (kplay serve puts broker N on P+N)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            taken = []
            for port in range(base, base + count):
                sock = socket.socket()
                taken.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in taken:
                sock.close()
    raise RuntimeError("no run of free ports")


class KilledServer:
    """``kplay serve`` on fixed ports, SIGKILLed and started again on demand."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([*KPLAY, "serve", "--port", str(self.port), "--kafka-only", "--data",
                                      str(self.data)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=ROOT, env=_env())
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # until it listens
            if line.startswith("Press Ctrl+C"):
                return
        raise AssertionError("kplay serve did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


#: Records the soak's producer has unanswered at most.
IN_FLIGHT_RECORDS = 5_000


def soak(data: Path, kills: int, records_between_kills: int) -> dict[str, int]:
    """Produce with an idempotent confluent-kafka producer while the server is killed ``kills``
    times, each after another ``records_between_kills`` acknowledgements; count what is stored."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    create_topics(data, {"soak": 3})
    port = free_port_run(3)
    server = KilledServer(data, port)
    server.start()
    acked: set[int] = set()
    failed: list[str] = []
    lock = threading.Lock()

    def delivered(error, message) -> None:
        with lock:
            if error is None:
                acked.add(int(message.value()))
            else:
                failed.append(str(error))

    producer = confluent_kafka.Producer({
        "bootstrap.servers": ",".join(f"127.0.0.1:{port + n}" for n in range(3)),
        "enable.idempotence": True, "acks": "all", "linger.ms": 5, "message.timeout.ms": 300_000,
        "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200, "log_level": 0})
    sent = 0
    try:
        for kill in range(kills + 1):
            target = (kill + 1) * records_between_kills
            while True:
                with lock:
                    if len(acked) >= target or failed:
                        break
                with lock:
                    unanswered = sent - len(acked) - len(failed)
                # A bounded backlog: what waits in the producer's queue must not outlive
                # message.timeout.ms while the server restarts.
                for _ in range(max(0, min(200, IN_FLIGHT_RECORDS - unanswered))):
                    producer.produce("soak", str(sent).encode(), on_delivery=delivered)
                    sent += 1
                producer.poll(0.005)
            assert not failed, failed[:3]
            if kill < kills:
                server.kill()
                server.start()
        assert producer.flush(300) == 0
        assert not failed, failed[:3]
    finally:
        server.stop()

    async def stored() -> list[int]:
        async with await Cluster.open(data) as cluster:
            values: list[int] = []
            for partition in range(3):
                values += [int(r.value) for r in (await cluster.logs.read("soak", partition, 0,
                                                                           max_records=10**7)).records]
            return values

    values = asyncio.run(stored())
    return {"kills": kills, "sent": sent, "acknowledged": len(acked), "stored": len(values),
            "lost": len(acked - set(values)), "duplicates": len(values) - len(set(values))}


def test_confluent_idempotent_producer_through_sigkills_of_serve(tmp_path: Path) -> None:
    counts = soak(tmp_path / "cluster.db", kills=3, records_between_kills=2_000)
    assert counts["acknowledged"] == counts["sent"], counts
    assert counts["lost"] == 0 and counts["duplicates"] == 0, counts


if __name__ == "__main__":
    # The long run quoted in the closing note: python tests/test_idempotence_restarts.py KILLS RECORDS_BETWEEN
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        print(soak(Path(directory) / "cluster.db", kills=int(sys.argv[1]), records_between_kills=int(sys.argv[2])))
