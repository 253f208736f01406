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

from broker_core.errors import KafkaError, OffsetOutOfRange
from broker_core.log import EARLIEST, LATEST

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
    topics = []
    for topic in request.topics:
        parts = []
        for p in topic.partitions:
            epoch = p.current_leader_epoch if ctx.version >= 4 else NO_EPOCH
            try:
                partition = await ctx.server.leadership.led_by(ctx.broker_id, topic.name, p.partition_index)
                check_epoch(epoch, partition)
                offset, timestamp = await _offset_for(ctx, topic.name, p.partition_index, p.timestamp,
                                                      ctx.version >= 2 and request.isolation_level == READ_COMMITTED)
                parts.append(OffsetsPartition(
                    partition_index=p.partition_index, error_code=WireError.NONE, timestamp=timestamp,
                    offset=UNKNOWN_OFFSET if offset is None else offset, leader_epoch=partition.leader_epoch))
            except KafkaError as error:
                parts.append(OffsetsPartition(partition_index=p.partition_index, error_code=error_code(error),
                                              timestamp=UNKNOWN_OFFSET, offset=UNKNOWN_OFFSET,
                                              leader_epoch=NO_EPOCH))
        topics.append(OffsetsTopic(name=topic.name, partitions=parts))
    return ListOffsetsResponse(version=ctx.version, throttle_time_ms=0, topics=topics)


async def _offset_for(ctx: RequestContext, topic: str, partition: int, spec: int,
                      read_committed: bool = False) -> tuple[int | None, int]:
    """(offset or None, timestamp or -1) for one partition and one timestamp or special spec
    (``read_committed``, ListOffsets v2+: the latest offset is the last stable offset)."""
    if spec == MAX_TIMESTAMP:
        found = await ctx.cluster.logs.max_timestamp_offset(topic, partition)
        return (None, UNKNOWN_OFFSET) if found is None else found
    if spec == EARLIEST_LOCAL_TIMESTAMP:  # no tiered storage: the local log starts at the log start
        return await ctx.cluster.logs.list_offset(topic, partition, EARLIEST), UNKNOWN_OFFSET
    if spec == LATEST_TIERED_TIMESTAMP:  # nothing is tiered: Kafka answers -1
        await ctx.cluster.logs.list_offset(topic, partition, LATEST)  # the partition must exist
        return None, UNKNOWN_OFFSET
    offset = await ctx.cluster.logs.list_offset(topic, partition, spec, read_committed=read_committed)
    if offset is None or spec in (EARLIEST, LATEST):
        return offset, UNKNOWN_OFFSET
    return offset, await _timestamp_at(ctx, topic, partition, offset)


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


async def _timestamp_at(ctx: RequestContext, topic: str, partition: int, offset: int) -> int:
    try:
        result = await ctx.cluster.logs.read(topic, partition, offset, max_records=1)
    except OffsetOutOfRange:
        return UNKNOWN_OFFSET
    return result.records[0].timestamp if result.records else UNKNOWN_OFFSET
