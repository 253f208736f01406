"""Kafka's consumer protocol: the bytes group members exchange through the coordinator.

The coordinator treats a member's protocol metadata and its assignment as opaque bytes;
consumers agree on their layout. This module encodes and decodes them exactly as
Kafka's Java client does (``ConsumerProtocolSubscription`` and
``ConsumerProtocolAssignment``, big-endian, versions 0-3), plus the ``user_data`` the
sticky assignors put in a subscription, so kplay's consumers and real Kafka clients can
share one group: either may be the leader and read the other's subscription.

Subscription fields by version: 0 ``topics``, ``user_data``; 1 adds ``owned_partitions``;
2 adds ``generation_id``; 3 adds ``rack_id``. Assignment versions 0-3 all carry
``assigned_partitions`` and ``user_data``. A decoder meeting a newer version reads the
fields it knows and ignores the rest, as Kafka's does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable

from .records import TopicPartition

#: The highest version of each structure this module understands.
HIGHEST_SUBSCRIPTION_VERSION = 3
HIGHEST_ASSIGNMENT_VERSION = 3
#: What kplay's consumers send: version 1 carries owned partitions (enough for every
#: assignor, the generation going in user_data as Kafka 2.4-2.8 clients do) and every
#: client since Kafka 2.4, librdkafka and kafka-python reads it.
DEFAULT_SUBSCRIPTION_VERSION = 1
DEFAULT_ASSIGNMENT_VERSION = 1
#: The generation of a member that has none (Kafka's ``DEFAULT_GENERATION``).
NO_GENERATION = -1


class ConsumerProtocolError(ValueError):
    """Bytes that are not a valid consumer-protocol structure."""


@dataclass(frozen=True)
class ConsumerProtocolSubscription:
    """What a consumer sends in JoinGroup for one assignor: the topics it wants and what it owns."""

    topics: tuple[str, ...]
    user_data: bytes | None = None
    owned_partitions: tuple[TopicPartition, ...] = ()
    generation_id: int = NO_GENERATION
    rack_id: str | None = None
    version: int = DEFAULT_SUBSCRIPTION_VERSION


@dataclass(frozen=True)
class ConsumerProtocolAssignment:
    """What the leader hands one member in SyncGroup: its partitions (and assignor data)."""

    partitions: tuple[TopicPartition, ...]
    user_data: bytes | None = None
    version: int = DEFAULT_ASSIGNMENT_VERSION


# --- encoding ---------------------------------------------------------------------------

class _Writer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def int16(self, value: int) -> None:
        self._parts.append(struct.pack(">h", value))

    def int32(self, value: int) -> None:
        self._parts.append(struct.pack(">i", value))

    def string(self, value: str | None) -> None:
        if value is None:
            self.int16(-1)
            return
        data = value.encode()
        if len(data) > 32767:
            raise ConsumerProtocolError(f"string of {len(data)} bytes is longer than 32767")
        self.int16(len(data))
        self._parts.append(data)

    def bytes_(self, value: bytes | None) -> None:
        if value is None:
            self.int32(-1)
            return
        self.int32(len(value))
        self._parts.append(bytes(value))

    def topic_partitions(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Kafka's array of ``{topic: string, partitions: [int32]}``, one entry per topic."""
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(set((str(t), int(p)) for t, p in partitions)):
            by_topic.setdefault(topic, []).append(partition)
        self.int32(len(by_topic))
        for topic, numbers in by_topic.items():
            self.string(topic)
            self.int32(len(numbers))
            for number in numbers:
                self.int32(number)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def encode_subscription(subscription: ConsumerProtocolSubscription, version: int | None = None) -> bytes:
    """The bytes of ``subscription`` at ``version`` (by default its own ``version``)."""
    version = subscription.version if version is None else version
    if not 0 <= version <= HIGHEST_SUBSCRIPTION_VERSION:
        raise ConsumerProtocolError(f"unsupported ConsumerProtocolSubscription version {version}")
    out = _Writer()
    out.int16(version)
    out.int32(len(subscription.topics))
    for topic in subscription.topics:
        out.string(topic)
    out.bytes_(subscription.user_data)
    if version >= 1:
        out.topic_partitions(subscription.owned_partitions)
    if version >= 2:
        out.int32(subscription.generation_id)
    if version >= 3:
        out.string(subscription.rack_id)
    return out.getvalue()


def encode_assignment(assignment: ConsumerProtocolAssignment, version: int | None = None) -> bytes:
    """The bytes of ``assignment`` at ``version`` (by default its own ``version``)."""
    version = assignment.version if version is None else version
    if not 0 <= version <= HIGHEST_ASSIGNMENT_VERSION:
        raise ConsumerProtocolError(f"unsupported ConsumerProtocolAssignment version {version}")
    out = _Writer()
    out.int16(version)
    out.topic_partitions(assignment.partitions)
    out.bytes_(assignment.user_data)
    return out.getvalue()


