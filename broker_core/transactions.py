"""Kafka's transaction coordinator over the data file (``TransactionCoordinator``).

A transactional producer names itself with a ``transactional.id``. InitProducerId maps
that id to a producer id and an epoch; each new InitProducerId for the same id bumps the
epoch, and from then on the coordinator answers the older producer PRODUCER_FENCED: a
zombie (a producer that was thought dead and came back) cannot finish a transaction.

A transaction moves through Kafka's states::

    Empty -> Ongoing -> PrepareCommit -> CompleteCommit -> Ongoing ...
                     -> PrepareAbort  -> CompleteAbort  -> Ongoing ...

AddPartitionsToTxn and AddOffsetsToTxn make it Ongoing and record what it touches;
TxnOffsetCommit keeps a consumer group's offsets aside until the transaction commits
(only then does the group see them); EndTxn writes the COMMIT or ABORT markers (through
``TransactionMarkers``) and completes it. An Ongoing transaction older than its
``transaction.timeout.ms`` is aborted by the coordinator, with the epoch bumped so the
producer that hung is fenced. A transactional id unused for ``transactional.id.expiration.ms``
is forgotten (Dead).

The state lives in tables of the data file (Kafka keeps it in ``__transaction_state``);
every change is one ``BEGIN IMMEDIATE`` transaction that reads the state it changes, so
several processes (``kplay serve``, the TUI, a script) may coordinate the same ids, and the
background abort of timed-out transactions may run in all of them at once: the second to
look finds the transaction already aborted, and no lease is needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence

from .background_task import BackgroundTask
from .clock import Clock
from .errors import (ConcurrentTransactions, IllegalGeneration, InvalidProducerIdMapping,
                     InvalidRequest, InvalidTransactionTimeout, InvalidTxnState,
                     ProducerFenced, StorageClosed, TransactionalIdNotFound, UnknownMemberId,
                     UnknownTopicOrPartition)
from .groups import GroupCoordinator
from .producer_state import allocate_producer_id
from .records import TopicPartition
from .storage import Storage, record_change
from .transaction_index import verify_transactional_batch

log = logging.getLogger("kplay.transactions")

EMPTY = "Empty"
ONGOING = "Ongoing"
PREPARE_COMMIT = "PrepareCommit"
PREPARE_ABORT = "PrepareAbort"
COMPLETE_COMMIT = "CompleteCommit"
COMPLETE_ABORT = "CompleteAbort"
DEAD = "Dead"
#: Every state, in Kafka's names (``TransactionState``), as ListTransactions filters them.
STATES = (EMPTY, ONGOING, PREPARE_COMMIT, PREPARE_ABORT, COMPLETE_COMMIT, COMPLETE_ABORT, DEAD)

#: Kafka's ``transaction.max.timeout.ms``: the longest ``transaction.timeout.ms`` a producer may ask for.
TRANSACTION_MAX_TIMEOUT_MS = 900_000
#: Kafka's ``transactional.id.expiration.ms``: an id whose transaction is idle this long is forgotten.
TRANSACTIONAL_ID_EXPIRATION_MS = 604_800_000
#: Kafka's ``transaction.abort.timed.out.transaction.cleanup.interval.ms`` is 10 s; the playground
#: looks every second, so a hung transaction is seen aborting close to its timeout.
#: ``KPLAY_TRANSACTION_CHECK_INTERVAL_MS`` sets another value.
ABORT_TIMED_OUT_INTERVAL_MS = 1_000
CHECK_INTERVAL_ENV = "KPLAY_TRANSACTION_CHECK_INTERVAL_MS"
#: Kafka's ``RecordBatch.NO_PRODUCER_ID`` / ``NO_PRODUCER_EPOCH``.
NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
#: An epoch is a signed 16-bit number; at this one Kafka moves the id to a new producer id.
_EXHAUSTED_EPOCH = 32_767 - 1
#: Where this data file starts handing out producer ids (shared with idempotent producers).
_FIRST_PRODUCER_ID = 0

#: The coordinator's tables (``IF NOT EXISTS``: added to older data files when first used).
TRANSACTION_TABLES: tuple[str, ...] = (
    # One row per transactional id: Kafka's TransactionMetadata.
    """CREATE TABLE IF NOT EXISTS transactions(
        transactional_id TEXT PRIMARY KEY,
        producer_id INTEGER NOT NULL,
        producer_epoch INTEGER NOT NULL,
        last_producer_id INTEGER NOT NULL DEFAULT -1,
        state TEXT NOT NULL,
        timeout_ms INTEGER NOT NULL,
        started_at INTEGER NOT NULL DEFAULT -1,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS transaction_partitions(
        transactional_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        PRIMARY KEY(transactional_id, topic, partition)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS transaction_groups(
        transactional_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        PRIMARY KEY(transactional_id, group_id)
    ) WITHOUT ROWID""",
    # TxnOffsetCommit's offsets, held back until the transaction commits.
    """CREATE TABLE IF NOT EXISTS transaction_offsets(
        transactional_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        committed_offset INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '',
        PRIMARY KEY(transactional_id, group_id, topic, partition)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS transactions_by_producer ON transactions(producer_id)",
)


@dataclass(frozen=True)
class ProducerIdAndEpoch:
    """What InitProducerId hands a producer."""

    producer_id: int
    producer_epoch: int


@dataclass(frozen=True)
class TransactionListing:
    """One row of ListTransactions (``kafka-transactions --list``)."""

    transactional_id: str
    producer_id: int
    state: str


@dataclass(frozen=True)
class TransactionDescription:
    """A transaction as DescribeTransactions reports it (``kafka-transactions describe``).

    ``start_time_ms`` is -1 unless the transaction is Ongoing (or being completed).
    """

    transactional_id: str
    producer_id: int
    producer_epoch: int
    state: str
    timeout_ms: int
    start_time_ms: int
    last_update_ms: int
    partitions: tuple[TopicPartition, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompletedTransaction:
    """What EndTxn (or a timeout) decided, for the markers: which partitions, committed or aborted."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    commit: bool
    partitions: tuple[TopicPartition, ...] = field(default=())


class TransactionMarkers(Protocol):
    """Writes a completed transaction's COMMIT or ABORT markers to its partitions.

    Called inside the coordinator's write transaction, so the markers and the state that
    says they are written commit together (Kafka writes PrepareCommit, the markers, then
    CompleteCommit; one SQLite transaction makes the middle step invisible and crash-safe).
    """

    async def write_markers(self, conn: Any, transaction: CompletedTransaction, now: int) -> None:
        """Append the transaction's control records to each of its partitions."""


@dataclass
class _Transaction:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    last_producer_id: int
    state: str
    timeout_ms: int
    started_at: int
    updated_at: int


class TransactionCoordinator:
    """Kafka's transaction coordinator: transactional ids, their epochs and their transactions.

    ``groups`` receives a committed transaction's offsets; ``markers`` writes the control
    records (set by whoever owns the log format, see ``set_markers``). ``max_timeout_ms`` is
    ``transaction.max.timeout.ms``.
    """

    def __init__(self, storage: Storage, clock: Clock, groups: GroupCoordinator, *,
                 max_timeout_ms: int = TRANSACTION_MAX_TIMEOUT_MS,
                 id_expiration_ms: int = TRANSACTIONAL_ID_EXPIRATION_MS) -> None:
        self._storage = storage
        self._clock = clock
        self._groups = groups
        self._markers: TransactionMarkers | None = None
        self.max_timeout_ms = max_timeout_ms
        self.id_expiration_ms = id_expiration_ms
        self._tables_ready = False
        self._background = BackgroundTask("kplay-transaction-timeouts")

    def set_markers(self, markers: TransactionMarkers) -> None:
        """Use ``markers`` to write COMMIT and ABORT control records."""
        self._markers = markers

    # -- the tables ----------------------------------------------------------------------
    async def _has_tables(self) -> bool:
        """Whether this data file has the coordinator's tables (made by its first transactional use)."""
        if not self._tables_ready:
            found = await self._storage.fetchone(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN"
                " ('transactions','transaction_partitions','transaction_groups','transaction_offsets')")
            self._tables_ready = bool(found and found[0] == 4)
        return self._tables_ready

    async def _ensure_tables(self) -> None:
        if not await self._has_tables():
            async with self._storage.write() as conn:
                for ddl in TRANSACTION_TABLES:
                    await conn.execute(ddl)
            self._tables_ready = True

    @staticmethod
    async def _load(conn: Any, transactional_id: str) -> _Transaction | None:
        rows = await conn.execute_fetchall(
            "SELECT transactional_id, producer_id, producer_epoch, last_producer_id, state, timeout_ms, started_at,"
            " updated_at FROM transactions WHERE transactional_id=?", (transactional_id,))
        return _Transaction(*rows[0]) if rows else None

    @staticmethod
    async def _save(conn: Any, txn: _Transaction, now: int, reason: str = "") -> None:
        txn.updated_at = now
        await conn.execute(
            "INSERT INTO transactions(transactional_id, producer_id, producer_epoch, last_producer_id, state,"
            " timeout_ms, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(transactional_id) DO UPDATE SET producer_id=excluded.producer_id,"
            " producer_epoch=excluded.producer_epoch, last_producer_id=excluded.last_producer_id,"
            " state=excluded.state, timeout_ms=excluded.timeout_ms, started_at=excluded.started_at,"
            " updated_at=excluded.updated_at",
            (txn.transactional_id, txn.producer_id, txn.producer_epoch, txn.last_producer_id, txn.state,
             txn.timeout_ms, txn.started_at, now))
        await record_change(conn, now, "transaction_state", {
            "transactional_id": txn.transactional_id, "state": txn.state, "producer_id": txn.producer_id,
            "producer_epoch": txn.producer_epoch, "reason": reason})

    # -- InitProducerId ------------------------------------------------------------------
    async def init_producer_id(self, transactional_id: str, timeout_ms: int,
                               expected: ProducerIdAndEpoch | None = None) -> ProducerIdAndEpoch:
        """InitProducerId with a ``transactional.id``: its producer id and a new epoch.

        The first call creates the id (epoch 0); each later one bumps the epoch, which fences
        every producer holding an older one. An Ongoing transaction is aborted first (with
        its epoch bumped, so its producer is fenced) and ConcurrentTransactions raised: the
        client retries, as with Kafka, and gets the epoch after that. ``expected`` (v3+,
        KIP-360) is the id and epoch the producer had; another producer's is ProducerFenced.
        Raises InvalidTransactionTimeout for a timeout outside 1..``max_timeout_ms``.
        """
        if not transactional_id:
            raise InvalidRequest("The transactional id must not be empty.")
        if not 0 < timeout_ms <= self.max_timeout_ms:
            raise InvalidTransactionTimeout(
                f"The transaction timeout is larger than the maximum value allowed by the broker "
                f"(as configured by transaction.max.timeout.ms={self.max_timeout_ms}): {timeout_ms} ms")
        await self._ensure_tables()
        now = self._clock.now_ms()
        fenced_ongoing = False
        async with self._storage.write() as conn:
            txn = await self._load(conn, transactional_id)
            if txn is None:
                producer_id = await allocate_producer_id(conn, _FIRST_PRODUCER_ID)
                txn = _Transaction(transactional_id, producer_id, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, EMPTY,
                                   timeout_ms, -1, now)
            if expected is not None and not (txn.producer_epoch == NO_PRODUCER_EPOCH
                                             or expected.producer_id == txn.producer_id
                                             or (expected.producer_id == txn.last_producer_id
                                                 and expected.producer_epoch >= _EXHAUSTED_EPOCH)):
                raise ProducerFenced(
                    f"Producer {expected.producer_id} with epoch {expected.producer_epoch} has been fenced by "
                    f"producer {txn.producer_id} with transactional id '{transactional_id}'")
            if txn.state in (PREPARE_COMMIT, PREPARE_ABORT):
                raise ConcurrentTransactions(f"The transaction of '{transactional_id}' is being completed")
            if txn.state == ONGOING:
                await self._complete(conn, txn, commit=False, now=now, fence=True,
                                     reason="aborted: a new producer initialised the transactional id")
                fenced_ongoing = True
            else:
                if txn.producer_epoch >= _EXHAUSTED_EPOCH:
                    txn.last_producer_id = txn.producer_id
                    txn.producer_id = await allocate_producer_id(conn, _FIRST_PRODUCER_ID)
                    txn.producer_epoch = 0
                else:
                    txn.producer_epoch += 1
                txn.state, txn.timeout_ms, txn.started_at = EMPTY, timeout_ms, -1
                await self._save(conn, txn, now, "producer initialised")
        if fenced_ongoing:
            raise ConcurrentTransactions(
                f"The ongoing transaction of '{transactional_id}' was aborted to fence its producer: retry")
        return ProducerIdAndEpoch(txn.producer_id, txn.producer_epoch)

    # -- adding to a transaction ----------------------------------------------------------
    async def _load_for_producer(self, conn: Any, transactional_id: str, producer_id: int,
                                 producer_epoch: int) -> _Transaction:
        """The transaction of ``transactional_id``, if this producer id and epoch hold it.

        Raises InvalidProducerIdMapping (another producer id, or no such transaction) or
        ProducerFenced (an older epoch), as Kafka's coordinator does for every request
        after InitProducerId.
        """
        txn = await self._load(conn, transactional_id)
        if txn is None or txn.producer_id != producer_id:
            raise InvalidProducerIdMapping(
                f"The producer id {producer_id} is not the one of transactional id '{transactional_id}'")
        if txn.producer_epoch != producer_epoch:
            raise ProducerFenced(
                f"Producer {producer_id} with epoch {producer_epoch} has been fenced: transactional id "
                f"'{transactional_id}' is at epoch {txn.producer_epoch}")
        return txn

    async def _begin_update(self, conn: Any, transactional_id: str, producer_id: int,
                            producer_epoch: int) -> _Transaction:
        """The transaction a producer may add to, checked as Kafka checks it."""
        txn = await self._load_for_producer(conn, transactional_id, producer_id, producer_epoch)
        if txn.state in (PREPARE_COMMIT, PREPARE_ABORT):
            raise ConcurrentTransactions(f"The transaction of '{transactional_id}' is being completed")
        return txn

    async def _start(self, conn: Any, txn: _Transaction, now: int, reason: str) -> None:
        if txn.state != ONGOING:
            txn.state, txn.started_at = ONGOING, now
        await self._save(conn, txn, now, reason)

    async def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                             partitions: Iterable[TopicPartition]) -> None:
        """AddPartitionsToTxn: the producer is about to write to ``partitions`` in its transaction.

        Raises UnknownTopicOrPartition (naming the partitions) if any does not exist, and then
        adds none of them; InvalidProducerIdMapping, ProducerFenced or ConcurrentTransactions
        as Kafka does.
        """
        wanted = sorted({TopicPartition(*tp) for tp in partitions})
        await self._ensure_tables()
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            txn = await self._begin_update(conn, transactional_id, producer_id, producer_epoch)
            missing = await _missing_partitions(conn, wanted)
            if missing:
                raise UnknownPartitions(missing)
            await conn.executemany(
                "INSERT OR IGNORE INTO transaction_partitions(transactional_id, topic, partition) VALUES (?, ?, ?)",
                [(transactional_id, tp.topic, tp.partition) for tp in wanted])
            await self._start(conn, txn, now, "partitions added")

    async def add_offsets(self, transactional_id: str, producer_id: int, producer_epoch: int, group_id: str) -> None:
        """AddOffsetsToTxn: the transaction will commit offsets of consumer group ``group_id``."""
        if not group_id:
            raise InvalidRequest("The group id must not be empty.")
        await self._ensure_tables()
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            txn = await self._begin_update(conn, transactional_id, producer_id, producer_epoch)
            await conn.execute("INSERT OR IGNORE INTO transaction_groups(transactional_id, group_id) VALUES (?, ?)",
                               (transactional_id, group_id))
            await self._start(conn, txn, now, f"offsets of group {group_id} added")

    async def commit_offsets(self, transactional_id: str, group_id: str, producer_id: int, producer_epoch: int,
                             offsets: Mapping[TopicPartition, tuple[int, str]], *, generation: int = -1,
                             member_id: str = "") -> None:
        """TxnOffsetCommit: offsets the group gets only when the transaction commits.

        ``offsets`` maps partitions to (next offset, metadata). A member id and generation
        (KIP-447, the consumer's group metadata) must be the group's current ones.
        Raises InvalidTxnState unless AddOffsetsToTxn added the group to the ongoing transaction.
        """
        await self._ensure_tables()
        if member_id or generation >= 0:
            group = await self._groups.describe_group(group_id)
            if member_id and member_id not in {m.member_id for m in group.members}:
                raise UnknownMemberId(f"The coordinator is not aware of member '{member_id}' of group '{group_id}'")
            if generation >= 0 and generation != group.generation:
                raise IllegalGeneration(f"Generation {generation} of group '{group_id}' is not its current "
                                        f"generation {group.generation}")
        async with self._storage.write() as conn:
            txn = await self._load_for_producer(conn, transactional_id, producer_id, producer_epoch)
            added = await conn.execute_fetchall(
                "SELECT 1 FROM transaction_groups WHERE transactional_id=? AND group_id=?", (transactional_id, group_id))
            if txn.state != ONGOING or not added:
                raise InvalidTxnState(f"Group '{group_id}' is not part of an ongoing transaction of "
                                      f"'{transactional_id}' (AddOffsetsToTxn comes first)")
            missing = await _missing_partitions(conn, list(offsets))
            if missing:
                raise UnknownPartitions(missing)
            await conn.executemany(
                "INSERT OR REPLACE INTO transaction_offsets(transactional_id, group_id, topic, partition,"
                " committed_offset, metadata) VALUES (?, ?, ?, ?, ?, ?)",
                [(transactional_id, group_id, tp.topic, tp.partition, offset, metadata or "")
                 for tp, (offset, metadata) in sorted(offsets.items())])

    # -- ending a transaction ------------------------------------------------------------
    async def end_transaction(self, transactional_id: str, producer_id: int, producer_epoch: int,
                              commit: bool) -> None:
        """EndTxn: commit or abort the ongoing transaction (markers, then the offsets on commit).

        A retry of an EndTxn that already completed the same way succeeds again; ending it
        the other way, or ending an Empty one, is InvalidTxnState, as in Kafka.
        """
        await self._ensure_tables()
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            txn = await self._load_for_producer(conn, transactional_id, producer_id, producer_epoch)
            if txn.state == ONGOING:
                await self._complete(conn, txn, commit=commit, now=now, fence=False,
                                     reason="committed" if commit else "aborted")
                return
            if (txn.state, commit) in ((COMPLETE_COMMIT, True), (COMPLETE_ABORT, False)):
                return  # a retry of the EndTxn that completed it
            if txn.state in (PREPARE_COMMIT, PREPARE_ABORT):
                raise ConcurrentTransactions(f"The transaction of '{transactional_id}' is being completed")
            raise InvalidTxnState(f"Cannot {'commit' if commit else 'abort'} the transaction of "
                                  f"'{transactional_id}': it is {txn.state}")

    async def _complete(self, conn: Any, txn: _Transaction, *, commit: bool, now: int, fence: bool,
                        reason: str) -> None:
        """Prepare, write the markers, hand over the offsets and complete, in the caller's transaction.

        ``fence``: the coordinator ends it (a new producer or the timeout), bumping the epoch
        first so that the producer that owned it is fenced.
        """
        if fence:
            txn.producer_epoch += 1
        txn.state = PREPARE_COMMIT if commit else PREPARE_ABORT
        partitions = tuple(TopicPartition(topic, partition) for topic, partition in await conn.execute_fetchall(
            "SELECT topic, partition FROM transaction_partitions WHERE transactional_id=? ORDER BY topic, partition",
            (txn.transactional_id,)))
        if self._markers is not None and partitions:
            await self._markers.write_markers(conn, CompletedTransaction(
                txn.transactional_id, txn.producer_id, txn.producer_epoch, commit, partitions), now)
        if commit:
            rows = await conn.execute_fetchall(
                "SELECT group_id, topic, partition, committed_offset, metadata FROM transaction_offsets"
                " WHERE transactional_id=? ORDER BY group_id, topic, partition", (txn.transactional_id,))
            by_group: dict[str, dict[TopicPartition, tuple[int, str]]] = {}
            for group_id, topic, partition, offset, metadata in rows:
                by_group.setdefault(group_id, {})[TopicPartition(topic, partition)] = (offset, metadata)
            for group_id, entries in by_group.items():
                await self._groups.commit_transactional_offsets(
                    conn, group_id, {tp: offset for tp, (offset, _) in entries.items()},
                    {tp: metadata for tp, (_, metadata) in entries.items()}, now)
        for table in ("transaction_partitions", "transaction_groups", "transaction_offsets"):
            await conn.execute(f"DELETE FROM {table} WHERE transactional_id=?", (txn.transactional_id,))
        txn.state = COMPLETE_COMMIT if commit else COMPLETE_ABORT
        txn.started_at = -1
        await self._save(conn, txn, now, reason)

    # -- what a partition's leader asks -----------------------------------------------
    async def check_transactional_produce(self, producer_id: int, producer_epoch: int, topic: str,
                                          partition: int) -> None:
        """Refuse a transactional batch that no ongoing transaction of its producer expects
        (``transaction_index.verify_transactional_batch``; the log checks the same on append)."""
        await self._ensure_tables()
        async with self._storage.snapshot() as conn:
            await verify_transactional_batch(conn, producer_id, producer_epoch, topic, partition)

    # -- administration --------------------------------------------------------------
    async def describe(self, transactional_id: str) -> TransactionDescription:
        """DescribeTransactions for one id; TransactionalIdNotFound if there is none."""
        if not await self._has_tables():
            raise TransactionalIdNotFound(f"No transaction has the transactional id '{transactional_id}'")
        async with self._storage.snapshot() as conn:
            txn = await self._load(conn, transactional_id)
            if txn is None:
                raise TransactionalIdNotFound(f"No transaction has the transactional id '{transactional_id}'")
            partitions = await conn.execute_fetchall(
                "SELECT topic, partition FROM transaction_partitions WHERE transactional_id=? ORDER BY topic, partition",
                (transactional_id,))
            groups = await conn.execute_fetchall(
                "SELECT group_id FROM transaction_groups WHERE transactional_id=? ORDER BY group_id",
                (transactional_id,))
        return TransactionDescription(
            txn.transactional_id, txn.producer_id, txn.producer_epoch, txn.state, txn.timeout_ms, txn.started_at,
            txn.updated_at, tuple(TopicPartition(t, p) for t, p in partitions), tuple(g for (g,) in groups))

    async def list_transactions(self, states: Sequence[str] = (), producer_ids: Sequence[int] = ()
                                ) -> list[TransactionListing]:
        """ListTransactions: every transactional id, filtered by state and producer id when given."""
        if not await self._has_tables():
            return []
        rows = await self._storage.fetchall(
            "SELECT transactional_id, producer_id, state FROM transactions ORDER BY transactional_id")
        wanted_states = {s.lower() for s in states}
        return [TransactionListing(*row) for row in rows
                if (not wanted_states or row[2].lower() in wanted_states)
                and (not producer_ids or row[1] in producer_ids)]

    # -- timers ----------------------------------------------------------------------
    async def abort_timed_out(self) -> list[str]:
        """Abort every Ongoing transaction older than its timeout, fencing its producer; their ids."""
        if not await self._has_tables():
            return []  # no transactional id ever: nothing to look at, and nothing written
        now = self._clock.now_ms()
        due = await self._storage.fetchall(
            "SELECT transactional_id FROM transactions WHERE state=? AND started_at + timeout_ms < ?", (ONGOING, now))
        aborted = []
        for (transactional_id,) in due:
            async with self._storage.write() as conn:
                txn = await self._load(conn, transactional_id)
                # Looked at again in the write transaction: another process may have ended it.
                if txn is None or txn.state != ONGOING or txn.started_at + txn.timeout_ms >= now:
                    continue
                await self._complete(conn, txn, commit=False, now=now, fence=True,
                                     reason=f"aborted: open longer than transaction.timeout.ms={txn.timeout_ms}")
            aborted.append(transactional_id)
        return aborted

    async def expire_transactional_ids(self) -> list[str]:
        """Forget ids idle longer than ``transactional.id.expiration.ms`` (they go Dead); their ids."""
        if not await self._has_tables():
            return []
        now = self._clock.now_ms()
        expired: list[str] = []
        query = ("SELECT transactional_id, producer_id, producer_epoch FROM transactions"
                 " WHERE state IN (?, ?, ?) AND updated_at + ? < ?")
        params = (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT, self.id_expiration_ms, now)
        # Looked for without the write lock first: this runs every second in every process.
        if not await self._storage.fetchall(query, params):
            return expired
        async with self._storage.write() as conn:
            rows = await conn.execute_fetchall(query, params)
            for transactional_id, producer_id, producer_epoch in rows:
                await conn.execute("DELETE FROM transactions WHERE transactional_id=?", (transactional_id,))
                await record_change(conn, now, "transaction_state", {
                    "transactional_id": transactional_id, "state": DEAD, "producer_id": producer_id,
                    "producer_epoch": producer_epoch, "reason": "expired: transactional.id.expiration.ms passed"})
                expired.append(transactional_id)
        return expired

    async def start(self, interval_s: float | None = None) -> None:
        """Check for timed-out transactions and expired ids every ``interval_s`` in the background
        (by default ``ABORT_TIMED_OUT_INTERVAL_MS``, or ``KPLAY_TRANSACTION_CHECK_INTERVAL_MS``)."""
        if interval_s is None:
            raw = os.environ.get(CHECK_INTERVAL_ENV, "").strip()
            interval_s = (int(raw) if raw.isdigit() and int(raw) > 0 else ABORT_TIMED_OUT_INTERVAL_MS) / 1000
        self._background.start(lambda: self._run(interval_s))

    async def _run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.abort_timed_out()
                await self.expire_transactional_ids()
            except StorageClosed:
                return
            except Exception:  # the check must outlive one failed pass (a busy file, say)
                log.exception("transaction timeout check failed")

    def cancel(self) -> None:
        """Cancel the background check without waiting."""
        self._background.cancel()

    async def stop(self) -> None:
        """Stop the background check."""
        await self._background.stop()


class UnknownPartitions(UnknownTopicOrPartition):
    """Some partitions of a request do not exist (the others were not attempted)."""

    def __init__(self, partitions: Sequence[TopicPartition]) -> None:
        names = ", ".join(f"{tp.topic}-{tp.partition}" for tp in partitions)
        super().__init__(f"This server does not host these topic-partitions: {names}")
        self.partitions = tuple(partitions)


async def _missing_partitions(conn: Any, partitions: Sequence[TopicPartition]) -> list[TopicPartition]:
    if not partitions:
        return []
    counts = dict(await conn.execute_fetchall(
        f"SELECT name, partitions FROM topics WHERE name IN ({','.join('?' * len({tp.topic for tp in partitions}))})",
        sorted({tp.topic for tp in partitions})))
    return [tp for tp in partitions if not 0 <= tp.partition < counts.get(tp.topic, 0)]
