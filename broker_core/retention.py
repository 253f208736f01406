"""Retention and compaction: Kafka's log cleaner over the data file.

Records leave a partition only here, and only the ways Kafka lets them go:

* ``cleanup.policy=delete`` (Kafka's ``UnifiedLog.deleteOldSegments``): whole segments,
  oldest first, while the segment's largest record timestamp is more than
  ``retention.ms`` old, or while the log without that segment is still at least
  ``retention.bytes``; never a segment that reaches above the high watermark. The log
  start offset then jumps to the next remaining segment's base offset. As in Kafka, a
  non-empty active segment whose records have *all* expired goes too: a new, empty
  active segment is rolled at the log end offset first, so a partition nobody writes
  to empties once retention has passed. An active segment still receiving records
  within retention is never deleted (its largest timestamp is recent).
* ``cleanup.policy=compact`` (Kafka's ``LogCleaner``): in the closed segments below the
  high watermark, only the newest record per key is kept; offsets never change, so a
  compacted log has gaps that consumers simply skip. A tombstone (null value) is kept
  until ``delete.retention.ms`` after the pass that first kept it (KIP-534's delete
  horizon), then a later pass drops it. ``min.compaction.lag.ms`` keeps recent
  segments out of reach, and a log is cleaned only once its dirty (not yet compacted)
  share exceeds ``min.cleanable.dirty.ratio`` or its oldest dirty record is older than
  ``max.compaction.lag.ms``. Small cleaned segments are merged up to ``segment.bytes``.
* ``compact,delete``: both, compaction first.

The decisions for one partition are written in one short write transaction, which also
appends the change-feed entries (``segment_deleted``, ``log_compacted``) that the UI listens
to; the records those decisions remove are deleted afterwards in chunks of ``DELETE_CHUNK``
rows, one short transaction each, so a million-record deletion never stalls other writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import aiosqlite

from . import transaction_index
from .background_task import BackgroundTask
from .clock import Clock
from .config import effective_config
from .errors import InvalidConfig
from .events import CHANGES_KEPT as FEED_CHANGES_KEPT
from .record_batch import BASE_TIMESTAMP_OFFSET, CONTROL_MASK, TRANSACTIONAL_MASK, Record, RecordBatch, rebuild_batch
from .storage import Storage, record_change, record_changes

logger = logging.getLogger(__name__)

#: How often the background cleaner runs: ``log.retention.check.interval.ms``. Kafka's default
#: is 5 minutes; a playground wants to see retention happen within seconds (a deliberate
#: difference, see the README). ``KPLAY_LOG_RETENTION_CHECK_INTERVAL_MS`` sets another.
DEFAULT_CHECK_INTERVAL_MS = 3_000
CHECK_INTERVAL_ENV = "KPLAY_LOG_RETENTION_CHECK_INTERVAL_MS"
DEFAULT_INTERVAL_S = DEFAULT_CHECK_INTERVAL_MS / 1000
#: Rows one write transaction deletes at most. SQLite deletes 100k+ rows/s here, so a chunk
#: holds the write lock for a few tens of milliseconds and other writers get in between.
DELETE_CHUNK = 2_000
#: How long a cleaner's lease lasts unless renewed (every write of a pass renews it); a
#: cleaner whose process died is replaced after this long.
LEASE_MS = 30_000
#: Above any offset (Kafka's offsets are signed 64-bit).
MAX_OFFSET = 2**63 - 1
#: The cleaner lease: one row, the cleaner running a pass now and until when.
LEASE_DDL = """CREATE TABLE IF NOT EXISTS cleaner_lease(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
)"""
#: The change feed's log (the ``changes`` table) keeps this many newest entries.
CHANGES_KEPT = FEED_CHANGES_KEPT
#: Most distinct keys one compaction pass maps, like Kafka's ``log.cleaner.dedupe.buffer.size``:
#: a dirty section with more keys is compacted over several passes, whole segments at a time.
OFFSET_MAP_MAX_KEYS = 250_000
#: Batches fetched per round trip while scanning a partition's records.
SCAN_CHUNK = 200
#: Batches one compaction transaction rewrites at most.
REWRITE_CHUNK = 100
_INT64 = struct.Struct(">q")

#: Why a segment was deleted (the ``reason`` of a ``segment_deleted`` event), after Kafka's
#: ``SegmentDeletionReason`` classes RetentionMsBreach, RetentionSizeBreach, StartOffsetBreach.
RETENTION_MS_BREACH = "retention.ms breach"
RETENTION_SIZE_BREACH = "retention.bytes breach"
START_OFFSET_BREACH = "log start offset breach"


@dataclass(frozen=True)
class LogSegment:
    """One segment of a partition's log, covering offsets ``[base_offset, next_offset)``."""

    base_offset: int
    next_offset: int
    size_bytes: int
    created_at: int
    max_timestamp: int

    def largest_timestamp(self) -> int:
        """Kafka's ``LogSegment.largestTimestamp``: the newest record's timestamp, or, for a
        segment that holds none, when the segment was created."""
        return self.max_timestamp if self.max_timestamp >= 0 else self.created_at


@dataclass(frozen=True)
class DeletedSegment:
    """A segment retention deleted, and why (one of the ``*_BREACH`` reasons)."""

    base_offset: int
    next_offset: int
    size_bytes: int
    reason: str


@dataclass(frozen=True)
class PartitionCleanup:
    """What one run of the cleaner did to one partition."""

    topic: str
    partition: int
    log_start_offset: int
    deleted_segments: tuple[DeletedSegment, ...] = ()
    #: Records compaction removed: superseded values, expired tombstones, keyless records.
    records_removed: int = 0
    #: Of ``records_removed``, the tombstones dropped after their delete horizon.
    tombstones_removed: int = 0
    #: Whether this run compacted the partition (even if it found nothing to remove).
    compacted: bool = False


