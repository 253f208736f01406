"""Kafka's record batches (magic 2) in and out of a Produce or Fetch, through the core's codec.

A Produce request carries one record batch per partition, perhaps compressed (gzip,
snappy, lz4, zstd); the core stores each record's key, value, headers and timestamp, so
batches are checked (CRC-32C), decompressed and split into records on the way in. A
Fetch response is built the other way: the records read from the core, as magic-2
batches with their offsets, timestamps and the partition's leader epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from broker_core.batch_compression import DecompressionBudget
from broker_core.errors import CorruptRecord, InvalidRecord, RecordTooLarge
from broker_core.record_batch import (
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    RecordBatch,
    build_batch,
    read_header,
)
from broker_core.records import ConsumerRecord, ProducerRecord

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
    if len(data) < LOG_OVERHEAD + 5:
        raise CorruptRecord(f"Record batch of {len(data)} bytes is smaller than the batch header")
    magic = data[MAGIC_OFFSET]
    if magic != 2:
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain record "
                            f"batches with magic version 2 (found magic {magic})")
    header = read_header(data)
    if header.size_in_bytes != len(data):
        if header.size_in_bytes > len(data):
            raise CorruptRecord(f"Record batch is truncated: its length field says {header.batch_length} bytes, "
                                f"{len(data) - LOG_OVERHEAD} arrived")
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain exactly "
                            "one record batch")
    batch = RecordBatch(data)
    batch.verify_crc()
    if header.is_control:
        raise InvalidRecord(f"Clients are not allowed to write control records in topic partition {where}")
    if header.is_transactional:
        # Until the log stores batches with their transactional bit and the EndTxn markers
        # (issue 17), a transaction may carry consumer offsets but no records.
        raise InvalidRecord("kplay does not store transactional records yet: a transaction may commit "
                            "consumer offsets (send_offsets_to_transaction) but not produce records")
    try:
        # Per record on the produce path: plain tuples, and no work for the usual empty headers.
        records = [_new_record(ProducerRecord, (record.key, record.value, record.headers,
                                                stamp if (stamp := record.timestamp) >= 0 else None))
                   for record in batch.records(budget=budget)]
    except RecordTooLarge as error:
        raise budget.exceeded(where) from error
    except (InvalidRecord, CorruptRecord) as error:
        raise CorruptRecord(f"Record batch is corrupt: {error}") from None
    return ProducedBatch(records, header.producer_id, header.producer_epoch, header.base_sequence, len(data))


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
    batch = build_batch([(record.key, record.value, record.headers, record.timestamp) for record in records],
                        base_offset=base, offset_deltas=[record.offset - base for record in records],
                        partition_leader_epoch=max(leader_epoch, -1),
                        log_append_time=records[0].timestamp if log_append_time else None)
    return bytes(batch)
