"""ListOffsets: the earliest, latest, largest-timestamp or first-at-a-time offset of each partition.

v1+ answer one offset per partition. v0 (removed in Kafka 4.0, still sent by
Burrow and sarama) answers a list of up to ``max_num_offsets`` offsets, newest first,
as Kafka 3.x's ``legacyFetchOffsetsBefore`` did; kplay keeps no segment files, so the
log answers as one segment: ``[high watermark, log start]`` for latest, ``[log start]``
for earliest, and for a time: both for now or later, ``[log start]`` when every record
is older, else nothing.
"""

from __future__ import annotations

import time

from kafka.protocol.consumer import ListOffsetsResponse
from kafka.protocol.old.list_offsets import ListOffsetsResponse_v0

from broker_core.errors import KafkaError
from broker_core.log import EARLIEST, LATEST, PartitionOffsets
from broker_core.record_batch import NO_TIMESTAMP

from .context import RequestContext, WireError, error_code
from .fetch import NO_EPOCH, READ_COMMITTED, UNKNOWN_OFFSET, check_epoch

#: ListOffsets' special timestamps beyond earliest (-2) and latest (-1): the record with the
#: largest timestamp (v7+, KIP-734), the local log's start (v8+, KIP-405) and the last
#: tiered offset (v9+, KIP-1005).
MAX_TIMESTAMP = -3
EARLIEST_LOCAL_TIMESTAMP = -4
LATEST_TIERED_TIMESTAMP = -5

OffsetsTopic = ListOffsetsResponse.ListOffsetsTopicResponse
OffsetsPartition = OffsetsTopic.ListOffsetsPartitionResponse


async def handle_list_offsets(ctx: RequestContext, request) -> ListOffsetsResponse | ListOffsetsResponse_v0:
    """ListOffsets: the earliest (-2) or latest (-1) offset of each partition, the record with the
    largest timestamp (-3), or the first offset whose timestamp is at least the one asked (-1
    when there is none); on the partition's leader."""
    if ctx.version == 0:
        return await _legacy_offsets(ctx, request)
    read_committed = ctx.version >= 2 and request.isolation_level == READ_COMMITTED
    topics = []
    for topic in request.topics:
        answers: list[OffsetsPartition | None] = []
        waiting: list[tuple[int, int, int]] = []  # (place in answers, timestamp asked, leader epoch)
        asks: list[tuple[int, int]] = []  # (partition, spec) for the log, all in one read
        snapshot = await _snapshot(ctx, topic)
        for p in topic.partitions:
            epoch = p.current_leader_epoch if ctx.version >= 4 else NO_EPOCH
            try:
                partition = await ctx.server.leadership.led_by(ctx.broker_id, topic.name, p.partition_index)
                check_epoch(epoch, partition)
                state = snapshot.get(p.partition_index) if snapshot is not None else None
                if state is not None and p.timestamp in SNAPSHOT_SPECS:
                    answers.append(_from_snapshot(p.partition_index, p.timestamp, state, read_committed,
                                                  partition.leader_epoch))
                    continue
                if p.timestamp == MAX_TIMESTAMP:
                    found = await ctx.cluster.logs.max_timestamp_offset(topic.name, p.partition_index)
                    answers.append(_answer(p.partition_index, (None, UNKNOWN_OFFSET) if found is None else found,
                                           partition.leader_epoch))
                    continue
                waiting.append((len(answers), p.timestamp, partition.leader_epoch))
                asks.append((p.partition_index, _log_spec(p.timestamp)))
                answers.append(None)
            except KafkaError as error:
                answers.append(_error(p.partition_index, error))
        if asks:
            found_all = await ctx.cluster.logs.list_offsets(topic.name, asks, read_committed=read_committed)
            for (place, timestamp, leader_epoch), (index, _), found in zip(waiting, asks, found_all):
                if isinstance(found, KafkaError):
                    answers[place] = _error(index, found)
                elif timestamp == LATEST_TIERED_TIMESTAMP:  # nothing is tiered: Kafka answers -1
                    answers[place] = _answer(index, (None, UNKNOWN_OFFSET), leader_epoch)
                else:
                    answers[place] = _answer(index, found, leader_epoch)
        topics.append(OffsetsTopic(name=topic.name, partitions=answers))
    return ListOffsetsResponse(version=ctx.version, throttle_time_ms=0, topics=topics)


