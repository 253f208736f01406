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

from broker_core.errors import CorruptRecord
from broker_core.log_validator import read_produced_header


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

    Raises CorruptRecord (empty, shorter than a batch header, or truncated) or InvalidRecord
    (not magic 2, or more than one batch), with Kafka's words (``read_produced_header``).
    """
    if not data:
        raise CorruptRecord("Record batch is empty: the produce request carried no records")
    header = read_produced_header(data)
    # A copy the core may rewrite in place (offsets, leader epoch, LogAppendTime).
    return ProducedBatch(bytearray(data), header.producer_id, header.producer_epoch, header.base_sequence,
                         header.last_sequence)
