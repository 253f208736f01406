"""Partition logs: append batches, read records, list offsets.

Each partition's log is a dense run of offsets from ``log_start_offset`` to
``log_end_offset``, divided into segments (rolled by ``segment.bytes`` and
``segment.ms``). Consumers read only below the high watermark: the offset every
in-sync replica has reached.

As in Kafka, the log is a sequence of record batches (``record_batch``, the v2 format),
one row of the ``batches`` table each: an append stores one batch, its base offset the
log end; a read decodes only the batches that hold what it asks for.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Sequence

import aiosqlite

from .append_state import PartitionAppendState, forget_append_state, read_append_state
from .clock import Clock
from .config import effective_config
from .errors import (InvalidRecord, InvalidRequiredAcks, KafkaError, LeaderNotAvailable, NotEnoughReplicas,
                     NotEnoughReplicasAfterAppend, NotLeaderOrFollower, OffsetOutOfRange, RecordTooLarge,
                     RequestTimedOut, UnknownTopicOrPartition)
from .producer_state import (ProducerMark, allocate_producer_id, check_batch, record_batch,
                             truncate_producer_state)
from .batch_compression import DecompressionBudget
from .log_validator import validate_batch
from .record_reader import RecordStream, append_consumer_records
from .record_batch import (COMPRESSION_MASK, CONTROL_MASK, NO_TIMESTAMP, TRANSACTIONAL_MASK, ControlType,
                           RecordBatch, build_batch, read_header, rebuild_batch, set_base_offset,
                           set_max_timestamp, set_partition_leader_epoch)
from .records import (BATCH_OVERHEAD, RECORD_OVERHEAD, AppendResult, ConsumerRecord, FetchResult, Headers,
                      ProducerRecord, TransactionMark, record_size)
from .replication import (REPLICATION_DELAY_KEY, PartitionState, ReplicaFetcher, ReplicationSettings, catch_up,
                          load_partitions, read_settings, record_follower_step, save_partition)
from .retention import truncate_cleaner_state
from .storage import DamagedRecordBatch, Storage, batch_is_intact
from . import transaction_index
from .transaction_index import note_transactional_batch, verify_transactional_batch, visible_to_read_committed

EARLIEST = -2
LATEST = -1
#: A batch header's producer id, epoch and base sequence (at byte 43), and its attributes (at 21).
_PRODUCER_FIELDS = struct.Struct(">qhi")
_ATTRIBUTES = struct.Struct(">h")
#: A batch header's base offset (at byte 0) and last offset delta (at byte 23).
_BASE_OFFSET = struct.Struct(">q")
_LAST_OFFSET_DELTA = struct.Struct(">i")
#: Kafka's max.partition.fetch.bytes default: a consumer's fetch reads whole batches on past
#: max.poll.records up to this many bytes (its polls decode only what they return), so a
#: backlog costs one round trip to the database thread per MiB, not one per poll.
PARTITION_FETCH_BYTES = 1_048_576
#: The producer's request.timeout.ms: how long acks=all waits for the in-sync replicas.
REQUEST_TIMEOUT_MS = 30_000
#: How often a producer waiting for acks=all looks again (real seconds; the clock may be manual).
ACKS_POLL_S = 0.02


class BatchRequest(NamedTuple):
    """Records for one partition, appended atomically (a named tuple: one is made per produced
    batch, and a frozen dataclass's construction cost a one-record append ~3 %)."""

    topic: str
    partition: int
    #: ProducerRecords, or plain ``(key, value, headers, timestamp)`` tuples in that order (the
    #: Producer's: a plain tuple costs a third of a named one, once per record sent).
    records: Sequence[ProducerRecord | tuple[bytes | None, bytes | None, Headers, int | None]]
    #: An idempotent producer's id, epoch and sequences: a retry of a batch the partition
    #: already has is answered with its offsets and not written again.
    producer: ProducerMark | None = None
    #: The batch's size as a producer sent it (compressed, if it was), when known: Kafka
    #: limits that by max.message.bytes, not each record's size once decompressed.
    size_in_bytes: int | None = None
    #: The batch exactly as a producer sent it (Kafka's v2 format), instead of ``records``: it is
    #: validated as Kafka's LogValidator does and stored as it is, its offsets assigned in place.
    #: ``AppendResult.timestamps`` then holds only the LogAppendTime, if the topic uses it.
    batch: bytearray | None = None
    #: What a compressed ``batch`` may expand to while it is validated (the request's budget).
    budget: DecompressionBudget | None = None
    #: Written by the transaction coordinator (a COMMIT/ABORT marker, Kafka's AppendOrigin.COORDINATOR):
    #: not validated as a client's batch, and not checked against the producer's transaction.
    from_coordinator: bool = False


@dataclass(frozen=True)
class ReadRequest:
    """One partition's part of ``read_many``: from ``offset``, at most so many records and bytes."""

    topic: str
    partition: int
    offset: int
    max_records: int = 500
    max_bytes: int = 52_428_800
    #: Kafka's isolation.level=read_committed: read only below the last stable offset, with the
    #: aborted transactions listed (read_uncommitted, the default, reads to the high watermark).
    read_committed: bool = False


#: An append of at most this many bytes (records or batches) runs on the event loop's thread
#: (``Storage.write_inline``): its statements cost less than a hop; a bigger one might hold the
#: loop for milliseconds, and takes the database thread.
INLINE_APPEND_MAX_BYTES = 64 * 1024
INLINE_APPEND_MAX_RECORDS = 64


def _is_small(batches: Sequence[BatchRequest]) -> bool:
    """Whether an append is small enough to run on the event loop's thread."""
    size = records = 0
    for batch in batches:
        if batch.batch is not None:
            size += len(batch.batch)
            records += 1
        else:
            records += len(batch.records)
            if records > INLINE_APPEND_MAX_RECORDS:
                return False
            for record in batch.records:  # a loop, not sum() over a generator: this runs per append
                size += len(record[1] or b"") + len(record[0] or b"")  # value, key (a plain tuple too)
        if size > INLINE_APPEND_MAX_BYTES or records > INLINE_APPEND_MAX_RECORDS:
            return False
    return True


class PartitionOffsets(NamedTuple):
    """A partition's offsets as ``partition_offsets`` reads them."""

    log_start_offset: int
    log_end_offset: int
    high_watermark: int
    #: Below it every transaction is decided (the high watermark when none is open).
    last_stable_offset: int


def parse_acks(acks: int | str) -> int:
    """Kafka's acks: 0, 1 or -1 ("all")."""
    if acks in ("all", "-1", -1):
        return -1
    if acks in (0, 1, "0", "1"):
        return int(acks)
    raise InvalidRequiredAcks(f"Invalid acks: {acks} (expected 0, 1, -1 or all)")


#: Topics' configs as stored (JSON overrides) -> in effect: parsed once, not on every append.
_CONFIGS: dict[str, dict] = {}
_NOT_LOOKED_UP = object()


#: A read of at most this many partitions looks them up by key (one statement, two parameters
#: each), not by reading every partition of their topics.
FEW_PARTITIONS = 250
#: What ``read_many`` knows of a partition: its topic, offsets and leader (-2: on a stopped broker).
_READ_STATE = ("t.name, t.id, t.config, p.partition, p.log_start_offset, p.log_end_offset, p.high_watermark,"
               " CASE WHEN p.leader>=0 AND (SELECT alive FROM brokers WHERE id=p.leader)=0 THEN -2"
               " ELSE p.leader END")


class PartitionLogs:
    """Appends to and reads from every partition log in the data file."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def append(self, topic: str, partition: int, records: Sequence[ProducerRecord],
                     acks: int | str = -1) -> AppendResult:
        """Append one batch to one partition in one transaction; raise its error if it fails."""
        result = (await self.append_batches([BatchRequest(topic, partition, records)], acks))[0]
        if isinstance(result, KafkaError):
            raise result
        return result

    async def append_batches(self, batches: Sequence[BatchRequest],
                             acks: int | str = -1) -> list[AppendResult | KafkaError]:
        """Append several batches in one transaction, as one produce request does.

        Each batch succeeds or fails on its own (a full produce response carries an
        error per partition); a failed batch writes nothing. With acks=all the call
        returns once every in-sync replica has the batch (at once without a replication
        delay), as Kafka's produce purgatory does.
        """
        required = parse_acks(acks)
        now = self._clock.now_ms()
        results: list[AppendResult | KafkaError] = []
        epochs: dict[int, int] = {}
        async def append_all(conn: aiosqlite.Connection) -> None:
            # From scratch: an inline attempt that met another process's lock runs again.
            results.clear()
            epochs.clear()
            # The topics' metadata, kept across transactions where the connection keeps state
            # (an unknown topic too: whoever creates it commits on another connection).
            kept = getattr(conn, "kept", None)
            topics: dict[Any, Any] = {} if kept is None else kept
            for batch in batches:
                meta = topics.get(batch.topic, _NOT_LOOKED_UP)
                if meta is _NOT_LOOKED_UP:
                    meta = topics[batch.topic] = await _topic_meta(conn, batch.topic)
                try:
                    if meta is None or not 0 <= batch.partition < meta[1]:
                        raise UnknownTopicOrPartition(
                            f"Topic '{batch.topic}' does not exist" if meta is None else
                            f"Partition {batch.partition} of topic '{batch.topic}' does not exist")
                    result = await self._append_one(conn, meta[0], meta[2], batch, required, now)
                    if required == -1 and result.high_watermark <= result.last_offset:
                        epochs[len(results)] = (await (await conn.execute(
                            "SELECT leader_epoch FROM partitions WHERE topic_id=? AND partition=?",
                            (meta[0], batch.partition))).fetchone())[0]
                    results.append(result)
                except KafkaError as error:
                    if meta is not None:  # it may have failed after a write (a follower caught up)
                        forget_append_state(conn, meta[0], batch.partition)
                    results.append(error)

        # The whole append in one round trip to the database thread: it awaits nothing but
        # its connection, and ten round trips cost more than a small append itself. A small
        # append runs with no round trip at all: the hop alone cost a third of it.
        if _is_small(batches):
            await self._storage.write_inline(append_all)
        else:
            await self._storage.write_in_one_hop(append_all)
        if epochs:
            await self._await_in_sync_replicas(results, epochs)
        return results

    async def append_in(self, conn: aiosqlite.Connection, topic: str, partition: int,
                        records: Sequence[ProducerRecord], now: int) -> AppendResult:
        """Append one batch (acks=1) inside the caller's write transaction.

        The group coordinator writes its ``__consumer_offsets`` records this way, in the
        same transaction as the commit or group change they record.
        """
        meta = await _topic_meta(conn, topic)
        if meta is None or not 0 <= partition < meta[1]:
            raise UnknownTopicOrPartition(f"Partition {partition} of topic '{topic}' does not exist")
        return await self._append_one(conn, meta[0], meta[2], BatchRequest(topic, partition, records), 1, now)

    async def append_control_in(self, conn: aiosqlite.Connection, topic: str, partition: int, batch: bytearray,
                                now: int) -> AppendResult:
        """Append the transaction coordinator's control batch (a COMMIT or ABORT marker, one
        offset) inside the caller's write transaction, as a leader appends Kafka's markers."""
        meta = await _topic_meta(conn, topic)
        if meta is None or not 0 <= partition < meta[1]:
            raise UnknownTopicOrPartition(f"Partition {partition} of topic '{topic}' does not exist")
        return await self._append_one(conn, meta[0], meta[2], BatchRequest(topic, partition, (), batch=batch,
                                                                           from_coordinator=True), 1, now)

    async def _await_in_sync_replicas(self, results: list[AppendResult | KafkaError],
                                      epochs: dict[int, int]) -> None:
        """Wait until the high watermark passes each acks=all batch (Kafka's DelayedProduce).

        Runs replication steps while it waits. A batch whose partition changed leader
        meanwhile fails with NotLeaderOrFollower; one that is replicated to fewer in-sync
        replicas than ``min.insync.replicas`` with NotEnoughReplicasAfterAppend; one still
        waiting after ``REQUEST_TIMEOUT_MS`` on the clock with RequestTimedOut.
        """
        fetcher = ReplicaFetcher(self._storage, self._clock)
        deadline = self._clock.now_ms() + REQUEST_TIMEOUT_MS
        while True:
            # Read the clock before the replication step: a timeout is declared only after a
            # step has run at that time, so an ISR shrink due by then (replica.lag.time.max.ms
            # shorter than the timeout) always completes the wait first, as in Kafka.
            timed_out = self._clock.now_ms() >= deadline
            await fetcher.run_once()
            for index in list(epochs):
                result = results[index]
                assert isinstance(result, AppendResult)
                tp = f"{result.topic}-{result.partition}"
                row = await self._storage.fetchone(
                    "SELECT p.leader_epoch, p.high_watermark, t.config, (SELECT count(*) FROM replicas r"
                    " WHERE r.topic_id=p.topic_id AND r.partition=p.partition AND r.in_isr=1)"
                    " FROM partitions p JOIN topics t ON t.id=p.topic_id WHERE t.name=? AND p.partition=?",
                    (result.topic, result.partition))
                if row is None:
                    results[index] = UnknownTopicOrPartition(f"Topic '{result.topic}' does not exist")
                elif row[0] != epochs[index]:
                    results[index] = NotLeaderOrFollower(
                        f"This server is not the leader for that topic-partition: the leader of {tp} changed "
                        f"(leader epoch {epochs[index]} -> {row[0]}) before every in-sync replica had "
                        f"offset {result.last_offset}")
                elif row[1] > result.last_offset:
                    min_isr = effective_config(json.loads(row[2]))["min.insync.replicas"]
                    results[index] = result._replace(high_watermark=row[1]) if row[3] >= min_isr else \
                        NotEnoughReplicasAfterAppend(
                            f"Messages are written to the log, but to fewer in-sync replicas than required: "
                            f"the ISR of {tp} has {row[3]} replica(s), min.insync.replicas is {min_isr}")
                else:
                    continue
                del epochs[index]
            if not epochs:
                return
            if timed_out:
                for index in epochs:
                    result = results[index]
                    assert isinstance(result, AppendResult)
                    results[index] = RequestTimedOut(
                        f"The request timed out: after {REQUEST_TIMEOUT_MS} ms not every in-sync replica of "
                        f"{result.topic}-{result.partition} had offset {result.last_offset}")
                return
            await asyncio.sleep(ACKS_POLL_S)

    async def _append_one(self, conn: aiosqlite.Connection, topic_id: int, config: dict,
                          batch: BatchRequest, acks: int, now: int) -> AppendResult:
        topic, partition = batch.topic, batch.partition
        kept = getattr(conn, "kept", None)
        state = None if kept is None else kept.get((topic_id, partition))
        if state is None:
            state = await read_append_state(conn, topic_id, partition)
        leader, log_start, leo = state.leader, state.log_start_offset, state.log_end_offset
        isr_alive = state.isr_alive
        if leader < 0:
            raise LeaderNotAvailable(f"Partition {topic}-{partition} has no leader (offline)")
        if not state.leader_alive:
            # Only without an active controller: nobody could move the leadership away.
            raise NotLeaderOrFollower(f"Broker {leader}, the leader of {topic}-{partition}, is stopped and no "
                                      "active controller can elect another")
        lagging: PartitionState | None = None
        settings: ReplicationSettings | None = None
        if state.followers_lag:
            # Followers lag: bring them and the ISR up to now first, so that acks=all is
            # judged against the ISR as it is, not as it was when someone last looked.
            forget_append_state(conn, topic_id, partition)  # this changes replicas and maybe the ISR
            settings = await read_settings(conn)
            lagging = (await load_partitions(conn, "p.topic_id=? AND p.partition=?", (topic_id, partition)))[0]
            step = catch_up(lagging, now, settings)
            if step.changed:
                await save_partition(conn, lagging)
                await record_follower_step(conn, now, lagging, step)
            isr_alive = sum(1 for r in lagging.replicas if r.in_isr and r.alive)
        if acks == -1 and isr_alive < config["min.insync.replicas"]:
            raise NotEnoughReplicas(
                f"The size of the current ISR {isr_alive} is insufficient to satisfy the min.isr "
                f"requirement of {config['min.insync.replicas']} for partition {topic}-{partition}")
        mark = batch.producer
        if mark is not None and mark.idempotent:
            duplicate = await check_batch(conn, topic_id, partition, mark, f"{topic}-{partition}", now)
            if duplicate is not None:
                ((hw,),) = await conn.execute_fetchall(
                    "SELECT high_watermark FROM partitions WHERE topic_id=? AND partition=?", (topic_id, partition))
                return AppendResult(topic, partition, duplicate.base_offset, duplicate.last_offset, (), log_start, hw)
        else:
            mark = None
        max_bytes = config["max.message.bytes"]
        log_append_time = config["message.timestamp.type"] == "LogAppendTime"
        compacted = "compact" in config["cleanup.policy"].split(",")
        if batch.batch is not None:
            if not batch.from_coordinator and batch.batch[22] & TRANSACTIONAL_MASK:
                producer_id, producer_epoch, _ = _PRODUCER_FIELDS.unpack_from(batch.batch, 43)
                await verify_transactional_batch(conn, producer_id, producer_epoch, topic, partition)
            data, count, max_ts, timestamps = self._stored_as_sent(batch, config, leo, state.leader_epoch, now)
            return await self._store(conn, topic_id, config, batch, data, count, max_ts, timestamps,
                                     state, mark, lagging, settings, now)
        # Per-record work runs as whole-batch comprehensions: this is the produce hot path,
        # and an explicit loop with its branches cost about twice as much per record.
        records = batch.records
        if not records:
            return AppendResult(topic, partition, leo, leo - 1, (), log_start, leo)
        if batch.size_in_bytes is not None:
            if batch.size_in_bytes > max_bytes:
                raise RecordTooLarge(
                    f"The record batch size in the append to {topic}-{partition} is {batch.size_in_bytes} bytes "
                    f"which exceeds the maximum configured value of {max_bytes}.")
        else:
            # record_size's sum inline (no call per record) for the usual record without headers.
            largest = max([(len(k) if k else 0) + (len(v) if v else 0) if not h else record_size(k, v, h) - RECORD_OVERHEAD
                           for k, v, h, _ in records]) + RECORD_OVERHEAD
            if largest + BATCH_OVERHEAD > max_bytes:
                size = next(size for size in (record_size(k, v, h) for k, v, h, _ in records)
                            if size + BATCH_OVERHEAD > max_bytes)
                raise RecordTooLarge(
                    f"The message is {size + BATCH_OVERHEAD} bytes when serialized which is larger than "
                    f"the maximum message size the server accepts ({max_bytes}) for topic '{topic}'")
        if compacted and any(r[0] is None for r in records):  # no key
            raise InvalidRecord("Compacted topic cannot accept message without key in topic partition "
                                f"{topic}-{partition}.")
        # Each record as built: its own timestamp (CreateTime) or the broker's now (none given,
        # or LogAppendTime); a record with its timestamp set goes as it is.
        if log_append_time:
            stamped = [(k, v, h, now) for k, v, h, _ in records]
        else:
            stamped = [r if r[3] is not None else (r[0], r[1], r[2], now) for r in records]
        timestamps = tuple([r[3] for r in stamped])
        max_ts = max(timestamps)
        data = build_batch(stamped, base_offset=leo,
                           producer_id=mark.producer_id if mark else -1,
                           producer_epoch=mark.producer_epoch if mark else -1,
                           base_sequence=mark.base_sequence if mark else -1, partition_leader_epoch=state.leader_epoch,
                           log_append_time=now if log_append_time else None)
        return await self._store(conn, topic_id, config, batch, data, len(records), max_ts, timestamps,
                                 state, mark, lagging, settings, now)

    @staticmethod
    def _stored_as_sent(batch: BatchRequest, config: dict, leo: int, leader_epoch: int,
                        now: int) -> tuple[bytearray, int, int, tuple[int, ...]]:
        """A producer's batch validated (Kafka's LogValidator) and given its offsets, leader epoch
        and (LogAppendTime) the broker's time, in place: (bytes, records, max timestamp, timestamps)."""
        topic, partition = batch.topic, batch.partition
        data = batch.batch
        assert data is not None
        max_bytes = config["max.message.bytes"]
        if len(data) > max_bytes:
            raise RecordTooLarge(
                f"The record batch size in the append to {topic}-{partition} is {len(data)} bytes "
                f"which exceeds the maximum configured value of {max_bytes}.")
        if batch.from_coordinator:
            header = read_header(data)
            set_base_offset(data, leo)
            set_partition_leader_epoch(data, leader_epoch)
            return data, header.record_count, header.max_timestamp, ()
        validated = validate_batch(data, config, now, f"{topic}-{partition}", batch.budget)
        set_base_offset(data, leo)
        set_partition_leader_epoch(data, leader_epoch)
        if config["message.timestamp.type"] == "LogAppendTime":
            set_max_timestamp(data, now, log_append_time=True)
            return data, validated.record_count, now, (now,)
        if validated.max_timestamp != NO_TIMESTAMP:
            set_max_timestamp(data, validated.max_timestamp, log_append_time=False)
        return data, validated.record_count, validated.max_timestamp, ()

    async def _store(self, conn: aiosqlite.Connection, topic_id: int, config: dict, batch: BatchRequest,
                     data: bytearray, count: int, max_ts: int, timestamps: tuple[int, ...],
                     state: PartitionAppendState, mark: ProducerMark | None, lagging: PartitionState | None,
                     settings: ReplicationSettings | None, now: int) -> AppendResult:
        """Store a batch whose offsets start at the log end ``state`` holds, then the segment,
        producer state and replicas, and move ``state`` along."""
        topic, partition = batch.topic, batch.partition
        batch_bytes = len(data)
        leo = state.log_end_offset
        new_leo = leo + count
        if state.must_roll(batch_bytes, now, config):
            await self._roll(conn, topic_id, partition, now, state)
        await insert_batch(conn, topic_id, partition, data, leo, new_leo - 1, max_ts, count)
        if data[22] & TRANSACTIONAL_MASK and not data[22] & CONTROL_MASK:
            # The producer's transaction holds this partition's last stable offset from here.
            await note_transactional_batch(conn, topic_id, partition, _PRODUCER_FIELDS.unpack_from(data, 43)[0], leo)
        if mark is not None:
            await record_batch(conn, topic_id, partition, mark, leo, new_leo - 1, now)
        # No change-feed row: the feed tells appends from the partition's log end and batches
        # (this process's feed looks at this partition first).
        self._storage.appended.add((topic_id, partition))
        if lagging is None:
            # Every follower on a live broker is in sync and copies the batch at once (see
            # _replicate_lagging for the rest): the high watermark is the new log end. The
            # leader's own replica row is not written: its log end offset is the partition's
            # (``load_partitions`` reads it so); without live followers (replication factor 1)
            # no replica row is written at all.
            if state.followers:
                await conn.execute(
                    "UPDATE replicas SET log_end_offset=?, caught_up_at=? WHERE topic_id=? AND partition=?"
                    " AND broker_id<>? AND in_isr=1 AND broker_id IN (SELECT id FROM brokers WHERE alive=1)",
                    (new_leo, now, topic_id, partition, state.leader))
            # The partition's row also takes the batch into its active segment's size and
            # largest timestamp.
            await conn.execute(
                "UPDATE partitions SET log_end_offset=?, high_watermark=?, appended_at=?, active_segment_bytes="
                "active_segment_bytes+?, active_segment_max_timestamp=max(active_segment_max_timestamp, ?)"
                " WHERE topic_id=? AND partition=?", (new_leo, new_leo, now, batch_bytes, max_ts, topic_id, partition))
            hw = new_leo
        else:
            assert settings is not None
            hw = await self._replicate_lagging(conn, topic_id, partition, new_leo, now, lagging, settings,
                                               batch_bytes, max_ts)
        state.appended(new_leo, batch_bytes)
        return AppendResult(topic, partition, leo, new_leo - 1, timestamps, state.log_start_offset, hw)

    async def _roll(self, conn: aiosqlite.Connection, topic_id: int, partition: int, now: int,
                    state: PartitionAppendState) -> None:
        """Roll the active segment in the append's transaction: the closing segment's final
        values go into its row, and its partition's row starts the new one."""
        leo = state.log_end_offset
        await conn.execute(
            "UPDATE segments SET next_offset=?1, size_bytes=?2, max_timestamp=(SELECT active_segment_max_timestamp"
            " FROM partitions WHERE topic_id=?3 AND partition=?4) WHERE topic_id=?3 AND partition=?4"
            " AND base_offset=?5", (leo, state.segment_bytes, topic_id, partition, state.segment_base_offset))
        await conn.execute(
            "INSERT INTO segments(topic_id, partition, base_offset, next_offset, created_at)"
            " VALUES (?, ?, ?, ?, ?)", (topic_id, partition, leo, leo, now))
        await conn.execute(
            "UPDATE partitions SET active_segment_bytes=0, active_segment_max_timestamp=-1"
            " WHERE topic_id=? AND partition=?", (topic_id, partition))
        state.rolled(leo, now)

    @staticmethod
    async def _replicate_lagging(conn: aiosqlite.Connection, topic_id: int, partition: int, new_leo: int,
                                 now: int, lagging: PartitionState, settings: ReplicationSettings,
                                 batch_bytes: int, max_ts: int) -> int:
        """Advance replicas after an append while followers lag (a replication delay, a dead
        in-sync replica, a live replica out of the ISR) and return the new high watermark (the
        lowest log end offset in the ISR): the batch is queued for followers and a catch-up step
        runs; the partition's row takes the batch into its active segment's size and timestamp."""
        base = lagging.log_end_offset
        lagging.log_end_offset = new_leo
        if settings.replication_delay_ms > 0:
            await conn.execute(
                "INSERT OR REPLACE INTO pending_replication(topic_id, partition, base_offset, appended_at)"
                " VALUES (?, ?, ?, ?)", (topic_id, partition, base, now))
            lagging.pending.append((base, now))
        step = catch_up(lagging, now, settings)
        await save_partition(conn, lagging)
        await conn.execute(
            "UPDATE partitions SET appended_at=?, active_segment_bytes=active_segment_bytes+?,"
            " active_segment_max_timestamp=max(active_segment_max_timestamp, ?) WHERE topic_id=? AND partition=?",
            (now, batch_bytes, max_ts, topic_id, partition))
        await record_follower_step(conn, now, lagging, step, progress_event=False)
        return lagging.high_watermark

    async def new_producer_id(self) -> int:
        """A producer id this data file never handed out (Kafka's InitProducerId for an
        idempotent producer), unique across restarts and across processes."""
        async with self._storage.write() as conn:
            return await allocate_producer_id(conn, 0)

    async def read(self, topic: str, partition: int, offset: int, *, max_records: int = 500,
                   max_bytes: int = 52_428_800, to_log_end: bool = False,
                   read_committed: bool = False, whole_batches: bool = False) -> FetchResult:
        """Records from ``offset`` up to the high watermark, at most ``max_records`` of them.

        ``to_log_end`` reads up to the leader's log end instead, records not yet committed included, as a
        follower's fetch does in Kafka (``FetchIsolation.LOG_END``): for showing them (the partition strip),
        never for a consumer. Raises OffsetOutOfRange below the log start or above the log end, as a Kafka
        fetch does. ``read_committed`` reads only below the last stable offset and leaves out the
        records of aborted transactions (Kafka's isolation.level); transaction markers are never records.
        ``whole_batches`` returns every record of the batches read for ``max_records`` (from
        ``offset``, below the high watermark or LSO), as a Kafka fetch returns whole batches.
        """
        stable: list = [-1, ()]

        async def fetch(conn: aiosqlite.Connection) -> tuple[tuple, list]:
            # The topic, the partition's offsets and its last stable offset (the first offset of
            # its earliest undecided transaction, transaction_index.stable_offset) in one statement.
            found = await conn.execute_fetchall(
                "SELECT t.id, t.config, p.log_start_offset, p.log_end_offset, p.high_watermark,"
                " CASE WHEN p.leader>=0 AND (SELECT alive FROM brokers WHERE id=p.leader)=0 THEN -2 ELSE p.leader END,"
                " (SELECT min(first_offset) FROM partition_transactions WHERE topic_id=t.id AND partition=p.partition"
                " AND (marker_offset<0 OR marker_offset>=p.high_watermark))"
                " FROM topics t LEFT JOIN partitions p ON p.topic_id=t.id AND p.partition=? WHERE t.name=?",
                (partition, topic))
            if not found or found[0][5] is None or found[0][5] < 0:
                return (found[0][:6] if found else ()), []
            topic_id, _, start, leo, hw, _, first_undecided = found[0]
            stable[0] = hw if first_undecided is None else min(first_undecided, hw)
            upto = leo if to_log_end else stable[0] if read_committed else hw
            if offset < start or offset > leo or offset >= upto or max_records <= 0:
                return found[0][:6], []
            rows = await read_batches(conn, topic_id, partition, offset, upto, max_records,
                                      fill_bytes=PARTITION_FETCH_BYTES if whole_batches else 0)
            if rows and (read_committed or any(data[22] & TRANSACTIONAL_MASK for _, data in rows)):
                # read_committed drops these transactions' records; read_uncommitted marks them
                # (only transactional batches can be theirs).
                stable[1] = tuple(await transaction_index.aborted_between(conn, topic_id, partition, offset, upto))
            return found[0][:6], rows

        state, rows = await self._storage.read_in_one_hop(fetch)
        if not state:
            raise UnknownTopicOrPartition(f"Topic '{topic}' does not exist")
        upto = state[3] if to_log_end else stable[0] if read_committed else state[4]
        result = _fetch_result(topic, partition, offset, state[1:], rows, max_bytes,
                               float("inf") if whole_batches else max_records, upto,
                               aborted=stable[1] if read_committed else None, known_aborted=stable[1])
        return replace(result, last_stable_offset=stable[0], aborted=stable[1])

    async def read_many(self, requests: Sequence[ReadRequest], max_total_bytes: int | None = None, *,
                        as_batches: bool = False) -> list[FetchResult | KafkaError]:
        """``read()`` for several partitions, in one consistent snapshot and one round trip.

        A Fetch names every partition a consumer is assigned; most have nothing new. Here
        those cost a lookup in one query's result, not a query each (Kafka's fetch likewise
        costs what has data): the partitions' offsets come from one statement per topic,
        and only partitions with records to return are read further. Once the records read
        reach ``max_total_bytes`` (a Fetch response's max_bytes), later partitions return
        their offsets without records, as a full Kafka response does.

        ``as_batches`` returns the stored batches' bytes instead of records (``FetchResult.batches``),
        as a Fetch serves them: whole batches from the one holding the offset (a consumer skips
        the records below it), at most ``max_records`` batches and ``max_bytes`` bytes (at
        least one batch), none that reaches the high watermark — nothing decoded.
        """
        if not requests:
            return []
        names = sorted({request.topic for request in requests})

        stables: dict[int, int] = {}
        aborted: dict[int, tuple] = {}

        pairs = sorted({(request.topic, request.partition) for request in requests})

        async def fetch(conn: aiosqlite.Connection) -> tuple[dict, set, dict]:
            states: dict[tuple[str, int], tuple] = {}
            topics: set[str] = set()
            if len(pairs) <= FEW_PARTITIONS:
                # An incremental Fetch names a few partitions of a topic that may have 10,000:
                # those rows by key, not the whole topic's.
                statement = (f"WITH wanted(name, partition) AS (VALUES {','.join(['(?,?)'] * len(pairs))})"
                             f" SELECT {_READ_STATE} FROM wanted w JOIN topics t ON t.name=w.name"
                             " LEFT JOIN partitions p ON p.topic_id=t.id AND p.partition=w.partition")
                chunks = [(statement, [value for pair in pairs for value in pair])]
            else:
                chunks = [(f"SELECT {_READ_STATE} FROM topics t LEFT JOIN partitions p ON p.topic_id=t.id"
                           f" WHERE t.name IN ({','.join('?' * len(chunk))})", chunk)
                          # SQLite's bound on parameters per statement
                          for chunk in (names[start:start + 500] for start in range(0, len(names), 500))]
            for statement, parameters in chunks:
                for row in await conn.execute_fetchall(statement, parameters):
                    topics.add(row[0])
                    if row[3] is not None:
                        states[(row[0], row[3])] = row
            rows: dict[int, list] = {}
            left = max_total_bytes if max_total_bytes is not None else float("inf")
            # The partitions' open transactions in one query (usually there are none), not one each.
            undecided = await transaction_index.undecided_transactions(conn, {state[1] for state in states.values()})
            for index, request in enumerate(requests):
                state = states.get((request.topic, request.partition))
                if state is None:
                    continue
                _, topic_id, _, _, start, leo, hw, _ = state
                lso = stables[index] = transaction_index.stable_offset(
                    undecided.get((topic_id, request.partition), ()), hw)
                if state[7] < 0 or request.max_records <= 0 or left <= 0:
                    continue
                upto = lso if request.read_committed else hw
                if start <= request.offset <= leo and request.offset < upto:
                    if as_batches:
                        found = rows[index] = await read_batch_bytes(
                            conn, topic_id, request.partition, request.offset, upto, request.max_records,
                            min(request.max_bytes, left))
                    else:
                        found = rows[index] = await read_batches(conn, topic_id, request.partition,
                                                                 request.offset, upto, request.max_records)
                    if request.read_committed and found:
                        # Kafka lists the aborted transactions that overlap what the Fetch returns.
                        end = _end_of(found[-1][1]) + 1
                        aborted[index] = tuple(await transaction_index.aborted_between(
                            conn, topic_id, request.partition, request.offset, end))
                    left -= min(request.max_bytes, sum(len(data) for _, data in found))
            return states, topics, rows

        states, topics, rows = await self._storage.read_in_one_hop(fetch)
        results: list[FetchResult | KafkaError] = []
        for index, request in enumerate(requests):
            state = states.get((request.topic, request.partition))
            try:
                if request.topic not in topics:
                    raise UnknownTopicOrPartition(f"Topic '{request.topic}' does not exist")
                found = (state[2], *state[4:]) if state is not None else (None, None, None, None, None)
                lso = stables.get(index, -1)
                result = _fetch_result(request.topic, request.partition, request.offset, found,
                                       rows.get(index, []), request.max_bytes, request.max_records,
                                       lso if request.read_committed else found[3], as_batches,
                                       aborted=aborted.get(index, ()) if request.read_committed else None)
                results.append(replace(result, last_stable_offset=lso, aborted=aborted.get(index, ())))
            except KafkaError as error:
                results.append(error)
        return results

    async def partition_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], PartitionOffsets]:
        """Every partition of ``topics`` with its log start, log end, high watermark and last
        stable offset, in one read: a consumer or a Fetch session over thousands of partitions
        learns which have anything new from one statement per 500 topics, not one per partition.
        Topics that do not exist are left out."""
        names = sorted(set(topics))

        async def look_up(conn: aiosqlite.Connection) -> dict[tuple[str, int], PartitionOffsets]:
            rows: list = []
            for start in range(0, len(names), 500):  # SQLite's bound on parameters per statement
                chunk = names[start:start + 500]
                rows.extend(await conn.execute_fetchall(
                    "SELECT t.name, t.id, p.partition, p.log_start_offset, p.log_end_offset, p.high_watermark"
                    " FROM topics t JOIN partitions p ON p.topic_id=t.id"
                    f" WHERE t.name IN ({','.join('?' * len(chunk))})", chunk))
            undecided = await transaction_index.undecided_transactions(conn, {row[1] for row in rows})
            if not undecided:  # the usual case: no transaction open, every LSO is the high watermark
                return {(name, partition): PartitionOffsets(start, leo, hw, hw)
                        for name, _, partition, start, leo, hw in rows}
            stable = transaction_index.stable_offset
            return {(name, partition): PartitionOffsets(
                        start, leo, hw, stable(undecided[topic_id, partition], hw)
                        if (topic_id, partition) in undecided else hw)
                    for name, topic_id, partition, start, leo, hw in rows}

        return await self._storage.read_in_one_hop(look_up) if names else {}

    async def partition_offset_rows(self, topics: Sequence[str]) -> dict[str, dict[int, tuple[int, int, int, int, int]]]:
        """``partition_offsets`` as plain rows, per topic then partition: (partition, log start, log end,
        high watermark, last stable offset). For a consumer that keeps them for thousands of partitions:
        a tuple of ints costs the garbage collector nothing once it is untracked, a named tuple is
        tracked for as long as it lives (and makes the next full collection longer)."""
        names = sorted(set(topics))

        async def look_up(conn: aiosqlite.Connection) -> dict[str, dict[int, tuple[int, int, int, int, int]]]:
            table: dict[str, dict[int, tuple[int, int, int, int, int]]] = {}
            ids: dict[int, str] = {}
            for start in range(0, len(names), 500):  # SQLite's bound on parameters per statement
                chunk = names[start:start + 500]
                for name, topic_id in await conn.execute_fetchall(
                        f"SELECT name, id FROM topics WHERE name IN ({','.join('?' * len(chunk))})", chunk):
                    ids[topic_id] = name
                    # The high watermark twice: the last stable offset, unless a transaction is open.
                    table[name] = {row[0]: row for row in await conn.execute_fetchall(
                        "SELECT partition, log_start_offset, log_end_offset, high_watermark, high_watermark"
                        " FROM partitions WHERE topic_id=?", (topic_id,))}
            undecided = await transaction_index.undecided_transactions(conn, ids)
            for (topic_id, partition), transactions in undecided.items():
                row = table[ids[topic_id]].get(partition)
                if row is not None:
                    table[ids[topic_id]][partition] = (*row[:4], transaction_index.stable_offset(transactions, row[3]))
            return table

        return await self._storage.read_in_one_hop(look_up) if names else {}

    async def unstable_partitions(self, topic: str) -> dict[int, int]:
        """The partitions of ``topic`` whose last stable offset is below their high watermark
        (an undecided transaction holds read_committed consumers back), with that LSO."""
        async def look_up(conn: aiosqlite.Connection) -> dict[int, int]:
            found = await conn.execute_fetchall(
                "SELECT t.id, p.partition, p.high_watermark FROM topics t JOIN partitions p ON p.topic_id=t.id"
                " WHERE t.name=?", (topic,))
            if not found:
                return {}
            undecided = await transaction_index.undecided_transactions(conn, {found[0][0]})
            stable = {partition: transaction_index.stable_offset(undecided.get((topic_id, partition), ()), hw)
                      for topic_id, partition, hw in found}
            return {partition: lso for (_, partition, hw), lso in zip(found, stable.values()) if lso < hw}

        return await self._storage.read_in_one_hop(look_up)

    async def list_offset(self, topic: str, partition: int, spec: int, *,
                          read_committed: bool = False) -> int | None:
        """Kafka's ListOffsets: ``EARLIEST`` (-2), ``LATEST`` (-1, the high watermark; with
        ``read_committed`` the last stable offset) or a timestamp (the first offset whose
        timestamp is at least it; None if there is none)."""
        answer = (await self.list_offsets(topic, [(partition, spec)], read_committed=read_committed))[0]
        if isinstance(answer, KafkaError):
            raise answer
        return answer[0]

    async def list_offsets(self, topic: str, asks: Sequence[tuple[int, int]], *, read_committed: bool = False
                           ) -> list[tuple[int | None, int] | UnknownTopicOrPartition]:
        """``list_offset`` for many (partition, spec) pairs of one topic, in one read transaction:
        per ask, (offset or None, the found record's timestamp or -1) or the partition's error.

        A consumer assigned thousands of partitions asks for all of them in one request; the
        partitions' offsets come from one statement per 500 partitions, not one per partition."""
        async def look_up(conn: aiosqlite.Connection) -> tuple[int | None, dict[int, tuple[int, int]], dict, dict]:
            wanted = sorted({partition for partition, _ in asks})
            topic_id: int | None = None
            states: dict[int, tuple[int, int]] = {}
            for first in range(0, len(wanted), 500):  # SQLite's bound on parameters per statement
                chunk = wanted[first:first + 500]
                # The topic and its asked partitions in one statement (no partition: one row of NULLs).
                for topic_id, partition, start, hw in await conn.execute_fetchall(
                        "SELECT t.id, p.partition, p.log_start_offset, p.high_watermark FROM topics t"
                        " LEFT JOIN partitions p ON p.topic_id=t.id"
                        f" AND p.partition IN ({','.join('?' * len(chunk))}) WHERE t.name=?", (*chunk, topic)):
                    if partition is not None:
                        states[partition] = (start, hw)
                if topic_id is None:
                    return None, {}, {}, {}
            undecided = (await transaction_index.undecided_transactions(conn, [topic_id])
                         if read_committed and any(spec == LATEST for _, spec in asks) else {})
            searched: dict[tuple[int, int], tuple[int, int] | None] = {}
            for partition, spec in asks:
                if spec not in (EARLIEST, LATEST) and partition in states and (partition, spec) not in searched:
                    searched[partition, spec] = await _first_at_or_after(conn, topic_id, partition,
                                                                         *states[partition], spec)
            return topic_id, states, undecided, searched

        topic_id, states, undecided, searched = await self._storage.read_in_one_hop(look_up)
        answers: list[tuple[int | None, int] | UnknownTopicOrPartition] = []
        for partition, spec in asks:
            if topic_id is None:
                answers.append(UnknownTopicOrPartition(f"Topic '{topic}' does not exist"))
            elif partition not in states:
                answers.append(UnknownTopicOrPartition(f"Partition {partition} of topic '{topic}' does not exist"))
            elif spec == EARLIEST:
                answers.append((states[partition][0], NO_TIMESTAMP))
            elif spec == LATEST:
                hw = states[partition][1]
                if read_committed:
                    hw = transaction_index.stable_offset(undecided.get((topic_id, partition), ()), hw)
                answers.append((hw, NO_TIMESTAMP))
            else:
                record = searched.get((partition, spec))
                answers.append((None, NO_TIMESTAMP) if record is None else record)
        return answers

    async def max_timestamp_offset(self, topic: str, partition: int) -> tuple[int, int] | None:
        """Kafka's ListOffsets MAX_TIMESTAMP (-3, KIP-734): (offset, timestamp) of the first record
        with the largest timestamp below the high watermark, None when there is none.

        As in Kafka, only the segment with the largest timestamp is searched."""
        meta = await self._topic(topic)
        topic_id = meta[0]

        async def look_up(conn: aiosqlite.Connection) -> tuple[int, int] | None:
            state = await conn.execute_fetchall(
                "SELECT p.log_start_offset, p.high_watermark, (SELECT s.base_offset FROM segment_state s"
                " WHERE s.topic_id=p.topic_id AND s.partition=p.partition ORDER BY s.max_timestamp DESC,"
                " s.base_offset LIMIT 1) FROM partitions p WHERE p.topic_id=? AND p.partition=?",
                (topic_id, partition))
            if not state:
                return None
            start, hw, segment = state[0]
            rows = await conn.execute_fetchall(
                "SELECT max_timestamp, data FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?"
                " AND base_offset<? AND last_offset>=? ORDER BY max_timestamp DESC, base_offset",
                (topic_id, partition, max(segment or 0, 0), hw, start))
            best: tuple[int, int] | None = None
            for batch_max, data in rows:
                if best is not None and batch_max < best[1]:
                    break
                for record in RecordBatch(data).records(from_offset=start):
                    if record.offset < hw and (best is None or (record.timestamp, -record.offset)
                                               > (best[1], -best[0])):
                        best = (record.offset, record.timestamp)
            return best

        row = await self._storage.read_in_one_hop(look_up)
        if row is None:
            await self._check_partition(topic_id, topic, partition)
            return None
        return row

    async def _check_partition(self, topic_id: int, topic: str, partition: int) -> None:
        if await self._storage.fetchone("SELECT 1 FROM partitions WHERE topic_id=? AND partition=?",
                                        (topic_id, partition)) is None:
            raise UnknownTopicOrPartition(f"Partition {partition} of topic '{topic}' does not exist")

    async def partition_count(self, topic: str) -> int:
        """Number of partitions of ``topic`` (UnknownTopicOrPartition if it does not exist)."""
        return (await self._topic(topic))[1]

    async def _topic(self, topic: str) -> tuple[int, int, dict]:
        meta = await _topic_meta_read(self._storage, topic)
        if meta is None:
            raise UnknownTopicOrPartition(f"Topic '{topic}' does not exist")
        return meta