#: What a snapshot of the partitions' offsets answers without reading the log.
SNAPSHOT_SPECS = (EARLIEST, LATEST, EARLIEST_LOCAL_TIMESTAMP, LATEST_TIERED_TIMESTAMP)


async def _snapshot(ctx: RequestContext, topic) -> dict[int, PartitionOffsets] | None:
    """The topic's offsets as of the last commit, when the request asks what they answer and
    the snapshot is worth having (``OffsetsSnapshots``); None: ask the log."""
    if not any(p.timestamp in SNAPSHOT_SPECS for p in topic.partitions):
        return None
    description = await ctx.server.leadership.topic(topic.name)
    if description is None:
        return None
    return await ctx.server.offsets_snapshots.of(topic.name, len(description.partitions))


def _from_snapshot(index: int, timestamp: int, state: PartitionOffsets, read_committed: bool,
                   leader_epoch: int) -> OffsetsPartition:
    """What the log would answer for EARLIEST (-2, and -4: no tiered storage), LATEST (-1; the
    last stable offset for read_committed) or the last tiered offset (-5: always -1)."""
    if timestamp == LATEST_TIERED_TIMESTAMP:
        return _answer(index, (None, UNKNOWN_OFFSET), leader_epoch)
    if timestamp in (EARLIEST, EARLIEST_LOCAL_TIMESTAMP):
        return _answer(index, (state.log_start_offset, NO_TIMESTAMP), leader_epoch)
    return _answer(index, (state.last_stable_offset if read_committed else state.high_watermark, NO_TIMESTAMP),
                   leader_epoch)


def _log_spec(timestamp: int) -> int:
    """What to ask the log for a ListOffsets timestamp. Without tiered storage the local log
    starts at the log start (-4); the last tiered offset (-5) is always -1, but the partition
    must exist, so the log is asked for its latest."""
    if timestamp == EARLIEST_LOCAL_TIMESTAMP:
        return EARLIEST
    if timestamp == LATEST_TIERED_TIMESTAMP:
        return LATEST
    return timestamp


def _answer(index: int, found: tuple[int | None, int], leader_epoch: int) -> OffsetsPartition:
    offset, timestamp = found
    return OffsetsPartition(partition_index=index, error_code=WireError.NONE, timestamp=timestamp,
                            offset=UNKNOWN_OFFSET if offset is None else offset, leader_epoch=leader_epoch)


def _error(index: int, error: KafkaError) -> OffsetsPartition:
    return OffsetsPartition(partition_index=index, error_code=error_code(error), timestamp=UNKNOWN_OFFSET,
                            offset=UNKNOWN_OFFSET, leader_epoch=NO_EPOCH)


async def _legacy_offsets(ctx: RequestContext, request) -> ListOffsetsResponse_v0:
    # The legacy classes decode arrays of structs as tuples, in the schema's field order.
    topics = []
    for name, partitions in request.topics:
        parts = []
        for index, timestamp, max_num_offsets in partitions:
            try:
                await ctx.server.leadership.led_by(ctx.broker_id, name, index)
                start = await ctx.cluster.logs.list_offset(name, index, EARLIEST)
                end = await ctx.cluster.logs.list_offset(name, index, LATEST)
                if timestamp == LATEST or timestamp >= int(time.time() * 1000):
                    offsets = [end, start] if end != start else [end]
                elif timestamp == EARLIEST:
                    offsets = [start]
                else:
                    # The one segment was last written after the time asked when a record is at least as new.
                    newer = await ctx.cluster.logs.list_offset(name, index, timestamp)
                    offsets = [start] if newer is None else []
                parts.append((index, WireError.NONE, offsets[:max(0, max_num_offsets)]))
            except KafkaError as error:
                parts.append((index, error_code(error), []))
        topics.append((name, parts))
    return ListOffsetsResponse_v0(topics=topics)
