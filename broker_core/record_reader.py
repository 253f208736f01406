"""Stored record batches to ``ConsumerRecord`` lists at C speed: the consumers' read path.

Every record a consumer polls is decoded here. aiokafka ships a compiled (Cython) reader of
Kafka's v2 batches, ``DefaultRecordBatch``: about 0.2 us a record where ``record_batch``'s
pure-Python loop takes 1.5-2 us. It is imported on the first read, not at start-up (aiokafka's
package costs ~35 ms to import). Where it is missing (a platform without aiokafka's wheel, a
build without its extensions) or finds fault with a batch, ``record_batch`` decodes instead,
so the records and the errors (Kafka's words) are the same either way.

The batches given here were read from the log with their CRC checked (``log.read_batches``).
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from .record_batch import (ATTRIBUTES_OFFSET, COMPRESSION_MASK, RECORD_BATCH_OVERHEAD, RECORD_COUNT_OFFSET,
                           RecordBatch)
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


def _compiled_reader() -> Callable[[bytes], Any] | None:
    global _compiled
    if _compiled is False:
        try:
            from aiokafka.record._crecords.default_records import DefaultRecordBatch
        except ImportError:  # pragma: no cover - aiokafka's wheels carry the extension
            DefaultRecordBatch = None
        _compiled = DefaultRecordBatch
    return _compiled


def _uncompressed(data: bytes) -> bytes:
    """A compressed batch as the same batch uncompressed (its CRC no longer valid: it was
    checked before), expanded by ``record_batch`` within its decompression budget."""
    records = RecordBatch(data).records_bytes()
    attributes = data[ATTRIBUTES_OFFSET + 1] & ~COMPRESSION_MASK
    return b"".join((data[:ATTRIBUTES_OFFSET + 1], bytes((attributes,)),
                     data[ATTRIBUTES_OFFSET + 2:RECORD_BATCH_OVERHEAD], records))


def append_consumer_records(out: list[ConsumerRecord], topic: str, partition: int, data: bytes, from_offset: int,
                            upto: int, limit: int, budget: float, timestamp_type: str) -> tuple[int, float]:
    """Append to ``out`` the records of the stored batch ``data`` from ``from_offset`` and
    below ``upto``: at most ``limit`` of them, stopping after the one whose key and value bytes
    use up ``budget`` (infinite when the caller knows the batches hold fewer bytes: then it is
    not counted). Returns how many were appended and the budget left.

    Raises InvalidRecord (Kafka's words) for records that disagree with their batch header.
    """
    count = _INT32.unpack_from(data, RECORD_COUNT_OFFSET)[0]
    reader = _compiled_reader()
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


__all__ = ["append_consumer_records"]
