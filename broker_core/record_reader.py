"""Stored record batches to ``ConsumerRecord`` lists at C speed: the consumers' read path.

Every record a consumer polls is decoded here. aiokafka ships a compiled (Cython) reader of
Kafka's v2 batches, ``DefaultRecordBatch``: about 0.2 us a record where ``record_batch``'s
pure-Python loop takes 1.5-2 us. It is imported when the first Consumer is made, not at
start-up (aiokafka's package costs ~35 ms to import). Where it is missing (a platform without
aiokafka's wheel, a build without its extensions) or finds fault with a batch,
``record_batch`` decodes instead, so the records and the errors (Kafka's words) are the same
either way.

The batches given here were read from the log with their CRC checked (``log.read_batches``).
"""

from __future__ import annotations

import struct
from itertools import repeat
from typing import Any, Callable, Iterator

from .record_batch import (ATTRIBUTES_OFFSET, COMPRESSION_MASK, HEADER, RECORD_BATCH_OVERHEAD, RECORD_COUNT_OFFSET,
                           TIMESTAMP_TYPE_MASK, RecordBatch, compiled_batches)
from .records import ConsumerRecord

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_LAST_OFFSET_DELTA_OFFSET = 23
#: Builds a NamedTuple from a ready tuple (about 3x cheaper than calling the class).
_new_tuple = tuple.__new__

#: A budget no read can use up: the caller knows the batches' bytes are fewer.
_UNBOUNDED = float("inf")
#: aiokafka's compiled batch reader; False until the first read looked for it, None if missing.
_compiled: Any = False


def load_compiled_reader() -> Callable[[bytes], Any] | None:
    """Import aiokafka's compiled batch reader if not yet done (about 35 ms, once), and return
    it (None where it is missing). A Consumer does this when it is made: it will decode many
    records. Reads before any (a view's page of records) decode in pure Python instead, so
    opening the playground never pays for the import."""
    global _compiled
    if _compiled is False:
        module = compiled_batches()
        _compiled = module.DefaultRecordBatch if module is not None else None
    return _compiled


def timestamp_type_of(data: bytes) -> str:
    """A batch's records' timestamp type, from its attributes, as Kafka's consumer reports it
    (``batch.timestampType()``): LogAppendTime when the broker stamped them."""
    return "LogAppendTime" if data[ATTRIBUTES_OFFSET + 1] & TIMESTAMP_TYPE_MASK else "CreateTime"


def _uncompressed(data: bytes) -> bytes:
    """A compressed batch as the same batch uncompressed (its CRC no longer valid: it was
    checked before), expanded by ``record_batch`` within its decompression budget."""
    records = RecordBatch(data).records_bytes()
    attributes = data[ATTRIBUTES_OFFSET + 1] & ~COMPRESSION_MASK
    return b"".join((data[:ATTRIBUTES_OFFSET + 1], bytes((attributes,)),
                     data[ATTRIBUTES_OFFSET + 2:RECORD_BATCH_OVERHEAD], records))


def append_consumer_records(out: list[ConsumerRecord], topic: str, partition: int, data: bytes, from_offset: int,
                            upto: int, limit: int, budget: float) -> tuple[int, float]:
    """Append to ``out`` the records of the stored batch ``data`` from ``from_offset`` and
    below ``upto``: at most ``limit`` of them, stopping after the one whose key and value bytes
    use up ``budget`` (infinite when the caller knows the batches hold fewer bytes: then it is
    not counted). Returns how many were appended and the budget left.

    Raises InvalidRecord (Kafka's words) for records that disagree with their batch header.
    """
    count = _INT32.unpack_from(data, RECORD_COUNT_OFFSET)[0]
    timestamp_type = timestamp_type_of(data)
    reader = _compiled or None  # only if a consumer loaded it (load_compiled_reader)
    if count > 0 and reader is not None and limit > 0:
        mark = len(out)
        try:
            return _append_compiled(out, reader, topic, partition, data, count, from_offset, upto, limit, budget,
                                    timestamp_type)
        except Exception:  # noqa: BLE001 - decoded again below, to fail with Kafka's words
            del out[mark:]
    return _append_python(out, topic, partition, data, from_offset, upto, limit, budget, timestamp_type)


def _append_compiled(out: list[ConsumerRecord], reader: Callable[[bytes], Any], topic: str, partition: int,
                     data: bytes, count: int, from_offset: int, upto: int, limit: int, budget: float,
                     timestamp_type: str) -> tuple[int, float]:
    compressed = data[ATTRIBUTES_OFFSET + 1] & COMPRESSION_MASK
    batch = reader(_uncompressed(data) if compressed else data)
    append = out.append
    new = _new_tuple
    base = _INT64.unpack_from(data, 0)[0]
    last = base + _INT32.unpack_from(data, _LAST_OFFSET_DELTA_OFFSET)[0]
    if base >= from_offset and last < upto and count <= limit and not compressed and budget > len(data):
        # The whole batch, and its key and value bytes (fewer than its size, uncompressed) cannot
        # use up the budget: nothing to check per record. This is every batch of a long read,
        # so it is one comprehension (the fastest loop Python has).
        mark = len(out)
        out += [new(ConsumerRecord, (topic, partition, record.offset, record.timestamp, record.key, record.value,
                                     tuple(headers) if (headers := record.headers) else (), timestamp_type))
                for record in batch]
        if budget != _UNBOUNDED:
            budget -= sum(len(record.key or b"") + len(record.value or b"") for record in out[mark:])
        return len(out) - mark, budget
    taken = 0
    for record in batch:
        offset = record.offset
        if offset < from_offset:
            continue
        if offset >= upto:
            break
        key = record.key
        value = record.value
        headers = record.headers
        append(new(ConsumerRecord, (topic, partition, offset, record.timestamp, key, value,
                                    tuple(headers) if headers else (), timestamp_type)))
        taken += 1
        budget -= (len(key) if key else 0) + (len(value) if value else 0)
        if budget <= 0 or taken >= limit:
            break
    return taken, budget


