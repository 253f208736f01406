"""``ReadyPartitions``: which of a consumer's partitions a poll must read, without asking the file each poll.

A consumer assigned 10,000 partitions, ten with data, should pay for ten. One query tells every
partition's log start, log end, high watermark and last stable offset (``PartitionLogs.partition_offset_rows``);
what it says stays true until someone commits to the data file, which ``Storage.data_version()`` tells in
microseconds (SQLite's ``PRAGMA data_version`` moves on any other connection's commit: this process's
writers, another process's). So a scan is kept with the version read before it, and while the version
has not moved a poll looks only at the partitions whose position is not at their end in that scan
(``ready``), a set kept up to date as positions move. A moved version means a new scan.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .records import TopicPartition

#: ``PartitionLogs.partition_offset_rows``: per topic, per partition, (partition, log start, log end,
#: high watermark, last stable offset).
OffsetRows = Mapping[str, Mapping[int, tuple[int, int, int, int, int]]]


class ReadyPartitions:
    """The assigned partitions whose position may have something to read, from the last scan of
    their offsets; a partition is left out only when that scan puts its position exactly at its end
    (at the high watermark, or the last stable offset for read_committed) and inside its log."""

    def __init__(self, read_committed: bool) -> None:
        self._read_committed = read_committed
        self._offsets: OffsetRows = {}
        self._version: int | None = None  # data_version read before the scan (None: no scan to trust)
        self._topics: frozenset[str] = frozenset()
        #: Partitions a poll must read: not known to be idle at their position.
        self.ready: set[TopicPartition] = set()

    def is_current(self, version: int, topics: Iterable[str]) -> bool:
        """Whether the last scan still holds: nobody committed since ``version`` was read before
        it, and it covered ``topics``."""
        return version == self._version and self._topics.issuperset(topics)

    def scanned(self, version: int, topics: Iterable[str], offsets: OffsetRows,
                positions: Mapping[TopicPartition, int], assigned: Iterable[TopicPartition]) -> None:
        """Take a new scan (``version`` read before it) and work out ``ready`` for ``assigned`` again."""
        self._version, self._topics, self._offsets = version, frozenset(topics), offsets
        # ``_idle`` inlined: this runs over every assigned partition.
        ready = set()
        upto = 4 if self._read_committed else 3
        no_rows: Mapping[int, tuple[int, int, int, int, int]] = {}
        for tp in assigned:
            found, position = offsets.get(tp.topic, no_rows).get(tp.partition), positions.get(tp)
            if found is None or position is None or not (found[upto] <= position <= found[2] and position >= found[1]):
                ready.add(tp)
        self.ready = ready

    def high_watermark(self, tp: TopicPartition) -> int | None:
        """``tp``'s high watermark as the last scan read it (None if it did not find it)."""
        found = self._offsets.get(tp.topic, {}).get(tp.partition)
        return None if found is None else found[3]

    def moved(self, tp: TopicPartition, position: int | None) -> None:
        """``tp``'s position changed (a seek, a reset, records taken): is it still ready?"""
        if self._idle(tp, position):
            self.ready.discard(tp)
        else:
            self.ready.add(tp)

    def assigned(self, partitions: Iterable[TopicPartition], positions: Mapping[TopicPartition, int]) -> None:
        """The assignment changed: ``ready`` holds only these partitions, each judged again."""
        self.ready = ({tp for tp in partitions if not self._idle(tp, positions.get(tp))} if positions
                      else set(partitions))

    def forget(self) -> None:
        """Trust no scan any more (the next poll scans again)."""
        self._version = None

    def _idle(self, tp: TopicPartition, position: int | None) -> bool:
        found = self._offsets.get(tp.topic, {}).get(tp.partition)
        if found is None or position is None:
            return False  # unknown partition or no position yet: read it (and meet its error or reset)
        upto = found[4] if self._read_committed else found[3]
        return upto <= position <= found[2] and position >= found[1]


__all__ = ["ReadyPartitions"]
