"""The data file: schema, connection setup and transactions.

One SQLite file is one cluster. Several processes may open it at once; correctness
across processes comes from SQLite transactions (``BEGIN IMMEDIATE`` for every write
that assigns offsets or changes group state), and inside one process from a lock that
keeps coroutines sharing a connection from interleaving their transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import stat
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator, TypeVar

import aiosqlite

from .consumer_group_schema import CONSUMER_GROUP_TABLES
from .errors import RequestTimedOut, StorageClosed, StorageError
from .record_batch import is_intact
from .producer_state import PRODUCER_STATE_TABLES
from .transaction_index import TRANSACTION_INDEX_TABLES
from .schema_migration import migrate_to_append_times, migrate_to_batches, migrate_to_partition_segment_state
from .single_hop import InlineWriter, run_transaction

T = TypeVar("T")

APPLICATION = "kplay"
#: 2: the log is stored as record batches (``batches``), not one row per record (``records``).
#: 3: appends write no change-feed row; the feed tells them from ``partitions`` (``appended_at``).
#: 4: the active segment's size and largest timestamp live in its partition's row (``segment_state``).
SCHEMA_VERSION = 4
BATCHES_TABLE = """CREATE TABLE batches(
        id INTEGER PRIMARY KEY,
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        base_offset INTEGER NOT NULL,
        last_offset INTEGER NOT NULL,
        max_timestamp INTEGER NOT NULL,
        producer_id INTEGER NOT NULL,
        producer_epoch INTEGER NOT NULL,
        base_sequence INTEGER NOT NULL,
        attributes INTEGER NOT NULL,
        record_count INTEGER NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL
    )"""
BATCHES_INDEX = "CREATE UNIQUE INDEX batches_by_offset ON batches(topic_id, partition, base_offset)"
#: Every segment with its current values, the one place readers read segments from: a closed
#: segment's as its row holds them, the active (newest) one's from its partition's row (its
#: next offset is the log end offset).
SEGMENT_STATE_VIEW = """CREATE VIEW segment_state AS
    SELECT s.topic_id AS topic_id, s.partition AS partition, s.base_offset AS base_offset,
        coalesce(p.log_end_offset, s.next_offset) AS next_offset,
        coalesce(p.active_segment_bytes, s.size_bytes) AS size_bytes, s.created_at AS created_at,
        coalesce(p.active_segment_max_timestamp, s.max_timestamp) AS max_timestamp
    FROM segments s LEFT JOIN partitions p ON p.topic_id=s.topic_id AND p.partition=s.partition
        AND s.base_offset=(SELECT max(a.base_offset) FROM segments a
                           WHERE a.topic_id=s.topic_id AND a.partition=s.partition)"""
#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 60_000
#: The -wal file is cut back to this size whenever a checkpoint lets it start over (without
#: it, a WAL that grew to a gigabyte during a big delete stays a gigabyte).
JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
#: Free pages are returned to the file system (incremental vacuum) once there are this many...
RECLAIM_MIN_FREE_PAGES = 256
#: ...this many pages per step (4 MB of 4 KB pages: a write transaction of tens of ms)...
RECLAIM_STEP_PAGES = 1024
#: ...looked at no more often than this, and only after writes.
RECLAIM_INTERVAL_S = 1.0

#: The Schema Registry's tables. ``IF NOT EXISTS``: the registry also creates them in a data
#: file made before it existed (additive; the schema version stays the same).
SCHEMA_REGISTRY_TABLES: tuple[str, ...] = (
    # Each distinct schema once, under its global id (the same text under two subjects: one id).
    """CREATE TABLE IF NOT EXISTS schemas(
        id INTEGER PRIMARY KEY,
        schema_type TEXT NOT NULL,
        schema TEXT NOT NULL,
        UNIQUE(schema_type, schema)
    )""",
    # A subject's versions; a soft-deleted version stays (deleted = 1) until deleted permanently.
    """CREATE TABLE IF NOT EXISTS subject_versions(
        subject TEXT NOT NULL,
        version INTEGER NOT NULL,
        schema_id INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        registered_at INTEGER NOT NULL,
        PRIMARY KEY(subject, version)
    ) WITHOUT ROWID""",
    # Compatibility levels: subject '' is the global level, any other a subject's own.
    """CREATE TABLE IF NOT EXISTS compatibility_levels(
        subject TEXT PRIMARY KEY,
        level TEXT NOT NULL
    ) WITHOUT ROWID""",
)

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE meta(
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE brokers(
        id INTEGER PRIMARY KEY,
        alive INTEGER NOT NULL DEFAULT 1,
        changed_at INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE topics(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        topic_uuid TEXT NOT NULL,
        partitions INTEGER NOT NULL,
        replication_factor INTEGER NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
    )""",
    # leader is -1 while the partition is offline; log_end_offset is the leader's; appended_at
    # is when its last batch was appended (the change feed's "at" for appends). The active
    # segment's size and largest timestamp are kept here, written by the UPDATE every append
    # runs anyway (its segments row would cost one more statement and page per append).
    """CREATE TABLE partitions(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        leader INTEGER NOT NULL,
        leader_epoch INTEGER NOT NULL DEFAULT 0,
        log_start_offset INTEGER NOT NULL DEFAULT 0,
        log_end_offset INTEGER NOT NULL DEFAULT 0,
        high_watermark INTEGER NOT NULL DEFAULT 0,
        appended_at INTEGER NOT NULL DEFAULT 0,
        active_segment_bytes INTEGER NOT NULL DEFAULT 0,
        active_segment_max_timestamp INTEGER NOT NULL DEFAULT -1,
        PRIMARY KEY(topic_id, partition)
    ) WITHOUT ROWID""",
    # Replication is modelled by per-replica progress over one stored copy of each record.
    """CREATE TABLE replicas(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        broker_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        log_end_offset INTEGER NOT NULL DEFAULT 0,
        in_isr INTEGER NOT NULL DEFAULT 1,
        caught_up_at INTEGER NOT NULL DEFAULT 0,
        -- a stopped replica whose log differs from the leader's from this offset on
        -- (-1: it does not); it truncates there when its broker starts again
        diverged_at INTEGER NOT NULL DEFAULT -1,
        PRIMARY KEY(topic_id, partition, broker_id)
    ) WITHOUT ROWID""",
    # With a replication delay, the time each batch reached its leader: followers copy
    # a batch only once the delay has passed since then. Empty with no delay.
    """CREATE TABLE pending_replication(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        base_offset INTEGER NOT NULL,
        appended_at INTEGER NOT NULL,
        PRIMARY KEY(topic_id, partition, base_offset)
    ) WITHOUT ROWID""",
    # The log, as Kafka stores it: one row per record batch (Kafka's v2 format, the bytes a
    # producer sent with their offsets assigned), its header fields as columns for the
    # lookups that must not read the bytes. A rowid table with a separate index, not WITHOUT
    # ROWID: a batch of 1000 records is ~120 KB, and a WITHOUT ROWID b-tree keeps whole rows
    # in its interior cells too (overflow chains included), which made offset lookups 15x
    # and header scans 100x slower in measurement (see the commit adding this table).
    BATCHES_TABLE,
    BATCHES_INDEX,
    # A segment covers offsets [base_offset, next_offset); the newest one is active. The active
    # one's row holds only base_offset and created_at (its other columns are written once, when
    # it rolls): read segments through ``segment_state``.
    """CREATE TABLE segments(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        base_offset INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        max_timestamp INTEGER NOT NULL DEFAULT -1,
        PRIMARY KEY(topic_id, partition, base_offset)
    ) WITHOUT ROWID""",
    SEGMENT_STATE_VIEW,
    # The log cleaner's progress (Kafka's cleaner-offset-checkpoint): a compacted
    # partition's offsets below first_dirty_offset have been compacted.
    """CREATE TABLE cleaner_checkpoints(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        first_dirty_offset INTEGER NOT NULL,
        PRIMARY KEY(topic_id, partition)
    ) WITHOUT ROWID""",
    # A tombstone's delete horizon (KIP-534): set by the first compaction that keeps it,
    # delete.retention.ms later; a pass after that time drops the tombstone.
    """CREATE TABLE tombstone_horizons(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        delete_horizon_ms INTEGER NOT NULL,
        PRIMARY KEY(topic_id, partition, offset)
    ) WITHOUT ROWID""",
    """CREATE TABLE groups(
        group_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        protocol_type TEXT NOT NULL DEFAULT 'consumer',
        protocol_name TEXT,
        generation INTEGER NOT NULL DEFAULT 0,
        leader_id TEXT,
        rebalance_deadline INTEGER NOT NULL DEFAULT 0,
        next_member_seq INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    # protocols: JSON [[name, metadata hex], ...] in the member's order of preference;
    # join_seq orders members as they joined (the first is the leader); awaiting_join and
    # awaiting_sync mark a member blocked in JoinGroup / SyncGroup (kept alive meanwhile).
    """CREATE TABLE group_members(
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        client_id TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT '',
        session_timeout_ms INTEGER NOT NULL,
        rebalance_timeout_ms INTEGER NOT NULL,
        last_heartbeat INTEGER NOT NULL,
        protocols TEXT NOT NULL DEFAULT '[]',
        join_seq INTEGER NOT NULL DEFAULT 0,
        awaiting_join INTEGER NOT NULL DEFAULT 0,
        awaiting_sync INTEGER NOT NULL DEFAULT 0,
        assignment BLOB,
        PRIMARY KEY(group_id, member_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE committed_offsets(
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        committed_offset INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '',
        commit_timestamp INTEGER NOT NULL,
        PRIMARY KEY(group_id, topic, partition)
    ) WITHOUT ROWID""",
    # The change feed: every write appends what it changed, in the same transaction; appends
    # excepted, which the feed tells from ``partitions`` and ``batches`` (events.py).
    """CREATE TABLE changes(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
    *SCHEMA_REGISTRY_TABLES,
    *PRODUCER_STATE_TABLES,
    *TRANSACTION_INDEX_TABLES,
    *CONSUMER_GROUP_TABLES,
)


#: Every connection's settings, after WAL mode. WAL + synchronous=NORMAL survives a killed process
#: (not a power cut) and is ~5x faster than FULL. cell_size_check checks each b-tree cell's bounds
#: as it is read: damage becomes SQLITE_CORRUPT (and this process stops writing) instead of a
#: write through a bad page.
#: WAL frames (pages) between two checkpoints, for every kplay writer. Each checkpoint costs two
#: fsyncs whatever it copies, and copies each page once however often it was written: a one-record
#: append writes 4 pages where raw sqlite3's writes 1, so SQLite's default of 1000 checkpointed
#: every ~250 appends (raw sqlite3: every 1000). 4000 frames keep the WAL file at ~16 MB (4 KB
#: pages), under ``JOURNAL_SIZE_LIMIT_BYTES``; its index (the -shm file) at one or two hash tables.
WAL_CHECKPOINT_FRAMES = 4000
_WRITER_PRAGMAS = (f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}", "PRAGMA synchronous=NORMAL",
                   "PRAGMA cell_size_check=ON", f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_FRAMES}")

#: WAL frames between two checkpoints of the inline writer's commits (which never checkpoint by
#: themselves). The commits between two checkpoints follow from how many frames the last one
#: found, starting from ``INLINE_CHECKPOINT_EVERY`` and kept between its bounds.
INLINE_CHECKPOINT_FRAMES = WAL_CHECKPOINT_FRAMES
INLINE_CHECKPOINT_EVERY = 512
INLINE_CHECKPOINT_EVERY_BOUNDS = (16, 4096)

#: Inline writes in a row without a yield to the event loop, at most this long (seconds).
INLINE_YIELD_S = 0.002

#: Files up to this size get SQLite's ``quick_check`` when opened (about 4 ms per MB): a damaged
#: small file is refused before anything writes to it. Larger files rely on SQLite noticing
#: damage as it reads (``SQLITE_CORRUPT``), after which this process stops writing.
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024
#: SQLite's result codes for a damaged file and for a file that is not a database.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
#: The meta keys every kplay data file has.
_REQUIRED_META = ("application", "schema_version", "cluster_id")


class DamagedRecordBatch(Exception):
    """A stored record batch whose bytes fail their CRC-32C: the data file is damaged."""

    def __init__(self, topic_id: int, partition: int, base_offset: int) -> None:
        super().__init__(f"the record batch at offset {base_offset} of partition {partition} of topic id "
                         f"{topic_id} fails its CRC-32C")


def batch_is_intact(data: bytes) -> bool:
    """Whether a stored batch is whole and its CRC-32C matches its bytes."""
    return is_intact(data)


def is_corruption(error: BaseException) -> bool:
    """Whether ``error`` is SQLite saying the data file is damaged."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return "malformed" in str(error) or "not a database" in str(error)


def damaged_file_error(path: Path, detail: object) -> StorageError:
    """The error for a data file SQLite found damaged."""
    return StorageError(f"{path} is damaged ({detail}); kplay will not write to it. Restore it from a copy, "
                        f"or start a new data file")


def _check_path(path: Path) -> None:
    """Refuse a path that can never be a data file: a directory, a FIFO, a device, or a
    file in a directory that does not exist (no directories are created: a typo in
    ``--data`` or KPLAY_DATA must not silently give a new, empty cluster)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        parent = path.parent
        if not parent.is_dir():
            what = "is not a directory" if parent.exists() else "does not exist"
            raise StorageError(f"cannot create the data file {path}: the directory {parent} {what}") from None
        return
    except OSError as exc:
        raise StorageError(f"{path}: cannot open ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise StorageError(f"{path} is a directory, not a data file; name a file inside it, e.g. {path / 'cluster.db'}")
    if not stat.S_ISREG(mode):
        raise StorageError(f"{path} is not a regular file (a FIFO, socket or device); a data file must be a file")
    # SQLite keeps two files beside the data file; one that is not a file makes every
    # open fail with "disk I/O error", which names neither the file nor the cause.
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        try:
            sidecar_mode = sidecar.stat().st_mode
        except OSError:
            continue  # absent (the usual case): SQLite creates it
        if not stat.S_ISREG(sidecar_mode):
            raise StorageError(f"{sidecar} is not a regular file: SQLite keeps the data file's {suffix[1:]} file "
                               f"there; move it away and open {path} again")


def _kplay_meta(path: Path) -> dict[str, str] | None:
    """Read the meta table of an existing file without writing to it.

    Returns None for a file that is new (missing, empty, or an SQLite file with nothing in
    it); raises ``StorageError`` for anything that is not a kplay database, a damaged one,
    or one whose meta table is incomplete.
    """
    _check_path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    # A file no process has open has no -wal beside it: probe it as immutable, which creates
    # no -wal/-shm, so a refused file is left exactly as it was, side files included.
    flags = "mode=ro" if path.with_name(path.name + "-wal").exists() else "mode=ro&immutable=1"
    try:
        probe = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?{flags}", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot open ({exc})") from None
    try:
        objects = probe.execute("SELECT type, name FROM sqlite_master").fetchall()
        if not objects:
            return None
        tables = {name for kind, name in objects if kind == "table"}
        if "meta" not in tables:
            raise StorageError(f"{path} is not a kplay data file (it holds other SQLite objects); "
                               "refusing to touch it")
        meta = dict(probe.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("application") == APPLICATION and path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            problems = [row[0] for row in probe.execute("PRAGMA quick_check(3)").fetchall()]
            if problems != ["ok"]:
                raise damaged_file_error(path, "; ".join(problems))
            if "batches" in tables:
                # SQLite checks its pages, not what a blob holds: the batches' own CRC-32C does
                # (as Kafka's log recovery checks each batch's).
                for topic_id, partition, base_offset, data in probe.execute(
                        "SELECT topic_id, partition, base_offset, data FROM batches"):
                    if not batch_is_intact(data):
                        raise damaged_file_error(path, DamagedRecordBatch(topic_id, partition, base_offset))
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_CORRUPT:
            raise damaged_file_error(path, exc) from None
        raise StorageError(f"{path} is not a kplay data file ({exc}); refusing to touch it") from None
    finally:
        probe.close()
    return _validated_meta(path, meta)


def _validated_meta(path: Path, meta: dict[str, str]) -> dict[str, str]:
    """``meta`` if it is a complete kplay meta table this kplay can read, else StorageError."""
    if meta.get("application") != APPLICATION:
        raise StorageError(f"{path} is not a kplay data file; refusing to touch it")
    missing = [key for key in _REQUIRED_META if not meta.get(key)]
    if missing:
        raise StorageError(f"{path} is not a usable kplay data file: its meta table has no {missing[0]}")
    version = meta["schema_version"]
    if not version.isdigit():
        raise StorageError(f"{path} is not a usable kplay data file: schema_version is {version!r}, not a number")
    if int(version) > SCHEMA_VERSION:
        raise StorageError(
            f"{path} was written by a newer kplay (schema version {version}, this kplay reads "
            f"up to {SCHEMA_VERSION}); upgrade kplay to open it"
        )
    return meta


async def _add_missing_tables(conn: aiosqlite.Connection) -> None:
    """Tables added after schema version 1 (additive: older kplays ignore them)."""
    present = {row[0] for row in await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
    if "producer_batches" not in present:
        for ddl in PRODUCER_STATE_TABLES:
            await conn.execute(ddl)
    if "aborted_transactions" not in present:
        for ddl in TRANSACTION_INDEX_TABLES:
            await conn.execute(ddl)
    if "consumer_groups" not in present:
        for ddl in CONSUMER_GROUP_TABLES:
            await conn.execute(ddl)


def _open_error(path: Path, error: sqlite3.Error) -> StorageError:
    """What a failed open means, in words (SQLite's own are often "disk I/O error")."""
    if is_corruption(error):
        return damaged_file_error(path, error)
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return StorageError(f"cannot write the data file {path}: permission denied (kplay needs to write the file "
                            f"and, beside it, its -wal and -shm files) ({error})")
    return StorageError(f"{path}: cannot open ({error})")


def connect_raw(path: Path | str) -> sqlite3.Connection:
    """A plain sqlite3 connection with kplay's settings (used by the change feed's poller)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


class Storage:
    """The data file, opened for one process: a writer and a reader connection.

    ``write()`` is the only way to change the file: it serialises coroutines of this
    process with a lock and other processes with ``BEGIN IMMEDIATE``. ``read()`` gives
    a connection that only ever sees committed data.
    """

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection,
                 meta: dict[str, str]) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self.cluster_id = meta["cluster_id"]
        #: Set once SQLite reports the file damaged: from then on this process writes nothing.
        self.damage: StorageError | None = None
        self._closed = False
        self._next_reclaim = 0.0
        self._reclaimer: asyncio.Future[None] | None = None
        self._reclaim_timer: asyncio.TimerHandle | None = None
        self.after_commit: list[Any] = []  # callables run after every successful write
        #: (topic id, partition) of this process's appends, for the change feed to look at first.
        self.appended: set[tuple[int, int]] = set()
        # The loop thread's own writer (write_inline), serialised with ``writer`` by the write lock.
        self._inline = InlineWriter(str(path), (*_WRITER_PRAGMAS, "PRAGMA wal_autocheckpoint=0"))
        self._inline_commits = 0
        self._checkpoint_every = INLINE_CHECKPOINT_EVERY
        # When the loop last ran queued callbacks after an inline write (see ``write_inline``).
        self._loop_ran_at = 0.0
        self._turn_noted = False
        self._checkpointer: asyncio.Future[None] | None = None
        # ``write_inline``'s two error translations as one plain context manager (hot path).
        self._write_errors = _WriteErrors(self)
        self._writer_runs_functions = _runs_functions(writer)
        # A connection that never writes nor holds a transaction: only ``data_version`` uses it.
        self._version_probe: sqlite3.Connection | None = None
        # The inline writer's checkpoints run on a connection of their own (``_checkpoint``).
        self._checkpoint_conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path | str, *, brokers: int = 3, now_ms: int = 0) -> "Storage":
        """Open (or create) the data file at ``path``.

        A new file gets the schema and a cluster of ``brokers`` live brokers. A file that
        is not a kplay database, or that a newer kplay wrote, raises ``StorageError`` and
        is left exactly as it was.
        """
        path = Path(path)
        meta = _kplay_meta(path)
        if meta is None and brokers < 1:
            raise StorageError(f"a cluster needs at least 1 broker, not {brokers}")
        # Every connection opened here is closed again if the open fails: an aiosqlite
        # connection left open keeps its (non-daemon) thread alive, and the process with it.
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await cls._connect(path, opened, new=meta is None)
            if meta is None:
                meta = _validated_meta(path, await cls._create(writer, path, brokers, now_ms))
            else:
                await _add_missing_tables(writer)
                if int(meta["schema_version"]) < 2:
                    await migrate_to_batches(writer, path, (BATCHES_TABLE, BATCHES_INDEX))
                if int(meta["schema_version"]) < 3:
                    await migrate_to_append_times(writer, path)
                if int(meta["schema_version"]) < SCHEMA_VERSION:
                    await migrate_to_partition_segment_state(writer, path, SEGMENT_STATE_VIEW)
                    meta = {**meta, "schema_version": str(SCHEMA_VERSION)}
            reader = await cls._connect(path, opened)
        except BaseException as exc:
            for conn in opened:
                with contextlib.suppress(Exception):
                    await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _open_error(path, exc) from None
            raise
        return cls(path, writer, reader, meta)

    @staticmethod
    async def _connect(path: Path, opened: list[aiosqlite.Connection], *, new: bool = False) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        opened.append(conn)
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if new:
            # Only on a new, empty file (before WAL mode writes its header; on an existing
            # file it would rewrite the header): space freed by retention and deletes can
            # then be given back (``reclaim_space``).
            await conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        await conn.execute("PRAGMA journal_mode=WAL")
        for pragma in _WRITER_PRAGMAS:
            await conn.execute(pragma)
        return conn

    @staticmethod
    async def _create(conn: aiosqlite.Connection, path: Path, brokers: int, now_ms: int) -> dict[str, str]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created it while we waited for the lock.
            objects = {row[0] for row in await conn.execute_fetchall("SELECT name FROM sqlite_master")}
            if objects and "meta" not in objects:
                raise StorageError(f"{path} is not a kplay data file (it holds other SQLite objects); "
                                   "refusing to touch it")
            if not objects:
                for ddl in SCHEMA:
                    await conn.execute(ddl)
                meta = {
                    "application": APPLICATION,
                    "schema_version": str(SCHEMA_VERSION),
                    "cluster_id": uuid.uuid4().hex[:22],
                    "controller_id": "0",
                    "controller_epoch": "1",
                }
                await conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
                await conn.executemany(
                    "INSERT INTO brokers(id, alive, changed_at) VALUES (?, 1, ?)",
                    [(i, now_ms) for i in range(brokers)])
            await conn.execute("COMMIT")
        except BaseException:
            await _end_abandoned_transaction(conn)
            raise
        return dict(await (await conn.execute("SELECT key, value FROM meta")).fetchall())

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); commits on success, rolls back on error."""
        self._refuse_if_damaged()
        async with self._write_lock:
            self._refuse_if_closed()
            with self._noticing_damage():
                with _lock_wait_as_timeout():
                    await _begin(self._writer, "BEGIN IMMEDIATE")
                try:
                    yield self._writer
                except BaseException:
                    await _end_abandoned_transaction(self._writer)
                    raise
                # Shielded: a caller cancelled now must not leave the commit half-done.
                await asyncio.shield(self._writer.execute("COMMIT"))
        for callback in self.after_commit:
            callback()
        self._reclaim_if_due()

    async def write_in_one_hop(self, body: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``body(conn)`` as one write transaction, whole, on the writer's thread.

        Same transaction as ``async with write() as conn: return await body(conn)``, but
        one round trip to the database thread instead of one per statement (see
        ``single_hop``): for hot paths such as appends. ``body`` may await only ``conn``'s
        query methods. Falls back to ``write()`` if aiosqlite's internals ever change.
        """
        if not _runs_functions(self._writer):
            async with self.write() as conn:
                return await body(conn)
        self._refuse_if_damaged()
        async with self._write_lock:
            self._refuse_if_closed()
            with self._noticing_damage(), _lock_wait_as_timeout():
                result = await _run_on_thread(self._writer, body, "BEGIN IMMEDIATE")
        for callback in self.after_commit:
            callback()
        self._reclaim_if_due()
        return result

    async def write_inline(self, body: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """``write_in_one_hop`` with no hop: ``body`` runs on the event loop's thread, unless another
        process holds the file's write lock, when it runs on the writer's thread (which waits).

        For small hot transactions (a few-record append), whose statements cost less than a
        round trip to the database thread. ``body`` may await only ``conn``'s query methods,
        and may run twice (an attempt that met a lock wrote nothing): it must start from
        scratch each time.
        """
        if not self._writer_runs_functions:
            async with self.write() as conn:
                return await body(conn)
        self._refuse_if_damaged()
        lock = self._write_lock
        done = False
        if not lock.locked():
            # Nobody in this process is writing, and an inline attempt never awaits: it runs
            # to its end before anyone could take the lock, so it need not take it (an
            # asyncio.Lock's acquire and release cost ~2 us of a ~55 us one-record append).
            with self._write_errors:
                done, result = self._inline.try_transaction(body)
        if not done:
            async with lock:
                self._refuse_if_closed()
                with self._write_errors:
                    done, result = self._inline.try_transaction(body)
                    if not done:
                        result = await _run_on_thread(self._writer, body, "BEGIN IMMEDIATE")
        if done:
            self._inline_commits += 1
            if self._inline_commits >= self._checkpoint_every and (
                    self._checkpointer is None or self._checkpointer.done()):
                self._inline_commits = 0
                self._checkpointer = asyncio.ensure_future(self._checkpoint())
        for callback in self.after_commit:
            callback()
        self._reclaim_if_due()
        # A loop of inline writes must not starve other tasks (a hop let them run at every
        # write), but a yield per write cost a loop iteration (~10 us) each, most of them
        # needless when the caller awaits something else between writes anyway (a
        # producer's sender does): yield only if the loop ran nothing else for INLINE_YIELD_S.
        loop = asyncio.get_running_loop()
        if loop.time() - self._loop_ran_at >= INLINE_YIELD_S:
            await asyncio.sleep(0)
        if not self._turn_noted:
            self._turn_noted = True
            loop.call_soon(self._note_turn, loop)
        return result  # type: ignore[return-value]

    def _note_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run by the loop once it runs queued callbacks again: other tasks had their turn."""
        self._turn_noted = False
        self._loop_ran_at = loop.time()

    async def _checkpoint(self) -> None:
        """Copy the WAL into the file for the inline writer, which never checkpoints itself (that
        would stall the event loop for milliseconds), in two steps on a connection of its own.

        First beside the appends: a PASSIVE checkpoint never blocks writers, and this one does
        the bulk of the work, the WAL's and the file's fsyncs (about 1 ms per MB of WAL on these
        machines: 15 ms for 4000 frames, during which appends used to wait). Then, under the
        write lock, what was appended meanwhile (a few hundred frames), so that the checkpoint
        is complete and the next write starts the WAL over: a WAL only ever copied behind
        writers would grow without end under a steady producer.
        """
        with contextlib.suppress(sqlite3.OperationalError, StorageError):  # busy or closed: next time
            self._refuse_if_closed()
            commits = max(1, self._inline_commits + self._checkpoint_every)
            frames = await self._passive_checkpoint()
            async with self._write_lock:
                self._refuse_if_closed()
                await self._passive_checkpoint()
            if frames > 0:
                # About INLINE_CHECKPOINT_FRAMES frames until the next one, at this many per commit.
                low, high = INLINE_CHECKPOINT_EVERY_BOUNDS
                self._checkpoint_every = max(low, min(high, commits * INLINE_CHECKPOINT_FRAMES // frames))

    async def _passive_checkpoint(self) -> int:
        """``PRAGMA wal_checkpoint(PASSIVE)`` on the checkpointer's connection, on a worker thread;
        the WAL's size in frames when it ran."""
        if self._checkpoint_conn is None:
            self._checkpoint_conn = connect_raw(self.path)
            self._checkpoint_conn.execute("PRAGMA synchronous=NORMAL")
        # A cancelled checkpointer still waits for its thread: ``close`` must never close the
        # connection under it.
        return await _to_its_end(asyncio.get_running_loop().run_in_executor(
            None, _wal_checkpoint, self._checkpoint_conn))

    def _reclaim_if_due(self) -> None:
        """After a write, at most once a second: give free pages back, in the background."""
        if self._reclaim_timer is not None or self._closed:
            return  # a look is already planned
        if self._reclaimer is not None and not self._reclaimer.done():
            return
        delay = max(0.0, self._next_reclaim - time.monotonic())
        # A look after the last of a burst of writes too, not only at the first.
        self._reclaim_timer = asyncio.get_running_loop().call_later(delay, self._start_reclaim)

    def _start_reclaim(self) -> None:
        self._reclaim_timer = None
        if self._closed:
            return
        self._next_reclaim = time.monotonic() + RECLAIM_INTERVAL_S
        self._reclaimer = asyncio.ensure_future(self._reclaim_all())

    async def _reclaim_all(self) -> None:
        freed = 0
        with contextlib.suppress(sqlite3.OperationalError, StorageError):  # busy or closed: later
            while step := await self.reclaim_space():
                freed += step
                await asyncio.sleep(0)  # writers queued meanwhile go first, between steps
            if freed:
                # Let the WAL start over (and be cut to journal_size_limit) if no reader holds
                # it; PASSIVE never waits for one.
                async with self._write_lock:
                    self._refuse_if_closed()
                    await self._writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")

    async def reclaim_space(self, max_pages: int = RECLAIM_STEP_PAGES) -> int:
        """Give up to ``max_pages`` free pages back to the file system (one incremental vacuum
        step, a short write transaction); returns how many. Runs by itself after writes
        (at most once a second, once ``RECLAIM_MIN_FREE_PAGES`` are free), step by step
        until none are left. A file made before kplay set auto_vacuum keeps its free pages
        for reuse instead (returns 0)."""
        async with self._write_lock:
            self._refuse_if_closed()
            with self._noticing_damage():
                ((mode,),) = await self._writer.execute_fetchall("PRAGMA auto_vacuum")
                ((free,),) = await self._writer.execute_fetchall("PRAGMA freelist_count")
                if mode != 2 or free < min(RECLAIM_MIN_FREE_PAGES, max_pages):
                    return 0
                step = min(free, max_pages)
                # executescript steps the pragma to its end; execute() would free one page.
                await self._writer.executescript(f"PRAGMA incremental_vacuum({step});")
                return step

    def _refuse_if_damaged(self) -> None:
        self._refuse_if_closed()
        if self.damage is not None:
            raise self.damage

    @contextlib.contextmanager
    def _noticing_damage(self) -> Iterator[None]:
        """Turn SQLite's "malformed" (or a stored batch failing its CRC) into a StorageError,
        and stop writing from then on."""
        try:
            yield
        except DamagedRecordBatch as exc:
            if self.damage is None:
                self.damage = damaged_file_error(self.path, exc)
            raise self.damage from None
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            if self.damage is None:
                self.damage = damaged_file_error(self.path, exc)
            raise self.damage from None

    async def read_in_one_hop(self, body: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``body(conn)`` as one read transaction (a consistent snapshot), whole, on the
        reader's thread: ``snapshot()`` in one round trip. ``body`` may await only ``conn``'s
        query methods."""
        if not _runs_functions(self._reader):
            async with self.snapshot() as conn:
                return await body(conn)
        async with self._read_lock:
            self._refuse_if_closed()
            with self._noticing_damage():
                return await _run_on_thread(self._reader, body, "BEGIN")

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        async with self._read_lock:
            self._refuse_if_closed()
            with self._noticing_damage():
                await _begin(self._reader, "BEGIN")
                try:
                    yield self._reader
                finally:
                    await _end_abandoned_transaction(self._reader)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row | tuple]:
        """Run one read-only query on committed data."""
        async with self._read_lock:
            self._refuse_if_closed()
            with self._noticing_damage():
                return list(await self._reader.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple | None:
        """Run one read-only query on committed data and return its first row."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    def data_version(self) -> int:
        """A number that moves whenever any connection (this process's writers or another
        process's) commits to the file, read on the calling thread in microseconds: while it
        stays, nothing in the file changed. Read it *before* reading what it vouches for."""
        self._refuse_if_closed()
        if self._version_probe is None:
            self._version_probe = connect_raw(self.path)
        with self._noticing_damage():
            return self._version_probe.execute("PRAGMA data_version").fetchone()[0]

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: every later read or write raises ``StorageClosed``."""
        return self._closed

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise StorageClosed(f"{self.path} was closed by this process")

    async def close(self) -> None:
        """Close both connections, once the transactions in flight have ended."""
        if self._closed:
            return
        self._closed = True
        if self._reclaim_timer is not None:
            self._reclaim_timer.cancel()
            self._reclaim_timer = None
        for task in (self._reclaimer, self._checkpointer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        # Waiting for the locks lets a background task (the replica fetcher) mid-transaction
        # finish it; anyone queued behind sees ``closed`` and stops.
        async with self._write_lock, self._read_lock:
            self._inline.close()
            if self._version_probe is not None:
                self._version_probe.close()
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
            await self._reader.close()
            await self._writer.close()


@contextlib.contextmanager
def _lock_wait_as_timeout() -> Any:
    """SQLite's raw "database is locked" (another process held the write lock for longer than
    ``BUSY_TIMEOUT_MS``) as Kafka's retriable RequestTimedOut, so no front ever shows it."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise _lock_wait_timeout() from None


def _lock_wait_timeout() -> RequestTimedOut:
    return RequestTimedOut(
        f"The request timed out: another process held the data file's write lock for more than "
        f"{BUSY_TIMEOUT_MS // 1000} s")


class _WriteErrors:
    """``with storage._noticing_damage(), _lock_wait_as_timeout():`` as one plain context manager,
    for ``write_inline``: two generator-based ones cost ~3 us of a ~90 us one-record append."""

    __slots__ = ("_storage",)

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            raise _lock_wait_timeout() from None
        if isinstance(exc, DamagedRecordBatch) or is_corruption(exc):
            storage = self._storage
            if storage.damage is None:
                storage.damage = damaged_file_error(storage.path, exc)
            raise storage.damage from None
        return False


def _wal_checkpoint(conn: sqlite3.Connection) -> int:
    """Run a PASSIVE checkpoint on ``conn`` (on the calling thread); the WAL's size in frames."""
    ((_, frames, _),) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return int(frames)


def _runs_functions(conn: aiosqlite.Connection) -> bool:
    """Whether ``conn`` still has the aiosqlite internals the one-hop transactions use."""
    return hasattr(conn, "_execute") and isinstance(getattr(conn, "_connection", None), sqlite3.Connection)


async def _run_on_thread(conn: aiosqlite.Connection, body: Callable[[aiosqlite.Connection], Awaitable[T]],
                         begin: str) -> T:
    """Run ``body`` as one transaction on ``conn``'s own thread (``single_hop``)."""
    # A caller cancelled now still waits for the transaction to end, so the caller's lock is
    # not released while the thread is inside it.
    return await _to_its_end(asyncio.ensure_future(conn._execute(run_transaction, conn._conn, body, begin)))


async def _to_its_end(job: asyncio.Future[T]) -> T:
    """``await job``, a thread's work; if the caller is cancelled meanwhile, wait for the job
    to end all the same before the cancellation goes on."""
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await job
        raise


async def _begin(conn: aiosqlite.Connection, statement: str) -> None:
    """Start a transaction, even if the caller is cancelled meanwhile.

    aiosqlite runs statements in its own thread, one after another: a BEGIN whose
    awaiting coroutine is cancelled still runs. Left alone it would leave a transaction
    open on the shared connection and every later BEGIN would fail, so wait for it and
    roll it back before letting the cancellation through.
    """
    begin = asyncio.ensure_future(conn.execute(statement))
    try:
        await asyncio.shield(begin)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await begin
        await _end_abandoned_transaction(conn)
        raise


async def _end_abandoned_transaction(conn: aiosqlite.Connection) -> None:
    """Roll back the transaction still open on ``conn`` (after an error or a cancellation).

    Statements queued before it (a cancelled caller's) still run first, in order.
    """
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.OperationalError):  # it may have ended meanwhile
            await asyncio.shield(conn.execute("ROLLBACK"))


async def record_change(conn: aiosqlite.Connection, at: int, kind: str, payload: dict[str, Any]) -> None:
    """Append one entry to the change feed inside the caller's write transaction."""
    await conn.execute("INSERT INTO changes(at, kind, payload) VALUES (?, ?, ?)",
                       (at, kind, json.dumps(payload, separators=(",", ":"))))


async def record_changes(conn: aiosqlite.Connection, at: int, kind: str,
                         payloads: Iterable[dict[str, Any]]) -> None:
    """Append several entries of one kind in one call (one thread hop, not one per entry)."""
    await conn.executemany("INSERT INTO changes(at, kind, payload) VALUES (?, ?, ?)",
                           [(at, kind, json.dumps(payload, separators=(",", ":"))) for payload in payloads])


def default_data_path() -> Path:
    """The data file used when neither ``--data`` nor ``KPLAY_DATA`` names one."""
    env = os.environ.get("KPLAY_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs  # imported late: only the fronts need it

    # The default directory is created on first run; a directory named by the user never is
    # (a typo there must be an error, not a new empty cluster).
    directory = Path(platformdirs.user_data_dir("kplay"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory / "cluster.db"
