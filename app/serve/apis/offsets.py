"""OffsetCommit and OffsetFetch: a group's committed positions, kept by the core."""

from __future__ import annotations

from kafka.protocol.consumer import OffsetCommitResponse, OffsetFetchResponse

from broker_core.errors import InvalidRequest, KafkaError, UnknownTopicOrPartition
from broker_core.records import TopicPartition

from .context import RequestContext, WireError, error_code
from .groups import check_coordinator

CommitTopic = OffsetCommitResponse.OffsetCommitResponseTopic
CommitPartition = CommitTopic.OffsetCommitResponsePartition
FetchTopic = OffsetFetchResponse.OffsetFetchResponseTopic
FetchPartition = FetchTopic.OffsetFetchResponsePartition
GroupResult = OffsetFetchResponse.OffsetFetchResponseGroup
GroupTopic = GroupResult.OffsetFetchResponseTopics
GroupPartition = GroupTopic.OffsetFetchResponsePartitions
#: What OffsetFetch answers for a partition without a committed offset.
NO_OFFSET = -1
NO_EPOCH = -1


async def handle_offset_commit(ctx: RequestContext, request) -> OffsetCommitResponse:
    """OffsetCommit: store the next offset to read for each partition.

    The core commits a request's offsets together; when one partition does not exist
    (or has a negative offset), the others are committed one by one so that only those
    fail, as each partition has its own error in Kafka's response.
    """
    group_id = request.group_id
    generation = request.generation_id_or_member_epoch
    entries = {TopicPartition(topic.name, p.partition_index): (p.committed_offset, p.committed_metadata or "")
               for topic in request.topics for p in topic.partitions}
    codes: dict[TopicPartition, int] = {}
    try:
        check_coordinator(ctx, group_id)
        await _commit(ctx, group_id, generation, request.member_id, entries)
    except (UnknownTopicOrPartition, InvalidRequest):
        for tp, entry in entries.items():
            try:
                await _commit(ctx, group_id, generation, request.member_id, {tp: entry})
            except KafkaError as error:
                codes[tp] = error_code(error)
    except KafkaError as error:
        codes = {tp: error_code(error) for tp in entries}
    by_topic: dict[str, list] = {}
    for tp in entries:
        by_topic.setdefault(tp.topic, []).append(
            CommitPartition(partition_index=tp.partition, error_code=codes.get(tp, WireError.NONE)))
    return OffsetCommitResponse(version=ctx.version, throttle_time_ms=0,
                                topics=[CommitTopic(name=name, partitions=parts) for name, parts in by_topic.items()])


async def _commit(ctx: RequestContext, group_id: str, generation: int, member_id: str,
                  entries: dict[TopicPartition, tuple[int, str]]) -> None:
    if any(offset < 0 for offset, _ in entries.values()):
        raise InvalidRequest("kplay cannot store a negative committed offset")
    # The core keeps one metadata string per commit; a request's partitions share the first one.
    metadata = next((meta for _, meta in entries.values() if meta), "")
    await ctx.cluster.groups.commit_offsets(group_id, generation, member_id,
                                            {tp: offset for tp, (offset, _) in entries.items()}, metadata,
                                            api_version=ctx.version)


async def handle_offset_fetch(ctx: RequestContext, request) -> OffsetFetchResponse:
    """OffsetFetch: committed offsets of the partitions asked (all of the group's when topics is null).

    Up to v7 one group per request; from v8 a list of groups, each with its own error.
    """
    if ctx.version < 8:
        code, topics = await _group_offsets(ctx, request.group_id, request.topics)
        return OffsetFetchResponse(version=ctx.version, throttle_time_ms=0, error_code=code, topics=[
            FetchTopic(name=name, partitions=[FetchPartition(**fields) for fields in parts]) for name, parts in topics])
    groups = []
    for group in request.groups:
        # v9 (KIP-848): a consumer-protocol member fetches as itself, its epoch checked.
        member = (group.member_id, group.member_epoch) if ctx.version >= 9 else (None, -1)
        code, topics = await _group_offsets(ctx, group.group_id, group.topics, *member)
        groups.append(GroupResult(group_id=group.group_id, error_code=code, topics=[
            GroupTopic(name=name, partitions=[GroupPartition(**fields) for fields in parts])
            for name, parts in topics]))
    return OffsetFetchResponse(version=ctx.version, throttle_time_ms=0, groups=groups)


async def _group_offsets(ctx: RequestContext, group_id: str, asked, member_id: str | None = None,
                         member_epoch: int = -1) -> tuple[int, list[tuple[str, list[dict]]]]:
    """(group error, [(topic, [partition fields])]) for one group; ``asked`` None means every partition."""
    try:
        check_coordinator(ctx, group_id)
        if asked is None:
            committed = await ctx.cluster.groups.fetch_offsets(group_id, member_id=member_id,
                                                               member_epoch=member_epoch)
            wanted = list(committed)
        else:
            wanted = [TopicPartition(topic.name, index) for topic in asked for index in topic.partition_indexes]
            committed = await ctx.cluster.groups.fetch_offsets(group_id, wanted, member_id=member_id,
                                                               member_epoch=member_epoch)
    except KafkaError as error:
        code = error_code(error)
        return code, [(topic.name, [dict(partition_index=index, committed_offset=NO_OFFSET,
                                         committed_leader_epoch=NO_EPOCH, metadata="", error_code=code)
                                    for index in topic.partition_indexes]) for topic in asked or ()]
    by_topic: dict[str, list[dict]] = {}
    for tp in wanted:
        by_topic.setdefault(tp.topic, []).append(dict(
            partition_index=tp.partition, committed_offset=committed.get(tp, NO_OFFSET),
            committed_leader_epoch=NO_EPOCH, metadata="", error_code=WireError.NONE))
    return WireError.NONE, list(by_topic.items())
