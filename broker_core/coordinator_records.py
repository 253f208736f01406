"""The records the group coordinator writes to ``__consumer_offsets``, byte for byte as Kafka's.

Kafka's ``GroupCoordinatorRecordSerde`` writes each key and value as a big-endian int16
version followed by the message in its non-flexible encoding (int16-length strings, -1 for
null, int32-length bytes). The key's version names the record type: 0/1 an offset commit
(``OffsetCommitKey``), 2 a group's metadata (``GroupMetadataKey``). Kafka 4.x writes
``OffsetCommitKey`` v1 with ``OffsetCommitValue`` v3, and ``GroupMetadataKey`` v2 with
``GroupMetadataValue`` v3; a deleted group or offset is a tombstone (null value).

A group's partition is ``Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions``.
The JSON views are those of Kafka's generated ``*JsonConverter`` classes, as
``OffsetsMessageFormatter`` and ``GroupMetadataMessageFormatter`` print them.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any, Sequence

OFFSETS_TOPIC = "__consumer_offsets"
#: ``offsets.topic.num.partitions`` and ``offsets.topic.replication.factor`` defaults.
OFFSETS_TOPIC_PARTITIONS = 50
OFFSETS_TOPIC_REPLICATION_FACTOR = 3
#: The configs Kafka creates the topic with (``GroupCoordinatorConfig`` / ``GroupCoordinatorService``).
OFFSETS_TOPIC_CONFIG = {"cleanup.policy": "compact", "compression.type": "producer", "segment.bytes": 104_857_600}
#: Kafka's internal topics (``Topic.INTERNAL_TOPICS``).
INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC, "__transaction_state", "__share_group_state"})

OFFSET_COMMIT_KEY_VERSION = 1
OFFSET_COMMIT_VALUE_VERSION = 3
GROUP_METADATA_KEY_VERSION = 2
GROUP_METADATA_VALUE_VERSION = 3


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as a signed 32-bit int."""
    units = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + ((units[i] << 8) | units[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group_id: str, partitions: int = OFFSETS_TOPIC_PARTITIONS) -> int:
    """The ``__consumer_offsets`` partition of a group: ``Utils.abs(groupId.hashCode) % partitions``."""
    h = java_string_hash(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


# -- encoding -------------------------------------------------------------------------------
def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode("utf-8")
    return struct.pack(">h", len(data)) + data


def _bytes(data: bytes | None) -> bytes:
    if data is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(data)) + bytes(data)


def offset_commit_key(group: str, topic: str, partition: int) -> bytes:
    """``OffsetCommitKey`` v1: group, topic, partition."""
    return struct.pack(">h", OFFSET_COMMIT_KEY_VERSION) + _string(group) + _string(topic) + struct.pack(">i", partition)


def offset_commit_value(offset: int, metadata: str, commit_timestamp: int, leader_epoch: int = -1) -> bytes:
    """``OffsetCommitValue`` v3: offset, leaderEpoch, metadata, commitTimestamp."""
    return (struct.pack(">hqi", OFFSET_COMMIT_VALUE_VERSION, offset, leader_epoch) + _string(metadata)
            + struct.pack(">q", commit_timestamp))


@dataclass(frozen=True)
class MemberRecord:
    """One member as ``GroupMetadataValue`` stores it."""

    member_id: str
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes
    group_instance_id: str | None = None


def group_metadata_key(group: str) -> bytes:
    """``GroupMetadataKey`` v2: the group id."""
    return struct.pack(">h", GROUP_METADATA_KEY_VERSION) + _string(group)


def group_metadata_value(protocol_type: str, generation: int, protocol: str | None, leader: str | None,
                         current_state_timestamp: int, members: Sequence[MemberRecord]) -> bytes:
    """``GroupMetadataValue`` v3: the group's generation, protocol, leader and members."""
    out = [struct.pack(">h", GROUP_METADATA_VALUE_VERSION), _string(protocol_type), struct.pack(">i", generation),
           _string(protocol), _string(leader), struct.pack(">q", current_state_timestamp),
           struct.pack(">i", len(members))]
    for m in members:
        out += [_string(m.member_id), _string(m.group_instance_id), _string(m.client_id), _string(m.client_host),
                struct.pack(">ii", m.rebalance_timeout, m.session_timeout), _bytes(m.subscription),
                _bytes(m.assignment)]
    return b"".join(out)


# -- decoding, as the formatters read ---------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError("record ends early")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        raw = self.data[self.pos:self.pos + length]
        if len(raw) != length:
            raise ValueError("record ends early")
        self.pos += length
        return raw.decode("utf-8", "replace")

    def bytes_(self) -> bytes | None:
        length = self.take(">i")
        if length < 0:
            return None
        raw = self.data[self.pos:self.pos + length]
        self.pos += length
        return raw


def key_json(key: bytes) -> tuple[int, str, dict[str, Any] | None]:
    """A key's version, its kind (``offset``, ``group`` or ``unknown``) and its JSON data."""
    reader = _Reader(key)
    version = reader.take(">h")
    if version in (0, 1):
        return version, "offset", {"group": reader.string(), "topic": reader.string(), "partition": reader.take(">i")}
    if version == 2:
        return version, "group", {"group": reader.string()}
    return version, "unknown", None


def offset_commit_value_json(value: bytes) -> tuple[int, dict[str, Any] | None]:
    """An ``OffsetCommitValue`` (v0-v3) as ``OffsetCommitValueJsonConverter`` writes it."""
    reader = _Reader(value)
    version = reader.take(">h")
    if not 0 <= version <= 3:
        return version, None
    data: dict[str, Any] = {"offset": reader.take(">q")}
    if version >= 3:
        data["leaderEpoch"] = reader.take(">i")
    data["metadata"] = reader.string()
    data["commitTimestamp"] = reader.take(">q")
    if version == 1:
        data["expireTimestamp"] = reader.take(">q")
    return version, data


def group_metadata_value_json(value: bytes) -> tuple[int, dict[str, Any] | None]:
    """A ``GroupMetadataValue`` (v0-v3) as ``GroupMetadataValueJsonConverter`` writes it."""
    reader = _Reader(value)
    version = reader.take(">h")
    if not 0 <= version <= 3:
        return version, None
    data: dict[str, Any] = {"protocolType": reader.string(), "generation": reader.take(">i"),
                            "protocol": reader.string(), "leader": reader.string()}
    if version >= 2:
        data["currentStateTimestamp"] = reader.take(">q")
    members = []
    for _ in range(reader.take(">i")):
        member: dict[str, Any] = {"memberId": reader.string()}
        if version >= 3:
            member["groupInstanceId"] = reader.string()
        member["clientId"] = reader.string()
        member["clientHost"] = reader.string()
        if version >= 1:
            member["rebalanceTimeout"] = reader.take(">i")
        member["sessionTimeout"] = reader.take(">i")
        for name in ("subscription", "assignment"):
            raw = reader.bytes_()
            member[name] = None if raw is None else base64.b64encode(raw).decode("ascii")
        members.append(member)
    data["members"] = members
    return version, data