async def _first_at_or_after(conn: aiosqlite.Connection, topic_id: int, partition: int, start: int, hw: int,
                             timestamp: int) -> tuple[int, int] | None:
    """(offset, timestamp) of the partition's first record below ``hw`` whose timestamp is at
    least ``timestamp``, or None. Segments and batches know their largest timestamp: only
    batches that may hold the record are decoded, from the first segment that may."""
    after = await conn.execute_fetchall(
        "SELECT coalesce((SELECT min(base_offset) FROM segment_state WHERE topic_id=? AND partition=?"
        " AND max_timestamp>=?), -1)", (topic_id, partition, timestamp))
    lower = after[0][0]
    if lower < 0:
        return None
    while True:
        rows = await conn.execute_fetchall(
            "SELECT base_offset, data FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?"
            " AND base_offset<? AND last_offset>=? AND max_timestamp>=? ORDER BY base_offset LIMIT 16",
            (topic_id, partition, lower, hw, start, timestamp))
        for _, data in rows:
            for record in RecordBatch(data).records(from_offset=start):
                if record.offset >= hw:
                    return None
                if record.timestamp >= timestamp:
                    return record.offset, record.timestamp
        if len(rows) < 16:
            return None
        lower = rows[-1][0] + 1


def _fetch_result(topic: str, partition: int, offset: int, state: tuple, rows: list, max_bytes: int,
                  max_records: float, upto: int, as_batches: bool = False, *,
                  aborted: tuple | None = None, known_aborted: tuple = ()) -> FetchResult:
    """A read's answer from its partition's ``(config, log start, log end, high watermark,
    leader)`` and the batches read (base offset, bytes), decoded from ``offset`` to
    ``upto``; raises the read's Kafka error. Control batches (transaction markers) are never
    records; with ``aborted`` (a read_committed read) neither are aborted transactions' batches.
    The markers passed and the aborted records returned (``known_aborted``) are listed as
    ``transaction_marks``, for a view to show them."""
    config, start, leo, hw, leader = state
    if leader is None:
        raise UnknownTopicOrPartition(f"Partition {partition} of topic '{topic}' does not exist")
    if leader == -2:  # its leader is stopped and no active controller could elect another
        raise NotLeaderOrFollower(f"The leader of {topic}-{partition} is stopped and no active controller "
                                  "can elect another")
    if leader < 0:
        raise LeaderNotAvailable(f"Partition {topic}-{partition} has no leader (offline)")
    if offset < start or offset > leo:
        raise OffsetOutOfRange(
            f"Fetch position {offset} is out of range for partition {topic}-{partition}"
            f" (log start {start}, log end {leo})")
    records: list[ConsumerRecord] = []
    if as_batches:
        return FetchResult(topic, partition, records, hw, start, leo, b"".join(data for _, data in rows))
    next_offset = None
    marks: list[TransactionMark] = []
    if rows:
        # Kafka's max_bytes counts record batches; this counts keys and values (fewer bytes),
        # so when the uncompressed batches read hold fewer than it, it cannot run out.
        budget: float = (float("inf") if sum(len(data) for _, data in rows) < max_bytes
                         and not any(data[22] & COMPRESSION_MASK for _, data in rows) else max_bytes)
        left = max_records
        # A whole-batch read for a consumer, with no limit to count against: its records are
        # decoded as the consumer's polls take them (RecordStream), not here.
        items: list[bytes | int] | None = [] if left == budget == float("inf") else None
        kept = _kept_batches(rows, aborted)
        in_aborted = _kept_batches(rows, known_aborted) if known_aborted and aborted is None else None
        for index, ((_, data), keep) in enumerate(zip(rows, kept)):
            last = _end_of(data)
            if data[22] & CONTROL_MASK and offset <= last < upto:
                commit = RecordBatch(data).end_transaction_marker().control_type == ControlType.COMMIT
                marks.append(TransactionMark(last, last, "COMMIT" if commit else "ABORT",
                                             _PRODUCER_FIELDS.unpack_from(data, 43)[0]))
            if not keep:
                # A marker, or an aborted transaction's batch for read_committed: an offset gap.
                if last < upto:
                    next_offset = max(next_offset or offset, last + 1)
                    if items is not None:
                        items.append(last + 1)
                    continue
                break
            if in_aborted is not None and not in_aborted[index]:
                marks.append(TransactionMark(max(offset, _BASE_OFFSET.unpack_from(data, 0)[0]), min(last, upto - 1),
                                             "aborted", _PRODUCER_FIELDS.unpack_from(data, 43)[0]))
            if items is not None:
                items.append(data)
                continue
            taken, budget = append_consumer_records(records, topic, partition, data, offset, upto, left, budget)
            if taken:
                next_offset = records[-1].offset + 1
                left -= taken
            if budget <= 0 or not left:  # like Kafka, always return at least one record
                break
        if items:
            return FetchResult(topic, partition, records, hw, start, leo, transaction_marks=tuple(marks),
                               stream=RecordStream(topic, partition, items, offset, upto))
    return FetchResult(topic, partition, records, hw, start, leo, next_offset=next_offset,
                       transaction_marks=tuple(marks))


