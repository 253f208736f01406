"""The group coordinator's APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups,
DescribeGroups and DeleteGroups, each a call on the core's ``GroupCoordinator``.

Kafka answers a group's requests only on its coordinator (the broker that FindCoordinator
names); any other broker says NOT_COORDINATOR and the client looks it up again, as it
does when the coordinator's broker stops.
"""

from __future__ import annotations

from kafka.protocol.admin import DeleteGroupsResponse, DescribeGroupsResponse, ListGroupsResponse
from kafka.protocol.consumer import HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, SyncGroupResponse

from broker_core.consumer_protocol import (ConsumerProtocolAssignment, ConsumerProtocolSubscription,
                                           encode_assignment, encode_subscription)
from broker_core.errors import KafkaError
from broker_core.group_descriptions import CONSUMER_GROUP_TYPE
from broker_core.groups import GroupDescription, MemberDescription

from .context import RequestContext, WireError, error_code

#: JoinGroup's answers before a generation exists.
NO_GENERATION = -1
#: Kafka's ``MemberIdentity`` results in LeaveGroup v3+.
LeaveMember = LeaveGroupResponse.MemberResponse
DescribedGroup = DescribeGroupsResponse.DescribedGroup
DescribedMember = DescribedGroup.DescribedGroupMember


class NotCoordinator(KafkaError):
    """This broker is not the group's coordinator: find the coordinator again."""

    name, code, retriable = "NOT_COORDINATOR", 16, True


def check_coordinator(ctx: RequestContext, key: str, kind: str = "group") -> None:
    """Raise NotCoordinator unless this listener's broker coordinates ``key``.

    ``key`` is a group id or (``kind`` "transactional id") a transactional id: both are
    placed by the same hash (``coordinator_for``).
    """
    coordinator = ctx.server.coordinator_for(key)
    if coordinator != ctx.broker_id:
        raise NotCoordinator(f"This is not the correct coordinator for {kind} '{key}' "
                             f"(broker {coordinator} is)")


async def handle_join_group(ctx: RequestContext, request) -> JoinGroupResponse:
    """JoinGroup: wait until the join phase completes; the leader receives every member's metadata."""
    # JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout.
    rebalance_timeout = request.rebalance_timeout_ms if ctx.version >= 1 else request.session_timeout_ms
    try:
        check_coordinator(ctx, request.group_id)
        result = await ctx.cluster.groups.join_group(
            request.group_id, request.member_id, client_id=ctx.client_id, host=ctx.client_host,
            session_timeout_ms=request.session_timeout_ms, rebalance_timeout_ms=rebalance_timeout,
            protocol_type=request.protocol_type,
            protocols=[(protocol.name, bytes(protocol.metadata or b"")) for protocol in request.protocols])
    except KafkaError as error:
        return JoinGroupResponse(version=ctx.version, throttle_time_ms=0, error_code=error_code(error),
                                 generation_id=NO_GENERATION, protocol_name="", leader="",
                                 member_id=request.member_id, members=[])
    return JoinGroupResponse(
        version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE, generation_id=result.generation,
        protocol_type=request.protocol_type, protocol_name=result.protocol_name or "", leader=result.leader_id,
        member_id=result.member_id,
        members=[JoinGroupResponse.JoinGroupResponseMember(member_id=member_id, group_instance_id=None,
                                                           metadata=metadata)
                 for member_id, metadata in result.members])


async def handle_sync_group(ctx: RequestContext, request) -> SyncGroupResponse:
    """SyncGroup: the leader hands in the assignment; every member gets its own share."""
    try:
        check_coordinator(ctx, request.group_id)
        assignment = await ctx.cluster.groups.sync_group(
            request.group_id, request.generation_id, request.member_id,
            {a.member_id: bytes(a.assignment or b"") for a in request.assignments or ()})
    except KafkaError as error:
        return SyncGroupResponse(version=ctx.version, throttle_time_ms=0, error_code=error_code(error),
                                 assignment=b"")
    # v5 echoes the protocol type and name (a member checks them against its JoinGroup's).
    protocol_type = request.protocol_type if ctx.version >= 5 else None
    protocol_name = request.protocol_name if ctx.version >= 5 else None
    return SyncGroupResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                             protocol_type=protocol_type, protocol_name=protocol_name, assignment=assignment)


async def handle_heartbeat(ctx: RequestContext, request) -> HeartbeatResponse:
    """Heartbeat: REBALANCE_IN_PROGRESS tells the member to rejoin."""
    code = WireError.NONE
    try:
        check_coordinator(ctx, request.group_id)
        await ctx.cluster.groups.heartbeat(request.group_id, request.generation_id, request.member_id)
    except KafkaError as error:
        code = error_code(error)
    return HeartbeatResponse(version=ctx.version, throttle_time_ms=0, error_code=code)


