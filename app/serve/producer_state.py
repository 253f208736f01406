"""Idempotent producers: their ids, and the batches each one last wrote per partition.

A producer with ``enable.idempotence`` asks InitProducerId for an id, then numbers its
batches per partition. When a response is lost (a broker stopped mid-request, a
timeout) it sends the same batch again with the same sequence numbers; a Kafka broker
recognises it among the last five batches of that producer on that partition and
answers with the offset it already has, instead of writing the records twice. This is
that table (Kafka's ``ProducerStateManager``), held by the server process: the core
stores records, not producers. A retry that arrives while the first attempt is still
being written waits for that attempt's outcome.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from typing import NamedTuple

#: Kafka keeps the metadata of this many recent batches per producer and partition.
BATCHES_KEPT = 5


class BatchKey(NamedTuple):
    """What identifies one idempotent producer's batch on one partition."""

    producer_id: int
    producer_epoch: int
    topic: str
    partition: int
    base_sequence: int
    last_sequence: int

    @property
    def idempotent(self) -> bool:
        """Whether the batch came from an idempotent producer (others are never deduplicated)."""
        return self.producer_id >= 0 and self.base_sequence >= 0


class ProducerStateTable:
    """Producer ids handed out by this server and each producer's recent batches."""

    def __init__(self) -> None:
        # Ids only need to be unique among the producers this server has seen; a random
        # start keeps a restarted server from reusing the id of a producer still running.
        self._next_id = secrets.randbits(40)
        self._written: dict[tuple[int, str, int], deque[tuple[BatchKey, int]]] = {}
        self._writing: dict[BatchKey, asyncio.Future[int | None]] = {}

    def new_producer_id(self) -> int:
        """A fresh producer id (InitProducerId without a transactional id)."""
        self._next_id += 1
        return self._next_id

    async def find_duplicate(self, key: BatchKey) -> int | None:
        """The base offset of this very batch if it is already in the log, else None.

        If the same batch is being written right now (the producer gave up waiting and
        sent it again), waits for that write and answers with its offset.
        """
        if not key.idempotent:
            return None
        writing = self._writing.get(key)
        if writing is not None:
            return await asyncio.shield(writing)
        for written, base_offset in self._written.get((key.producer_id, key.topic, key.partition), ()):
            if written == key:
                return base_offset
        return None

    def begin(self, key: BatchKey) -> None:
        """The batch is about to be appended: retries of it wait for ``end``."""
        if key.idempotent and key not in self._writing:
            self._writing[key] = asyncio.get_running_loop().create_future()

    def end(self, key: BatchKey, base_offset: int | None) -> None:
        """The append finished: at ``base_offset``, or (None) it failed and a retry must write again."""
        writing = self._writing.pop(key, None)
        if writing is not None and not writing.done():
            writing.set_result(base_offset)
        if key.idempotent and base_offset is not None:
            kept = self._written.setdefault((key.producer_id, key.topic, key.partition), deque(maxlen=BATCHES_KEPT))
            kept.append((key, base_offset))

    def truncated(self, topic: str, partition: int, end_offset: int) -> None:
        """Forget batches at or above ``end_offset``: the log lost them, so a retry must write again."""
        for (_, name, number), kept in self._written.items():
            if name == topic and number == partition:
                survivors = [entry for entry in kept if entry[1] < end_offset]
                kept.clear()
                kept.extend(survivors)

    def forget_topic(self, topic: str) -> None:
        """Drop every batch of a deleted topic (a new topic of that name starts at offset 0)."""
        for key in [key for key in self._written if key[1] == topic]:
            del self._written[key]