@dataclass(frozen=True)
class CleanerReport:
    """The outcome of ``LogCleaner.run_once``: one entry per partition that changed."""

    partitions: tuple[PartitionCleanup, ...] = ()
    #: Old change-feed entries removed from the ``changes`` table.
    changes_pruned: int = 0
    #: Whether the pass did nothing because another cleaner (another process) held the lease.
    lease_held_elsewhere: bool = False

    @property
    def segments_deleted(self) -> int:
        """Segments deleted by retention, over all partitions."""
        return sum(len(p.deleted_segments) for p in self.partitions)

    @property
    def records_removed(self) -> int:
        """Records removed by compaction, over all partitions."""
        return sum(p.records_removed for p in self.partitions)

    def partition(self, topic: str, partition: int) -> PartitionCleanup | None:
        """The entry for ``topic``-``partition``, or None if the run left it unchanged."""
        for entry in self.partitions:
            if entry.topic == topic and entry.partition == partition:
                return entry
        return None

    def lines(self) -> list[str]:
        """What changed, in plain words, one line per partition and kind of change."""
        out = []
        for entry in self.partitions:
            name = f"{entry.topic}-{entry.partition}"
            if entry.records_removed:
                tombstones = (f", {_count(entry.tombstones_removed, 'expired tombstone')} among them"
                              if entry.tombstones_removed else "")
                out.append(f"{name}: compaction removed {_count(entry.records_removed, 'record')}{tombstones}")
            if entry.deleted_segments:
                first, last = entry.deleted_segments[0], entry.deleted_segments[-1]
                reasons = ", ".join(dict.fromkeys(d.reason for d in entry.deleted_segments))
                out.append(f"{name}: deleted {_count(len(entry.deleted_segments), 'segment')} "
                           f"(offsets {first.base_offset}..{last.next_offset - 1}, {reasons}); "
                           f"log start offset is now {entry.log_start_offset}")
        return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class _PartitionLog:
    """A partition's offsets, segments and cleaner checkpoint, as read in one transaction."""

    topic_id: int
    topic: str
    partition: int
    log_start: int
    log_end: int
    high_watermark: int
    segments: list[LogSegment]
    checkpoint: int | None  # first dirty offset recorded by the last compaction
    leader_epoch: int = 0
    #: The last stable offset: compaction never cleans an undecided transaction (Kafka's
    #: cleaner stops at the first unstable offset).
    last_stable_offset: int | None = None


@dataclass(frozen=True)
class _CleanableRange:
    """Kafka's ``LogCleanerManager.cleanableOffsets`` and ``LogToClean`` for one log."""

    first_dirty: int
    dirty: tuple[LogSegment, ...]  # closed segments the next pass maps, oldest first
    clean_bytes: int
    cleanable_bytes: int

    @property
    def ratio(self) -> float:
        """Share of the cleanable log that is dirty (``cleanableRatio``)."""
        total = self.clean_bytes + self.cleanable_bytes
        return self.cleanable_bytes / total if total else 0.0


@dataclass
class _Compaction:
    """What a compaction pass decided, before it is written."""

    end_offset: int
    removed: list[int] = field(default_factory=list)
    #: The batches losing records: (base offset, the offsets it loses), in offset order.
    rewrites: list[tuple[int, frozenset[int]]] = field(default_factory=list)
    tombstones_removed: int = 0
    new_horizons: list[tuple[int, int]] = field(default_factory=list)
    dropped_horizons: list[int] = field(default_factory=list)
    replaced: list[tuple[list[LogSegment], LogSegment]] = field(default_factory=list)


