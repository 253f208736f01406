"""The change feed: typed events for everything that changes in the data file.

Every write appends what it changed to the ``changes`` table in the same transaction,
except appends: an append already moves its partition's log end (``partitions``) and adds a
row to ``batches``, and a change row of its own cost it more than its batch (about 40 us of a
one-record append, measured), so the feed tells appends from those. ``ChangeFeed`` notices
commits by polling ``PRAGMA data_version`` (a per-connection counter that moves when any
other connection commits, in this process or another); then, in one read transaction, it
reads the change rows it has not seen and the partitions' log ends, and publishes one
``RecordsAppended`` per batch appended since (the batches above the log end it knew). Writes
from another terminal and from this process therefore reach subscribers the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, AsyncIterator, Callable, ClassVar, Protocol

from .storage import Storage, connect_raw

#: How often the feed looks for commits from other processes (PERF.md: 20 ms gives p99 ~20 ms).
POLL_INTERVAL_S = 0.02
#: How many entries one poll reads at most before yielding to the event loop.
READ_CHUNK = 2000
#: A subscriber further behind than this gets a ``Resync`` instead of every event.
QUEUE_LIMIT = 10_000
#: A partition that grew by more batches than this since the last poll gets one
#: ``RecordsAppended`` for its new log end, not one per batch.
BATCH_EVENTS_MAX = 2000
#: The change rows appends wrote before schema version 3 (an older kplay may still have the
#: file open when it is migrated): skipped, since the feed tells appends from the partitions.
APPEND_KIND = "records"

#: The changes table keeps about this many newest entries, whoever writes (a trigger prunes
#: it every ``CHANGES_PRUNE_EVERY`` inserts); a reader further behind gets a ``Resync``.
CHANGES_KEPT = 20_000
CHANGES_PRUNE_EVERY = 500
#: The trigger that bounds the changes table, in the file itself: every process's writes
#: (any kplay version that has it, any front) keep the feed bounded, not only the cleaner.
CHANGES_BOUND_TRIGGER = f"""CREATE TRIGGER IF NOT EXISTS changes_bounded AFTER INSERT ON changes
    WHEN NEW.seq % {CHANGES_PRUNE_EVERY} = 0
    BEGIN DELETE FROM changes WHERE seq <= NEW.seq - {CHANGES_KEPT}; END"""

#: The feed connection's own record of each partition's log end as last published (a TEMP
#: table: it lives in that connection only, never in the data file).
_FEED_ENDS_TABLE = ("CREATE TEMP TABLE IF NOT EXISTS feed_ends(topic_id INTEGER NOT NULL, partition INTEGER NOT NULL,"
                    " end_offset INTEGER NOT NULL, PRIMARY KEY(topic_id, partition)) WITHOUT ROWID")
#: Partitions whose log end moved since it was last published: (topic id, partition, log end,
#: high watermark, appended at, the log end published before; 0 for a new partition).
_MOVED_LOG_ENDS = (
    "SELECT p.topic_id, p.partition, p.log_end_offset, p.high_watermark, p.appended_at, coalesce(k.end_offset, 0)"
    " FROM partitions p LEFT JOIN temp.feed_ends k ON k.topic_id=p.topic_id AND k.partition=p.partition"
    " WHERE p.log_end_offset<>coalesce(k.end_offset, 0)")
_MOVED_LOG_END = _MOVED_LOG_ENDS + " AND p.topic_id=? AND p.partition=?"

EVENT_TYPES: dict[str, type["Event"]] = {}


async def bound_change_feed(storage: Storage) -> None:
    """Install the trigger that keeps the changes table bounded (once per data file)."""
    found = await storage.fetchone("SELECT 1 FROM sqlite_master WHERE type='trigger' AND name='changes_bounded'")
    if found is None:
        async with storage.write() as conn:
            await conn.execute(CHANGES_BOUND_TRIGGER)


def event(kind: str) -> Callable[[type["Event"]], type["Event"]]:
    """Register an event class under the ``kind`` stored in the changes table."""
    def register(cls: type["Event"]) -> type["Event"]:
        cls.kind = kind
        EVENT_TYPES[kind] = cls
        return cls
    return register


@dataclass(frozen=True)
class Event:
    """Something that changed; ``seq`` orders events, ``at`` is the writer's clock in ms."""

    kind: ClassVar[str] = "event"
    seq: int
    at: int


