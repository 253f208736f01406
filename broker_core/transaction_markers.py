"""Writing a transaction's COMMIT or ABORT markers into its partitions (Kafka's WriteTxnMarkers).

Each partition of a completed transaction gets one control batch from the coordinator: a
transactional, control batch of the producer's id and epoch holding one record, the
marker, which takes one offset as in Kafka. Consumers never see it as a record (the offset
is a gap), and the partition's transaction index learns the outcome: the last stable
offset moves past the transaction, and an aborted one enters the aborted-transaction index
that read_committed Fetches use.
"""

from __future__ import annotations

from typing import Any

from .log import PartitionLogs
from .record_batch import ControlType, EndTransactionMarker, build_control_batch
from .transaction_index import note_marker
from .transactions import CompletedTransaction

#: The coordinator epoch a marker carries (kplay's single coordinator never moves).
COORDINATOR_EPOCH = 0


class TransactionMarkerWriter:
    """``TransactionMarkers`` over the partition logs: one marker batch per partition."""

    def __init__(self, logs: PartitionLogs) -> None:
        self._logs = logs

    async def write_markers(self, conn: Any, transaction: CompletedTransaction, now: int) -> None:
        """Append the transaction's marker to each of its partitions, in the caller's write transaction."""
        marker = EndTransactionMarker(ControlType.COMMIT if transaction.commit else ControlType.ABORT,
                                      COORDINATOR_EPOCH)
        for tp in transaction.partitions:
            batch = build_control_batch(marker, producer_id=transaction.producer_id,
                                        producer_epoch=transaction.producer_epoch, timestamp=now)
            result = await self._logs.append_control_in(conn, tp.topic, tp.partition, bytearray(batch), now)
            ((topic_id,),) = await conn.execute_fetchall("SELECT id FROM topics WHERE name=?", (tp.topic,))
            await note_marker(conn, topic_id, tp.partition, transaction.producer_id, result.base_offset,
                              transaction.commit, result.high_watermark)