class LogCleaner:
    """Applies retention and compaction to every partition, on demand or in the background.

    ``run_once()`` does one full pass and reports what changed; ``start()`` runs it every
    ``interval_s`` seconds until ``stop()``. Time comes from the cluster's clock, so a
    test or scenario that advances a ``ManualClock`` by a week sees a week of retention.

    Every process that runs a broker (the TUI, ``kplay serve``, a Connect worker) runs a
    cleaner on the same file; a lease row in the file (taken in a ``BEGIN IMMEDIATE``
    transaction, renewed by every write of the pass, lapsing after ``lease_ms`` if its
    holder dies) lets only one of them clean at a time. A pass never holds the write lock
    for long: records leave in chunks of ``DELETE_CHUNK`` rows, one short transaction each,
    after the log start offset has moved (so readers never see them again).
    """

    def __init__(self, storage: Storage, clock: Clock, *, changes_kept: int = CHANGES_KEPT,
                 lease_ms: int = LEASE_MS) -> None:
        self._storage = storage
        self._clock = clock
        self._changes_kept = changes_kept
        self._lease_ms = lease_ms
        #: Who holds the lease while this cleaner runs a pass (shown in the change feed).
        self.owner = f"cleaner-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = asyncio.Lock()
        self._background = BackgroundTask("kplay-log-cleaner")
        #: The report of the last background run, and the error of the last failed one.
        self.last_report: CleanerReport | None = None
        self.last_error: BaseException | None = None

    # -- background task -------------------------------------------------------------
    async def start(self, interval_s: float | None = None) -> None:
        """Run ``run_once`` now and then every ``interval_s`` seconds (idempotent).

        Without ``interval_s``: ``log.retention.check.interval.ms`` as ``check_interval_ms()`` says.
        """
        if interval_s is None:
            interval_s = check_interval_ms() / 1000
        if interval_s <= 0:
            raise ValueError(f"the cleaner's interval must be positive, not {interval_s}")
        self._background.start(lambda: self._run(interval_s))

    def cancel(self) -> None:
        """Cancel the background task without waiting for it to end."""
        self._background.cancel()

    async def stop(self) -> None:
        """Stop the background task (a pass in progress is rolled back)."""
        await self._background.stop()

    @property
    def running(self) -> bool:
        """Whether the background task is running."""
        return self._background.running

    async def _run(self, interval_s: float) -> None:
        while True:
            try:
                self.last_report = await self.run_once()
            except Exception as exc:  # keep cleaning: a busy or odd file must not end the task
                self.last_error = exc
                logger.warning("log cleaner pass failed: %s", exc)
            await asyncio.sleep(interval_s)

    # -- the lease -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[bool]:
        """Hold the cleaner lease for a pass: yields False (holding nothing) if another
        cleaner, in this process or another, holds a live one."""
        taken = await self._take_lease()
        try:
            yield taken
        finally:
            if taken:
                with contextlib.suppress(Exception):  # a lease not given back lapses by itself
                    async with self._storage.write() as conn:
                        await conn.execute("UPDATE cleaner_lease SET expires_at=0 WHERE id=1 AND owner=?",
                                           (self.owner,))

    async def _take_lease(self) -> bool:
        now = _wall_ms()
        async with self._storage.write() as conn:
            await conn.execute(LEASE_DDL)
            row = await (await conn.execute("SELECT owner, expires_at FROM cleaner_lease WHERE id=1")).fetchone()
            if row is not None and row[0] != self.owner and row[1] > now:
                return False
            await conn.execute(
                "INSERT INTO cleaner_lease(id, owner, expires_at) VALUES (1, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET owner=excluded.owner, expires_at=excluded.expires_at",
                (self.owner, now + self._lease_ms))
        return True

    async def _renew(self, conn: aiosqlite.Connection) -> None:
        """Extend the lease inside a write of the pass; a lease that lapsed meanwhile (this
        process stalled longer than ``lease_ms``) may be another's now: stop the pass."""
        cursor = await conn.execute("UPDATE cleaner_lease SET expires_at=? WHERE id=1 AND owner=?",
                                    (_wall_ms() + self._lease_ms, self.owner))
        if cursor.rowcount != 1:
            raise LeaseLost(f"{self.owner} lost the cleaner lease")

    # -- one pass --------------------------------------------------------------------
    async def run_once(self) -> CleanerReport:
        """Apply retention and compaction to every partition once; report what changed.

        Reads first, so a pass with nothing to do writes nothing (not even the lease); a
        pass while another cleaner holds the lease does nothing and says so.
        """
        async with self._lock:
            now = self._clock.now_ms()
            candidates = await self._candidates(now)
            leftovers = await self._leftovers()
            prune = await self._changes_to_prune()
            if not candidates and not leftovers and prune is None:
                return CleanerReport()
            async with self.lease() as held:
                if not held:
                    return CleanerReport(lease_held_elsewhere=True)
                results = []
                try:
                    for topic_id, topic, partition, config in candidates:
                        result = await self._clean_partition(topic_id, topic, partition, config, now)
                        if result is not None:
                            results.append(result)
                    for table, topic_id, partition, below in leftovers:
                        await delete_below(self._storage, table, topic_id, partition, below, renew=self._renew)
                    await self._forget_deleted_topics()
                    pruned = await self._prune_changes(prune)
                except LeaseLost as lost:
                    logger.warning("log cleaner pass stopped: %s", lost)
                    pruned = 0
        results.sort(key=lambda r: (r.topic, r.partition))
        return CleanerReport(tuple(results), pruned)

    async def segments(self, topic: str, partition: int) -> list[LogSegment]:
        """The segments of ``topic``-``partition``, oldest first (the last one is active)."""
        rows = await self._storage.fetchall(
            "SELECT s.base_offset, s.next_offset, s.size_bytes, s.created_at, s.max_timestamp"
            " FROM segment_state s JOIN topics t ON t.id=s.topic_id WHERE t.name=? AND s.partition=?"
            " ORDER BY s.base_offset", (topic, partition))
        return [LogSegment(*row) for row in rows]

    async def _candidates(self, now: int) -> list[tuple[int, str, int, dict[str, Any]]]:
        """Partitions that may have work, judged cheaply from their oldest segment.

        Retention always starts at the oldest segment, so if that one cannot go, nothing
        can; compacted partitions are looked at in detail later (from a read snapshot).
        """
        async with self._storage.snapshot() as conn:
            topics = await conn.execute_fetchall("SELECT id, name, config FROM topics")
            # With one min() aggregate, SQLite takes the bare columns from the oldest segment.
            oldest = await conn.execute_fetchall(
                "SELECT topic_id, partition, min(base_offset), next_offset, size_bytes, created_at,"
                " max_timestamp, sum(size_bytes), count(*) FROM segment_state GROUP BY topic_id, partition")
            offsets = await conn.execute_fetchall(
                "SELECT topic_id, partition, log_start_offset, log_end_offset, high_watermark FROM partitions")
        configs = {tid: (name, effective_config(json.loads(raw))) for tid, name, raw in topics}
        states = {(tid, p): (start, leo, hw) for tid, p, start, leo, hw in offsets}
        found = []
        for tid, p, base, next_offset, size, created, max_ts, total, count in oldest:
            if tid not in configs or (tid, p) not in states:
                continue
            name, config = configs[tid]
            start, leo, hw = states[(tid, p)]
            first = LogSegment(base, next_offset, size, created, max_ts)
            policy = cleanup_policies(config)
            upper = first.next_offset if count > 1 else leo
            deletable = hw >= upper and not (count == 1 and size == 0)
            maybe = (count > 1 and first.next_offset <= start) or ("compact" in policy and count > 1)
            if "delete" in policy and deletable:
                retention_bytes, retention_ms = config["retention.bytes"], config["retention.ms"]
                maybe = maybe or (retention_bytes >= 0 and total - size >= retention_bytes)
                maybe = maybe or (retention_ms >= 0 and now - first.largest_timestamp() > retention_ms)
            if maybe:
                found.append((tid, name, p, config))
        return found

    async def _leftovers(self) -> list[tuple[str, int, int, int]]:
        """Rows an earlier pass or topic deletion left to delete (its process stopped midway):
        (table, topic id, partition, delete below this offset)."""
        def probe(conn: aiosqlite.Connection) -> Any:
            return _find_leftovers(conn)
        return await self._storage.read_in_one_hop(probe)

    async def _clean_partition(self, topic_id: int, topic: str, partition: int,
                               config: dict[str, Any], now: int) -> PartitionCleanup | None:
        # Decide, and plan any compaction, from a read snapshot: a partition with nothing to
        # do costs no write, and the scan of its records holds no lock.
        async with self._storage.snapshot() as conn:
            log = await _load_partition(conn, topic_id, topic, partition)
            if log is None:
                return None
            policy = cleanup_policies(config)
            compaction = None
            if "compact" in policy and await _should_compact(conn, log, config, now):
                compaction = await _plan_compaction(conn, log, config, now)
        if compaction is not None and not await self._write_compaction(log, compaction, now):
            compaction = None
        deleted: list[tuple[LogSegment, str]] = []
        log_start = log.log_start
        async with self._storage.write() as conn:
            # Reread the config too: alter_config may have run since the candidates were listed.
            row = await (await conn.execute("SELECT config FROM topics WHERE id=?", (topic_id,))).fetchone()
            current = await _load_partition(conn, topic_id, topic, partition)
            if row is not None and current is not None:
                log = current
                config = effective_config(json.loads(row[0]))
                deleted, remaining = _plan_deletions(log, config, now)
                log_start = max(log.log_start, remaining[0].base_offset) if deleted else log.log_start
                if deleted:
                    await self._renew(conn)
                    await _write_deletions(conn, log, deleted, remaining, log_start, now, self.owner)
        if deleted:
            # The log start has moved: nobody reads below it any more, so the records can go
            # in short transactions that let other writers in between.
            for table in ("batches", "tombstone_horizons"):
                await delete_below(self._storage, table, topic_id, partition, log_start, renew=self._renew)
        if compaction is None and not deleted:
            return None
        return PartitionCleanup(
            topic, partition, log_start,
            tuple(DeletedSegment(s.base_offset, s.next_offset, s.size_bytes, reason) for s, reason in deleted),
            len(compaction.removed) if compaction else 0,
            compaction.tombstones_removed if compaction else 0,
            compaction is not None)

    async def _write_compaction(self, log: _PartitionLog, plan: _Compaction, now: int) -> bool:
        """Write a compaction planned from a snapshot: the superseded records in chunks,
        then the segments, horizons and checkpoint in one short transaction. Every chunk
        first checks that the partition's leader epoch and log end are those planned on (a
        truncation meanwhile could have reused the offsets); False if they changed."""
        tid, part = log.topic_id, log.partition

        async def unchanged(conn: aiosqlite.Connection) -> bool:
            state = await (await conn.execute(
                "SELECT leader_epoch, log_end_offset, log_start_offset FROM partitions"
                " WHERE topic_id=? AND partition=?", (tid, part))).fetchone()
            return state is not None and state[0] == log.leader_epoch and state[1] >= log.log_end \
                and state[2] == log.log_start

        # Kafka's cleaner rewrites each batch without its removed records (an emptied batch
        # goes); a chunk of batches per short transaction.
        for i in range(0, len(plan.rewrites), REWRITE_CHUNK):
            chunk = plan.rewrites[i:i + REWRITE_CHUNK]

            async def rewrite(conn: aiosqlite.Connection, chunk: list[tuple[int, frozenset[int]]] = chunk) -> bool:
                if not await unchanged(conn):
                    return False
                await self._renew(conn)
                for base, removed in chunk:
                    await _rewrite_batch(conn, tid, part, base, removed)
                return True

            began = time.perf_counter()
            if not await self._storage.write_in_one_hop(rewrite):
                return False
            await _let_others_write(time.perf_counter() - began)
        async with self._storage.write() as conn:
            if not await unchanged(conn):
                return False
            await self._renew(conn)
            await _write_compaction(conn, log, plan, now)
        return True

    async def _forget_deleted_topics(self) -> None:
        """Drop cleaner state of topics that no longer exist (topic ids are never reused)."""
        stale = await self._storage.fetchone(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM cleaner_checkpoints WHERE topic_id NOT IN (SELECT id FROM topics))")
        if stale is None:
            return
        async with self._storage.write() as conn:
            await self._renew(conn)
            await conn.execute("DELETE FROM cleaner_checkpoints WHERE topic_id NOT IN (SELECT id FROM topics)")

    async def _changes_to_prune(self) -> int | None:
        """The newest change-feed seq to delete up to, or None when the feed is within bounds."""
        row = await self._storage.fetchone("SELECT min(seq), max(seq) FROM changes")
        if row is None or row[0] is None or row[1] - row[0] + 1 <= self._changes_kept:
            return None
        return row[1] - self._changes_kept

    async def _prune_changes(self, upto: int | None) -> int:
        """Keep the newest ``changes_kept`` change-feed entries (in chunks); a reader that
        falls further behind gets a ``Resync`` from the feed."""
        if upto is None:
            return 0
        pruned = 0
        while True:
            async with self._storage.write() as conn:
                await self._renew(conn)
                cursor = await conn.execute(
                    "DELETE FROM changes WHERE seq <= min(?, (SELECT min(seq) FROM changes) + ?)",
                    (upto, DELETE_CHUNK - 1))
                pruned += cursor.rowcount
            if cursor.rowcount < DELETE_CHUNK:
                return pruned


