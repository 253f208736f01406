"""``__consumer_offsets``: the internal, compacted topic where the group coordinator logs its state.

Kafka's coordinator keeps every committed offset and every group's metadata as a record in
this topic, on the partition ``abs(groupId.hashCode()) % 50``, and creates the topic on first
use. kplay does the same: each commit, each completed rebalance and each deletion appends its
records here in the same transaction that changes the group tables (which stay the fast index
the coordinator reads), so a learner can read the topic with ``kplay console-consumer --topic
__consumer_offsets --formatter org.apache.kafka.tools.consumer.OffsetsMessageFormatter``.

Deliberate differences: the topic's replication factor is ``min(3, live brokers)`` (Kafka
refuses to create it below ``offsets.topic.replication.factor``), and when its partition has no
leader the commit still succeeds without its record (Kafka's coordinator would be unavailable).
"""

from __future__ import annotations

from typing import Sequence

import aiosqlite

from .clock import Clock
from .coordinator_records import (OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIG, OFFSETS_TOPIC_PARTITIONS,
                                  OFFSETS_TOPIC_REPLICATION_FACTOR, offsets_partition)
from .errors import KafkaError
from .log import PartitionLogs
from .records import ProducerRecord
from .storage import Storage
from .topics import insert_topic


async def offsets_topic_partitions(conn: aiosqlite.Connection, now: int) -> int:
    """The topic's partition count, creating it first if it does not exist yet (0: no broker is up)."""
    rows = await conn.execute_fetchall("SELECT partitions FROM topics WHERE name=?", (OFFSETS_TOPIC,))
    if rows:
        return int(rows[0][0])
    live = [r[0] for r in await conn.execute_fetchall("SELECT id FROM brokers WHERE alive=1 ORDER BY id")]
    if not live:
        return 0
    replication = min(OFFSETS_TOPIC_REPLICATION_FACTOR, len(live))
    await insert_topic(conn, OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, replication, OFFSETS_TOPIC_CONFIG, live, now)
    return OFFSETS_TOPIC_PARTITIONS


class OffsetsTopicWriter:
    """Appends a group's coordinator records to its ``__consumer_offsets`` partition."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._logs = PartitionLogs(storage, clock)

    async def append(self, conn: aiosqlite.Connection, group_id: str,
                     records: Sequence[tuple[bytes, bytes | None]], now: int) -> None:
        """Append ``(key, value)`` records (value None: a tombstone) in the caller's transaction."""
        if not records:
            return
        partitions = await offsets_topic_partitions(conn, now)
        if not partitions:
            return
        batch = [ProducerRecord(key, value, (), now) for key, value in records]
        try:
            await self._logs.append_in(conn, OFFSETS_TOPIC, offsets_partition(group_id, partitions), batch, now)
        except KafkaError:
            # The partition is offline: the group tables still change (see the module's note).
            return
