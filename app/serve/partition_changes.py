"""Which partitions changed, in order: what an incremental fetch looks at besides those named.

An incremental Fetch must answer every session partition whose log start, high watermark or
last stable offset moved, that has records at its position, or whose leadership changed, but
a session may hold 10,000 partitions and a fetch under constant production finds a few changed.
``PartitionChangeLog`` keeps the change feed's per-partition events as one ordered, bounded
log of (topic, partition) keys, numbered; a session remembers the number it last looked at and
takes only the keys after it. Events that name no single partition (a topic deleted or altered,
a broker stopped, a transaction's state, a missed stretch: ``Resync``) are a *whole* entry:
a session that reaches one, or whose number fell off the log's start, compares every partition
instead (as it does after a leadership change).

Exact across processes: before taking changes, ``catch_up`` makes the feed publish whatever
was committed since its last poll (it tells by ``PRAGMA data_version``), so another process's
append is in the log before the fetch looks, not one poll interval later.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

from broker_core.events import ChangeFeed, Event, Subscription

#: Events naming one partition whose offsets or leadership may have moved.
PARTITION_EVENTS = frozenset({"records", "segment_deleted", "log_compacted", "log_truncated", "leader_elected",
                              "isr_changed", "replica_progress"})
#: Events after which the serve's leadership view must be read again before it is trusted.
LEADERSHIP_EVENTS = frozenset({"leader_elected", "log_truncated", "broker_state", "topic_deleted",
                               "partitions_added", "resync"})
#: Events that move no partition's offsets nor leadership (a new topic is in no session yet: a
#: partition of a topic unknown when asked is answered with an error, and errors are re-read).
IGNORED_EVENTS = frozenset({"topic_created", "controller_changed", "group_rebalanced", "group_state",
                            "offsets_committed", "schema_registered", "schema_deleted", "compatibility_changed"})
#: How many changes are kept; a session further behind compares every partition once.
CHANGES_KEPT = 50_000

#: A partition as the log names it.
TopicPartition = tuple[str, int]


class PartitionChangeLog:
    """The partitions changed, numbered in order, fed by a change-feed subscription."""

    def __init__(self, feed: ChangeFeed, *, on_leadership_change: Callable[[], None] = lambda: None,
                 kept: int = CHANGES_KEPT) -> None:
        self._feed = feed
        self._on_leadership_change = on_leadership_change
        self._kept = kept
        self._subscription: Subscription | None = None
        #: The changed partitions (None: a whole entry), the first numbered ``_start``.
        self._keys: list[TopicPartition | None] = []
        self._start = 0
        #: The number of the last whole entry (-1: none).
        self._last_whole = -1

    @property
    def end(self) -> int:
        """The number the next change will get: a reader that took every change remembers it."""
        return self._start + len(self._keys)

    def start(self) -> None:
        """Follow the feed from now on (it must be running); what came before counts as a whole entry."""
        if self._subscription is None:
            self._subscription = self._feed.subscribe()
            self._append(None)

    def close(self) -> None:
        """Stop following the feed."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def catch_up(self) -> int:
        """Take in every change committed so far, from any process; return ``end``, or -1 when
        the log cannot say (the feed is not running)."""
        if self._subscription is None or not self._feed.running:
            return -1
        if self._feed.behind():
            try:
                await self._feed.catch_up()
            except sqlite3.OperationalError:  # a writer holds an exclusive lock (checkpoint)
                return -1
        for event in self._subscription.get_nowait():
            self._take(event)
        return self.end

    def since(self, number: int) -> set[TopicPartition] | None:
        """The partitions changed from change ``number`` on, or None when every partition must
        be compared (a whole entry since, or ``number`` is no longer kept)."""
        if number < self._start or number <= self._last_whole:
            return None
        return {key for key in self._keys[number - self._start:] if key is not None}

    def _take(self, event: Event) -> None:
        kind = event.kind
        if kind in IGNORED_EVENTS:
            return
        if kind in LEADERSHIP_EVENTS:
            # The serve's leadership view would be dropped by its own subscriber a moment later;
            # drop it now, so that a fetch answering this change does not use the old leaders.
            self._on_leadership_change()
        if kind in PARTITION_EVENTS:
            self._append((getattr(event, "topic"), getattr(event, "partition")))
        else:
            self._append(None)

    def _append(self, key: TopicPartition | None) -> None:
        if key is None:
            self._last_whole = self.end
        self._keys.append(key)
        if len(self._keys) >= 2 * self._kept:
            trimmed = len(self._keys) - self._kept
            del self._keys[:trimmed]
            self._start += trimmed