def _end_of(data: bytes) -> int:
    """A stored batch's last offset, from its header (base offset + last offset delta)."""
    return _BASE_OFFSET.unpack_from(data, 0)[0] + _LAST_OFFSET_DELTA.unpack_from(data, 23)[0]


def _kept_batches(rows: list, aborted: tuple | None) -> list[bool]:
    """Which stored batches hold records for the reader: never markers; for read_committed
    (``aborted`` given) not the aborted transactions' batches either."""
    if aborted is None:
        return [not data[22] & CONTROL_MASK for _, data in rows]
    headers = [(_BASE_OFFSET.unpack_from(data, 0)[0], _PRODUCER_FIELDS.unpack_from(data, 43)[0],
                bool(data[22] & TRANSACTIONAL_MASK), bool(data[22] & CONTROL_MASK)) for _, data in rows]
    return visible_to_read_committed(headers, aborted)


async def insert_batch(conn: aiosqlite.Connection, topic_id: int, partition: int, data: bytes | bytearray,
                       base_offset: int, last_offset: int, max_timestamp: int, record_count: int) -> None:
    """Store one batch whose offsets are assigned (its header says the same as the arguments)."""
    await conn.execute(
        "INSERT INTO batches(topic_id, partition, base_offset, last_offset, max_timestamp, producer_id,"
        " producer_epoch, base_sequence, attributes, record_count, size, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (topic_id, partition, base_offset, last_offset, max_timestamp,
         *_PRODUCER_FIELDS.unpack_from(data, 43), _ATTRIBUTES.unpack_from(data, 21)[0], record_count,
         len(data), bytes(data)))


