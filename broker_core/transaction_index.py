"""Where transactions stand in each partition: the last stable offset and the aborted transactions.

Kafka's broker keeps, per partition, the first offset of every producer's open transaction
(``ProducerStateManager``) and an index of the aborted ones (the ``.txnindex`` file:
producer id, first offset, last offset — the offset of its ABORT marker). From them come

- the **last stable offset** (LSO): the first offset of the earliest transaction not yet
  decided (its marker not yet below the high watermark), else the high watermark. A
  ``read_committed`` consumer reads only below it;
- the **aborted transactions** a Fetch returns with its records: a ``read_committed``
  consumer drops those producers' records from each first offset until their ABORT marker.

Both are kept here in two tables, written in the same SQLite transaction as the batches
and markers they describe, so they survive a SIGKILL exactly as the log does.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import InvalidProducerEpoch, InvalidProducerIdMapping, InvalidTxnState

#: The index's tables (``IF NOT EXISTS``: added to older data files when first needed).
TRANSACTION_INDEX_TABLES: tuple[str, ...] = (
    # A producer's transaction on a partition, from its first batch until its marker is below
    # the high watermark (marker_offset -1: no marker yet).
    """CREATE TABLE IF NOT EXISTS partition_transactions(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        producer_id INTEGER NOT NULL,
        first_offset INTEGER NOT NULL,
        marker_offset INTEGER NOT NULL DEFAULT -1,
        PRIMARY KEY(topic_id, partition, producer_id, first_offset)
    ) WITHOUT ROWID""",
    # Kafka's .txnindex: one row per aborted transaction per partition.
    # The key's columns come first, in the key's order: SQLite 3.40's integrity check reports
    # false "NULL value" errors for a WITHOUT ROWID table whose key columns are in another order.
    """CREATE TABLE IF NOT EXISTS aborted_transactions(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        last_offset INTEGER NOT NULL,
        producer_id INTEGER NOT NULL,
        first_offset INTEGER NOT NULL,
        PRIMARY KEY(topic_id, partition, last_offset, producer_id)
    ) WITHOUT ROWID""",
)


@dataclass(frozen=True, slots=True)
class AbortedTransaction:
    """An aborted transaction in a partition, as a Fetch response lists it."""

    producer_id: int
    first_offset: int
    #: The offset of its ABORT marker.
    last_offset: int


async def ensure_tables(conn: Any) -> None:
    """Create the index's tables if this data file has none yet (inside a write transaction)."""
    for ddl in TRANSACTION_INDEX_TABLES:
        await conn.execute(ddl)


async def verify_transactional_batch(conn: Any, producer_id: int, producer_epoch: int, topic: str,
                                    partition: int) -> None:
    """Refuse a transactional batch that no ongoing transaction of its producer expects, as
    Kafka (KIP-890) verifies before appending: a producer id no transactional id has is
    InvalidProducerIdMapping, an older epoch InvalidProducerEpoch (a fenced zombie), a
    partition not added to the ongoing transaction InvalidTxnState. Reads the transaction
    coordinator's tables, in the append's own transaction (so EndTxn cannot slip between).
    """
    try:
        rows = await conn.execute_fetchall(
            "SELECT t.transactional_id, t.producer_epoch, t.state, p.partition IS NOT NULL FROM transactions t"
            " LEFT JOIN transaction_partitions p ON p.transactional_id=t.transactional_id AND p.topic=?"
            " AND p.partition=? WHERE t.producer_id=?", (topic, partition, producer_id))
    except sqlite3.OperationalError:  # no transactional id was ever initialised in this file
        rows = []
    if not rows:
        raise InvalidProducerIdMapping(f"Producer {producer_id} has no transactional id")
    transactional_id, epoch, state, added = rows[0]
    if producer_epoch != epoch:
        raise InvalidProducerEpoch(f"Producer {producer_id}'s epoch {producer_epoch} is not the current "
                                   f"epoch {epoch} of transactional id '{transactional_id}': it was fenced")
    if state != "Ongoing" or not added:
        raise InvalidTxnState(f"{topic}-{partition} is not part of an ongoing transaction of "
                              f"'{transactional_id}' (AddPartitionsToTxn comes first)")


async def note_transactional_batch(conn: Any, topic_id: int, partition: int, producer_id: int,
                                   base_offset: int) -> None:
    """A transactional batch was appended: it opens its producer's transaction here unless one is open."""
    await conn.execute(
        "INSERT INTO partition_transactions(topic_id, partition, producer_id, first_offset)"
        " SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM partition_transactions WHERE topic_id=? AND"
        " partition=? AND producer_id=? AND marker_offset<0)",
        (topic_id, partition, producer_id, base_offset, topic_id, partition, producer_id))


async def note_marker(conn: Any, topic_id: int, partition: int, producer_id: int, marker_offset: int,
                      commit: bool, high_watermark: int) -> AbortedTransaction | None:
    """A COMMIT or ABORT marker was appended at ``marker_offset``: the producer's open transaction
    here is decided; an aborted one enters the index. Returns the aborted entry, if any.

    Transactions whose markers are now below ``high_watermark`` are forgotten: they no longer
    hold the last stable offset back.
    """
    rows = await conn.execute_fetchall(
        "SELECT first_offset FROM partition_transactions WHERE topic_id=? AND partition=? AND producer_id=?"
        " AND marker_offset<0", (topic_id, partition, producer_id))
    aborted = None
    if rows:
        first_offset = rows[0][0]
        await conn.execute(
            "UPDATE partition_transactions SET marker_offset=? WHERE topic_id=? AND partition=? AND producer_id=?"
            " AND first_offset=?", (marker_offset, topic_id, partition, producer_id, first_offset))
        if not commit:
            aborted = AbortedTransaction(producer_id, first_offset, marker_offset)
            await conn.execute(
                "INSERT OR REPLACE INTO aborted_transactions(topic_id, partition, producer_id, first_offset,"
                " last_offset) VALUES (?, ?, ?, ?, ?)", (topic_id, partition, producer_id, first_offset, marker_offset))
    await forget_settled(conn, topic_id, partition, high_watermark)
    return aborted


