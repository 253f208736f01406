"""``ConsumerGroupCoordinator``: KIP-848's ConsumerGroupHeartbeat and ConsumerGroupDescribe over the data file.

One heartbeat is one ``BEGIN IMMEDIATE`` transaction, as in Kafka's
``GroupMetadataManager.consumerGroupHeartbeat``:

1. the member joins (epoch 0), stays (its epoch) or leaves (-1); its subscription is
   updated from the fields it sent (a field left null means "unchanged");
2. if a subscription changed, or a subscribed topic appeared or grew, the group epoch goes
   up, and the server assignor computes a new target assignment for that epoch;
3. the member takes one reconciliation step towards its target (consumer_group.py).

Timers are lazy, as for classic groups: whoever next touches the group fences members
whose session timed out (``group.consumer.session.timeout.ms``, a broker setting here, not
the client's) or who kept revoked partitions past their rebalance timeout.

A group id names either a classic group or a consumer group. A heartbeat for a classic
group with members is refused with GROUP_ID_NOT_FOUND ("not a consumer group"), as Kafka
does when it cannot convert the group; an empty classic group (committed offsets only) is
taken over, keeping its offsets.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, replace
from typing import Mapping

from .clock import Clock
from .consumer_group import (DEAD, ConsumerGroup, ConsumerGroupMember, Partitions, UNREVOKED_PARTITIONS,
                             flatten, load_consumer_group, partitions_of, reconcile, save_consumer_group,
                             subscribes)
from .errors import (FencedInstanceId, FencedMemberEpoch, GroupIdNotFound, InvalidRegularExpression, InvalidRequest, KafkaError,
                     UnknownMemberId, UnreleasedInstanceId, UnsupportedAssignor)
from .group_descriptions import CONSUMER_GROUP_TYPE, GroupDescription, MemberDescription
from .group_metadata import load_group, save_group
from .records import TopicPartition
from .server_assignors import SERVER_ASSIGNORS, TopicSpec
from .storage import Storage

#: Kafka's defaults of ``group.consumer.session.timeout.ms`` and ``group.consumer.heartbeat.interval.ms``.
CONSUMER_SESSION_TIMEOUT_MS = 45_000
CONSUMER_HEARTBEAT_INTERVAL_MS = 5_000
#: The member epochs a heartbeat may carry besides the member's own.
JOIN_EPOCH = 0
LEAVE_EPOCH = -1
STATIC_LEAVE_EPOCH = -2
#: Topics a regex subscription never matches (Kafka's ``Topic.isInternal``).
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


@dataclass(frozen=True)
class ConsumerGroupHeartbeatRequest:
    """One ConsumerGroupHeartbeat, with owned partitions by topic name; None fields mean "unchanged"."""

    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned_partitions: Mapping[str, tuple[int, ...]] | None = None
    client_id: str = ""
    client_host: str = ""


@dataclass(frozen=True)
class ConsumerGroupHeartbeatResult:
    """The answer: the member's id and epoch, when to beat again, and its partitions if they changed."""

    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: list[TopicPartition] | None = None


