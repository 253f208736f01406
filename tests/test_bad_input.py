"""Every bad input gets Kafka's named error and code, and leaves the data file byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from broker_core import Cluster, KafkaError, Producer, ProducerRecord
from broker_core.errors import (InvalidConfig, InvalidPartitions, InvalidReplicationFactor, InvalidTopic,
                                OffsetOutOfRange, RecordTooLarge, StorageError, TopicAlreadyExists,
                                UnknownTopicOrPartition)

BadInput = Callable[[Cluster], Awaitable[object]]


def file_state(directory: Path) -> dict[str, str]:
    """Every file in ``directory`` (data file, and any -wal/-shm left over) with its SHA-256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture
async def populated(data_path: Path) -> Path:
    """A closed data file holding topics, configs and records (so there is something to damage)."""
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("orders", partitions=3, replication_factor=2,
                                          config={"retention.ms": "86400000"})
        await cluster.topics.create_topic("metrics_cpu", partitions=1, replication_factor=1)
        await cluster.topics.create_topic("small", partitions=1, config={"max.message.bytes": "1000"})
        async with Producer(cluster) as producer:
            for i in range(30):
                await producer.send("orders", f"v{i}".encode(), f"k{i % 7}".encode())
            await producer.send("small", b"fits")
    # Closing the last connection checkpoints the WAL into the data file and removes it.
    assert sorted(p.name for p in data_path.parent.iterdir()) == [data_path.name]
    return data_path


async def _produce_and_wait(cluster: Cluster, topic: str, value: bytes, partition: int | None = None) -> object:
    async with Producer(cluster) as producer:
        future = await producer.send(topic, value, partition=partition)
        await producer.flush()
        return await future


CASES: dict[str, tuple[BadInput, type[KafkaError], int]] = {
    # Topic names: [a-zA-Z0-9._-], 1..249 characters, not "." or "..".
    "empty-name": (lambda c: c.topics.create_topic(""), InvalidTopic, 17),
    "dot-name": (lambda c: c.topics.create_topic("."), InvalidTopic, 17),
    "dot-dot-name": (lambda c: c.topics.create_topic(".."), InvalidTopic, 17),
    "250-char-name": (lambda c: c.topics.create_topic("a" * 250), InvalidTopic, 17),
    "space-in-name": (lambda c: c.topics.create_topic("a b"), InvalidTopic, 17),
    "non-ascii-name": (lambda c: c.topics.create_topic("ä"), InvalidTopic, 17),
    "slash-in-name": (lambda c: c.topics.create_topic("a/b"), InvalidTopic, 17),
    "dot-underscore-collision": (lambda c: c.topics.create_topic("metrics.cpu"), InvalidTopic, 17),
    "existing-name": (lambda c: c.topics.create_topic("orders"), TopicAlreadyExists, 36),
    # Partitions and replication factor.
    "zero-partitions": (lambda c: c.topics.create_topic("t", partitions=0), InvalidPartitions, 37),
    "negative-partitions": (lambda c: c.topics.create_topic("t", partitions=-1), InvalidPartitions, 37),
    "zero-replication-factor": (lambda c: c.topics.create_topic("t", replication_factor=0),
                                InvalidReplicationFactor, 38),
    "replication-factor-above-brokers": (lambda c: c.topics.create_topic("t", replication_factor=4),
                                         InvalidReplicationFactor, 38),
    "shrink-partitions": (lambda c: c.topics.create_partitions("orders", 2), InvalidPartitions, 37),
    "same-partition-count": (lambda c: c.topics.create_partitions("orders", 3), InvalidPartitions, 37),
    "grow-unknown-topic": (lambda c: c.topics.create_partitions("nope", 5), UnknownTopicOrPartition, 3),
    # Configs.
    "unknown-config-on-create": (lambda c: c.topics.create_topic("t", config={"retention.msec": "1"}),
                                 InvalidConfig, 40),
    "bad-config-value-on-create": (lambda c: c.topics.create_topic("t", config={"retention.ms": "soon"}),
                                   InvalidConfig, 40),
    "config-below-minimum": (lambda c: c.topics.create_topic("t", config={"min.insync.replicas": "0"}),
                             InvalidConfig, 40),
    "config-not-a-choice": (lambda c: c.topics.create_topic("t", config={"cleanup.policy": "shred"}),
                            InvalidConfig, 40),
    "unknown-config-on-alter": (lambda c: c.topics.alter_config("orders", {"bogus.key": "1"}), InvalidConfig, 40),
    "bad-config-value-on-alter": (lambda c: c.topics.alter_config("orders", {"segment.bytes": "-5"}),
                                  InvalidConfig, 40),
    "delete-unknown-config": (lambda c: c.topics.alter_config("orders", delete=["bogus.key"]), InvalidConfig, 40),
    "alter-unknown-topic": (lambda c: c.topics.alter_config("nope", {"retention.ms": "1"}),
                            UnknownTopicOrPartition, 3),
    "delete-unknown-topic": (lambda c: c.topics.delete_topic("nope"), UnknownTopicOrPartition, 3),
    # Produce.
    "produce-unknown-topic": (lambda c: _produce_and_wait(c, "nope", b"v"), UnknownTopicOrPartition, 3),
    "produce-unknown-partition": (lambda c: _produce_and_wait(c, "orders", b"v", partition=3),
                                  UnknownTopicOrPartition, 3),
    "append-unknown-partition": (lambda c: c.logs.append("orders", 7, [ProducerRecord(None, b"v")]),
                                 UnknownTopicOrPartition, 3),
    "record-over-default-message-max-bytes": (lambda c: _produce_and_wait(c, "orders", b"x" * 1_048_588),
                                              RecordTooLarge, 10),
    "record-over-topic-max-message-bytes": (lambda c: _produce_and_wait(c, "small", b"x" * 1000),
                                            RecordTooLarge, 10),
    # Fetch.
    "fetch-above-log-end": (lambda c: c.logs.read("small", 0, 2), OffsetOutOfRange, 1),
    "fetch-below-log-start": (lambda c: c.logs.read("small", 0, -1), OffsetOutOfRange, 1),
    "fetch-unknown-topic": (lambda c: c.logs.read("nope", 0, 0), UnknownTopicOrPartition, 3),
    "fetch-unknown-partition": (lambda c: c.logs.read("orders", 9, 0), UnknownTopicOrPartition, 3),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_bad_input_gets_its_named_error_and_changes_nothing(populated: Path, case: str) -> None:
    bad_input, error, code = CASES[case]
    before = file_state(populated.parent)
    async with await Cluster.open(populated) as cluster:
        with pytest.raises(error) as raised:
            await bad_input(cluster)
        # The cluster is still usable after the refusal.
        assert "orders" in await cluster.topics.list_topics()
    assert raised.value.code == code
    assert type(raised.value).code == code
    message = str(raised.value)
    assert message and "\n" not in message, message
    assert file_state(populated.parent) == before


def test_error_codes_are_kafkas() -> None:
    # org.apache.kafka.common.protocol.Errors
    assert {cls.__name__: (cls.name, cls.code) for cls in (
        OffsetOutOfRange, UnknownTopicOrPartition, RecordTooLarge, InvalidTopic, TopicAlreadyExists,
        InvalidPartitions, InvalidReplicationFactor, InvalidConfig, StorageError)} == {
        "OffsetOutOfRange": ("OFFSET_OUT_OF_RANGE", 1),
        "UnknownTopicOrPartition": ("UNKNOWN_TOPIC_OR_PARTITION", 3),
        "RecordTooLarge": ("MESSAGE_TOO_LARGE", 10),
        "InvalidTopic": ("INVALID_TOPIC_EXCEPTION", 17),
        "TopicAlreadyExists": ("TOPIC_ALREADY_EXISTS", 36),
        "InvalidPartitions": ("INVALID_PARTITIONS", 37),
        "InvalidReplicationFactor": ("INVALID_REPLICATION_FACTOR", 38),
        "InvalidConfig": ("INVALID_CONFIG", 40),
        "StorageError": ("KAFKA_STORAGE_ERROR", 56),
    }


# -- files that are not a kplay data file ------------------------------------------------

def _other_sqlite_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, amount REAL)")
    conn.execute("INSERT INTO invoices(amount) VALUES (12.5)")
    conn.commit()
    conn.close()


