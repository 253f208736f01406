"""What the group coordinator reports about groups, of either protocol: listings, descriptions, lag rows.

Classic groups (JoinGroup/SyncGroup) and KIP-848 consumer groups (ConsumerGroupHeartbeat)
are described by the same records, so the CLI, the TUI and the wire server show both;
the fields only one protocol has are left at their defaults for the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import TopicPartition

#: ListGroups' group types (KIP-848): the classic protocol's groups and the consumer protocol's.
CLASSIC_GROUP_TYPE = "classic"
CONSUMER_GROUP_TYPE = "consumer"


@dataclass(frozen=True)
class GroupListing:
    """One group as ``kafka-consumer-groups --list --state`` shows it."""

    group_id: str
    state: str
    protocol_type: str
    group_type: str = CLASSIC_GROUP_TYPE


@dataclass(frozen=True)
class MemberDescription:
    """One member of a group and the partitions it was assigned (empty while rebalancing).

    For a consumer-protocol member, ``assignment`` is what it owns now, ``target_assignment``
    what the assignor wants it to own, ``member_epoch`` its epoch and ``subscribed_topics``
    its subscription (``subscribed_topic_regex`` if it subscribed by pattern).
    """

    member_id: str
    client_id: str
    host: str
    assignment: list[TopicPartition] = field(default_factory=list)
    session_timeout_ms: int = 0
    last_heartbeat: int = 0
    instance_id: str | None = None
    member_epoch: int | None = None
    target_assignment: list[TopicPartition] = field(default_factory=list)
    subscribed_topics: list[str] = field(default_factory=list)
    subscribed_topic_regex: str | None = None
    rack_id: str | None = None


@dataclass(frozen=True)
class GroupDescription:
    """A group as DescribeGroups (or ConsumerGroupDescribe) reports it; an unknown group is ``Dead``.

    For a consumer-protocol group (``group_type`` "consumer") ``protocol`` is the server
    assignor, ``generation`` the group epoch and ``assignment_epoch`` the target
    assignment's epoch; there is no leader.
    """

    group_id: str
    state: str
    protocol_type: str
    protocol: str
    generation: int
    leader: str
    members: list[MemberDescription] = field(default_factory=list)
    group_type: str = CLASSIC_GROUP_TYPE
    assignment_epoch: int | None = None


@dataclass(frozen=True)
class PartitionLag:
    """One row of ``kafka-consumer-groups --describe``: a partition's committed offset and lag.

    ``log_end_offset`` is the high watermark (what a consumer can read up to); it and
    ``lag`` are None when unknown. ``member_id``, ``client_id`` and ``host`` are None for a
    partition no member is assigned (Kafka prints ``-``).
    """

    topic: str
    partition: int
    committed: int | None
    log_end_offset: int | None
    lag: int | None
    member_id: str | None
    client_id: str | None
    host: str | None
