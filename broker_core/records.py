"""The record types that cross the core's API: what a producer sends and a consumer reads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Sequence

if TYPE_CHECKING:
    from .record_reader import RecordStream

Headers = tuple[tuple[str, bytes], ...]

#: Per-record overhead in Kafka's v2 record format (length, attributes, deltas, varints),
#: counted so that sizes and ``max.message.bytes`` behave as on a real broker.
RECORD_OVERHEAD = 21
#: Overhead of a record batch header in the v2 format.
BATCH_OVERHEAD = 61


class TopicPartition(NamedTuple):
    """A (topic, partition) pair, as Kafka's ``TopicPartition``."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


# The three per-record types are NamedTuples, not frozen dataclasses: they are built once per
# record on the produce and fetch paths, and a frozen dataclass costs several times as much to
# build (about 1 us against 0.2-0.6 us), which showed in producer-perf-test and consumer-perf-test.
# They stay immutable and hashable, with the same fields and keyword construction.


class ProducerRecord(NamedTuple):
    """A record on its way in: key and value are bytes or None (a tombstone has value None)."""

    key: bytes | None = None
    value: bytes | None = None
    headers: Headers = ()
    timestamp: int | None = None

    def size_in_bytes(self) -> int:
        """Size as counted against ``segment.bytes``, ``retention.bytes`` and ``max.message.bytes``."""
        return record_size(self.key, self.value, self.headers)


class ConsumerRecord(NamedTuple):
    """A record as read from a partition."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_type: str = "CreateTime"


class RecordMetadata(NamedTuple):
    """Where an acknowledged record landed (what ``producer.send(...)`` resolves to)."""

    topic: str
    partition: int
    offset: int
    timestamp: int


class AppendResult(NamedTuple):
    """The outcome of appending one batch to one partition (a named tuple: one is made per
    produced batch, and a frozen dataclass's construction cost a one-record append ~3 %)."""

    topic: str
    partition: int
    base_offset: int
    last_offset: int
    timestamps: tuple[int, ...]
    log_start_offset: int
    high_watermark: int


class TransactionMark(NamedTuple):
    """A trace of a transaction that a read passed: a marker (``COMMIT``/``ABORT``, at ``offset``)
    or an aborted transaction's records (``aborted``, ``offset`` to ``last_offset``)."""

    offset: int
    last_offset: int
    kind: str
    producer_id: int


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Records read from one partition, with the offsets a consumer needs to track lag."""

    topic: str
    partition: int
    records: list[ConsumerRecord] = field(default_factory=list)
    high_watermark: int = 0
    log_start_offset: int = 0
    log_end_offset: int = 0
    #: With ``read_many(as_batches=True)``: the stored batches themselves, as a Fetch serves them.
    batches: bytes = b""
    #: The last stable offset: below it every transaction is decided (the high watermark without any).
    last_stable_offset: int = -1
    #: For a read_committed read: the aborted transactions among what was read
    #: (``transaction_index.AbortedTransaction``), as a Fetch lists them.
    aborted: tuple = ()
    #: The markers passed over and (read_uncommitted) the aborted records returned, in offset order.
    transaction_marks: tuple[TransactionMark, ...] = ()
    #: Where the next read starts: past the last record returned and past the markers and
    #: aborted records skipped (None: after the last record, or unchanged without records).
    next_offset: int | None = None
    #: With ``read(whole_batches=True)``: the records, decoded as they are taken
    #: (``record_reader.RecordStream``; ``records`` is then empty and ``next_offset`` None).
    stream: "RecordStream | None" = None


def record_size(key: bytes | None, value: bytes | None, headers: Headers = ()) -> int:
    """Bytes a record occupies in the log, close to Kafka's v2 format."""
    size = RECORD_OVERHEAD + (len(key) if key else 0) + (len(value) if value else 0)
    for name, hvalue in headers:
        size += 2 + len(name.encode()) + (len(hvalue) if hvalue else 0)
    return size


def encode_headers(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    """Headers as stored in the records table (None when there are none)."""
    if not headers:
        return None
    return json.dumps([[name, value.hex() if value is not None else None] for name, value in headers],
                      separators=(",", ":")).encode()


def decode_headers(blob: bytes | None) -> Headers:
    """The inverse of ``encode_headers``."""
    if not blob:
        return ()
    return tuple((name, bytes.fromhex(value) if value is not None else None)  # type: ignore[misc]
                 for name, value in json.loads(blob))
