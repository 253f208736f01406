"""Transactions over the wire, with real clients against ``kplay serve``: the transaction
coordinator (FindCoordinator TRANSACTION, InitProducerId with a transactional id,
AddOffsetsToTxn, TxnOffsetCommit, EndTxn, DescribeTransactions, ListTransactions),
fencing a zombie, and a hung transaction aborted after its timeout.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from kafka.protocol.admin import (DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
                                  ListTransactionsResponse)

from broker_core import TopicPartition
from broker_core.errors import TransactionalIdNotFound
from test_serve_support import ServedCluster, exchange, wait_for, served  # noqa: F401 (a fixture)

FAST_S = 10  # what "at once" means for a client call


def committed(served: ServedCluster, group: str) -> dict[TopicPartition, int]:
    return served.call(served.core.groups.fetch_offsets(group))


def state(served: ServedCluster, transactional_id: str) -> str:
    try:
        return served.call(served.core.transactions.describe(transactional_id)).state
    except TransactionalIdNotFound:
        return "unknown"


def confluent_producer(served: ServedCluster, transactional_id: str, **config: Any) -> Any:
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": served.bootstrap, "transactional.id": transactional_id, **config})


def group_metadata(served: ServedCluster, group: str) -> Any:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": served.bootstrap, "group.id": group})
    try:
        return consumer.consumer_group_metadata()
    finally:
        consumer.close()


def test_confluent_commits_offsets_in_a_transaction(served: ServedCluster) -> None:
    from confluent_kafka import TopicPartition as ConfluentPartition

    served.create_topic("txn-input", partitions=2)
    producer = confluent_producer(served, "txn-offsets")
    started = time.monotonic()
    producer.init_transactions(30)
    assert time.monotonic() - started < FAST_S
    assert state(served, "txn-offsets") == "Empty"
    producer.begin_transaction()
    producer.send_offsets_to_transaction([ConfluentPartition("txn-input", 0, 5), ConfluentPartition("txn-input", 1, 9)],
                                         group_metadata(served, "txn-readers"), 30)
    assert state(served, "txn-offsets") == "Ongoing"
    # Until the commit, the group does not see the offsets.
    assert committed(served, "txn-readers") == {}
    producer.commit_transaction(30)
    assert state(served, "txn-offsets") == "CompleteCommit"
    assert committed(served, "txn-readers") == {TopicPartition("txn-input", 0): 5, TopicPartition("txn-input", 1): 9}

    # An aborted transaction's offsets never reach the group.
    producer.begin_transaction()
    producer.send_offsets_to_transaction([ConfluentPartition("txn-input", 0, 50)],
                                         group_metadata(served, "txn-readers"), 30)
    producer.abort_transaction(30)
    assert state(served, "txn-offsets") == "CompleteAbort"
    assert committed(served, "txn-readers")[TopicPartition("txn-input", 0)] == 5


def test_a_second_producer_fences_the_first(served: ServedCluster) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka import TopicPartition as ConfluentPartition

    served.create_topic("txn-fence")
    zombie = confluent_producer(served, "txn-zombie")
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.send_offsets_to_transaction([ConfluentPartition("txn-fence", 0, 1)], group_metadata(served, "fence-g"), 30)
    zombie_epoch = served.call(served.core.transactions.describe("txn-zombie")).producer_epoch

    successor = confluent_producer(served, "txn-zombie")
    successor.init_transactions(30)  # aborts the zombie's open transaction, then bumps the epoch
    described = served.call(served.core.transactions.describe("txn-zombie"))
    assert described.producer_epoch > zombie_epoch
    assert described.state in ("CompleteAbort", "Empty")

    with pytest.raises(KafkaException) as raised:
        zombie.commit_transaction(30)
    error = raised.value.args[0]
    assert error.fatal(), error
    assert committed(served, "fence-g") == {}
    # The successor carries on.
    successor.begin_transaction()
    successor.send_offsets_to_transaction([ConfluentPartition("txn-fence", 0, 3)], group_metadata(served, "fence-g"), 30)
    successor.commit_transaction(30)
    assert committed(served, "fence-g") == {TopicPartition("txn-fence", 0): 3}


def test_a_hung_transaction_is_aborted_after_its_timeout(served: ServedCluster) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka import TopicPartition as ConfluentPartition

    served.create_topic("txn-hung")
    served.call(served.core.transactions.start(0.05))
    try:
        producer = confluent_producer(served, "txn-hung", **{"transaction.timeout.ms": 1000})
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.send_offsets_to_transaction([ConfluentPartition("txn-hung", 0, 7)], group_metadata(served, "hung-g"),
                                             30)
        wait_for(lambda: state(served, "txn-hung") == "CompleteAbort", "the coordinator to abort the transaction")
        with pytest.raises(KafkaException):
            producer.commit_transaction(30)
        assert committed(served, "hung-g") == {}
    finally:
        served.call(served.core.transactions.stop())


def test_kafka_python_init_transactions_returns(served: ServedCluster) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=served.bootstrap, transactional_id="txn-kafka-python",
                             max_block_ms=30_000)
    try:
        started = time.monotonic()
        producer.init_transactions()
        assert time.monotonic() - started < FAST_S
        assert state(served, "txn-kafka-python") == "Empty"
    finally:
        producer.close(timeout=5)


def test_aiokafka_transactional_start_returns(served: ServedCluster) -> None:
    from aiokafka import AIOKafkaProducer

    async def start() -> float:
        producer = AIOKafkaProducer(bootstrap_servers=served.bootstrap, transactional_id="txn-aiokafka")
        started = time.monotonic()
        try:
            await asyncio.wait_for(producer.start(), 30)
            return time.monotonic() - started
        finally:
            await producer.stop()

    assert asyncio.run(start()) < FAST_S
    assert state(served, "txn-aiokafka") == "Empty"


def test_describe_and_list_transactions_on_the_wire(served: ServedCluster) -> None:
    pid = served.call(served.core.transactions.init_producer_id("txn-described", 45_000))
    served.create_topic("txn-described-topic", partitions=2)
    served.call(served.core.transactions.add_partitions(
        "txn-described", pid.producer_id, pid.producer_epoch,
        [TopicPartition("txn-described-topic", 1), TopicPartition("txn-described-topic", 0)]))
    assert served.server is not None
    node = served.server.coordinator_for("txn-described")
    # An unknown id that the same broker would coordinate, and one that another broker would.
    nobody = next(f"nobody-{n}" for n in range(1000) if served.server.coordinator_for(f"nobody-{n}") == node)
    elsewhere = next(f"else-{n}" for n in range(1000) if served.server.coordinator_for(f"else-{n}") != node)
    request = DescribeTransactionsRequest(version=0, transactional_ids=["txn-described", nobody, elsewhere])
    request.with_header(correlation_id=3, client_id="t")
    frame = exchange(served, request.encode(header=True), node)
    found, missing, misdirected = DescribeTransactionsResponse.decode(frame, version=0, header=True).transaction_states
    assert (found.error_code, found.transaction_state, found.producer_id, found.producer_epoch,
            found.transaction_timeout_ms) == (0, "Ongoing", pid.producer_id, pid.producer_epoch, 45_000)
    assert [(t.topic, sorted(t.partitions)) for t in found.topics] == [("txn-described-topic", [0, 1])]
    assert missing.error_code == 105  # TRANSACTIONAL_ID_NOT_FOUND
    assert misdirected.error_code == 16  # NOT_COORDINATOR

    # ListTransactions goes to every broker; each lists the ids it coordinates.
    listed = []
    for broker in served.server.advertised_endpoints():
        request = ListTransactionsRequest(version=1, state_filters=["Ongoing", "Bogus"], producer_id_filters=[],
                                          duration_filter=-1)
        request.with_header(correlation_id=4, client_id="t")
        frame = exchange(served, request.encode(header=True), broker)
        response = ListTransactionsResponse.decode(frame, version=1, header=True)
        assert response.unknown_state_filters == ["Bogus"]
        listed += [(t.transactional_id, t.transaction_state) for t in response.transaction_states]
    assert ("txn-described", "Ongoing") in listed
    assert all(state_ == "Ongoing" for _, state_ in listed)


def consume_all(served: ServedCluster, topic: str, isolation: str, expected: int) -> list[tuple[int, bytes]]:
    """(offset, value) of every record a confluent-kafka consumer with ``isolation`` reads, once
    it has read ``expected`` of them and reached the end of the partition."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": served.bootstrap, "group.id": f"{topic}-{isolation}",
                         "auto.offset.reset": "earliest", "isolation.level": isolation,
                         "enable.partition.eof": True})
    consumer.subscribe([topic])
    got: list[tuple[int, bytes]] = []
    at_end = False

    def poll() -> None:
        nonlocal at_end
        message = consumer.poll(0.2)
        if message is None:
            return
        if message.error():
            at_end = message.error().code() == -191  # _PARTITION_EOF
            return
        got.append((message.offset(), message.value()))

    try:
        wait_for(lambda: len(got) >= expected and at_end, f"{expected} records for {isolation}", step=poll)
    finally:
        consumer.close()
    return got