def new_member_id() -> str:
    """A member id as Kafka makes one: a random UUID in URL-safe base64 (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class ConsumerGroupCoordinator:
    """KIP-848 consumer groups: heartbeats, descriptions and timers, all in the data file."""

    def __init__(self, storage: Storage, clock: Clock, *,
                 session_timeout_ms: int = CONSUMER_SESSION_TIMEOUT_MS,
                 heartbeat_interval_ms: int = CONSUMER_HEARTBEAT_INTERVAL_MS) -> None:
        self._storage = storage
        self._clock = clock
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms

    # -- the heartbeat ----------------------------------------------------------------------
    async def heartbeat(self, request: ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResult:
        """ConsumerGroupHeartbeat: join, stay, reconcile or leave (see the module's docstring).

        Raises InvalidRequest, UnsupportedAssignor, InvalidRegularExpression,
        GroupIdNotFound, UnknownMemberId or FencedMemberEpoch with Kafka's words.
        """
        _validate(request)
        now = self._clock.now_ms()
        error: KafkaError | None = None
        result: ConsumerGroupHeartbeatResult | None = None
        async with self._storage.write() as conn:
            classic = await load_group(conn, request.group_id)
            classic.maintain(now)
            group = await load_consumer_group(conn, request.group_id)
            group.maintain(now)
            try:
                if classic.members:
                    raise GroupIdNotFound(f"Group {request.group_id} is not a consumer group.")
                topics = await _topics(conn)
                if request.member_epoch in (LEAVE_EPOCH, STATIC_LEAVE_EPOCH):
                    result = self._leave(group, request)
                else:
                    result = self._beat(group, request, topics, now)
                    if classic.exists and not classic.deleted:
                        # Kafka deletes an empty classic group when a consumer group takes its id.
                        await conn.execute("DELETE FROM groups WHERE group_id=?", (request.group_id,))
            except KafkaError as exc:
                error = exc
            if classic.dirty and classic.members:
                await save_group(conn, classic, now)
            await save_consumer_group(conn, group, now)
        if error is not None:
            raise error
        assert result is not None
        return result

    def _leave(self, group: ConsumerGroup, request: ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResult:
        """Epoch -1 leaves for good; -2, a static member's, leaves for a while: it keeps its
        partitions (nobody else gets them) until it rejoins or its session times out."""
        if not group.exists:
            raise GroupIdNotFound(f"Consumer group {request.group_id} not found.")
        if request.instance_id is not None:
            _static_member(group, request)
        elif request.member_id not in group.members:
            raise _unknown_member(request.group_id, request.member_id)
        if request.member_epoch == STATIC_LEAVE_EPOCH:
            member = group.members[request.member_id]
            group.put_member(replace(member.with_epoch(STATIC_LEAVE_EPOCH), pending_revocation={},
                                     revocation_deadline=0))
            group.events.append(("group_state", {"group": group.group_id, "state": group.state, "reason":
                                 f"static member {request.member_id} ({request.instance_id}) left for a while"}))
            return ConsumerGroupHeartbeatResult(request.member_id, STATIC_LEAVE_EPOCH, 0, None)
        group.fence(request.member_id, "left the group")
        return ConsumerGroupHeartbeatResult(request.member_id, request.member_epoch, 0, None)

    def _beat(self, group: ConsumerGroup, request: ConsumerGroupHeartbeatRequest,
              topics: Mapping[str, TopicSpec], now: int) -> ConsumerGroupHeartbeatResult:
        joining = request.member_epoch == JOIN_EPOCH
        if not group.exists and not joining:
            raise GroupIdNotFound(f"Consumer group {request.group_id} not found.")
        member_id = request.member_id or new_member_id()
        owned = None if request.owned_partitions is None else partitions_of(
            {t: set(p) for t, p in request.owned_partitions.items()})
        static = None if request.instance_id is None else next(
            (m for m in group.members.values() if m.instance_id == request.instance_id), None)
        member = group.members.get(member_id)
        if static is not None and joining:
            # Kafka's static membership: the instance comes back (under a new member id or its
            # old one) and takes its predecessor's place, partitions and target included, with
            # no rebalance; but only if the predecessor left for a while (epoch -2).
            if static.member_epoch != STATIC_LEAVE_EPOCH:
                raise UnreleasedInstanceId(f"Static member {member_id} with instance id {request.instance_id} cannot"
                                           f" join the group because the instance id is owned by {static.member_id}"
                                           " member.")
            del group.members[static.member_id]
            member = replace(static, member_id=member_id, member_epoch=0, previous_member_epoch=0)
            group.members[member_id] = member
            group.touch()
        elif request.instance_id is not None and not joining:
            member = _static_member(group, request)
            _check_epoch(member, request.member_epoch, owned)
        elif member is None:
            if not joining:
                raise _unknown_member(request.group_id, member_id)
            member = ConsumerGroupMember(member_id, member_epoch=0, previous_member_epoch=-1,
                                         join_seq=max((m.join_seq for m in group.members.values()), default=-1) + 1)
        else:
            _check_epoch(member, request.member_epoch, owned)
        updated = replace(
            member,
            instance_id=request.instance_id if request.instance_id is not None else member.instance_id,
            rack_id=request.rack_id if request.rack_id is not None else member.rack_id,
            rebalance_timeout_ms=(request.rebalance_timeout_ms if request.rebalance_timeout_ms != -1
                                  else member.rebalance_timeout_ms),
            server_assignor=request.server_assignor if request.server_assignor is not None else member.server_assignor,
            subscribed_topic_names=(tuple(request.subscribed_topic_names)
                                    if request.subscribed_topic_names is not None else member.subscribed_topic_names),
            subscribed_topic_regex=(request.subscribed_topic_regex or None
                                    if request.subscribed_topic_regex is not None else member.subscribed_topic_regex),
            client_id=request.client_id, client_host=request.client_host,
            session_timeout_ms=self.session_timeout_ms, last_heartbeat=now)
        is_new = member_id not in group.members
        changed = is_new or (
            updated.subscribed_topic_names, updated.subscribed_topic_regex,
            updated.server_assignor) != (member.subscribed_topic_names, member.subscribed_topic_regex,
                                         member.server_assignor)
        group.put_member(updated)
        subscriptions = {mid: _resolve(m, topics) for mid, m in group.members.items()}
        metadata = {t: topics[t].partitions for t in sorted(set().union(*subscriptions.values()))}
        if changed or metadata != group.subscription_metadata:
            reason = (f"member {member_id} joined" if is_new
                      else f"member {member_id} changed its subscription" if changed
                      else "the subscribed topics changed")
            group.subscription_metadata = metadata
            group.bump_epoch(reason)
        if group.group_epoch > group.assignment_epoch:
            group.compute_target(topics, subscriptions)
        current = group.members[member_id]
        reconciled = current
        if not current.reconciled_to(group.assignment_epoch):
            reconciled = reconcile(current, group.assignment_epoch, current.target,
                                   group.partition_owner_epoch, owned)
            if reconciled != current:
                deadline = now + reconciled.rebalance_timeout_ms if reconciled.state == UNREVOKED_PARTITIONS else 0
                reconciled = replace(reconciled, revocation_deadline=deadline)
                group.put_member(reconciled)
                # Told to every process at once: a member waiting for these partitions can ask now.
                group.events.append(("group_state", {
                    "group": group.group_id, "state": group.state,
                    "reason": f"member {member_id} at epoch {reconciled.member_epoch} owns"
                              f" {_text(reconciled.assigned)}"
                              + (f", revoking {_text(reconciled.pending_revocation)}"
                                 if reconciled.pending_revocation else "")}))
        full = joining or (request.rebalance_timeout_ms != -1 and request.owned_partitions is not None
                           and (request.subscribed_topic_names is not None or request.subscribed_topic_regex is not None))
        # Kafka answers the assignment to a full request or when it changed. kplay also answers
        # it to a member that is an epoch behind: it missed the answer that moved it on.
        behind = not joining and request.member_epoch != reconciled.member_epoch
        answer = flatten(reconciled.assigned) if full or behind or reconciled.assigned != member.assigned else None
        return ConsumerGroupHeartbeatResult(member_id, reconciled.member_epoch, self.heartbeat_interval_ms, answer)

    # -- reading ----------------------------------------------------------------------------
    async def describe(self, group_id: str) -> GroupDescription:
        """ConsumerGroupDescribe: epochs, assignor and members with their current and target assignments.

        A group id that is not a consumer group is described as ``Dead`` with no members.
        """
        group = await self.inspect(group_id)
        if not group.exists:
            return GroupDescription(group_id, DEAD, "", "", -1, "", [], CONSUMER_GROUP_TYPE)
        members = [MemberDescription(
            m.member_id, m.client_id, m.client_host, flatten(m.assigned), m.session_timeout_ms, m.last_heartbeat,
            instance_id=m.instance_id, member_epoch=m.member_epoch, target_assignment=flatten(m.target),
            subscribed_topics=sorted(m.subscribed_topic_names), subscribed_topic_regex=m.subscribed_topic_regex,
            rack_id=m.rack_id) for m in group.members.values()]
        return GroupDescription(group_id, group.state, "consumer", group.preferred_assignor(), group.group_epoch, "",
                                members, CONSUMER_GROUP_TYPE, group.assignment_epoch)

    async def exists(self, group_id: str) -> bool:
        """Whether ``group_id`` is a consumer group (with or without members)."""
        return (await self.inspect(group_id)).exists

    async def group_ids(self, *, with_members: bool) -> list[str]:
        """The consumer groups' ids (only those with members, if asked)."""
        table = "consumer_group_members" if with_members else "consumer_groups"
        rows = await self._storage.fetchall(f"SELECT DISTINCT group_id FROM {table} ORDER BY group_id")
        return [row[0] for row in rows]

    async def expire_members(self) -> list[str]:
        """Fence every member, in every consumer group, whose timers have passed; returns their ids."""
        fenced: list[str] = []
        for group_id in await self.group_ids(with_members=True):
            fenced += (await self.inspect(group_id)).fenced
        return fenced

    async def inspect(self, group_id: str) -> ConsumerGroup:
        """The group after its due timers; written back only if a timer changed it."""
        now = self._clock.now_ms()
        async with self._storage.snapshot() as conn:
            group = await load_consumer_group(conn, group_id)
        group.maintain(now)
        if not group.dirty:
            return group
        async with self._storage.write() as conn:
            group = await load_consumer_group(conn, group_id)
            group.maintain(now)
            await save_consumer_group(conn, group, now)
        return group


def _validate(request: ConsumerGroupHeartbeatRequest) -> None:
    """Kafka's ``throwIfConsumerGroupHeartbeatRequestIsInvalid`` (Kafka 4, with regex subscriptions)."""
    def empty(value: str | None) -> bool:
        return value is not None and not value.strip()

    if empty(request.group_id) or not request.group_id:
        raise InvalidRequest("GroupId can't be empty.")
    if empty(request.instance_id):
        raise InvalidRequest("InstanceId can't be empty.")
    if empty(request.rack_id):
        raise InvalidRequest("RackId can't be empty.")
    epoch = request.member_epoch
    if epoch > 0 or epoch == LEAVE_EPOCH:
        if not request.member_id.strip():
            raise InvalidRequest("MemberId can't be empty.")
    elif epoch == JOIN_EPOCH:
        if request.rebalance_timeout_ms == -1:
            raise InvalidRequest("RebalanceTimeoutMs must be provided in first request.")
        if request.owned_partitions is None or any(request.owned_partitions.values()):
            raise InvalidRequest("TopicPartitions must be empty when (re-)joining.")
        if not request.subscribed_topic_names and not request.subscribed_topic_regex:
            raise InvalidRequest("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
    elif epoch == STATIC_LEAVE_EPOCH:
        if not request.member_id.strip():
            raise InvalidRequest("MemberId can't be empty.")
        if request.instance_id is None:
            raise InvalidRequest("InstanceId can't be null.")
    else:
        raise InvalidRequest("MemberEpoch is invalid.")
    if request.server_assignor is not None and request.server_assignor not in SERVER_ASSIGNORS:
        raise UnsupportedAssignor(f"ServerAssignor {request.server_assignor} is not supported. Supported assignors: "
                                  f"{', '.join(SERVER_ASSIGNORS)}.")
    if request.subscribed_topic_regex:
        try:
            re.compile(request.subscribed_topic_regex)
        except re.error as exc:
            raise InvalidRegularExpression(f"SubscribedTopicRegex {request.subscribed_topic_regex} is not a valid"
                                           f" regular expression: {exc}.") from None


def _static_member(group: ConsumerGroup, request: ConsumerGroupHeartbeatRequest) -> ConsumerGroupMember:
    """The member holding the request's instance id: UNKNOWN_MEMBER_ID if none, FENCED_INSTANCE_ID if
    another member id holds it (Kafka's throwIfStaticMemberIsUnknown / throwIfInstanceIdIsFenced)."""
    static = next((m for m in group.members.values() if m.instance_id == request.instance_id), None)
    if static is None:
        raise UnknownMemberId(f"Instance id {request.instance_id} is unknown.")
    if static.member_id != request.member_id:
        raise FencedInstanceId(f"Static member {request.member_id} with instance id {request.instance_id} was"
                               f" fenced by member {static.member_id}.")
    return static


def _check_epoch(member: ConsumerGroupMember, received: int, owned: Partitions | None) -> None:
    """Kafka's ``throwIfConsumerGroupMemberEpochIsInvalid``."""
    if received > member.member_epoch:
        raise FencedMemberEpoch(f"The consumer group member has a greater member epoch ({received}) than the one"
                                f" known by the group coordinator ({member.member_epoch}). The member must abandon"
                                " all its partitions and rejoin.")
    if received < member.member_epoch:
        # The response with the new epoch may have been lost: the previous epoch is accepted
        # if the member owns no more than it is assigned.
        subset = owned is not None and all(parts <= member.assigned.get(t, frozenset()) for t, parts in owned.items())
        if received != member.previous_member_epoch or not subset:
            raise FencedMemberEpoch(f"The consumer group member has a smaller member epoch ({received}) than the one"
                                    f" known by the group coordinator ({member.member_epoch}). The member must"
                                    " abandon all its partitions and rejoin.")


def _resolve(member: ConsumerGroupMember, topics: Mapping[str, TopicSpec]) -> frozenset[str]:
    """The existing topics a member subscribes to, by name or by its regex (never an internal topic)."""
    return frozenset(t for t in topics if (t in member.subscribed_topic_names or t not in INTERNAL_TOPICS)
                     and subscribes(member, t))


async def _topics(conn) -> dict[str, TopicSpec]:
    rows = await conn.execute_fetchall("SELECT name, partitions, topic_uuid FROM topics")
    return {name: TopicSpec(count, _uuid_bytes(topic_uuid)) for name, count, topic_uuid in rows}


def _uuid_bytes(text: str | None) -> bytes:
    try:
        return base64.urlsafe_b64decode((text or "") + "=" * (-len(text or "") % 4))
    except ValueError:
        return b""


def _text(partitions: Partitions) -> str:
    return ", ".join(f"{tp.topic}-{tp.partition}" for tp in flatten(partitions)) or "nothing"


def _unknown_member(group_id: str, member_id: str) -> UnknownMemberId:
    return UnknownMemberId(f"Member {member_id} is not a member of group {group_id}.")