async def forget_settled(conn: Any, topic_id: int, partition: int, high_watermark: int) -> None:
    """Drop decided transactions whose marker the high watermark has passed."""
    await conn.execute(
        "DELETE FROM partition_transactions WHERE topic_id=? AND partition=? AND marker_offset>=0"
        " AND marker_offset<?", (topic_id, partition, high_watermark))


async def last_stable_offset(conn: Any, topic_id: int, partition: int, high_watermark: int) -> int:
    """The partition's LSO: the first offset of its earliest undecided transaction, else the high watermark."""
    rows = await conn.execute_fetchall(
        "SELECT first_offset, marker_offset FROM partition_transactions WHERE topic_id=? AND partition=?",
        (topic_id, partition))
    return stable_offset(rows, high_watermark)


async def undecided_transactions(conn: Any, topic_ids: Iterable[int]) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Every transaction still tracked in these topics' partitions, as (first offset, marker
    offset) per (topic id, partition): one query for a whole Fetch (usually none are)."""
    ids = sorted(set(topic_ids))
    found: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound on parameters per statement
        chunk = ids[start:start + 500]
        for topic_id, partition, first, marker in await conn.execute_fetchall(
                "SELECT topic_id, partition, first_offset, marker_offset FROM partition_transactions"
                f" WHERE topic_id IN ({','.join('?' * len(chunk))})", chunk):
            found.setdefault((topic_id, partition), []).append((first, marker))
    return found


def stable_offset(transactions: Iterable[tuple[int, int]], high_watermark: int) -> int:
    """The LSO from a partition's (first offset, marker offset) rows: the earliest first offset of
    a transaction whose marker is not yet below the high watermark, else the high watermark."""
    firsts = [first for first, marker in transactions if marker < 0 or marker >= high_watermark]
    return min(min(firsts), high_watermark) if firsts else high_watermark


async def aborted_between(conn: Any, topic_id: int, partition: int, fetch_offset: int,
                          upper_bound: int) -> list[AbortedTransaction]:
    """The aborted transactions a Fetch from ``fetch_offset`` returning data below ``upper_bound``
    must list (Kafka's ``collectAbortedTxns``: last offset at or after the fetch offset, first
    offset before the bound), in first-offset order."""
    rows = await conn.execute_fetchall(
        "SELECT producer_id, first_offset, last_offset FROM aborted_transactions WHERE topic_id=? AND partition=?"
        " AND last_offset>=? AND first_offset<? ORDER BY first_offset, producer_id",
        (topic_id, partition, fetch_offset, upper_bound))
    return [AbortedTransaction(*row) for row in rows]


async def truncate(conn: Any, topic_id: int, partition: int, end_offset: int) -> None:
    """The log lost everything from ``end_offset`` on: so does the index (Kafka's txnindex truncateTo)."""
    await conn.execute("DELETE FROM partition_transactions WHERE topic_id=? AND partition=? AND first_offset>=?",
                       (topic_id, partition, end_offset))
    await conn.execute("UPDATE partition_transactions SET marker_offset=-1 WHERE topic_id=? AND partition=?"
                       " AND marker_offset>=?", (topic_id, partition, end_offset))
    await conn.execute("DELETE FROM aborted_transactions WHERE topic_id=? AND partition=? AND last_offset>=?",
                       (topic_id, partition, end_offset))


async def forget_below(conn: Any, topic_id: int, partition: int, log_start_offset: int) -> None:
    """Retention removed everything below ``log_start_offset``: so do the aborted entries that ended there."""
    await conn.execute("DELETE FROM aborted_transactions WHERE topic_id=? AND partition=? AND last_offset<?",
                       (topic_id, partition, log_start_offset))


async def forget_topic(conn: Any, topic_id: int) -> None:
    """A deleted topic's entries go with it."""
    for table in ("partition_transactions", "aborted_transactions"):
        await conn.execute(f"DELETE FROM {table} WHERE topic_id=?", (topic_id,))


def visible_to_read_committed(batches: Iterable[tuple[int, int, bool, bool]],
                              aborted: Iterable[AbortedTransaction]) -> list[bool]:
    """Which batches a ``read_committed`` consumer keeps, as Kafka's consumers decide.

    ``batches`` are (base offset, producer id, transactional, control) in log order;
    ``aborted`` the Fetch's aborted transactions. A transactional batch of a producer whose
    aborted transaction started at or before it is dropped until that producer's ABORT
    marker; control batches (the markers) are never records.
    """
    pending = sorted(aborted, key=lambda a: a.first_offset)
    aborting: set[int] = set()
    kept = []
    index = 0
    for base_offset, producer_id, transactional, control in batches:
        while index < len(pending) and pending[index].first_offset <= base_offset:
            aborting.add(pending[index].producer_id)
            index += 1
        if control:
            # The marker ends this producer's aborted transaction (an ABORT marker, or a
            # COMMIT one for a transaction that was not aborted).
            aborting.discard(producer_id)
            kept.append(False)
            continue
        kept.append(not (transactional and producer_id in aborting))
    return kept