@event("records")
@dataclass(frozen=True)
class RecordsAppended(Event):
    """Records were appended to a partition, which now ends at ``end_offset``."""

    topic: str = ""
    partition: int = 0
    end_offset: int = 0
    high_watermark: int = 0


@event("topic_created")
@dataclass(frozen=True)
class TopicCreated(Event):
    """A topic was created."""

    topic: str = ""
    partitions: int = 0
    replication_factor: int = 0


@event("partitions_added")
@dataclass(frozen=True)
class PartitionsAdded(Event):
    """A topic grew to ``partitions`` partitions."""

    topic: str = ""
    partitions: int = 0


@event("topic_altered")
@dataclass(frozen=True)
class TopicAltered(Event):
    """A topic's config overrides changed; ``config`` is the new set of overrides."""

    topic: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@event("topic_deleted")
@dataclass(frozen=True)
class TopicDeleted(Event):
    """A topic was deleted."""

    topic: str = ""


@event("group_rebalanced")
@dataclass(frozen=True)
class GroupRebalanced(Event):
    """A group finished a rebalance: its new generation and who owns which partitions."""

    group: str = ""
    generation: int = 0
    protocol: str = ""
    leader: str = ""
    assignment: dict[str, list[list[Any]]] = field(default_factory=dict)


@event("group_state")
@dataclass(frozen=True)
class GroupStateChanged(Event):
    """A group changed state (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead)."""

    group: str = ""
    state: str = ""
    reason: str = ""


@event("offsets_committed")
@dataclass(frozen=True)
class OffsetsCommitted(Event):
    """A group committed offsets: a list of [topic, partition, offset]."""

    group: str = ""
    offsets: list[list[Any]] = field(default_factory=list)


@event("transaction_state")
@dataclass(frozen=True)
class TransactionStateChanged(Event):
    """A transactional id's transaction changed state (Empty, Ongoing, CompleteCommit, CompleteAbort, Dead)."""

    transactional_id: str = ""
    state: str = ""
    producer_id: int = -1
    producer_epoch: int = -1
    reason: str = ""


@event("segment_deleted")
@dataclass(frozen=True)
class SegmentDeleted(Event):
    """Retention deleted a segment; the partition's log now starts at ``log_start_offset``."""

    topic: str = ""
    partition: int = 0
    base_offset: int = 0
    next_offset: int = 0
    log_start_offset: int = 0
    reason: str = ""
    #: Which cleaner deleted it (its lease owner: the process and the cleaner in it).
    cleaner: str = ""


@event("log_compacted")
@dataclass(frozen=True)
class LogCompacted(Event):
    """Compaction removed ``removed`` superseded records (and expired tombstones)."""

    topic: str = ""
    partition: int = 0
    removed: int = 0


@event("broker_state")
@dataclass(frozen=True)
class BrokerStateChanged(Event):
    """A broker was stopped or started."""

    broker: int = 0
    alive: bool = True


@event("controller_changed")
@dataclass(frozen=True)
class ControllerChanged(Event):
    """Another broker became the controller."""

    controller: int = -1
    epoch: int = 0
    previous: int = -1


@event("leader_elected")
@dataclass(frozen=True)
class LeaderElected(Event):
    """A partition has a new leader (or none: -1 means offline)."""

    topic: str = ""
    partition: int = 0
    leader: int = -1
    previous: int = -1
    leader_epoch: int = 0
    isr: list[int] = field(default_factory=list)
    reason: str = ""


@event("isr_changed")
@dataclass(frozen=True)
class IsrChanged(Event):
    """A partition's in-sync replica set shrank or grew."""

    topic: str = ""
    partition: int = 0
    isr: list[int] = field(default_factory=list)
    high_watermark: int = 0
    reason: str = ""


