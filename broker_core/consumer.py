"""``Consumer``: Kafka's consumer: assigned partitions, positions, poll, seek, commit.

A consumer keeps a *position* per partition (the next offset it will read). Reading
never deletes anything: positions just move. Where a position is missing it comes from
the group's committed offset, else from ``auto_offset_reset`` (earliest or latest);
a position that retention has overtaken raises OffsetOutOfRange internally and is reset
by the same rule, as in Kafka.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import TYPE_CHECKING, Iterable

from .errors import KafkaError, OffsetOutOfRange
from .log import EARLIEST, LATEST
from .records import ConsumerRecord, TopicPartition

if TYPE_CHECKING:
    from .cluster import Cluster


class NoOffsetForPartition(KafkaError):
    """``auto_offset_reset="none"`` and the partition has no committed offset."""

    name, code = "NO_OFFSET_FOR_PARTITION", -1


class Consumer:
    """Reads records from assigned partitions.

    Use ``assign()`` for explicit partitions (a standalone consumer). A consumer with a
    ``group_id`` also reads and commits that group's offsets.
    """

    def __init__(self, cluster: "Cluster", *, group_id: str | None = None,
                 client_id: str = "kplay-consumer", auto_offset_reset: str = "latest",
                 enable_auto_commit: bool = True, auto_commit_interval_ms: int = 5000,
                 max_poll_records: int = 500) -> None:
        if auto_offset_reset not in ("earliest", "latest", "none"):
            raise ValueError(f"Invalid value {auto_offset_reset} for configuration auto.offset.reset: "
                             "String must be one of: latest, earliest, none")
        self._cluster = cluster
        self.group_id = group_id
        self.client_id = client_id
        self.auto_offset_reset = auto_offset_reset
        self.enable_auto_commit = enable_auto_commit and group_id is not None
        self.auto_commit_interval_s = auto_commit_interval_ms / 1000
        self.max_poll_records = max_poll_records
        self._assigned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._next_auto_commit = time.monotonic() + self.auto_commit_interval_s
        self._next_partition = 0
        self._closed = False

    async def __aenter__(self) -> "Consumer":
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- assignment ---------------------------------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition | tuple[str, int]]) -> None:
        """Read exactly these partitions (no group rebalancing)."""
        new = [TopicPartition(*tp) for tp in partitions]
        self._set_assignment(new)

    def _set_assignment(self, partitions: list[TopicPartition]) -> None:
        keep = set(partitions)
        self._assigned = sorted(keep)
        self._positions = {tp: off for tp, off in self._positions.items() if tp in keep}
        self._paused &= keep

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer reads now."""
        return set(self._assigned)

    # -- positions ----------------------------------------------------------------------
    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        """Read ``tp`` from ``offset`` next (checked against the log on the next poll)."""
        tp = TopicPartition(*tp)
        self._require_assigned(tp)
        if offset < 0:
            raise ValueError(f"seek offset must not be negative: {offset}")
        self._positions[tp] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Move to the log start offset (the oldest record retention has kept)."""
        for tp in partitions or tuple(self._assigned):
            self._require_assigned(tp)
            self._positions[tp] = await self._cluster.logs.list_offset(tp.topic, tp.partition, EARLIEST)  # type: ignore[assignment]

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Move to the high watermark: only records produced from now on will be read."""
        for tp in partitions or tuple(self._assigned):
            self._require_assigned(tp)
            self._positions[tp] = await self._cluster.logs.list_offset(tp.topic, tp.partition, LATEST)  # type: ignore[assignment]

    async def position(self, tp: TopicPartition | tuple[str, int]) -> int:
        """The offset of the next record this consumer will read from ``tp``."""
        tp = TopicPartition(*tp)
        self._require_assigned(tp)
        if tp not in self._positions:
            await self._reset_position(tp, use_committed=True)
        return self._positions[tp]

    def high_watermark(self, tp: TopicPartition) -> int | None:
        """The high watermark seen by the last fetch of ``tp`` (None before one)."""
        return self._high_watermarks.get(tp)

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop fetching these partitions (positions are kept)."""
        for tp in partitions or tuple(self._assigned):
            self._require_assigned(tp)
            self._paused.add(tp)

    def resume(self, *partitions: TopicPartition) -> None:
        """Fetch these partitions again."""
        for tp in partitions or tuple(self._assigned):
            self._paused.discard(tp)

    def paused(self) -> set[TopicPartition]:
        """Partitions currently paused."""
        return set(self._paused)

    def _require_assigned(self, tp: TopicPartition) -> None:
        if tp not in self._assigned:
            raise ValueError(f"No current assignment for partition {tp}")

    async def _reset_position(self, tp: TopicPartition, *, use_committed: bool) -> None:
        if use_committed and self.group_id is not None:
            committed = await self.committed(tp)
            if committed is not None:
                self._positions[tp] = committed
                return
        if self.auto_offset_reset == "none":
            raise NoOffsetForPartition(f"Undefined offset with no reset policy for partition: {tp}")
        spec = EARLIEST if self.auto_offset_reset == "earliest" else LATEST
        self._positions[tp] = await self._cluster.logs.list_offset(tp.topic, tp.partition, spec)  # type: ignore[assignment]

    # -- reading ------------------------------------------------------------------------
    async def poll(self, timeout_ms: int = 0) -> list[ConsumerRecord]:
        """Records from the assigned partitions, waiting up to ``timeout_ms`` for some.

        Returns at most ``max_poll_records``, taking partitions in turn so one busy
        partition cannot starve the others.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            await self._before_fetch()
            records = await self._fetch_once()
            await self._maybe_auto_commit()
            remaining = deadline - time.monotonic()
            if records or remaining <= 0 or self._closed:
                return records
            feed = self._cluster.feed
            if not feed.running:
                await self._cluster.start_feed()
            await feed.wait_for_change(min(remaining, self._wait_slice()))

    def _wait_slice(self) -> float:
        """Longest a poll may wait for data before doing its periodic work again."""
        return 1.0

    async def _before_fetch(self) -> None:
        """Hook run before every fetch (group membership work)."""

    async def _fetch_once(self) -> list[ConsumerRecord]:
        fetchable = [tp for tp in self._assigned if tp not in self._paused]
        if not fetchable:
            return []
        out: list[ConsumerRecord] = []
        start = self._next_partition % len(fetchable)
        self._next_partition += 1
        for tp in fetchable[start:] + fetchable[:start]:
            budget = self.max_poll_records - len(out)
            if budget <= 0:
                break
            if tp not in self._positions:
                await self._reset_position(tp, use_committed=True)
            try:
                result = await self._cluster.logs.read(tp.topic, tp.partition, self._positions[tp],
                                                       max_records=budget)
            except OffsetOutOfRange:
                await self._reset_position(tp, use_committed=False)
                result = await self._cluster.logs.read(tp.topic, tp.partition, self._positions[tp],
                                                       max_records=budget)
            self._high_watermarks[tp] = result.high_watermark
            if result.records:
                out.extend(result.records)
                self._positions[tp] = result.records[-1].offset + 1
        return out

    # -- committing ---------------------------------------------------------------------
    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (by default every current position) for the group."""
        raise NotImplementedError("committing needs the group coordinator")

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset for ``tp`` (None if it has none)."""
        return None

    async def _maybe_auto_commit(self) -> None:
        if not self.enable_auto_commit or time.monotonic() < self._next_auto_commit:
            return
        self._next_auto_commit = time.monotonic() + self.auto_commit_interval_s
        if self._positions:
            await self.commit()

    async def close(self) -> None:
        """Commit (with auto-commit on) and stop."""
        if self._closed:
            return
        if self.enable_auto_commit and self._positions:
            await self.commit()
        self._closed = True
        await asyncio.sleep(0)
