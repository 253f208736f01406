"""Kafka's DeleteRecords (``kafka-delete-records``): move a partition's log start offset forward.

As ``Partition.deleteRecordsOnLeader`` and ``UnifiedLog.maybeIncrementLogStartOffset`` do:
offset -1 means the high watermark; an offset above the high watermark, or negative, is
``OFFSET_OUT_OF_RANGE``; a topic whose ``cleanup.policy`` lacks ``delete`` refuses with
``POLICY_VIOLATION``; an offset at or below the log start changes nothing. The answer is the
partition's new log start offset (the response's ``low_watermark``). Records below the new
start are gone for every reader; segments wholly below it are deleted, the one holding it is
kept (as Kafka keeps it), and the change feed announces it like retention's deletions.
"""

from __future__ import annotations

import json

import aiosqlite

from .clock import Clock
from .config import effective_config
from .errors import LeaderNotAvailable, OffsetOutOfRange, PolicyViolation, UnknownTopicOrPartition
from .storage import Storage, record_change

#: DeleteRecordsRequest.HIGH_WATERMARK: delete everything below the high watermark.
HIGH_WATERMARK = -1
#: The ``reason`` of the ``segment_deleted`` events a deletion announces.
REASON = "DeleteRecords"


async def delete_records(storage: Storage, clock: Clock, topic: str, offsets: dict[int, int]) -> dict[int, int]:
    """Delete the records of ``topic`` below ``offsets[partition]``; partition -> new log start offset.

    One transaction for every partition: either all move or, on the first error, none.
    """
    async def delete(conn: aiosqlite.Connection) -> dict[int, int]:
        rows = await conn.execute_fetchall("SELECT id, partitions, config FROM topics WHERE name=?", (topic,))
        if not rows:
            raise UnknownTopicOrPartition(f"Topic '{topic}' does not exist")
        topic_id, count, config = rows[0]
        if "delete" not in str(effective_config(json.loads(config))["cleanup.policy"]).split(","):
            raise PolicyViolation(f"Records of partition {topic}-{min(offsets, default=0)} can not be deleted "
                                  "due to the configured policy")
        starts: dict[int, int] = {}
        now = clock.now_ms()
        for partition, offset in sorted(offsets.items()):
            if not 0 <= partition < count:
                raise UnknownTopicOrPartition(f"Partition {partition} of topic '{topic}' does not exist")
            state = await conn.execute_fetchall(
                "SELECT leader, log_start_offset, high_watermark FROM partitions WHERE topic_id=? AND partition=?",
                (topic_id, partition))
            leader, start, hw = state[0]
            if leader < 0:
                raise LeaderNotAvailable(f"Partition {topic}-{partition} has no leader (offline)")
            wanted = hw if offset == HIGH_WATERMARK else offset
            if wanted < 0:
                raise OffsetOutOfRange(f"The offset {wanted} for partition {topic}-{partition} is not valid")
            if wanted > hw:
                raise OffsetOutOfRange(f"Cannot increment the log start offset to {wanted} of partition "
                                       f"{topic}-{partition} since it is larger than the high watermark {hw}")
            if wanted > start:
                await _move_log_start(conn, topic_id, topic, partition, start, wanted, now)
            starts[partition] = max(start, wanted)
        return starts

    return await storage.write_in_one_hop(delete)


async def _move_log_start(conn: aiosqlite.Connection, topic_id: int, topic: str, partition: int,
                          old_start: int, new_start: int, now: int) -> None:
    key = (topic_id, partition)
    # Batches wholly below the new start go; one holding it stays, and reads skip its records
    # below the log start (as Kafka's, whose log start may fall inside a batch).
    await conn.execute("DELETE FROM batches WHERE topic_id=? AND partition=? AND base_offset<? AND last_offset<?",
                       (*key, new_start, new_start))
    await conn.execute("DELETE FROM tombstone_horizons WHERE topic_id=? AND partition=? AND offset<?",
                       (*key, new_start))
    # Segments wholly below the new start go; the active segment always stays (its row's
    # next_offset is not its current one: the partition's log end is).
    await conn.execute(
        "DELETE FROM segments WHERE topic_id=? AND partition=? AND next_offset<=? AND base_offset<"
        "(SELECT max(base_offset) FROM segments WHERE topic_id=? AND partition=?)",
        (*key, new_start, *key))
    await conn.execute("UPDATE partitions SET log_start_offset=? WHERE topic_id=? AND partition=?",
                       (new_start, *key))
    await record_change(conn, now, "segment_deleted", {
        "topic": topic, "partition": partition, "base_offset": old_start, "next_offset": new_start,
        "log_start_offset": new_start, "reason": REASON})
