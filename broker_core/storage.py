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
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

import aiosqlite

from .errors import StorageError
from .single_hop import run_transaction

T = TypeVar("T")

APPLICATION = "kplay"
SCHEMA_VERSION = 1
#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 60_000

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
    # leader is -1 while the partition is offline; log_end_offset is the leader's.
    """CREATE TABLE partitions(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        leader INTEGER NOT NULL,
        leader_epoch INTEGER NOT NULL DEFAULT 0,
        log_start_offset INTEGER NOT NULL DEFAULT 0,
        log_end_offset INTEGER NOT NULL DEFAULT 0,
        high_watermark INTEGER NOT NULL DEFAULT 0,
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
    """CREATE TABLE records(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        key BLOB,
        value BLOB,
        headers BLOB,
        PRIMARY KEY(topic_id, partition, offset)
    ) WITHOUT ROWID""",
    # A segment covers offsets [base_offset, next_offset); the newest one is active.
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
    # The change feed: every write appends what it changed, in the same transaction.
    """CREATE TABLE changes(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL
    )""",
    *SCHEMA_REGISTRY_TABLES,
)


def _kplay_meta(path: Path) -> dict[str, str] | None:
    """Read the meta table of an existing file without writing to it.

    Returns None for a file that is new (missing, empty, or an SQLite file with no
    tables); raises ``StorageError`` for anything that is not a kplay database.
    """
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
        tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise StorageError(f"{path} is not a kplay data file (it has other tables); refusing to touch it")
        meta = dict(probe.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path} is not a kplay data file ({exc}); refusing to touch it") from None
    finally:
        probe.close()
    if meta.get("application") != APPLICATION:
        raise StorageError(f"{path} is not a kplay data file; refusing to touch it")
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{path} was written by a newer kplay (schema version {version}, this kplay reads "
            f"up to {SCHEMA_VERSION}); upgrade kplay to open it"
        )
    return meta


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
        self.after_commit: list[Any] = []  # callables run after every successful write

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
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await cls._connect(path)
        try:
            if meta is None:
                meta = await cls._create(writer, path, brokers, now_ms)
            reader = await cls._connect(path)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader, meta)

    @staticmethod
    async def _connect(path: Path) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a killed process (not a power cut) and is ~5x faster than FULL.
        await conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @staticmethod
    async def _create(conn: aiosqlite.Connection, path: Path, brokers: int, now_ms: int) -> dict[str, str]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created it while we waited for the lock.
            existing = await (await conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name='meta'")).fetchone()
            if existing is None:
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
            await conn.execute("ROLLBACK")
            raise
        return dict(await (await conn.execute("SELECT key, value FROM meta")).fetchall())

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); commits on success, rolls back on error."""
        async with self._write_lock:
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
        async with self._write_lock:
            result = await _run_on_thread(self._writer, body, "BEGIN IMMEDIATE")
        for callback in self.after_commit:
            callback()
        return result

    async def read_in_one_hop(self, body: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``body(conn)`` as one read transaction (a consistent snapshot), whole, on the
        reader's thread: ``snapshot()`` in one round trip. ``body`` may await only ``conn``'s
        query methods."""
        if not _runs_functions(self._reader):
            async with self.snapshot() as conn:
                return await body(conn)
        async with self._read_lock:
            return await _run_on_thread(self._reader, body, "BEGIN")

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        async with self._read_lock:
            await _begin(self._reader, "BEGIN")
            try:
                yield self._reader
            finally:
                await _end_abandoned_transaction(self._reader)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row | tuple]:
        """Run one read-only query on committed data."""
        async with self._read_lock:
            return list(await self._reader.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple | None:
        """Run one read-only query on committed data and return its first row."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        """Close both connections."""
        await self._reader.close()
        await self._writer.close()


def _runs_functions(conn: aiosqlite.Connection) -> bool:
    """Whether ``conn`` still has the aiosqlite internals the one-hop transactions use."""
    return hasattr(conn, "_execute") and isinstance(getattr(conn, "_connection", None), sqlite3.Connection)


async def _run_on_thread(conn: aiosqlite.Connection, body: Callable[[aiosqlite.Connection], Awaitable[T]],
                         begin: str) -> T:
    """Run ``body`` as one transaction on ``conn``'s own thread (``single_hop``)."""
    job = asyncio.ensure_future(conn._execute(run_transaction, conn._conn, body, begin))
    try:
        # Shielded: a caller cancelled now still waits for the transaction to end, so the
        # caller's lock is not released while the thread is inside it.
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

    return Path(platformdirs.user_data_dir("kplay")) / "cluster.db"
