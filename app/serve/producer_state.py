"""Idempotent producers' batches in flight on this server.

The producer state itself (each producer's epoch and last batches per partition) lives in
the data file, written with the records (``broker_core.producer_state``), so a retry after
a restart of ``kplay serve`` still gets its original offset. What only this process knows
is which batches it is writing right now: a producer that gave up waiting sends the same
batch again while the first attempt is still being written (acks=all waiting for the
followers), and that retry waits for the first attempt's outcome instead of racing it.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from broker_core.producer_state import ProducerMark


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

    @property
    def mark(self) -> ProducerMark:
        """The batch's producer fields, as the core checks and stores them."""
        return ProducerMark(self.producer_id, self.producer_epoch, self.base_sequence, self.last_sequence)


class ProducerStateTable:
    """The idempotent batches this server is appending right now."""

    def __init__(self) -> None:
        self._writing: dict[BatchKey, asyncio.Future[int | None]] = {}

    async def in_flight(self, key: BatchKey) -> int | None:
        """If this very batch is being appended now, wait for it: its base offset, or None
        if it failed (or was not in flight), in which case the retry is appended itself."""
        writing = self._writing.get(key) if key.idempotent else None
        if writing is None:
            return None
        return await asyncio.shield(writing)

    def begin(self, key: BatchKey) -> None:
        """The batch is about to be appended: retries of it wait for ``end``."""
        if key.idempotent and key not in self._writing:
            self._writing[key] = asyncio.get_running_loop().create_future()

    def end(self, key: BatchKey, base_offset: int | None) -> None:
        """The append finished: at ``base_offset``, or (None) it failed and a retry must write again."""
        writing = self._writing.pop(key, None)
        if writing is not None and not writing.done():
            writing.set_result(base_offset)
