"""Moving a data file of an older schema version to the current one, in place.

Version 2 -> 3 (``migrate_to_append_times``) adds ``partitions.appended_at``, the time of a
partition's last append, from which the change feed tells appends (there is no change-feed
row per append from version 3 on): a column added, nothing rewritten. A kplay that reads
only version 2 refuses the file from then on (its feed would never see an append).

Version 3 -> 4 (``migrate_to_partition_segment_state``) moves the active segment's size and
largest timestamp into its partition's row (``partitions.active_segment_bytes`` and
``active_segment_max_timestamp``), which every append updates anyway, and adds the
``segment_state`` view readers read segments through. A kplay that reads only version 3
refuses the file from then on (it would read the active segment's stale row).

Version 1 (one row per record) -> 2 (record batches):

The migration runs when such a file is opened, in place and in one write transaction: a
process killed midway leaves the file exactly as it was (SQLite rolls the transaction
back), and another process opening it meanwhile waits for the lock, then finds it done.
Each segment's records become batches of at most ``MIGRATED_BATCH_RECORDS`` records
(consecutive offsets, compaction's gaps kept as offset deltas), so a batch never crosses
a segment boundary; segment sizes are recounted from the batches, as Kafka counts them.
Records below a partition's log start (waiting for the cleaner to delete them) and
records of deleted topics are not carried over.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Sequence

import aiosqlite

from .errors import StorageError
from .record_batch import build_batch
from .records import decode_headers

logger = logging.getLogger(__name__)

#: The log's table in schema version 1, one row per record (headers as JSON with hex values):
#: what a version-1 file holds, and the per-row shape the perf tools' raw baselines use.
V1_RECORDS_TABLE = """CREATE TABLE records(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        timestamp INTEGER NOT NULL,
        key BLOB,
        value BLOB,
        headers BLOB,
        PRIMARY KEY(topic_id, partition, offset)
    ) WITHOUT ROWID"""
#: Records per migrated batch, and bytes: Kafka producers' batches are of this order.
MIGRATED_BATCH_RECORDS = 1000
MIGRATED_BATCH_BYTES = 1024 * 1024
_SCAN_ROWS = 5000

#: Told (path, records done, records in all) as a migration goes; the CLI draws a progress bar.
MigrationProgress = Callable[[str, int, int], None]
_progress: list[MigrationProgress] = []


def on_migration_progress(callback: MigrationProgress | None) -> None:
    """Have ``callback`` told how a schema migration advances (None: stop telling anyone)."""
    _progress.clear()
    if callback is not None:
        _progress.append(callback)


def _report(path: str, done: int, total: int) -> None:
    for callback in _progress:
        callback(path, done, total)


async def _migration_step(conn: aiosqlite.Connection, path: object, from_version: int, what: str,
                          body: Callable[[], Awaitable[None]]) -> bool:
    """Run ``body`` and set the schema version to ``from_version + 1``, all in one transaction;
    False if another process made the step while this one waited for the lock. A failure rolls
    everything back and says so in one line (``what``: the step, for that line)."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        ((version,),) = await conn.execute_fetchall("SELECT value FROM meta WHERE key='schema_version'")
        if version != str(from_version):
            await conn.execute("COMMIT")
            return False
        await body()
        await conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(from_version + 1),))
        await conn.execute("COMMIT")
        return True
    except BaseException as error:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        if isinstance(error, Exception) and not isinstance(error, StorageError):
            raise StorageError(f"{path}: {what} (schema version {from_version + 1}) failed ({error}); "
                               "the file is unchanged") from error
        raise


async def migrate_to_batches(conn: aiosqlite.Connection, path: object, ddl: Sequence[str]) -> None:
    """Rewrite a version-1 file's ``records`` as ``batches`` (created by ``ddl``), in one transaction."""
    total = 0

    async def rewrite() -> None:
        nonlocal total
        ((total,),) = await conn.execute_fetchall("SELECT count(*) FROM records")
        logger.warning("%s: moving %d records from schema version 1 (a row per record) to version 2 "
                       "(record batches), in one transaction", path, total)
        _report(str(path), 0, total)
        for statement in ddl:
            await conn.execute(statement)
        done = 0
        partitions = await conn.execute_fetchall(
            "SELECT topic_id, partition, log_start_offset FROM partitions ORDER BY topic_id, partition")
        for topic_id, partition, log_start in partitions:
            done = await _migrate_partition(conn, str(path), topic_id, partition, log_start, done, total)
        await conn.execute(
            "UPDATE segments SET size_bytes=(SELECT coalesce(sum(b.size), 0) FROM batches b"
            " WHERE b.topic_id=segments.topic_id AND b.partition=segments.partition"
            " AND b.base_offset>=segments.base_offset AND b.base_offset<segments.next_offset)")
        await conn.execute("DROP TABLE records")

    if await _migration_step(conn, path, 1, "moving its records to record batches", rewrite):
        _report(str(path), total, total)