def _other_wal_sqlite_file_with_meta(path: Path) -> None:
    # Another application's WAL-mode database that happens to have a "meta" table too.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('application', 'someone-else')")
    conn.commit()
    conn.close()


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def _text_file(path: Path) -> None:
    path.write_text("topics:\n  - orders\n")


async def _newer_schema(path: Path) -> None:
    async with await Cluster.open(path) as cluster:
        await cluster.topics.create_topic("orders")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("make_file", [_other_sqlite_file, _other_wal_sqlite_file_with_meta, _random_bytes,
                                       _text_file, _newer_schema])
async def test_opening_a_file_kplay_did_not_write_fails_and_leaves_it_untouched(
        data_path: Path, make_file: Callable[[Path], object]) -> None:
    made = make_file(data_path)
    if made is not None:
        await made  # type: ignore[misc]
    before = file_state(data_path.parent)
    with pytest.raises(StorageError) as raised:
        await Cluster.open(data_path)
    assert raised.value.code == 56
    message = str(raised.value)
    assert str(data_path) in message and "\n" not in message
    assert file_state(data_path.parent) == before


async def test_newer_schema_error_says_to_upgrade(data_path: Path) -> None:
    await _newer_schema(data_path)
    with pytest.raises(StorageError, match="newer kplay.*schema version 999"):
        await Cluster.open(data_path)


async def test_a_record_too_large_fails_only_its_own_batch(cluster: Cluster) -> None:
    await cluster.topics.create_topic("small", partitions=1, config={"max.message.bytes": "1000"})
    # Batches of about five small records; linger never fires, so flush() hands the producer
    # three ready batches for one partition at once: small, too large, small.
    async with Producer(cluster, linger_ms=60_000, batch_size=200) as producer:
        first = [await producer.send("small", f"a{i}".encode()) for i in range(5)]
        too_large = await producer.send("small", b"x" * 2000)
        last = [await producer.send("small", f"b{i}".encode()) for i in range(5)]
        await producer.flush()
        # The three went out together, were refused together, then went again one by one.
        assert producer.transactions == 2
    with pytest.raises(RecordTooLarge):
        await too_large
    assert [(await f).offset for f in first + last] == list(range(10))
    fetched = await cluster.logs.read("small", 0, 0)
    assert [r.value for r in fetched.records] == [f"a{i}".encode() for i in range(5)] + [
        f"b{i}".encode() for i in range(5)]