async def read_batch_bytes(conn: aiosqlite.Connection, topic_id: int, partition: int, offset: int, upto: int,
                           max_batches: int, max_bytes: int) -> list[tuple[int, bytes]]:
    """Whole stored batches from the one holding ``offset``, below ``upto``, at most ``max_batches``
    of them and ``max_bytes`` bytes (but at least one), as (base offset, bytes)."""
    if offset >= upto or max_batches <= 0:
        return []
    headers = await conn.execute_fetchall(
        "SELECT base_offset, last_offset, size FROM batches WHERE topic_id=? AND partition=? AND base_offset>=coalesce("
        "(SELECT max(base_offset) FROM batches WHERE topic_id=? AND partition=? AND base_offset<=?), ?)"
        " AND base_offset<? ORDER BY base_offset LIMIT ?",
        (topic_id, partition, topic_id, partition, offset, offset, upto, max_batches))
    first = last = None
    total = 0
    for base, last_offset, size in headers:
        if last_offset < offset:
            continue  # all its records are below the offset (compaction emptied its end)
        if last_offset >= upto or (first is not None and total + size > max_bytes):
            break
        if first is None:
            first = base
        last = base
        total += size
    if first is None:
        return []
    rows = await conn.execute_fetchall(
        "SELECT base_offset, data FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?"
        " AND base_offset<=? ORDER BY base_offset", (topic_id, partition, first, last))
    for base, data in rows:
        if not batch_is_intact(data):
            raise DamagedRecordBatch(topic_id, partition, base)
    return rows


