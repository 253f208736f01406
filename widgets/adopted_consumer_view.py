"""``AdoptedConsumerView``: the view of a consumer that something else creates and polls.

A lesson (``kplay demo``) starts its consumers and polls them in its own tasks, as an
application would. The consumer deck shows each of them with the same view as its own
consumers, but this view never assigns, subscribes, polls or closes the consumer: it
draws the records its owner reports having read and, from the consumer's own state, the
assignment, positions, committed offsets and lag, once per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable, Sequence

from textual import work

from broker_core import Consumer
from broker_core.errors import KafkaError
from broker_core.records import ConsumerRecord

from .cluster_source import ClusterSource
from .consumer_view import FRAME_S, WINDOW, ConsumerView, PartitionStats

#: Returns how many records the consumer's owner has read so far, and the newest of them.
RecordsRead = Callable[[], tuple[int, Sequence[ConsumerRecord]]]


class AdoptedConsumerView(ConsumerView):
    """Shows ``consumer``, owned and polled elsewhere, like any consumer of the deck.

    ``records()`` tells how many records the owner's poll loop has read and the newest
    of them (at least as many as the view keeps). Stopping or removing the view leaves
    the consumer running: its owner stops it.
    """

    def __init__(self, source: ClusterSource, consumer: Consumer, records: RecordsRead, *, label: str,
                 window: int = WINDOW, id: str | None = None) -> None:
        topics = sorted(consumer.subscription() or {tp.topic for tp in consumer.assignment()})
        super().__init__(source, ",".join(topics), group=consumer.group_id, label=label, window=window, id=id)
        # The base view made a consumer of its own; it has done nothing yet and is dropped.
        self.consumer = consumer
        self._records_read = records

    @work(group="consumer-view-poll")
    async def _consume(self) -> None:
        """Follow the consumer, frame by frame, instead of polling it."""
        self._polling = True
        self.consumer.rebalance_listeners.append(self._on_rebalance)
        try:
            while not self._stopping:
                self._note_assignment()
                self._catch_up()
                async with self._action_lock:
                    await self._collect_stats()
                self._schedule_draw()
                # The consumer changes when its owner's poll returns, which no event announces:
                # look at its in-memory state once a frame (the log is read by the owner).
                await asyncio.sleep(FRAME_S)
        finally:
            with contextlib.suppress(ValueError):
                self.consumer.rebalance_listeners.remove(self._on_rebalance)
            self._stopped.set()

    def _catch_up(self) -> None:
        read, newest = self._records_read()
        new = read - self.consumed
        # The markers and aborted records its polls passed (the owner does not look at them).
        marks = self.consumer.take_transaction_marks()
        if new > 0 or marks:
            self._take(list(newest[-new:]) if new > 0 else [], marks)
        self.consumed = read

    async def _collect_stats(self) -> None:
        """Positions as the consumer knows them (looking one up would move a consumer that
        another task polls), committed offsets and high watermarks."""
        refresh_committed = self._committed_stale and self.group is not None
        self._committed_stale = False
        paused = self.consumer.paused()
        stats = []
        for tp in sorted(self.consumer.assignment()):
            if refresh_committed:
                with contextlib.suppress(KafkaError):
                    self._committed[tp] = await self.consumer.committed(tp)
            high_watermark = max(self._high_watermarks.get(tp, 0), self.consumer.high_watermark(tp) or 0)
            stats.append(PartitionStats(tp, self.consumer.known_position(tp), self._committed.get(tp),
                                        high_watermark, tp in paused, self.group is not None))
        self.stats = stats

    async def stop(self) -> None:
        """Stop following the consumer; its owner stops the consumer itself."""
        self._stopping = True
        if self._polling and not self._stopped.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), FRAME_S * 8)