async def handle_leave_group(ctx: RequestContext, request) -> LeaveGroupResponse:
    """LeaveGroup: one member (v0-2) or a list of them (v3), each leaving at once."""
    member_ids = [request.member_id] if ctx.version < 3 else [m.member_id for m in request.members]
    try:
        check_coordinator(ctx, request.group_id)
    except KafkaError as error:
        return LeaveGroupResponse(version=ctx.version, throttle_time_ms=0, error_code=error_code(error), members=[])
    results = []
    for member_id in member_ids:
        code = WireError.NONE
        try:
            await ctx.cluster.groups.leave_group(request.group_id, member_id)
        except KafkaError as error:
            code = error_code(error)
        results.append(LeaveMember(member_id=member_id, group_instance_id=None, error_code=code))
    # Before v3 the one member's error is the response's error.
    top = results[0].error_code if ctx.version < 3 and results else WireError.NONE
    return LeaveGroupResponse(version=ctx.version, throttle_time_ms=0, error_code=top, members=results)


async def handle_list_groups(ctx: RequestContext, request) -> ListGroupsResponse:
    """ListGroups: every group this broker coordinates (Kafka asks each broker for its own).

    v4 filters by state, v5 by type: "classic" or "consumer" (KIP-848).
    """
    states = {state.lower() for state in request.states_filter} if ctx.version >= 4 else set()
    types = {kind.lower() for kind in request.types_filter} if ctx.version >= 5 else set()
    listings = await ctx.cluster.groups.list_groups()
    groups = [ListGroupsResponse.ListedGroup(group_id=g.group_id, protocol_type=g.protocol_type,
                                             group_state=g.state, group_type=g.group_type)
              for g in listings if ctx.server.coordinator_for(g.group_id) == ctx.broker_id
              and (not states or g.state.lower() in states) and (not types or g.group_type in types)]
    return ListGroupsResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE, groups=groups)


async def handle_describe_groups(ctx: RequestContext, request) -> DescribeGroupsResponse:
    """DescribeGroups: state, protocol and members with their assignments (a missing group is Dead).

    A KIP-848 consumer group is not a classic group: Kafka describes it as Dead (v6:
    GROUP_ID_NOT_FOUND), and admin clients ask ConsumerGroupDescribe instead.
    """
    described = []
    for group_id in request.groups:
        try:
            check_coordinator(ctx, group_id)
            group = await ctx.cluster.groups.describe_group(group_id)
            if group.group_type == CONSUMER_GROUP_TYPE or group.state == "Dead":
                # v6 (KIP-1043): an unknown group is an error rather than a Dead group.
                message = (f"Group {group_id} is not a classic group." if group.group_type == CONSUMER_GROUP_TYPE
                           else f"Group {group_id} not found.")
                described.append(DescribedGroup(error_code=WireError.GROUP_ID_NOT_FOUND if ctx.version >= 6 else 0,
                                                error_message=message if ctx.version >= 6 else None,
                                                group_id=group_id, group_state="Dead", protocol_type="",
                                                protocol_data="", members=[]))
                continue
            described.append(_described(group))
        except KafkaError as error:
            described.append(DescribedGroup(error_code=error_code(error), group_id=group_id, group_state="",
                                            protocol_type="", protocol_data="", members=[]))
    return DescribeGroupsResponse(version=ctx.version, throttle_time_ms=0, groups=described)


def _described(group: GroupDescription) -> "DescribedGroup":
    consumer = group.protocol_type == "consumer"
    return DescribedGroup(error_code=WireError.NONE, group_id=group.group_id, group_state=group.state,
                          protocol_type=group.protocol_type, protocol_data=group.protocol,
                          members=[_described_member(member, consumer) for member in group.members])


def _described_member(member: MemberDescription, consumer: bool) -> "DescribedMember":
    # The core keeps assignments decoded; a consumer group's are encoded back in the
    # consumer protocol, which is what admin clients decode.
    metadata = assignment = b""
    if consumer:
        topics = sorted({tp.topic for tp in member.assignment})
        # Version 0 of both structures: every client decodes it.
        metadata = encode_subscription(ConsumerProtocolSubscription(topics=tuple(topics)), version=0)
        assignment = encode_assignment(ConsumerProtocolAssignment(partitions=tuple(member.assignment)), version=0)
    return DescribedMember(member_id=member.member_id, group_instance_id=None, client_id=member.client_id,
                           client_host=member.host, member_metadata=metadata, member_assignment=assignment)


async def handle_delete_groups(ctx: RequestContext, request) -> DeleteGroupsResponse:
    """DeleteGroups: remove empty groups and their committed offsets."""
    results = []
    for group_id in request.groups_names:
        code = WireError.NONE
        try:
            check_coordinator(ctx, group_id)
            await ctx.cluster.groups.delete_group(group_id)
        except KafkaError as error:
            code = error_code(error)
        results.append(DeleteGroupsResponse.DeletableGroupResult(group_id=group_id, error_code=code))
    return DeleteGroupsResponse(version=ctx.version, throttle_time_ms=0, results=results)