def _append_python(out: list[ConsumerRecord], topic: str, partition: int, data: bytes, from_offset: int,
                   upto: int, limit: int, budget: float, timestamp_type: str) -> tuple[int, float]:
    append = out.append
    new = _new_tuple
    taken = 0
    if limit <= 0:
        return taken, budget
    for offset, timestamp, key, value, headers in RecordBatch(data).records(from_offset=from_offset):
        if offset >= upto:
            break
        append(new(ConsumerRecord, (topic, partition, offset, timestamp, key, value, headers, timestamp_type)))
        taken += 1
        budget -= (len(key) if key else 0) + (len(value) if value else 0)
        if budget <= 0 or taken >= limit:
            break
    return taken, budget




class RecordStream:
    """The records of a fetch's batches, decoded only as they are taken.

    Kafka's consumer reads a fetched batch's records as poll() asks for them (its
    CompletedFetch), and so does this: a poll builds only the records it returns. That also
    keeps few records alive at once, so far fewer outlive a garbage-collector pass (a
    ConsumerRecord, a tuple subclass, stays tracked; every full pass walks the whole heap).

    ``items`` are, in log order, a kept batch's bytes or, for a batch passed over (a marker, an
    aborted transaction's batch for read_committed), the offset after it.
    """

    __slots__ = ("_topic", "_partition", "_timestamp_type", "_from", "_upto", "_items", "_index", "_records",
                 "_data", "_compiled", "_whole", "next_offset", "exhausted")

    def __init__(self, topic: str, partition: int, items: list[bytes | int], from_offset: int, upto: int) -> None:
        self._topic = topic
        self._partition = partition
        self._timestamp_type = "CreateTime"  # the batch being read's
        self._from = from_offset
        self._upto = upto
        self._items = items
        self._index = 0
        self._records: Any = None  # the records of the batch being read, an iterator
        self._data = b""
        self._compiled = False
        self._whole = 0  # the record count of a compiled batch not yet started, none of them filtered out
        #: Where reading continues after what was taken (past the records and the batches
        #: passed over); None while nothing was.
        self.next_offset: int | None = None
        #: Whether every record was taken (known once a take finds no more).
        self.exhausted = False

    def take(self, most: int) -> list[ConsumerRecord]:
        """Up to ``most`` more records; fewer only when there are no more."""
        out: list[ConsumerRecord] = []
        while len(out) < most:
            if self._records is None:
                if self._index >= len(self._items):
                    self.exhausted = True
                    break
                item = self._items[self._index]
                self._index += 1
                if isinstance(item, int):
                    self.next_offset = max(self.next_offset or self._from, item)
                    continue
                self._open(item)
            want = most - len(out)
            whole, self._whole = self._whole, 0
            try:
                if 0 < whole <= want:
                    # All of a batch not yet started: iterated as it is, the fastest loop.
                    chunk = self._build(self._records)
                    want = len(chunk) + 1  # it is done
                else:
                    # next() over the iterator, not islice: aiokafka's batch refuses a second iter().
                    chunk = self._build(map(next, repeat(self._records, want)))
            except Exception:  # noqa: BLE001
                if not self._compiled:
                    raise
                # aiokafka's reader found fault: decode again in pure Python from the first
                # record not yet returned, to read what is right and fail with Kafka's words.
                self._open_python(max(self._from, self.next_offset or self._from))
                continue
            if chunk:
                out += chunk
                self.next_offset = chunk[-1].offset + 1
            if len(chunk) < want:
                self._records = None
        return out

    def _build(self, records: Any) -> list[ConsumerRecord]:
        topic, partition, timestamp_type, new = self._topic, self._partition, self._timestamp_type, _new_tuple
        return [new(ConsumerRecord, (topic, partition, record.offset, record.timestamp, record.key, record.value,
                                     tuple(headers) if (headers := record.headers) else (), timestamp_type))
                for record in records]

    def _open(self, data: bytes) -> None:
        self._data = data
        self._timestamp_type = timestamp_type_of(data)
        reader = _compiled if _compiled is not False else load_compiled_reader()
        base, _, _, _, _, attributes, last_delta, *_, count = HEADER.unpack_from(data)
        if reader is None or count <= 0:
            self._open_python(self._from)
            return
        records = iter(reader(_uncompressed(data) if attributes & COMPRESSION_MASK else data))
        if base < self._from or base + last_delta >= self._upto:
            records = _between(records, self._from, self._upto)
        else:
            self._whole = count
        self._records = records
        self._compiled = True

    def _open_python(self, from_offset: int) -> None:
        self._records = _between(RecordBatch(self._data).records(from_offset=from_offset), from_offset, self._upto)
        self._compiled = False


def _between(records: Any, low: int, high: int) -> Iterator[Any]:
    """The records with offsets from ``low`` and below ``high``."""
    for record in records:
        offset = record.offset
        if offset < low:
            continue
        if offset >= high:
            return
        yield record


__all__ = ["RecordStream", "append_consumer_records", "load_compiled_reader", "timestamp_type_of"]
