"""Kafka's record batches (magic 2) as a Produce request carries them, read just enough to route them.

A Produce request carries one record batch per partition. kplay serve stores it as the
producer sent it (compressed or not): the core validates it as Kafka's LogValidator does
and assigns its offsets by rewriting the base offset. Here only the header is read, for
what the server needs before that: the idempotent producer's id, epoch and sequences
(a retry in flight waits for the first attempt). A Fetch serves the stored batches
themselves (``PartitionLogs.read_many(as_batches=True)``), so neither path touches the
records.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker_core.errors import CorruptRecord, InvalidRecord
from broker_core.record_batch import LOG_OVERHEAD, MAGIC_OFFSET, RECORD_BATCH_OVERHEAD, read_header


@dataclass(frozen=True)
class ProducedBatch:
    """One producer batch as received: its bytes and the idempotent producer's marks."""

    data: bytearray
    producer_id: int
    producer_epoch: int
    base_sequence: int
    last_sequence: int

    @property
    def size_in_bytes(self) -> int:
        """The batch's size as sent (compressed, if it is): what max.message.bytes limits."""
        return len(self.data)


def read_produced_batch(data: bytes | None) -> ProducedBatch:
    """The one record batch of a Produce request's partition, its header read (not yet validated).

    Raises CorruptRecord (empty, or shorter than a batch header) or InvalidRecord (not
    magic 2, or not exactly one batch), with Kafka's words.
    """
    if not data:
        raise CorruptRecord("Record batch is empty: the produce request carried no records")
    if len(data) < RECORD_BATCH_OVERHEAD:
        if len(data) > MAGIC_OFFSET and data[MAGIC_OFFSET] != 2:
            raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain record "
                                f"batches with magic version 2 (found magic {data[MAGIC_OFFSET]})")
        raise CorruptRecord(f"Record batch of {len(data)} bytes is smaller than the batch header")
    if data[MAGIC_OFFSET] != 2:
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain record "
                            f"batches with magic version 2 (found magic {data[MAGIC_OFFSET]})")
    header = read_header(data)
    if header.size_in_bytes != len(data):
        if header.size_in_bytes > len(data):
            raise CorruptRecord(f"Record batch is truncated: its length field says {header.batch_length} bytes, "
                                f"{len(data) - LOG_OVERHEAD} arrived")
        raise InvalidRecord("Produce requests with version 3 and above are only allowed to contain exactly "
                            "one record batch")
    # A copy the core may rewrite in place (offsets, leader epoch, LogAppendTime).
    return ProducedBatch(bytearray(data), header.producer_id, header.producer_epoch, header.base_sequence,
                         header.last_sequence)