# --- decoding ---------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0
        self._what = what

    def _take(self, size: int, field: str) -> memoryview:
        if size < 0 or self._pos + size > len(self._data):
            raise ConsumerProtocolError(
                f"malformed {self._what}: field '{field}' needs {size} bytes at position {self._pos},"
                f" only {len(self._data) - self._pos} left")
        chunk = self._data[self._pos:self._pos + size]
        self._pos += size
        return chunk

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def int16(self, field: str) -> int:
        return struct.unpack(">h", self._take(2, field))[0]

    def int32(self, field: str) -> int:
        return struct.unpack(">i", self._take(4, field))[0]

    def string(self, field: str) -> str | None:
        size = self.int16(field)
        if size < 0:
            return None
        try:
            return bytes(self._take(size, field)).decode()
        except UnicodeDecodeError:
            raise ConsumerProtocolError(f"malformed {self._what}: field '{field}' is not UTF-8") from None

    def bytes_(self, field: str) -> bytes | None:
        size = self.int32(field)
        return None if size < 0 else bytes(self._take(size, field))

    def array_size(self, field: str) -> int:
        size = self.int32(field)
        if size > self.remaining:  # every element takes at least one byte: refuse absurd sizes early
            raise ConsumerProtocolError(f"malformed {self._what}: array '{field}' claims {size} elements")
        return max(size, 0)

    def topic_partitions(self, field: str) -> tuple[TopicPartition, ...]:
        result: list[TopicPartition] = []
        for _ in range(self.array_size(field)):
            topic = self.string(f"{field}.topic")
            if topic is None:
                raise ConsumerProtocolError(f"malformed {self._what}: null topic in '{field}'")
            for _ in range(self.array_size(f"{field}.partitions")):
                result.append(TopicPartition(topic, self.int32(f"{field}.partitions")))
        return tuple(result)


def decode_subscription(data: bytes) -> ConsumerProtocolSubscription:
    """Read a ``ConsumerProtocolSubscription`` of any version (fields beyond version 3 ignored)."""
    reader = _Reader(data, "ConsumerProtocolSubscription")
    version = reader.int16("version")
    if version < 0:
        raise ConsumerProtocolError(f"unsupported ConsumerProtocolSubscription version {version}")
    topics: list[str] = []
    for _ in range(reader.array_size("topics")):
        topic = reader.string("topics")
        if topic is None:
            raise ConsumerProtocolError("malformed ConsumerProtocolSubscription: null topic")
        topics.append(topic)
    user_data = reader.bytes_("user_data")
    owned: tuple[TopicPartition, ...] = ()
    generation = NO_GENERATION
    rack: str | None = None
    if version >= 1:
        owned = reader.topic_partitions("owned_partitions")
    if version >= 2:
        generation = reader.int32("generation_id")
    if version >= 3:
        rack = reader.string("rack_id")
    return ConsumerProtocolSubscription(tuple(topics), user_data, owned, generation, rack, version)


def decode_assignment(data: bytes | None) -> ConsumerProtocolAssignment:
    """Read a ``ConsumerProtocolAssignment``; empty bytes (a member the leader left out) is no partitions."""
    if not data:
        return ConsumerProtocolAssignment(())
    reader = _Reader(data, "ConsumerProtocolAssignment")
    version = reader.int16("version")
    if version < 0:
        raise ConsumerProtocolError(f"unsupported ConsumerProtocolAssignment version {version}")
    partitions = reader.topic_partitions("assigned_partitions")
    user_data = reader.bytes_("user_data")
    return ConsumerProtocolAssignment(partitions, user_data, version)


# --- assignor user data -------------------------------------------------------------------

def encode_sticky_user_data(previous: Iterable[tuple[str, int]], generation: int) -> bytes:
    """The ``sticky`` assignor's user data: the member's previous assignment and its generation.

    The eager sticky assignor revokes everything before rejoining, so its memory of what a
    member owned travels here (Kafka's ``StickyAssignorUserData`` version 1, unversioned).
    """
    out = _Writer()
    out.topic_partitions(previous)
    out.int32(generation)
    return out.getvalue()


def decode_sticky_user_data(data: bytes | None) -> tuple[tuple[TopicPartition, ...], int]:
    """The previous assignment and generation in a ``sticky`` subscription's user data.

    Version 0 (no generation) gives ``NO_GENERATION``; empty user data gives nothing owned.
    """
    if not data:
        return (), NO_GENERATION
    reader = _Reader(data, "StickyAssignorUserData")
    previous = reader.topic_partitions("previous_assignment")
    generation = reader.int32("generation") if reader.remaining >= 4 else NO_GENERATION
    return previous, generation


def encode_cooperative_user_data(generation: int) -> bytes:
    """The ``cooperative-sticky`` assignor's user data in a version 0-1 subscription: the generation."""
    return struct.pack(">i", generation)


def decode_cooperative_user_data(data: bytes | None) -> int:
    """The generation in a ``cooperative-sticky`` subscription's user data (``NO_GENERATION`` if absent)."""
    if not data or len(data) < 4:
        return NO_GENERATION
    return struct.unpack(">i", data[:4])[0]