@event("replica_progress")
@dataclass(frozen=True)
class ReplicaProgress(Event):
    """Follower replicas copied records; the high watermark may have moved."""

    topic: str = ""
    partition: int = 0
    high_watermark: int = 0


@event("log_truncated")
@dataclass(frozen=True)
class LogTruncated(Event):
    """Records at and above ``end_offset`` were removed (an unclean or lagging leader took over).

    ``broker`` is -1 when the partition's log itself lost them, else the one broker whose
    replica truncated its diverged log when it started again.
    """

    topic: str = ""
    partition: int = 0
    end_offset: int = 0
    removed: int = 0
    broker: int = -1


@event("schema_registered")
@dataclass(frozen=True)
class SchemaRegistered(Event):
    """The Schema Registry registered a new version of ``subject`` with global id ``schema_id``."""

    subject: str = ""
    version: int = 0
    schema_id: int = 0


@event("schema_deleted")
@dataclass(frozen=True)
class SchemaDeleted(Event):
    """Versions of a subject were deleted (soft, or ``permanent``)."""

    subject: str = ""
    versions: list[int] = field(default_factory=list)
    permanent: bool = False


@event("compatibility_changed")
@dataclass(frozen=True)
class CompatibilityChanged(Event):
    """A compatibility level was set ("" subject: the global level; "" level: the subject's was removed)."""

    subject: str = ""
    level: str = ""


@dataclass(frozen=True)
class Resync(Event):
    """The subscriber missed events (it fell too far behind): reread what it shows."""

    kind: ClassVar[str] = "resync"
    reason: str = ""


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An entry of a kind this version does not know (written by a newer kplay)."""

    name: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


def decode_event(seq: int, at: int, kind: str, payload: str) -> Event:
    """Turn one row of the changes table into its typed event."""
    cls = EVENT_TYPES.get(kind)
    data = json.loads(payload)
    if cls is None:
        return UnknownEvent(seq, at, kind, data)
    known = {f.name for f in fields(cls)}
    return cls(seq=seq, at=at, **{k: v for k, v in data.items() if k in known})


async def wait_for_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` passes; True if it was set.

    Unlike ``asyncio.wait_for`` in Python 3.11, a cancellation that arrives just as the
    event is set is never swallowed, so a task waiting here always stops when cancelled.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout_s)
    finally:
        waiter.cancel()
    return bool(done)


def _resolve(future: asyncio.Future[None]) -> None:
    """End the poller's wait (its timer fired), unless a wake already did."""
    if not future.done():
        future.set_result(None)


class EventSource(Protocol):
    """What a subscription belongs to: a feed holding its subscriptions (``close()`` leaves the set)."""

    _subscriptions: set["Subscription"]