class LeaseLost(Exception):
    """The cleaner's lease lapsed during a pass (its process stalled): the pass stops."""


def _wall_ms() -> int:
    # Leases are about processes being alive, so they run on the wall clock, not the cluster's
    # (a lesson's ManualClock may stand still or jump a week).
    return time.time_ns() // 1_000_000


async def _let_others_write(held_s: float) -> None:
    """Pause between two chunks as long as the last one held the lock: a writer in another
    process waits in SQLite's busy handler, which retries on its own timer, and would
    otherwise rarely find the lock free (this process takes it back at once)."""
    await asyncio.sleep(min(max(held_s, 0.002), 0.05))


def check_interval_ms() -> int:
    """``log.retention.check.interval.ms`` for this process's background cleaner.

    Kafka checks every 5 minutes; the playground every few seconds (``DEFAULT_CHECK_INTERVAL_MS``),
    so retention is seen happening. ``KPLAY_LOG_RETENTION_CHECK_INTERVAL_MS`` sets another value.
    """
    raw = os.environ.get(CHECK_INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_CHECK_INTERVAL_MS
    try:
        value = int(raw)
    except ValueError:
        raise InvalidConfig(f"Invalid value {raw} for configuration log.retention.check.interval.ms: "
                            "Not a number of type LONG") from None
    if value < 1:
        raise InvalidConfig(f"Invalid value {value} for configuration log.retention.check.interval.ms: "
                            "Value must be at least 1")
    return value


async def delete_below(storage: Storage, table: str, topic_id: int, partition: int, below: int, *,
                       renew: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None) -> int:
    """Delete ``table``'s rows of one partition below offset ``below``, at most
    ``DELETE_CHUNK`` rows per write transaction, so no other writer waits long; the
    number deleted. ``table`` is ``batches`` (those wholly below: a batch holding ``below``
    stays) or ``tombstone_horizons``."""
    assert table in ("batches", "tombstone_horizons")
    column = "base_offset" if table == "batches" else "offset"
    wholly_below = " AND last_offset<?" if table == "batches" else ""
    total = 0

    async def chunk(conn: aiosqlite.Connection) -> tuple[int, bool]:
        if renew is not None:
            await renew(conn)
        # The offset DELETE_CHUNK rows in: an exact row count even where compaction left gaps.
        row = await (await conn.execute(
            f"SELECT {column} FROM {table} WHERE topic_id=? AND partition=? AND {column}<? ORDER BY {column}"
            " LIMIT 1 OFFSET ?", (topic_id, partition, below, DELETE_CHUNK))).fetchone()
        upper = below if row is None else row[0]
        cursor = await conn.execute(
            f"DELETE FROM {table} WHERE topic_id=? AND partition=? AND {column}<?{wholly_below}",
            (topic_id, partition, upper, *((below,) if wholly_below else ())))
        return cursor.rowcount, row is None

    while True:
        began = time.perf_counter()
        deleted, done = await storage.write_in_one_hop(chunk)
        total += deleted
        if done:
            return total
        await _let_others_write(time.perf_counter() - began)


async def purge_topic_data(storage: Storage, topic_id: int, partitions: int) -> int:
    """Delete a deleted topic's records (and tombstone horizons) in short transactions.

    ``TopicAdmin.delete_topic`` removes the topic's metadata in one transaction and leaves
    its records to this, as Kafka deletes a topic's logs after the metadata change; a
    cleaner pass finishes the job if the process stops midway."""
    total = 0
    for table in ("batches", "tombstone_horizons"):
        for partition in range(partitions):
            total += await delete_below(storage, table, topic_id, partition, MAX_OFFSET)
    async with storage.write() as conn:
        await transaction_index.forget_topic(conn, topic_id)
    return total


async def _find_leftovers(conn: aiosqlite.Connection) -> list[tuple[str, int, int, int]]:
    found = []
    for table in ("batches", "tombstone_horizons"):
        column = "base_offset" if table == "batches" else "offset"
        # The last offset of the first batch: a batch holding the log start stays.
        lowest_sql = ("SELECT last_offset FROM batches WHERE topic_id=? AND partition=? ORDER BY base_offset LIMIT 1"
                      if table == "batches" else
                      "SELECT offset FROM tombstone_horizons WHERE topic_id=? AND partition=? ORDER BY offset LIMIT 1")
        # Skip-scan the key (topic_id, partition, offset): one seek per partition
        # holding rows, however many rows it holds.
        # Two seeks, not a row-value comparison: SQLite answers `(topic_id, partition) > (?, ?)`
        # by walking every row of the last topic's partitions (1 s on a 10M-record partition,
        # which held the TUI's first read back at start-up).
        key = (-1, -1)
        while True:
            row = await (await conn.execute(
                f"SELECT topic_id, partition FROM {table} WHERE topic_id=? AND partition>?"
                " ORDER BY partition LIMIT 1", key)).fetchone()
            if row is None:
                row = await (await conn.execute(
                    f"SELECT topic_id, partition FROM {table} WHERE topic_id>?"
                    " ORDER BY topic_id, partition LIMIT 1", (key[0],))).fetchone()
            if row is None:
                break
            key = (row[0], row[1])
            start = await (await conn.execute(
                "SELECT log_start_offset FROM partitions WHERE topic_id=? AND partition=?", key)).fetchone()
            if start is None:
                found.append((table, row[0], row[1], MAX_OFFSET))  # its topic was deleted
                continue
            lowest = await (await conn.execute(lowest_sql, key)).fetchone()
            if lowest is not None and lowest[0] < start[0]:
                found.append((table, row[0], row[1], start[0]))
    return found


def cleanup_policies(config: dict[str, Any]) -> frozenset[str]:
    """The topic's ``cleanup.policy`` as a set: {"delete"}, {"compact"} or both."""
    return frozenset(part.strip() for part in str(config["cleanup.policy"]).split(",") if part.strip())


def _plan_deletions(log: _PartitionLog, config: dict[str, Any],
                   now: int) -> tuple[list[tuple[LogSegment, str]], list[LogSegment]]:
    """Kafka's ``UnifiedLog.deleteOldSegments`` on a copy of the segment list.

    Returns the segments to delete with their reasons, and the segments that remain
    (with a new empty active segment at the log end if every segment goes). Segments
    below the log start offset go under any policy; retention only under ``delete``.
    """
    remaining = list(log.segments)
    deleted: list[tuple[LogSegment, str]] = []

    def delete_while(predicate: Callable[[LogSegment, LogSegment | None], bool], reason: str) -> None:
        # LocalLog.deletableSegments: a prefix of the log, each segment wholly below the
        # high watermark, never an empty active segment.
        nonlocal remaining
        count = 0
        for i, segment in enumerate(remaining):
            following = remaining[i + 1] if i + 1 < len(remaining) else None
            upper = following.base_offset if following is not None else log.log_end
            if log.high_watermark < upper or not predicate(segment, following):
                break
            if following is None and segment.size_bytes == 0:
                break
            count += 1
        if not count:
            return
        deleted.extend((segment, reason) for segment in remaining[:count])
        remaining = remaining[count:]
        if not remaining:
            # A log always has a segment: Kafka rolls a new active one before deleting the last.
            remaining = [LogSegment(log.log_end, log.log_end, 0, now, -1)]

    delete_while(lambda s, following: following is not None and following.base_offset <= log.log_start,
                 START_OFFSET_BREACH)
    if "delete" in cleanup_policies(config):
        retention_bytes = config["retention.bytes"]
        size = sum(s.size_bytes for s in remaining)
        if retention_bytes >= 0 and size >= retention_bytes:
            excess = size - retention_bytes

            def size_breached(segment: LogSegment, following: LogSegment | None) -> bool:
                nonlocal excess
                if excess - segment.size_bytes >= 0:
                    excess -= segment.size_bytes
                    return True
                return False

            delete_while(size_breached, RETENTION_SIZE_BREACH)
        retention_ms = config["retention.ms"]
        if retention_ms >= 0:
            delete_while(lambda s, following: now - s.largest_timestamp() > retention_ms, RETENTION_MS_BREACH)
    return deleted, remaining


def _cleanable_range(log: _PartitionLog, config: dict[str, Any], now: int) -> _CleanableRange:
    """Where compaction may work: from the first dirty offset up to the first segment it
    must not touch (the active one, the one holding the high watermark or the last stable
    offset, or the first one younger than ``min.compaction.lag.ms``)."""
    segments = log.segments
    checkpoint = log.checkpoint if log.checkpoint is not None else log.log_start
    # A checkpoint retention overtook, or one past a truncated log end, starts over at the log start.
    first_dirty = checkpoint if log.log_start <= checkpoint <= log.log_end else log.log_start
    limits = [log.high_watermark, segments[-1].base_offset]
    if log.last_stable_offset is not None:
        limits.append(log.last_stable_offset)
    lag = config["min.compaction.lag.ms"]
    if lag > 0:
        for segment in segments[:-1]:
            if segment.next_offset > first_dirty and segment.largest_timestamp() > now - lag:
                limits.append(segment.base_offset)
                break
    first_uncleanable = max(first_dirty, min(limits))
    # Only whole segments are cleaned: stop at the segment holding the first uncleanable offset.
    uncleanable_base = max((s.base_offset for s in segments if s.base_offset <= first_uncleanable),
                           default=segments[0].base_offset)
    low = min(first_dirty, uncleanable_base)
    dirty = tuple(s for s in segments[:-1] if s.base_offset < uncleanable_base and s.next_offset > low)
    clean_bytes = sum(s.size_bytes for s in segments if s.base_offset < first_dirty)
    return _CleanableRange(first_dirty, dirty, clean_bytes, sum(s.size_bytes for s in dirty))


async def _should_compact(conn: aiosqlite.Connection, log: _PartitionLog, config: dict[str, Any],
                          now: int) -> bool:
    """Kafka's choice of a log to clean: dirty ratio above ``min.cleanable.dirty.ratio``, or
    dirty records older than ``max.compaction.lag.ms``."""
    span = _cleanable_range(log, config, now)
    if not span.dirty or span.cleanable_bytes + span.clean_bytes == 0:
        return False
    if span.ratio > config["min.cleanable.dirty.ratio"]:
        return True
    max_lag = config["max.compaction.lag.ms"]
    if max_lag >= now:
        return False
    # The earliest first-record timestamp of the dirty segments (Kafka's first batch timestamps).
    rows = await conn.execute_fetchall(
        "SELECT substr(b.data, ?, 8) FROM segments s JOIN batches b ON b.topic_id=s.topic_id"
        " AND b.partition=s.partition AND b.base_offset=s.base_offset WHERE s.topic_id=? AND s.partition=?"
        " AND s.base_offset>=? AND s.base_offset<?",
        (BASE_TIMESTAMP_OFFSET + 1, log.topic_id, log.partition, span.dirty[0].base_offset,
         span.dirty[-1].next_offset))
    firsts = [stamp for (raw,) in rows if (stamp := _INT64.unpack(raw)[0]) > 0]
    return bool(firsts) and min(firsts) < now - max_lag


async def _plan_compaction(conn: aiosqlite.Connection, log: _PartitionLog, config: dict[str, Any],
                           now: int) -> _Compaction:
    """One pass of Kafka's ``Cleaner.doClean``: map the dirty section's keys to their latest
    offsets, then keep, from the log start up to the end of the mapped section, only the
    record holding each key's latest offset (and tombstones not yet past their horizon)."""
    span = _cleanable_range(log, config, now)
    tid, part = log.topic_id, log.partition
    # Aborted transactions' records never shadow a key, and go (Kafka's cleaner discards them);
    # COMMIT/ABORT markers are not keyed records and stay.
    aborted = await transaction_index.aborted_between(conn, tid, part, 0, span.dirty[-1].next_offset)

    def transactional_role(header: Any) -> str | None:
        attributes = header.attributes
        if attributes & CONTROL_MASK:
            return "marker"
        if attributes & TRANSACTIONAL_MASK and any(
                a.producer_id == header.producer_id and a.first_offset <= header.base_offset < a.last_offset
                for a in aborted):
            return "aborted"
        return None

    latest: dict[bytes, int] = {}
    end_offset = span.first_dirty
    boundaries = iter(span.dirty)
    current = next(boundaries)
    full = False
    scan = _records_between(conn, tid, part, span.first_dirty, span.dirty[-1].next_offset)
    while not full:
        rows = await anext(scan, None)
        if rows is None:
            break
        for offset, _, key, _, _, scanned in rows:
            while offset >= current.next_offset:
                # A whole segment is mapped; stop here if the map is full (like a full dedupe buffer).
                end_offset = current.next_offset
                if len(latest) >= OFFSET_MAP_MAX_KEYS:
                    full = True
                    break
                current = next(boundaries)
            if full:
                break
            if key is not None and transactional_role(scanned.header) is None:
                latest[key] = offset
    await scan.aclose()
    if not full:
        end_offset = span.dirty[-1].next_offset

    cleaned = [s for s in log.segments[:-1] if s.base_offset < end_offset]
    plan = _Compaction(end_offset)
    horizons = dict(await conn.execute_fetchall(
        "SELECT offset, delete_horizon_ms FROM tombstone_horizons WHERE topic_id=? AND partition=? AND offset<?",
        (tid, part, end_offset)))
    delete_retention = config["delete.retention.ms"]
    kept_size = {s.base_offset: 0 for s in cleaned}
    kept_max_ts = {s.base_offset: -1 for s in cleaned}
    segment_iter = iter(cleaned)
    segment = next(segment_iter)
    batch_removed: list[int] = []
    batch_kept: list[Record] = []
    async for rows in _records_between(conn, tid, part, 0, end_offset):
        for offset, timestamp, key, value, headers, batch in rows:
            while offset >= segment.next_offset:
                segment = next(segment_iter)
            role = transactional_role(batch.header)
            if role == "marker":
                keep = True
            elif role == "aborted":
                keep = False
            elif key is None:
                keep = False  # a keyless record has no place in a compacted log (Kafka drops it)
            elif offset < latest.get(key, offset):
                keep = False  # superseded by a newer record with the same key
            elif value is None:
                horizon = horizons.get(offset)
                keep = horizon is None or now < horizon
                if horizon is None:
                    plan.new_horizons.append((offset, now + delete_retention))
                elif not keep:
                    plan.tombstones_removed += 1
            else:
                keep = True
            if keep:
                kept_max_ts[segment.base_offset] = max(kept_max_ts[segment.base_offset], timestamp)
                batch_kept.append(Record(offset, timestamp, key, value, headers))
            else:
                plan.removed.append(offset)
                batch_removed.append(offset)
                if offset in horizons:
                    plan.dropped_horizons.append(offset)
            if offset == batch.last_record_offset:
                # The batch's last record: what is left of it is known.
                if batch_removed:
                    plan.rewrites.append((batch.header.base_offset, frozenset(batch_removed)))
                    if batch_kept:
                        kept_size[segment.base_offset] += len(rebuild_batch(batch.batch, batch_kept,
                                                                            keep_last_offset=True))
                else:
                    kept_size[segment.base_offset] += batch.header.size_in_bytes
                batch_removed, batch_kept = [], []

    for group in _group_segments_by_size(cleaned, config["segment.bytes"]):
        size = sum(kept_size[s.base_offset] for s in group)
        max_ts = max(kept_max_ts[s.base_offset] for s in group)
        if max_ts < 0:  # nothing left: keep the time it last held a record, as Kafka keeps lastModified
            max_ts = max(s.max_timestamp for s in group)
        replacement = LogSegment(group[0].base_offset, group[-1].next_offset, size, group[0].created_at, max_ts)
        if len(group) > 1 or replacement != group[0]:
            plan.replaced.append((group, replacement))
    return plan


def _group_segments_by_size(segments: list[LogSegment], max_size: int) -> list[list[LogSegment]]:
    """Kafka's ``Cleaner.groupSegmentsBySize``: consecutive segments whose sizes add up to at
    most ``segment.bytes`` are cleaned into one, so compaction does not leave a trail of
    tiny segments."""
    groups: list[list[LogSegment]] = []
    group_size = 0
    for segment in segments:
        if groups and group_size + segment.size_bytes <= max_size:
            groups[-1].append(segment)
            group_size += segment.size_bytes
        else:
            groups.append([segment])
            group_size = segment.size_bytes
    return groups


def _apply_replacements(segments: list[LogSegment],
                        replaced: list[tuple[list[LogSegment], LogSegment]]) -> list[LogSegment]:
    gone = {s.base_offset for group, _ in replaced for s in group}
    added = [replacement for _, replacement in replaced]
    return sorted([s for s in segments if s.base_offset not in gone] + added, key=lambda s: s.base_offset)


async def _write_compaction(conn: aiosqlite.Connection, log: _PartitionLog, plan: _Compaction,
                            now: int) -> None:
    tid, part = log.topic_id, log.partition
    # The superseded records themselves were deleted already, in chunks (LogCleaner._write_compaction).
    await conn.executemany("DELETE FROM tombstone_horizons WHERE topic_id=? AND partition=? AND offset=?",
                           [(tid, part, offset) for offset in plan.dropped_horizons])
    await conn.executemany(
        "INSERT OR REPLACE INTO tombstone_horizons(topic_id, partition, offset, delete_horizon_ms)"
        " VALUES (?, ?, ?, ?)", [(tid, part, offset, horizon) for offset, horizon in plan.new_horizons])
    for group, replacement in plan.replaced:
        await conn.executemany("DELETE FROM segments WHERE topic_id=? AND partition=? AND base_offset=?",
                               [(tid, part, s.base_offset) for s in group])
        await conn.execute(
            "INSERT INTO segments(topic_id, partition, base_offset, next_offset, size_bytes, created_at,"
            " max_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tid, part, replacement.base_offset, replacement.next_offset, replacement.size_bytes,
             replacement.created_at, replacement.max_timestamp))
    await conn.execute(
        "INSERT OR REPLACE INTO cleaner_checkpoints(topic_id, partition, first_dirty_offset) VALUES (?, ?, ?)",
        (tid, part, plan.end_offset))
    if plan.removed or plan.replaced:
        await record_change(conn, now, "log_compacted",
                            {"topic": log.topic, "partition": part, "removed": len(plan.removed)})