async def _migrate_partition(conn: aiosqlite.Connection, path: str, topic_id: int, partition: int,
                             log_start: int, done: int, total: int) -> int:
    boundaries = [row[0] for row in await conn.execute_fetchall(
        "SELECT next_offset FROM segments WHERE topic_id=? AND partition=? ORDER BY base_offset",
        (topic_id, partition))]
    pending: list[tuple] = []
    pending_bytes = 0
    segment_end = boundaries.pop(0) if boundaries else None

    async def flush() -> None:
        nonlocal pending, pending_bytes
        if not pending:
            return
        base = pending[0][0]
        batch = build_batch([(key, value, decode_headers(headers) if headers else (), ts)
                             for _, ts, key, value, headers in pending],
                            base_offset=base, offset_deltas=[row[0] - base for row in pending])
        max_timestamp = max(row[1] for row in pending)
        await conn.execute(
            "INSERT INTO batches(topic_id, partition, base_offset, last_offset, max_timestamp, producer_id,"
            " producer_epoch, base_sequence, attributes, record_count, size, data)"
            " VALUES (?, ?, ?, ?, ?, -1, -1, -1, 0, ?, ?, ?)",
            (topic_id, partition, base, pending[-1][0], max_timestamp, len(pending), len(batch), bytes(batch)))
        pending = []
        pending_bytes = 0

    cursor = await conn.execute(
        "SELECT offset, timestamp, key, value, headers FROM records WHERE topic_id=? AND partition=?"
        " AND offset>=? ORDER BY offset", (topic_id, partition, log_start))
    while rows := await cursor.fetchmany(_SCAN_ROWS):
        for row in rows:
            offset = row[0]
            if segment_end is not None and offset >= segment_end:
                await flush()
                while segment_end is not None and offset >= segment_end:
                    segment_end = boundaries.pop(0) if boundaries else None
            pending.append(row)
            pending_bytes += len(row[2] or b"") + len(row[3] or b"")
            if len(pending) >= MIGRATED_BATCH_RECORDS or pending_bytes >= MIGRATED_BATCH_BYTES:
                await flush()
        done += len(rows)
        _report(path, done, total)
    await cursor.close()
    await flush()
    return done


#: Version 3's column: when the partition's last batch was appended (the writer's clock, ms).
APPENDED_AT_COLUMN = "ALTER TABLE partitions ADD COLUMN appended_at INTEGER NOT NULL DEFAULT 0"


async def migrate_to_append_times(conn: aiosqlite.Connection, path: object) -> None:
    """Move a version-2 file to version 3 (``partitions.appended_at``), in one transaction."""
    async def add_column() -> None:
        columns = {row[1] for row in await conn.execute_fetchall("PRAGMA table_info(partitions)")}
        if "appended_at" not in columns:
            await conn.execute(APPENDED_AT_COLUMN)

    await _migration_step(conn, path, 2, "adding partitions.appended_at", add_column)


#: Version 4's columns: the active segment's size and largest timestamp, in its partition's row.
ACTIVE_SEGMENT_COLUMNS = (
    ("active_segment_bytes", "ALTER TABLE partitions ADD COLUMN active_segment_bytes INTEGER NOT NULL DEFAULT 0"),
    ("active_segment_max_timestamp",
     "ALTER TABLE partitions ADD COLUMN active_segment_max_timestamp INTEGER NOT NULL DEFAULT -1"),
)


async def migrate_to_partition_segment_state(conn: aiosqlite.Connection, path: object, view_ddl: str) -> None:
    """Move a version-3 file to version 4, in one transaction: each partition's active segment's
    size and largest timestamp copied into its row, and the ``segment_state`` view (``view_ddl``)."""
    async def move_state() -> None:
        columns = {row[1] for row in await conn.execute_fetchall("PRAGMA table_info(partitions)")}
        for name, ddl in ACTIVE_SEGMENT_COLUMNS:
            if name not in columns:
                await conn.execute(ddl)
        # The active segment is the newest; its row keeps its values too, unread from now on.
        await conn.execute(
            "UPDATE partitions SET (active_segment_bytes, active_segment_max_timestamp)=(SELECT s.size_bytes,"
            " s.max_timestamp FROM segments s WHERE s.topic_id=partitions.topic_id AND s.partition=partitions.partition"
            " ORDER BY s.base_offset DESC LIMIT 1) WHERE EXISTS (SELECT 1 FROM segments s"
            " WHERE s.topic_id=partitions.topic_id AND s.partition=partitions.partition)")
        await conn.execute("DROP VIEW IF EXISTS segment_state")
        await conn.execute(view_ddl)

    await _migration_step(conn, path, 3, "moving the active segments' state into partitions", move_state)