def test_read_committed_sees_only_committed_records(served: ServedCluster) -> None:
    """Committed, aborted, committed: read_committed reads the two committed transactions, with
    the markers and the aborted records as offset gaps; read_uncommitted reads all records."""
    served.create_topic("txn-records")
    producer = confluent_producer(served, "txn-records-producer")
    producer.init_transactions(30)
    for outcome, values in (("commit", [b"a1", b"a2"]), ("abort", [b"b1", b"b2", b"b3"]), ("commit", [b"c1"])):
        producer.begin_transaction()
        for value in values:
            producer.produce("txn-records", value)
        producer.flush(30)
        if outcome == "commit":
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    # 2 records + marker, 3 + marker, 1 + marker: the log ends at 9.
    assert served.call(served.core.logs.read("txn-records", 0, 0)).high_watermark == 9
    committed = consume_all(served, "txn-records", "read_committed", 3)
    assert committed == [(0, b"a1"), (1, b"a2"), (7, b"c1")]
    everything = consume_all(served, "txn-records", "read_uncommitted", 6)
    assert everything == [(0, b"a1"), (1, b"a2"), (3, b"b1"), (4, b"b2"), (5, b"b3"), (7, b"c1")]


def test_an_open_transaction_holds_read_committed_back(served: ServedCluster) -> None:
    """A read_committed consumer stops at the last stable offset while a transaction is open and
    gets its records when it commits; kafka-python's read_committed consumer agrees."""
    from kafka import KafkaConsumer

    served.create_topic("txn-open")
    producer = confluent_producer(served, "txn-open-producer")
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce("txn-open", b"pending")
    producer.flush(30)
    result = served.call(served.core.logs.read("txn-open", 0, 0, read_committed=True))
    assert (result.records, result.last_stable_offset, result.high_watermark) == ([], 0, 1)
    producer.commit_transaction(30)
    consumer = KafkaConsumer("txn-open", bootstrap_servers=served.bootstrap, isolation_level="read_committed",
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    try:
        assert [(m.offset, m.value) for m in consumer][:1] == [(0, b"pending")]
    finally:
        consumer.close()


def test_consume_transform_produce_is_exactly_once(served: ServedCluster) -> None:
    """The exactly-once loop: read (read_committed, in a group), write the transformed records and
    the group's offsets in one transaction, commit. A batch whose transaction is aborted midway
    is read again and written once: the output holds each input exactly once."""
    from confluent_kafka import Consumer, Producer, TopicPartition as ConfluentPartition

    served.create_topic("eos-in")
    served.create_topic("eos-out")
    source = Producer({"bootstrap.servers": served.bootstrap})
    for i in range(10):
        source.produce("eos-in", f"order-{i}".encode())
    assert source.flush(15) == 0
    consumer = Consumer({"bootstrap.servers": served.bootstrap, "group.id": "eos-app", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    producer = confluent_producer(served, "eos-app-1")
    producer.init_transactions(30)
    consumer.subscribe(["eos-in"])
    done = aborted = 0
    failed_once = False
    try:
        def step() -> None:
            nonlocal done, failed_once, aborted
            messages = consumer.consume(5, 0.5)
            if not messages:
                return
            producer.begin_transaction()
            for message in messages:
                producer.produce("eos-out", message.value().upper())
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 30)
            if not failed_once:
                # A crash of the transform: abort, rewind to the committed offsets, read again.
                failed_once = True
                aborted = len(messages)
                producer.flush(30)  # written, then aborted (abort alone may drop what is still queued)
                producer.abort_transaction(30)
                for tp in consumer.committed(consumer.assignment(), 15):
                    consumer.seek(ConfluentPartition(tp.topic, tp.partition, max(tp.offset, 0)))
                return
            producer.commit_transaction(30)
            done += len(messages)

        wait_for(lambda: done >= 10, "the ten inputs transformed", step=step)
    finally:
        consumer.close()
    outputs = consume_all(served, "eos-out", "read_committed", 10)
    assert sorted(value for _, value in outputs) == sorted(f"ORDER-{i}".encode() for i in range(10))
    assert committed(served, "eos-app") == {TopicPartition("eos-in", 0): 10}
    # The aborted attempt is in the log, visible only to read_uncommitted.
    assert aborted and len(consume_all(served, "eos-out", "read_uncommitted", 10 + aborted)) == 10 + aborted


ZOMBIE_SCRIPT = """
import sys
from confluent_kafka import Producer
producer = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": "killed-app",
                     "transaction.timeout.ms": 2000})
producer.init_transactions(30)
producer.begin_transaction()
for i in range(5):
    producer.produce("txn-killed", f"uncommitted {i}".encode())
producer.flush(30)
print("written", flush=True)
sys.stdin.read()  # until killed
"""


def test_a_producer_killed_mid_transaction_never_shows_to_read_committed(served: ServedCluster) -> None:
    """SIGKILL in the middle of a transaction: read_committed never sees its records; the
    coordinator aborts it after transaction.timeout.ms and the partition moves on."""
    import signal
    import subprocess
    import sys

    served.create_topic("txn-killed")
    served.call(served.core.transactions.start(0.05))
    process = subprocess.Popen([sys.executable, "-c", ZOMBIE_SCRIPT, served.bootstrap], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "written"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        before = served.call(served.core.logs.read("txn-killed", 0, 0, read_committed=True))
        assert (before.records, before.last_stable_offset, before.high_watermark) == ([], 0, 5)
        wait_for(lambda: state(served, "killed-app") == "CompleteAbort", "the coordinator's abort")
        from confluent_kafka import Producer

        plain = Producer({"bootstrap.servers": served.bootstrap})
        plain.produce("txn-killed", b"after the crash")
        assert plain.flush(15) == 0
        assert consume_all(served, "txn-killed", "read_committed", 1) == [(6, b"after the crash")]
        assert len(consume_all(served, "txn-killed", "read_uncommitted", 6)) == 6
    finally:
        if process.poll() is None:
            process.kill()
        served.call(served.core.transactions.stop())


def test_aiokafka_transactions_commit_and_abort(served: ServedCluster) -> None:
    """aiokafka's transactional producer commits and aborts; its read_committed consumer drops
    the aborted record (from the Fetch's aborted_transactions) and reads the committed ones."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    served.create_topic("txn-aiokafka-records")

    async def run() -> list[tuple[int, bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=served.bootstrap, transactional_id="txn-aiokafka-records")
        await asyncio.wait_for(producer.start(), 30)
        try:
            for value, commit in ((b"one", True), (b"aborted", False), (b"two", True)):
                await producer.begin_transaction()
                await producer.send_and_wait("txn-aiokafka-records", value)
                if commit:
                    await producer.commit_transaction()
                else:
                    await producer.abort_transaction()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer("txn-aiokafka-records", bootstrap_servers=served.bootstrap,
                                    isolation_level="read_committed", auto_offset_reset="earliest")
        await consumer.start()
        got: list[tuple[int, bytes]] = []
        try:
            deadline = time.monotonic() + 20
            while len(got) < 2 and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                got += [(m.offset, m.value) for messages in batches.values() for m in messages]
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == [(0, b"one"), (4, b"two")]