async def _write_deletions(conn: aiosqlite.Connection, log: _PartitionLog,
                           deleted: list[tuple[LogSegment, str]], remaining: list[LogSegment],
                           log_start: int, now: int, cleaner: str) -> None:
    """Delete the segments and move the log start; the records below it go afterwards, in
    chunks (``delete_below``), since no reader looks below the log start."""
    tid, part = log.topic_id, log.partition
    first_kept = remaining[0]
    if first_kept not in log.segments:
        # Every segment expired: this is the active segment rolled before the old ones went
        # (the closing one is deleted below, so its final values need not be written).
        await conn.execute(
            "INSERT INTO segments(topic_id, partition, base_offset, next_offset, created_at) VALUES (?, ?, ?, ?, ?)",
            (tid, part, log.log_end, log.log_end, now))
        await conn.execute("UPDATE partitions SET active_segment_bytes=0, active_segment_max_timestamp=-1"
                           " WHERE topic_id=? AND partition=?", (tid, part))
    await conn.execute("DELETE FROM segments WHERE topic_id=? AND partition=? AND base_offset<?",
                       (tid, part, first_kept.base_offset))
    await conn.execute("UPDATE partitions SET log_start_offset=? WHERE topic_id=? AND partition=?",
                       (log_start, tid, part))
    await transaction_index.forget_below(conn, tid, part, log_start)
    await record_changes(conn, now, "segment_deleted", [
        {"topic": log.topic, "partition": part, "base_offset": segment.base_offset,
         "next_offset": segment.next_offset, "log_start_offset": log_start, "reason": reason,
         "cleaner": cleaner}
        for segment, reason in deleted])


