"""Idempotent producers: their ids, and the batches each one last wrote per partition.

A producer with ``enable.idempotence`` asks InitProducerId for an id, then numbers its
batches per partition. When a response is lost (a broker stopped mid-request, a
timeout) it sends the same batch again with the same sequence numbers; a Kafka broker
recognises it among the last five batches of that producer on that partition and
answers with the offset it already has, instead of writing the records twice. This is
that table (Kafka's ``ProducerStateManager``), held by the server process: the core
stores records, not producers.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass

#: Kafka keeps the metadata of this many recent batches per producer and partition.
BATCHES_KEPT = 5


@dataclass(frozen=True)
class WrittenBatch:
    """A batch already in the log: its producer epoch, sequence range and first offset."""

    producer_epoch: int
    base_sequence: int
    last_sequence: int
    base_offset: int


class ProducerStateTable:
    """Producer ids handed out by this server and each producer's recent batches."""

    def __init__(self) -> None:
        # Ids only need to be unique among the producers this server has seen; a random
        # start keeps a restarted server from reusing the id of a producer still running.
        self._next_id = secrets.randbits(40)
        self._batches: dict[tuple[int, str, int], deque[WrittenBatch]] = {}

    def new_producer_id(self) -> int:
        """A fresh producer id (InitProducerId without a transactional id)."""
        self._next_id += 1
        return self._next_id

    def find_duplicate(self, producer_id: int, producer_epoch: int, topic: str, partition: int,
                       base_sequence: int, last_sequence: int) -> int | None:
        """The base offset of an identical batch this producer already wrote here, else None."""
        if producer_id < 0 or base_sequence < 0:
            return None
        for written in self._batches.get((producer_id, topic, partition), ()):
            if (written.producer_epoch, written.base_sequence, written.last_sequence) == (
                    producer_epoch, base_sequence, last_sequence):
                return written.base_offset
        return None

    def record(self, producer_id: int, producer_epoch: int, topic: str, partition: int,
               base_sequence: int, last_sequence: int, base_offset: int) -> None:
        """Remember a batch that was appended (only idempotent producers' batches are kept)."""
        if producer_id < 0 or base_sequence < 0:
            return
        kept = self._batches.setdefault((producer_id, topic, partition), deque(maxlen=BATCHES_KEPT))
        kept.append(WrittenBatch(producer_epoch, base_sequence, last_sequence, base_offset))

    def truncated(self, topic: str, partition: int, end_offset: int) -> None:
        """Forget batches at or above ``end_offset``: the log lost them, so a retry must write again."""
        for (_, name, number), kept in self._batches.items():
            if name == topic and number == partition:
                survivors = [batch for batch in kept if batch.base_offset < end_offset]
                kept.clear()
                kept.extend(survivors)

    def forget_topic(self, topic: str) -> None:
        """Drop every batch of a deleted topic (a new topic of that name starts at offset 0)."""
        for key in [key for key in self._batches if key[1] == topic]:
            del self._batches[key]