async def read_batches(conn: aiosqlite.Connection, topic_id: int, partition: int, offset: int, upto: int,
                       max_records: int, *, fill_bytes: int = 0) -> list[tuple[int, bytes]]:
    """The batches holding records from ``offset`` (the first one may start below it) to ``upto``,
    as (base offset, bytes): enough of them for ``max_records`` records, no more; with
    ``fill_bytes``, more until that many bytes are read (never more than max_records + 1 batches)."""
    if offset >= upto or max_records <= 0:
        return []
    # The batch holding ``offset`` starts at or below it: one seek, then batches are stepped
    # through (SQLite reads a row's bytes only when it is stepped to) until they hold
    # max_records records, at most max_records + 1 batches (compaction may leave empty ones).
    cursor = await conn.execute(
        "SELECT base_offset, last_offset, record_count, data FROM batches WHERE topic_id=? AND partition=?"
        " AND base_offset>=coalesce((SELECT max(base_offset) FROM batches WHERE topic_id=? AND partition=?"
        " AND base_offset<=?), ?) AND base_offset<? ORDER BY base_offset",
        (topic_id, partition, topic_id, partition, offset, offset, upto))
    rows: list[tuple[int, bytes]] = []
    total = 0
    read = 0
    step = 1
    try:
        while (total < max_records or read < fill_bytes) and len(rows) <= max_records:
            # As many rows as the batches so far say are still needed: one for big batches,
            # a few at a time for small ones (each fetch is a call; each row read, its bytes).
            found = await cursor.fetchmany(min(step, max_records + 1 - len(rows)))
            if not found:
                break
            for base, last_offset, count, data in found:
                if base < offset:
                    # The batch holding the offset counts only its records from the offset on: exactly
                    # when its offsets are dense, none when compaction left gaps (then read on).
                    count = last_offset - offset + 1 if count == last_offset - base + 1 else 0
                total += count
                # CRC-32C runs at GB/s: every batch read is checked, so damage is never served as records.
                if not batch_is_intact(data):
                    raise DamagedRecordBatch(topic_id, partition, base)
                rows.append((base, data))
                read += len(data)
                if total >= max_records and read >= fill_bytes:
                    break
            step = min(64, max(1, (max_records - total) // max(count, 1)))
    finally:
        await cursor.close()
    return rows


async def truncate_log(conn: aiosqlite.Connection, topic_id: int, partition: int, end_offset: int,
                       now: int) -> None:
    """Remove every record at and above ``end_offset`` (Kafka's ``Log.truncateTo``).

    Runs inside the caller's write transaction; the caller updates the partition's
    offsets. Batches from the new end go; one holding it keeps only its records below it.
    Segments above the new end go, the one holding it ends there; a new end below the
    first segment leaves one empty segment starting at it. Later appends reuse the
    removed offsets.
    """
    removed = await conn.execute_fetchall(
        "SELECT base_offset, size FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?",
        (topic_id, partition, end_offset))
    await conn.execute("DELETE FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?",
                       (topic_id, partition, end_offset))
    straddling = await conn.execute_fetchall(
        "SELECT id, base_offset, size, data FROM batches WHERE topic_id=? AND partition=? AND base_offset=("
        "SELECT max(base_offset) FROM batches WHERE topic_id=? AND partition=? AND base_offset<?) AND last_offset>=?",
        (topic_id, partition, topic_id, partition, end_offset, end_offset))
    shrunk = 0
    for row_id, base, size, data in straddling:
        batch = RecordBatch(data)
        kept = [record for record in batch.records() if record.offset < end_offset]
        rebuilt = rebuild_batch(batch, kept, keep_last_offset=False)
        shrunk = size - len(rebuilt)
        await conn.execute(
            "UPDATE batches SET last_offset=?, max_timestamp=?, record_count=?, size=?, data=? WHERE id=?",
            (end_offset - 1, max((r.timestamp for r in kept), default=-1), len(kept), len(rebuilt),
             bytes(rebuilt), row_id))
    await conn.execute("DELETE FROM pending_replication WHERE topic_id=? AND partition=? AND base_offset>=?",
                       (topic_id, partition, end_offset))
    await truncate_cleaner_state(conn, topic_id, partition, end_offset)
    await truncate_producer_state(conn, topic_id, partition, end_offset)
    await transaction_index.truncate(conn, topic_id, partition, end_offset)
    bases = [row[0] for row in await conn.execute_fetchall(
        "SELECT base_offset FROM segments WHERE topic_id=? AND partition=? ORDER BY base_offset",
        (topic_id, partition))]
    if not bases or end_offset < bases[0]:
        await conn.execute("DELETE FROM segments WHERE topic_id=? AND partition=?", (topic_id, partition))
        await conn.execute(
            "INSERT INTO segments(topic_id, partition, base_offset, next_offset, created_at) VALUES (?, ?, ?, ?, ?)",
            (topic_id, partition, end_offset, end_offset, now))
        await conn.execute("UPDATE partitions SET active_segment_bytes=0, active_segment_max_timestamp=-1"
                           " WHERE topic_id=? AND partition=?", (topic_id, partition))
        return
    kept_base = max(b for b in bases if b <= end_offset)
    next_base = min((b for b in bases if b > kept_base), default=None)
    # The kept segment becomes the active one: its size (read before the segments above go,
    # while its values are still where segment_state finds them) less its removed batches
    # (the others left with their segments), into the partition's row.
    ((kept_size,),) = await conn.execute_fetchall(
        "SELECT size_bytes FROM segment_state WHERE topic_id=? AND partition=? AND base_offset=?",
        (topic_id, partition, kept_base))
    await conn.execute("DELETE FROM segments WHERE topic_id=? AND partition=? AND base_offset>?",
                       (topic_id, partition, end_offset))
    lost_bytes = shrunk + sum(size for base, size in removed if next_base is None or base < next_base)
    await conn.execute(
        "UPDATE partitions SET active_segment_bytes=?, active_segment_max_timestamp=coalesce("
        "(SELECT max(max_timestamp) FROM batches WHERE topic_id=? AND partition=? AND base_offset>=?"
        " AND base_offset<?), -1) WHERE topic_id=? AND partition=?",
        (max(0, kept_size - lost_bytes), topic_id, partition, kept_base, end_offset, topic_id, partition))


async def _topic_meta(conn: aiosqlite.Connection, topic: str) -> tuple[int, int, dict] | None:
    """The topic's id, partition count and config in effect, or None if there is no such topic."""
    rows = await conn.execute_fetchall("SELECT id, partitions, config FROM topics WHERE name=?", (topic,))
    if not rows:
        return None
    topic_id, partitions, raw = rows[0]
    config = _CONFIGS.get(raw)
    if config is None:
        if len(_CONFIGS) >= 1024:
            _CONFIGS.clear()
        # Shared by every append to topics with these overrides: nobody may change it.
        config = _CONFIGS[raw] = effective_config(json.loads(raw))
    return topic_id, partitions, config


async def _topic_meta_read(storage: Storage, topic: str) -> tuple[int, int, dict] | None:
    row = await storage.fetchone("SELECT id, partitions, config FROM topics WHERE name=?", (topic,))
    if row is None:
        return None
    return row[0], row[1], effective_config(json.loads(row[2]))

