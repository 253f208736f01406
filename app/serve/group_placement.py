"""Where a group (or a transactional id) lives: its ``__consumer_offsets`` (``__transaction_state``)
partition, as Kafka's coordinators place it, and so the broker that coordinates it."""

from __future__ import annotations

from typing import Collection, Sequence

#: Kafka's ``offsets.topic.num.partitions``: a group's coordinator is the leader of one of
#: these partitions of ``__consumer_offsets``, chosen by the group id's hash.
OFFSETS_TOPIC_PARTITIONS = 50
#: Java's Integer.MIN_VALUE, which Kafka's ``Utils.abs`` maps to 0.
_INT_MIN = -(1 << 31)


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), which places a group in Kafka."""
    value = 0
    encoded = text.encode("utf-16-be")
    for index in range(0, len(encoded), 2):
        value = (31 * value + int.from_bytes(encoded[index:index + 2], "big")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def offsets_partition_for(group_id: str) -> int:
    """The ``__consumer_offsets`` partition of a group: ``Utils.abs(groupId.hashCode) % 50``."""
    hashed = java_string_hash(group_id)
    return (0 if hashed == _INT_MIN else abs(hashed)) % OFFSETS_TOPIC_PARTITIONS


def coordinator_among(key: str, broker_ids: Sequence[int], live: Collection[int]) -> int | None:
    """The broker coordinating a group id or transactional id, or None while every broker is stopped.

    As in Kafka, the key belongs to one partition of ``__consumer_offsets`` (or of
    ``__transaction_state``, also 50 partitions and the same hash) and so to that partition's
    leader: here the partition's preferred broker, or the next running one after it.
    """
    if not live or not broker_ids:
        return None
    index = offsets_partition_for(key) % len(broker_ids)
    for step in range(len(broker_ids)):
        candidate = broker_ids[(index + step) % len(broker_ids)]
        if candidate in live:
            return candidate
    return None