class Subscription:
    """A bounded queue of events for one subscriber; iterate it with ``async for``."""

    def __init__(self, feed: "ChangeFeed | EventSource", kinds: frozenset[str] | None) -> None:
        self._feed = feed
        self._kinds = kinds
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._overflowed = False

    def _offer(self, item: Event) -> None:
        if self._kinds is not None and item.kind not in self._kinds:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            if not self._overflowed:
                self._overflowed = True
                while not self._queue.empty():
                    self._queue.get_nowait()
                self._queue.put_nowait(Resync(item.seq, item.at, "subscriber fell behind"))
            return
        self._overflowed = False
        self._queue.put_nowait(item)

    def offer(self, item: Event) -> None:
        """Queue ``item`` if this subscription wants its kind (how a feed other than ``ChangeFeed``,
        such as a Kafka client backend's poller, publishes to it)."""
        self._offer(item)

    async def get(self) -> Event:
        """The next event, waiting for one."""
        return await self._queue.get()

    def get_nowait(self) -> list[Event]:
        """Every event queued now, without waiting."""
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def close(self) -> None:
        """Stop receiving events."""
        self._feed._subscriptions.discard(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class ChangeFeed:
    """Publishes the data file's changes, from this process and others, as events.

    Polls a dedicated sqlite3 connection: ``PRAGMA data_version`` costs microseconds, so
    it runs on the event loop without a thread hop, and only when it moves are the new
    entries of the changes table read.
    """

    def __init__(self, path: Path | str, *, poll_interval_s: float = POLL_INTERVAL_S,
                 appended: set[tuple[int, int]] | None = None) -> None:
        self._path = Path(path)
        # (topic id, partition) of this process's appends since the last look (``Storage.appended``):
        # looked at by key at once, while the scan of every partition waits for the next tick.
        self._appended = appended if appended is not None else set()
        self._scanned_at = 0.0
        self._interval = poll_interval_s
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._tick: asyncio.Future[None] | None = None  # what the poller awaits between polls
        self._subscriptions: set[Subscription] = set()
        # Set (and replaced by a fresh one) whenever events are published.
        self._published = asyncio.Event()
        # One poll at a time: ``catch_up`` may run while the poller is inside a poll's transaction.
        self._polling = asyncio.Lock()
        self.last_seq = 0
        self._data_version = -1
        self._stopping = False
        # Topic names by id (for the events); each partition's log end as last published is kept
        # in the feed connection's own temporary table (``feed_ends``), compared in SQL.
        self._topic_names: dict[int, str] = {}

    async def start(self) -> None:
        """Begin publishing; only changes committed from now on are reported."""
        if self._task is not None:
            return
        self._conn = connect_raw(self._path)
        # The version first: a commit after it is seen by the first poll (at worst twice, harmlessly).
        self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        self._conn.execute(_FEED_ENDS_TABLE)
        self._conn.execute("BEGIN")
        try:
            self.last_seq = self._conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            self._conn.execute("DELETE FROM temp.feed_ends")
            self._conn.execute("INSERT INTO temp.feed_ends SELECT topic_id, partition, log_end_offset FROM partitions")
        finally:
            self._conn.execute("COMMIT")
        self._appended.clear()
        self._task = asyncio.create_task(self._run(), name="kplay-change-feed")

    async def stop(self) -> None:
        """Stop polling and close the connection."""
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._stopping = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def running(self) -> bool:
        """Whether the feed is polling."""
        return self._task is not None

    def subscribe(self, *kinds: str) -> Subscription:
        """A new subscription to events of ``kinds`` (all kinds when none are named)."""
        sub = Subscription(self, frozenset(kinds) if kinds else None)
        self._subscriptions.add(sub)
        return sub

    def committed_version(self) -> int:
        """A number that moves whenever any connection (this process's or another's) commits to
        the data file, read without a thread hop: while it stays, nothing in the file changed.
        -1 while the feed is not running (then anything may have changed)."""
        if self._conn is None:
            return -1
        try:
            return self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return -1

    def wake(self) -> None:
        """Look for changes now (called after this process commits, to skip the poll wait)."""
        self._wake.set()
        if self._tick is not None and not self._tick.done():
            self._tick.set_result(None)

    async def wait_for_change(self, timeout_s: float) -> bool:
        """Wait until any new event is published or ``timeout_s`` passes; True if one was."""
        return await wait_for_event(self._published, timeout_s)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if not self._wake.is_set():
                # A bare future and one timer per tick: the cheapest wait asyncio offers. This
                # runs 50 times a second for as long as the app is open; a task per tick (as
                # wait_for makes) cost about half a percent of a core more while idle.
                self._tick = loop.create_future()
                timer = loop.call_later(self._interval, _resolve, self._tick)
                try:
                    await self._tick
                finally:
                    timer.cancel()
                    self._tick = None
            self._wake.clear()
            try:
                await self.poll_once()
            except sqlite3.OperationalError:
                continue  # a writer holds an exclusive lock (checkpoint); try next tick

    def behind(self) -> bool:
        """Whether something may have been committed that the feed has not published yet
        (True while the feed is not running)."""
        version = self.committed_version()
        return version < 0 or version != self._data_version or bool(self._appended)

    async def catch_up(self) -> int:
        """Publish now whatever was committed so far, scanning every partition's log end
        without waiting for the poll interval (a reader that must be exact calls it when
        ``behind()``); return how many events."""
        return await self.poll_once(scan=True)

    async def poll_once(self, *, scan: bool = False) -> int:
        """Publish whatever was committed since the last poll; return how many events.
        ``scan``: compare every partition's log end now, even within the poll interval."""
        async with self._polling:
            return await self._poll(scan)

    async def _poll(self, force_scan: bool) -> int:
        assert self._conn is not None
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version and not self._appended:
            return 0
        # Every partition's log end is compared at most once per poll interval (a scan of them
        # all: ~0.5 ms at 3,000); until then only this process's appends are looked at, by key,
        # and the version is left unconsumed so that the next tick scans.
        now = asyncio.get_running_loop().time()
        scan = version != self._data_version and (force_scan or now - self._scanned_at >= self._interval * 0.9)
        if scan:
            self._data_version = version
            self._scanned_at = now
        published = 0
        # One snapshot for the change rows and the log ends: a topic's creation is published
        # before its first append, and an append is never published twice.
        self._conn.execute("BEGIN")
        try:
            while True:
                rows = self._conn.execute(
                    "SELECT seq, at, kind, payload FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                    (self.last_seq, READ_CHUNK)).fetchall()
                if not rows:
                    break
                if rows[0][0] > self.last_seq + 1 and self.last_seq:
                    oldest = self._conn.execute("SELECT min(seq) FROM changes").fetchone()[0]
                    if oldest is not None and oldest > self.last_seq + 1:
                        self._publish(Resync(rows[0][0], rows[0][1], "change log was pruned"))
                for seq, at, kind, payload in rows:
                    if kind != APPEND_KIND:
                        self._publish(decode_event(seq, at, kind, payload))
                        published += 1
                self.last_seq = rows[-1][0]
                if len(rows) < READ_CHUNK:
                    break
                await asyncio.sleep(0)
            published += self._publish_appends(scan)
        finally:
            self._conn.execute("COMMIT")
        if published:
            published_event, self._published = self._published, asyncio.Event()
            published_event.set()
        return published

    def _publish_appends(self, scan: bool) -> int:
        """One ``RecordsAppended`` per batch appended above the log ends last seen (inside the
        poll's read transaction), in every partition (``scan``) or in those this process appended
        to; returns how many."""
        assert self._conn is not None
        keys = list(self._appended)
        self._appended.clear()
        if scan:
            moved = self._conn.execute(_MOVED_LOG_ENDS).fetchall()
        else:
            moved = [row for key in keys for row in self._conn.execute(_MOVED_LOG_END, key).fetchall()]
        published = 0
        for topic_id, partition, end, hw, at, before in moved:
            self._conn.execute("INSERT OR REPLACE INTO temp.feed_ends VALUES (?, ?, ?)", (topic_id, partition, end))
            topic = self._topic_name(topic_id)
            if topic is None:
                continue
            if end < before:
                # Truncated (a log_truncated row says so), perhaps appended to since: say where it ends.
                self._publish(RecordsAppended(self.last_seq, at, topic, partition, end, min(hw, end)))
                published += 1
                continue
            lasts = [row[0] for row in self._conn.execute(
                "SELECT last_offset FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?"
                " AND base_offset<? ORDER BY base_offset LIMIT ?",
                (topic_id, partition, before, end, BATCH_EVENTS_MAX + 1)).fetchall()]
            if not lasts or len(lasts) > BATCH_EVENTS_MAX or lasts[-1] + 1 != end:
                lasts = [end - 1]  # too many to tell one by one (or compacted meanwhile): the new end
            for last in lasts:
                self._publish(RecordsAppended(self.last_seq, at, topic, partition, last + 1, min(hw, last + 1)))
            published += len(lasts)
        return published

    def _topic_name(self, topic_id: int) -> str | None:
        """A topic's name by id (ids are never reused), None if it is gone."""
        name = self._topic_names.get(topic_id)
        if name is None:
            assert self._conn is not None
            self._topic_names = dict(self._conn.execute("SELECT id, name FROM topics").fetchall())
            name = self._topic_names.get(topic_id)
        return name

    def _publish(self, item: Event) -> None:
        for sub in list(self._subscriptions):
            sub._offer(item)