async def _load_partition(conn: aiosqlite.Connection, topic_id: int, topic: str,
                          partition: int) -> _PartitionLog | None:
    state = await (await conn.execute(
        "SELECT log_start_offset, log_end_offset, high_watermark, leader_epoch FROM partitions"
        " WHERE topic_id=? AND partition=?",
        (topic_id, partition))).fetchone()
    segments = [LogSegment(*row) for row in await conn.execute_fetchall(
        "SELECT base_offset, next_offset, size_bytes, created_at, max_timestamp FROM segment_state"
        " WHERE topic_id=? AND partition=? ORDER BY base_offset", (topic_id, partition))]
    if state is None or not segments:
        return None
    checkpoint = await (await conn.execute(
        "SELECT first_dirty_offset FROM cleaner_checkpoints WHERE topic_id=? AND partition=?",
        (topic_id, partition))).fetchone()
    stable = await transaction_index.last_stable_offset(conn, topic_id, partition, state[2])
    return _PartitionLog(topic_id, topic, partition, state[0], state[1], state[2], segments,
                         checkpoint[0] if checkpoint else None, state[3], stable)


async def truncate_cleaner_state(conn: aiosqlite.Connection, topic_id: int, partition: int,
                                 end_offset: int) -> None:
    """Forget compaction state at and above ``end_offset`` when a log is truncated there.

    Kafka's ``LogCleanerManager.maybeTruncateCheckpoint``: call it in the transaction that
    truncates the partition, so offsets reused by new records start dirty and a new
    tombstone never inherits an old one's delete horizon.
    """
    await conn.execute(
        "UPDATE cleaner_checkpoints SET first_dirty_offset=min(first_dirty_offset, ?)"
        " WHERE topic_id=? AND partition=?", (end_offset, topic_id, partition))
    await conn.execute("DELETE FROM tombstone_horizons WHERE topic_id=? AND partition=? AND offset>=?",
                       (topic_id, partition, end_offset))


