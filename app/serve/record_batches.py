"""Kafka's record batches (magic 2) in and out, through kafka-python's record classes.

A Produce request carries one record batch per partition, perhaps compressed (gzip,
snappy, lz4, zstd); the core stores each record's key, value, headers and timestamp, so
batches are checked (CRC-32C), decompressed and split into records on the way in. A
Fetch response is built the other way: the records read from the core, as magic-2
batches with their offsets, timestamps and the partition's leader epoch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from kafka.errors import KafkaError as ClientLibraryError
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c

from broker_core.errors import CorruptRecord, InvalidRecord, RecordTooLarge

from .batch_decompression import DecompressionBudget, decompress_into
from broker_core.records import ConsumerRecord, ProducerRecord

#: Size of the fields every batch starts with (base offset, length), Kafka's LOG_OVERHEAD.
LOG_OVERHEAD = 12
#: Offset of the magic byte in a batch (after base offset, length and partition leader epoch).
MAGIC_OFFSET = 16
#: Kafka's NO_TIMESTAMP: the broker stamps such a record itself.
NO_TIMESTAMP = -1
_BASE_OFFSET = struct.Struct(">q")
_LEADER_EPOCH = struct.Struct(">i")
_ATTRIBUTES = struct.Struct(">h")
_CRC = struct.Struct(">I")
_LARGEST_BATCH = 2**31 - 1
#: Builds a NamedTuple from a ready tuple, skipping its keyword handling (as broker_core.log does).
_new_record = tuple.__new__


@dataclass(frozen=True)
class ProducedBatch:
    """One producer batch as received: its records and the idempotent producer's marks."""

    records: list[ProducerRecord]
    producer_id: int
    producer_epoch: int
    base_sequence: int
    #: The batch's size as sent (compressed, if it is): what max.message.bytes limits.
    size_in_bytes: int = 0

    @property
    def last_sequence(self) -> int:
        """The sequence number of the batch's last record (sequences wrap at 2**31 - 1)."""
        if self.base_sequence < 0:
            return self.base_sequence
        return (self.base_sequence + len(self.records) - 1) % (_LARGEST_BATCH + 1)


def decode_produced_batch(data: bytes | None, budget: DecompressionBudget | None = None,
                          where: str = "the partition") -> ProducedBatch:
    """The one record batch of a Produce request's partition, decompressed and checked.

    Raises CorruptRecord (a truncated or damaged batch, a CRC mismatch, an undecodable
    codec payload) or InvalidRecord (not exactly one magic-2 batch, or a control or
    transactional batch), with Kafka's words; RecordTooLarge if a compressed batch expands
    beyond what is left of the request's ``budget``.
    """
    budget = budget or DecompressionBudget()
    if not data:
        raise CorruptRecord("Record batch is empty: the produce request carried no records")
    view = memoryview(data)
    if len(view) < LOG_OVERHEAD + 5:
        raise CorruptRecord(f"Record batch of {len(view)} bytes is smaller than the batch header")
    length = struct.unpack_from(">i", view, 8)[0]
    magic = view[MAGIC_OFFSET]
    if magic != 2:
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain record "
                            f"batches with magic version 2 (found magic {magic})")
    if length + LOG_OVERHEAD != len(view):
        if length + LOG_OVERHEAD > len(view):
            raise CorruptRecord(f"Record batch is truncated: its length field says {length} bytes, "
                                f"{len(view) - LOG_OVERHEAD} arrived")
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain exactly "
                            "one record batch")
    try:
        batch = DefaultRecordBatch(view)
        if not batch.validate_crc():
            computed = calc_crc32c(memoryview(batch._buffer)[DefaultRecordBatch.ATTRIBUTES_OFFSET:])
            raise CorruptRecord(f"Record is corrupt (stored crc = {batch.crc}, computed crc = {computed})")
        if batch.is_control_batch or batch.is_transactional:
            raise InvalidRecord("kplay does not support transactions: control and transactional batches "
                                "are refused")
        codec = batch.compression_type
        if codec:
            # Decompressed here, within the request's budget, and parsed as the same batch
            # uncompressed (the CRC above covered the bytes as sent).
            records_at = DefaultRecordBatch.HEADER_STRUCT.size
            plain = bytearray(view[:records_at])
            attributes = _ATTRIBUTES.unpack_from(plain, DefaultRecordBatch.ATTRIBUTES_OFFSET)[0]
            _ATTRIBUTES.pack_into(plain, DefaultRecordBatch.ATTRIBUTES_OFFSET,
                                  attributes & ~DefaultRecordBatch.CODEC_MASK)
            decompress_into(plain, codec, view[records_at:], budget, where)
            batch = DefaultRecordBatch(plain)
        # Per record on the produce path: plain tuples, and no work for the usual empty headers.
        records = [_new_record(ProducerRecord, (record.key, record.value,
                                                tuple(record.headers) if record.headers else (),
                                                stamp if (stamp := record.timestamp) is None or stamp >= 0 else None))
                   for record in batch]
    except (CorruptRecord, InvalidRecord, RecordTooLarge):
        raise
    except (ClientLibraryError, ValueError, IndexError, struct.error, OSError, EOFError, RuntimeError) as error:
        # Every failure of the record parser or a codec means the bytes were not a valid batch.
        raise CorruptRecord(f"Record batch is corrupt: {error}") from None
    return ProducedBatch(records, batch.producer_id, batch.producer_epoch, batch.base_sequence, len(view))


def encode_fetched_records(records: Sequence[ConsumerRecord], leader_epoch: int) -> bytes:
    """Records read from one partition as magic-2 batches, ready for a Fetch response.

    Records keep their offsets (a compacted log's gaps included). A topic with
    ``message.timestamp.type=LogAppendTime`` gets one batch per append time, marked as
    such, since a consumer reads that timestamp from the batch rather than the record.
    """
    if not records:
        return b""
    if records[0].timestamp_type != "LogAppendTime":
        return _build_batch(records, leader_epoch, log_append_time=False)
    parts = []
    start = 0
    for index in range(1, len(records) + 1):
        if index == len(records) or records[index].timestamp != records[start].timestamp:
            parts.append(_build_batch(records[start:index], leader_epoch, log_append_time=True))
            start = index
    return b"".join(parts)


def _build_batch(records: Sequence[ConsumerRecord], leader_epoch: int, *, log_append_time: bool) -> bytes:
    base = records[0].offset
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=_LARGEST_BATCH)
    append = builder.append
    for record in records:
        append(record.offset - base, record.timestamp, record.key, record.value, record.headers)
    buffer = builder.build()
    # The builder writes a producer's batch (base offset 0, epoch 0); the broker sets these,
    # and both lie outside the CRC.
    _BASE_OFFSET.pack_into(buffer, 0, base)
    _LEADER_EPOCH.pack_into(buffer, LOG_OVERHEAD, max(leader_epoch, -1))
    if log_append_time:
        attributes = _ATTRIBUTES.unpack_from(buffer, DefaultRecordBatch.ATTRIBUTES_OFFSET)[0]
        _ATTRIBUTES.pack_into(buffer, DefaultRecordBatch.ATTRIBUTES_OFFSET,
                              attributes | DefaultRecordBatch.TIMESTAMP_TYPE_MASK)
        _CRC.pack_into(buffer, DefaultRecordBatch.CRC_OFFSET,
                       calc_crc32c(memoryview(buffer)[DefaultRecordBatch.ATTRIBUTES_OFFSET:]))
    return bytes(buffer)
