"""KIP-848's consumer group APIs: ConsumerGroupHeartbeat and ConsumerGroupDescribe, calls on the core.

A client with ``group.protocol=consumer`` (librdkafka 2.4+, Java 3.7+) joins, stays in
and leaves a group only through ConsumerGroupHeartbeat; the core's
``ConsumerGroupCoordinator`` decides everything. The wire carries topic ids where the core
keeps topic names: owned partitions are named by id in the request, assigned ones in the
response (and ConsumerGroupDescribe carries both).
"""

from __future__ import annotations

from typing import Any, Iterable

from broker_core.consumer_group_coordinator import ConsumerGroupHeartbeatRequest
from broker_core.errors import KafkaError
from broker_core.group_descriptions import CONSUMER_GROUP_TYPE, GroupDescription
from broker_core.records import TopicPartition

from ..consumer_group_messages import ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatResponse
from ..topic_ids import wire_topic_id
from .context import RequestContext, WireError, error_code, error_message
from .groups import check_coordinator

HeartbeatAssignment = ConsumerGroupHeartbeatResponse.Assignment
HeartbeatTopicPartitions = HeartbeatAssignment.TopicPartitions
DescribedGroup = ConsumerGroupDescribeResponse.DescribedGroup
DescribedMember = DescribedGroup.Member
#: Kafka's ``authorizedOperations`` when they were not asked for.
AUTHORIZED_OPERATIONS_OMITTED = -2147483648


async def handle_consumer_group_heartbeat(ctx: RequestContext, request: Any) -> ConsumerGroupHeartbeatResponse:
    """ConsumerGroupHeartbeat: the member's epoch, the heartbeat interval and, when it changed, its assignment."""
    try:
        check_coordinator(ctx, request.group_id)
        owned = None
        if request.topic_partitions is not None:
            owned = {}
            for topic in request.topic_partitions:
                name = await ctx.server.leadership.topic_name(topic.topic_id)
                if name is not None:  # a deleted topic: its partitions are gone anyway
                    owned[name] = tuple(topic.partitions)
        result = await ctx.cluster.groups.consumer_group_heartbeat(ConsumerGroupHeartbeatRequest(
            request.group_id, request.member_id, request.member_epoch, instance_id=request.instance_id,
            rack_id=request.rack_id, rebalance_timeout_ms=request.rebalance_timeout_ms,
            subscribed_topic_names=(None if request.subscribed_topic_names is None
                                    else tuple(request.subscribed_topic_names)),
            subscribed_topic_regex=request.subscribed_topic_regex if ctx.version >= 1 else None,
            server_assignor=request.server_assignor, owned_partitions=owned,
            client_id=ctx.client_id or "", client_host=ctx.client_host))
    except KafkaError as error:
        return ConsumerGroupHeartbeatResponse(
            version=ctx.version, throttle_time_ms=0, error_code=error_code(error), error_message=error_message(error),
            member_id=None, member_epoch=-1, heartbeat_interval_ms=0, assignment=None)
    assignment = None
    if result.assignment is not None:
        assignment = HeartbeatAssignment(topic_partitions=[
            HeartbeatTopicPartitions(topic_id=topic_id, partitions=partitions)
            for _, topic_id, partitions in await _by_topic(ctx, result.assignment)])
    return ConsumerGroupHeartbeatResponse(
        version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE, error_message=None,
        member_id=result.member_id, member_epoch=result.member_epoch,
        heartbeat_interval_ms=result.heartbeat_interval_ms, assignment=assignment)


async def handle_consumer_group_describe(ctx: RequestContext, request: Any) -> ConsumerGroupDescribeResponse:
    """ConsumerGroupDescribe: epochs, assignor and members; GROUP_ID_NOT_FOUND for any other group id."""
    described = []
    for group_id in request.group_ids:
        try:
            check_coordinator(ctx, group_id)
            group = await ctx.cluster.groups.describe_group(group_id)
        except KafkaError as error:
            described.append(_error_group(group_id, error_code(error), error_message(error)))
            continue
        if group.group_type != CONSUMER_GROUP_TYPE or group.state == "Dead":
            # As Kafka: a classic group is "not a consumer group", a missing one "not found".
            message = (f"Group {group_id} is not a consumer group." if group.state != "Dead"
                       else f"Consumer group {group_id} not found.")
            described.append(_error_group(group_id, WireError.GROUP_ID_NOT_FOUND, message))
            continue
        described.append(await _described(ctx, group))
    return ConsumerGroupDescribeResponse(version=ctx.version, throttle_time_ms=0, groups=described)


def _error_group(group_id: str, code: int, message: str) -> Any:
    return DescribedGroup(error_code=code, error_message=message, group_id=group_id, group_state="", group_epoch=-1,
                          assignment_epoch=-1, assignor_name="", members=[],
                          authorized_operations=AUTHORIZED_OPERATIONS_OMITTED)


async def _described(ctx: RequestContext, group: GroupDescription) -> Any:
    members = []
    for member in group.members:
        members.append(DescribedMember(
            member_id=member.member_id, instance_id=member.instance_id, rack_id=member.rack_id,
            member_epoch=member.member_epoch if member.member_epoch is not None else -1,
            client_id=member.client_id, client_host=member.host,
            subscribed_topic_names=list(member.subscribed_topics), subscribed_topic_regex=member.subscribed_topic_regex,
            assignment=await _assignment(ctx, member.assignment),
            target_assignment=await _assignment(ctx, member.target_assignment)))
    return DescribedGroup(error_code=WireError.NONE, error_message=None, group_id=group.group_id,
                          group_state=group.state, group_epoch=group.generation,
                          assignment_epoch=group.assignment_epoch or 0, assignor_name=group.protocol,
                          members=members, authorized_operations=AUTHORIZED_OPERATIONS_OMITTED)


async def _assignment(ctx: RequestContext, partitions: Iterable[TopicPartition]) -> Any:
    topic_partitions = DescribedMember.Assignment.TopicPartitions
    return DescribedMember.Assignment(topic_partitions=[
        topic_partitions(topic_id=topic_id, topic_name=name, partitions=parts)
        for name, topic_id, parts in await _by_topic(ctx, partitions)])


async def _by_topic(ctx: RequestContext, partitions: Iterable[TopicPartition]) -> list[tuple[str, Any, list[int]]]:
    """(topic, its wire id, partitions) per topic, by name; topics deleted meanwhile are left out."""
    grouped: dict[str, list[int]] = {}
    for tp in partitions:
        grouped.setdefault(tp.topic, []).append(tp.partition)
    out = []
    for name in sorted(grouped):
        description = await ctx.server.leadership.topic(name)
        if description is not None:
            out.append((name, wire_topic_id(description.topic_id), sorted(grouped[name])))
    return out