@dataclass(frozen=True)
class _ScannedBatch:
    """A batch being scanned, its header, and the offset of its last record (which may lie
    below its last offset, in a batch compaction already rewrote)."""

    batch: RecordBatch
    header: Any
    last_record_offset: int


async def _records_between(conn: aiosqlite.Connection, topic_id: int, partition: int, low: int,
                           high: int) -> AsyncIterator[list[tuple]]:
    """The records with offsets in ``[low, high)``, a chunk of batches at a time, as
    (offset, timestamp, key, value, headers, the scanned batch); every batch's records whole
    (those below ``low`` of the first are skipped)."""
    lower = low
    while True:
        rows = await conn.execute_fetchall(
            "SELECT base_offset, data FROM batches WHERE topic_id=? AND partition=? AND base_offset>=coalesce("
            "(SELECT max(base_offset) FROM batches WHERE topic_id=? AND partition=? AND base_offset<=?), ?)"
            " AND base_offset<? ORDER BY base_offset LIMIT ?",
            (topic_id, partition, topic_id, partition, lower, lower, high, SCAN_CHUNK))
        if not rows:
            return
        chunk = []
        for base, data in rows:
            batch = RecordBatch(data)
            records = [r for r in batch.records(from_offset=low) if r.offset < high]
            if not records:
                continue
            scanned = _ScannedBatch(batch, batch.header, records[-1].offset)
            chunk.extend((r.offset, r.timestamp, r.key, r.value, r.headers, scanned) for r in records)
        yield chunk
        if len(rows) < SCAN_CHUNK:
            return
        lower = rows[-1][0] + 1


async def _rewrite_batch(conn: aiosqlite.Connection, topic_id: int, partition: int, base_offset: int,
                         removed: frozenset[int]) -> None:
    """Rewrite one batch without the records at ``removed`` (delete it if none is left)."""
    rows = await conn.execute_fetchall(
        "SELECT id, data FROM batches WHERE topic_id=? AND partition=? AND base_offset=?",
        (topic_id, partition, base_offset))
    if not rows:
        return
    row_id, data = rows[0]
    batch = RecordBatch(data)
    kept = [record for record in batch.records() if record.offset not in removed]
    if not kept:
        await conn.execute("DELETE FROM batches WHERE id=?", (row_id,))
        return
    rebuilt = rebuild_batch(batch, kept, keep_last_offset=True)
    header = RecordBatch(rebuilt).header
    await conn.execute("UPDATE batches SET max_timestamp=?, record_count=?, size=?, data=? WHERE id=?",
                       (header.max_timestamp, len(kept), len(rebuilt), bytes(rebuilt), row_id))
