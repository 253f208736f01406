"""Idempotent producers' state per partition, kept in the data file (Kafka's ``ProducerStateManager``).

A producer with ``enable.idempotence`` numbers its batches per partition (producer id,
epoch, sequence). When a response is lost (the broker was killed after the commit and
before the answer) the producer sends the batch again; the partition recognises it among
that producer's last ``BATCHES_KEPT`` batches and answers with the offsets it already has,
instead of writing the records twice. A batch that skips sequence numbers is
OUT_OF_ORDER_SEQUENCE_NUMBER; one from an older epoch INVALID_PRODUCER_EPOCH.

The state is written in the same transaction as the batch it describes, so it survives a
SIGKILL exactly as the records do. Kafka rebuilds the same state from the producer fields
of its record batches (plus snapshots); once the log is stored as batches (issue 17) this
table is that snapshot, and the rules below stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidProducerEpoch, OutOfOrderSequenceNumber

#: Kafka keeps the metadata of this many recent batches per producer and partition
#: (``ProducerStateEntry.NUM_BATCHES_TO_RETAIN``).
BATCHES_KEPT = 5
#: Kafka's ``producer.id.expiration.ms`` default: a producer silent this long is forgotten.
PRODUCER_ID_EXPIRATION_MS = 86_400_000
#: Sequence numbers wrap after Integer.MAX_VALUE.
_MAX_SEQUENCE = 2**31 - 1
#: The meta key holding the next producer id this data file hands out.
NEXT_PRODUCER_ID_KEY = "next_producer_id"

#: One row per recent batch of an idempotent producer on a partition.
PRODUCER_STATE_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS producer_batches(
        topic_id INTEGER NOT NULL,
        partition INTEGER NOT NULL,
        producer_id INTEGER NOT NULL,
        producer_epoch INTEGER NOT NULL,
        base_sequence INTEGER NOT NULL,
        last_sequence INTEGER NOT NULL,
        base_offset INTEGER NOT NULL,
        last_offset INTEGER NOT NULL,
        appended_at INTEGER NOT NULL,
        PRIMARY KEY(topic_id, partition, producer_id, base_offset)
    ) WITHOUT ROWID""",
)


@dataclass(frozen=True, slots=True)
class ProducerMark:
    """The idempotent producer's fields of one batch (Kafka's batch header)."""

    producer_id: int
    producer_epoch: int
    base_sequence: int
    last_sequence: int

    @property
    def idempotent(self) -> bool:
        """Whether the batch came from an idempotent producer (others are never checked)."""
        return self.producer_id >= 0 and self.base_sequence >= 0


@dataclass(frozen=True, slots=True)
class DuplicateBatch:
    """A batch the partition already has: where it was written."""

    base_offset: int
    last_offset: int


async def check_batch(conn: Any, topic_id: int, partition: int, mark: ProducerMark,
                      where: str, now: int) -> DuplicateBatch | None:
    """Judge an idempotent batch against the partition's state, inside the append's transaction.

    Returns the original offsets of a duplicate (a retry), None for a batch to append;
    raises InvalidProducerEpoch or OutOfOrderSequenceNumber as Kafka's ProducerAppendInfo does.
    """
    kept = await conn.execute_fetchall(
        "SELECT producer_epoch, base_sequence, last_sequence, base_offset, last_offset FROM producer_batches"
        " WHERE topic_id=? AND partition=? AND producer_id=? ORDER BY base_offset DESC LIMIT ?",
        (topic_id, partition, mark.producer_id, BATCHES_KEPT))
    if not kept:
        # An unknown producer (or one whose state expired) may start at any sequence. A new
        # producer on this partition is also the moment to forget the ones long gone.
        await conn.execute("DELETE FROM producer_batches WHERE topic_id=? AND partition=? AND appended_at<?",
                           (topic_id, partition, now - PRODUCER_ID_EXPIRATION_MS))
        return None
    epoch = kept[0][0]
    if mark.producer_epoch < epoch:
        raise InvalidProducerEpoch(
            f"Epoch of producer {mark.producer_id} in {where} is {mark.producer_epoch}, which is smaller than "
            f"the last seen epoch {epoch}")
    if mark.producer_epoch == epoch:
        for _, base_sequence, last_sequence, base_offset, last_offset in kept:
            if base_sequence == mark.base_sequence and last_sequence == mark.last_sequence:
                return DuplicateBatch(base_offset, last_offset)
        last = kept[0][2]
        expected = 0 if last == _MAX_SEQUENCE else last + 1
        if mark.base_sequence != expected:
            raise OutOfOrderSequenceNumber(
                f"Out of order sequence number for producer {mark.producer_id} in partition {where}: "
                f"{mark.base_sequence} (incoming seq. number), {last} (current end sequence number)")
    elif mark.base_sequence != 0:
        raise OutOfOrderSequenceNumber(
            f"Invalid sequence number for new epoch of producer {mark.producer_id} in partition {where}: "
            f"{mark.producer_epoch} (request epoch), {mark.base_sequence} (seq. number), {epoch} "
            "(current producer epoch)")
    return None


async def record_batch(conn: Any, topic_id: int, partition: int, mark: ProducerMark,
                       base_offset: int, last_offset: int, now: int) -> None:
    """Remember an appended batch, in its append's transaction; keep only the last ``BATCHES_KEPT``."""
    await conn.execute(
        "INSERT OR REPLACE INTO producer_batches(topic_id, partition, producer_id, producer_epoch, base_sequence,"
        " last_sequence, base_offset, last_offset, appended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (topic_id, partition, mark.producer_id, mark.producer_epoch, mark.base_sequence, mark.last_sequence,
         base_offset, last_offset, now))
    await conn.execute(
        "DELETE FROM producer_batches WHERE topic_id=? AND partition=? AND producer_id=? AND base_offset <"
        " (SELECT min(base_offset) FROM (SELECT base_offset FROM producer_batches WHERE topic_id=? AND partition=?"
        " AND producer_id=? ORDER BY base_offset DESC LIMIT ?))",
        (topic_id, partition, mark.producer_id, topic_id, partition, mark.producer_id, BATCHES_KEPT))


async def truncate_producer_state(conn: Any, topic_id: int, partition: int, end_offset: int) -> None:
    """Forget batches at or above ``end_offset``: the log lost them, so a retry must write again."""
    await conn.execute("DELETE FROM producer_batches WHERE topic_id=? AND partition=? AND last_offset>=?",
                       (topic_id, partition, end_offset))


async def allocate_producer_id(conn: Any, first: int) -> int:
    """A producer id never handed out before by this data file (Kafka's ProducerIdManager).

    ``first`` is where a data file that never handed one out starts. Runs in a write
    transaction.
    """
    rows = await conn.execute_fetchall("SELECT value FROM meta WHERE key=?", (NEXT_PRODUCER_ID_KEY,))
    producer_id = int(rows[0][0]) if rows and rows[0][0].isdigit() else first
    await conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                       (NEXT_PRODUCER_ID_KEY, str(producer_id + 1)))
    return producer_id
