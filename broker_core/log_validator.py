"""Checking a producer's record batch before it is stored as it came (Kafka's ``LogValidator``).

A Produce request's batch is stored as the producer sent it, its offsets assigned by
rewriting the base offset; what Kafka's ``LogValidator`` checks for a client's batch is
checked here first: the CRC-32C and magic, an offset range that agrees with the record
count (``validateBatch``), no control batch from a client, a sequence for a producer id,
a key on every record of a compacted topic and each CreateTime timestamp within
``message.timestamp.before.max.ms``/``after.max.ms`` (``validateRecord``). The records
are walked without building them (lengths, offset deltas, and only where needed a key's
length or a timestamp); a compressed batch is decompressed for that walk, within the
request's budget, as Kafka streams through it — and stored compressed.

One point is kplay's own: records must carry the offset deltas 0, 1, 2, ... that every producer writes
(Kafka would rebuild a compressed batch that does not; kplay refuses it rather than store
offsets out of order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .batch_compression import DecompressionBudget
from .errors import CorruptRecord, InvalidRecord, InvalidTimestamp
from .record_batch import (
    COMPRESSION_MASK,
    LOG_OVERHEAD,
    MAGIC,
    MAGIC_OFFSET,
    NO_TIMESTAMP,
    BatchHeader,
    RecordBatch,
    read_varint,
    read_header,
    verify_crc,
)

#: Kafka's LONG_MAX: the timestamp bounds' "no limit".
_LONG_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ValidatedBatch:
    """What validation learnt of a producer's batch: its record count and the largest record timestamp."""

    batch: RecordBatch
    record_count: int
    max_timestamp: int


def read_produced_header(data: bytes | bytearray) -> BatchHeader:
    """The header of the one batch a Produce request carries for a partition, its framing checked.

    Raises InvalidRecord (not magic 2, or more than one batch) or CorruptRecord (shorter
    than a batch header, or truncated), with Kafka's words. The CRC and the records are
    not looked at: that is ``validate_batch``'s work.
    """
    if len(data) > MAGIC_OFFSET and data[MAGIC_OFFSET] != MAGIC:
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain record "
                            f"batches with magic version 2 (found magic {data[MAGIC_OFFSET]})")
    header = read_header(data)
    if header.size_in_bytes != len(data):
        if header.size_in_bytes > len(data):
            raise CorruptRecord(f"Record batch is truncated: its length field says {header.batch_length} bytes, "
                                f"{len(data) - LOG_OVERHEAD} arrived")
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain exactly "
                            "one record batch")
    return header


def validate_batch(data: bytearray, config: dict[str, Any], now: int, where: str,
                   budget: DecompressionBudget | None = None) -> ValidatedBatch:
    """Check one producer batch for ``where`` (topic-partition) against its topic's ``config``.

    Raises CorruptRecord (a damaged batch: CRC, truncation, records that do not parse),
    InvalidRecord (with Kafka's words for each rule) or InvalidTimestamp; RecordTooLarge
    when a compressed batch expands beyond ``budget``.
    """
    header = read_produced_header(data)
    verify_crc(data)
    count = header.record_count
    if header.last_offset_delta < 0:
        raise InvalidRecord(f"Batch has an invalid offset range: [{header.base_offset}, {header.last_offset}] "
                            f"in topic partition {where}")
    if count <= 0:
        raise InvalidRecord(f"Invalid reported count for record batch: {count} in topic partition {where}")
    if header.last_offset_delta + 1 != count:
        raise InvalidRecord(f"Inconsistent batch offset range [{header.base_offset}, {header.last_offset}] and "
                            f"count of records {count} in topic partition {where}")
    if header.is_control:
        raise InvalidRecord(f"Clients are not allowed to write control records in topic partition {where}")
    if header.producer_id >= 0 and header.base_sequence < 0:
        raise InvalidRecord(f"Invalid sequence number {header.base_sequence} in record batch with producerId "
                            f"{header.producer_id} in topic partition {where}")
    batch = RecordBatch(data)
    compacted = "compact" in str(config["cleanup.policy"]).split(",")
    log_append_time = config["message.timestamp.type"] == "LogAppendTime"
    before = config.get("message.timestamp.before.max.ms", _LONG_MAX)
    after = config.get("message.timestamp.after.max.ms", _LONG_MAX)
    check_times = not log_append_time and (before < _LONG_MAX or after < _LONG_MAX)
    if header.log_append_time and not log_append_time:
        raise InvalidTimestamp("Invalid timestamp type in message: producer should not set timestamp type to "
                               "LogAppendTime.")
    records = batch.records_bytes(budget)
    try:
        max_timestamp = _walk(records, count, header.base_timestamp, compacted, check_times, now, before, after,
                              header.base_offset, where)
    except IndexError:
        raise CorruptRecord("Record batch is corrupt: Incorrect declared batch size, premature EOF reached") from None
    except InvalidRecord as error:
        if "Compacted topic" in str(error) or "offset delta" in str(error):
            raise
        raise CorruptRecord(f"Record batch is corrupt: {error}") from None
    if header.attributes & COMPRESSION_MASK == 0 and max_timestamp == NO_TIMESTAMP:
        max_timestamp = header.max_timestamp
    return ValidatedBatch(batch, count, max_timestamp)


def _walk(data: bytes | memoryview, count: int, base_timestamp: int, compacted: bool, check_times: bool, now: int,
          before: int, after: int, base_offset: int, where: str) -> int:
    """Walk the records' framing; the largest timestamp (NO_TIMESTAMP if none is set)."""
    if isinstance(data, memoryview):
        data = bytes(data)
    position = 0
    end = len(data)
    max_delta = None
    for expected in range(count):
        length, position = read_varint(data, position)
        record_end = position + length
        if length <= 0 or record_end > end:
            raise InvalidRecord("Incorrect declared batch size, premature EOF reached")
        timestamp_delta, after_timestamp = read_varint(data, position + 1)
        offset_delta, after_offset = read_varint(data, after_timestamp)
        if offset_delta != expected:
            raise InvalidRecord(f"Record {expected} of the batch has offset delta {offset_delta}, not {expected}: "
                                f"kplay stores batches whose records number their offsets 0, 1, 2, ... "
                                f"(topic partition {where})")
        if max_delta is None or timestamp_delta > max_delta:
            max_delta = timestamp_delta
        if compacted:
            key_length, _ = read_varint(data, after_offset)
            if key_length < 0:
                raise InvalidRecord(f"Compacted topic cannot accept message without key in topic partition {where}")
        if check_times and base_timestamp != NO_TIMESTAMP:
            stamp = base_timestamp + timestamp_delta
            if now - stamp > before or stamp - now > after:
                raise InvalidTimestamp(f"Timestamp {stamp} of message with offset {base_offset + offset_delta} is "
                                       f"out of range. The timestamp should be within [{now - before}, {now + after}]")
        position = record_end
    if position != end:
        raise InvalidRecord("Incorrect declared batch size, records still remaining in file")
    if base_timestamp == NO_TIMESTAMP or max_delta is None:
        return NO_TIMESTAMP
    return base_timestamp + max_delta
