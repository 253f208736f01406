"""KIP-848's server-side assignors, ``uniform`` and ``range``, as Kafka's group coordinator runs them.

With the consumer group protocol the coordinator, not a group leader, computes the target
assignment (``org.apache.kafka.coordinator.group.assignor``). Both assignors take every
member's resolved subscription (topic names that exist) and the current target assignment,
and return the new target assignment: topic -> partition numbers, per member.

* ``range`` (``RangeAssignor``): per topic, members sorted by instance id (static members
  first) then member id each take a contiguous range; the first ``partitions % members``
  members take one extra. Not sticky. Exactly Kafka's.
* ``uniform`` (``UniformAssignor``, Kafka's default): sticky and balanced. When every member
  subscribes to the same topics (a *homogeneous* group) this is Kafka's
  ``UniformHomogeneousAssignmentBuilder`` step for step: each member keeps up to its quota
  of what it had, in the order Java's ``HashMap`` iterates member ids, and the rest goes to
  members below quota. Members with different subscriptions (*heterogeneous*) use a
  smaller sticky balancer than Kafka's 900-line ``UniformHeterogeneousAssignmentBuilder``:
  it keeps what members had where still subscribed, gives each free partition to the
  least-loaded subscriber, then moves partitions from the most to the least loaded
  subscriber while they differ by more than one. Balanced and sticky like Kafka's, but
  which member gets which partition may differ from Kafka on such groups.

Not modelled: rack-aware assignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .assignors import java_hash_bucket, java_hashmap_order, java_string_key

#: Kafka's ``group.consumer.assignors`` default: the first is the default assignor.
SERVER_ASSIGNORS = ("uniform", "range")
DEFAULT_SERVER_ASSIGNOR = SERVER_ASSIGNORS[0]

#: topic name -> partition numbers
TopicAssignment = dict[str, set[int]]


@dataclass(frozen=True)
class MemberSpec:
    """One member as an assignor sees it: what it subscribes to and its current target assignment."""

    topics: frozenset[str]
    instance_id: str | None = None
    assignment: Mapping[str, frozenset[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicSpec:
    """A subscribed topic: its partition count, and its id (Java's ``HashSet<Uuid>`` orders topics by it)."""

    partitions: int
    topic_id: bytes = b""


class PartitionAssignorError(ValueError):
    """Kafka's ``PartitionAssignorException``: the assignor could not assign."""


def assign(assignor: str, members: Mapping[str, MemberSpec],
           topics: Mapping[str, TopicSpec]) -> dict[str, TopicAssignment]:
    """The new target assignment of ``members`` by the server assignor named ``assignor``."""
    if not members:
        return {}
    homogeneous = len({spec.topics for spec in members.values()}) == 1
    if assignor == "range":
        return _range(members, topics)
    if assignor == "uniform":
        return _uniform_homogeneous(members, topics) if homogeneous else _uniform_heterogeneous(members, topics)
    raise PartitionAssignorError(f"unknown assignor {assignor!r}")


def _partition_count(topics: Mapping[str, TopicSpec], topic: str) -> int:
    spec = topics.get(topic)
    if spec is None:
        raise PartitionAssignorError(f"Members are subscribed to topic {topic} which doesn't exist in the"
                                     " topic metadata.")
    return spec.partitions


# --- range ---------------------------------------------------------------------------------

def _range(members: Mapping[str, MemberSpec], topics: Mapping[str, TopicSpec]) -> dict[str, TopicAssignment]:
    # Static members first, by instance id; then dynamic ones by member id (Java's compareTo).
    order = sorted(members, key=lambda m: (0, java_string_key(members[m].instance_id or ""), b"")
                   if members[m].instance_id is not None else (1, b"", java_string_key(m)))
    subscribers: dict[str, int] = {}
    for member in order:
        for topic in members[member].topics:
            subscribers[topic] = subscribers.get(topic, 0) + 1
    next_start: dict[str, int] = {}
    extra: dict[str, int] = {}
    result: dict[str, TopicAssignment] = {}
    for member in order:
        assignment: TopicAssignment = {}
        for topic in sorted(members[member].topics):
            count = _partition_count(topics, topic)
            quota, left = divmod(count, subscribers[topic])
            extra.setdefault(topic, left)
            if extra[topic] > 0:
                quota += 1
                extra[topic] -= 1
            start = next_start.get(topic, 0)
            end = min(start + quota, count)
            next_start[topic] = end
            if start < end:
                assignment[topic] = set(range(start, end))
        result[member] = assignment
    return result


# --- uniform, homogeneous ------------------------------------------------------------------

def _uuid_hash(topic_id: bytes) -> int:
    """Java's ``Uuid.hashCode`` (unsigned 32-bit) of a topic id's 16 bytes."""
    if len(topic_id) != 16:
        return 0
    hilo = int.from_bytes(topic_id[:8], "big") ^ int.from_bytes(topic_id[8:], "big")
    return ((hilo >> 32) ^ hilo) & 0xFFFFFFFF


def _hashset_topic_order(names: list[str], topics: Mapping[str, TopicSpec]) -> list[str]:
    # new HashSet<>(collection): a table of max(size / .75 + 1, 16) rounded up to a power of two.
    wanted = max(int(len(names) / 0.75) + 1, 16)
    size = 1
    while size < wanted:
        size *= 2
    return sorted(names, key=lambda name: java_hash_bucket(_uuid_hash(topics[name].topic_id)
                                                           if name in topics else 0, size))


def _uniform_homogeneous(members: Mapping[str, MemberSpec],
                         topics: Mapping[str, TopicSpec]) -> dict[str, TopicAssignment]:
    order = java_hashmap_order(members)
    subscribed = next(iter(members.values())).topics
    if not subscribed:
        return {member: {} for member in members}
    taken = {(topic, p) for spec in members.values() for topic, parts in spec.assignment.items() for p in parts}
    unassigned: list[tuple[str, int]] = []
    total = 0
    for topic in _hashset_topic_order(sorted(subscribed), topics):
        count = _partition_count(topics, topic)
        unassigned += [(topic, p) for p in range(count) if (topic, p) not in taken]
        total += count
    minimum, extra = divmod(total, len(members))
    result: dict[str, TopicAssignment] = {}
    unfilled: list[tuple[str, int]] = []
    # Each member keeps up to its quota of what it had; the rest is freed.
    for member in order:
        quota = minimum
        if extra > 0:
            quota += 1
            extra -= 1
        kept: TopicAssignment = {}
        for topic, parts in members[member].assignment.items():
            if topic not in subscribed:
                continue
            if len(parts) <= quota:
                quota -= len(parts)
                kept[topic] = set(parts)
                continue
            mine = set()
            for partition in sorted(parts):
                if quota > 0:
                    quota -= 1
                    mine.add(partition)
                else:
                    unassigned.append((topic, partition))
            if mine:
                kept[topic] = mine
        if quota > 0:
            unfilled.append((member, quota))
        result[member] = kept
    index = 0
    for member, quota in unfilled:
        for _ in range(quota):
            if index >= len(unassigned):
                break
            topic, partition = unassigned[index]
            index += 1
            result[member].setdefault(topic, set()).add(partition)
    if index < len(unassigned):
        raise PartitionAssignorError("Partitions were left unassigned")
    return result


# --- uniform, heterogeneous ----------------------------------------------------------------

def _uniform_heterogeneous(members: Mapping[str, MemberSpec],
                           topics: Mapping[str, TopicSpec]) -> dict[str, TopicAssignment]:
    order = sorted(members, key=java_string_key)
    owner: dict[tuple[str, int], str] = {}
    load = {member: 0 for member in order}
    for member in order:
        spec = members[member]
        for topic, parts in sorted(spec.assignment.items()):
            if topic not in spec.topics or topic not in topics:
                continue
            for partition in sorted(parts):
                if partition < topics[topic].partitions and (topic, partition) not in owner:
                    owner[(topic, partition)] = member
                    load[member] += 1
    subscribers = {topic: [m for m in order if topic in members[m].topics]
                   for topic in sorted({t for spec in members.values() for t in spec.topics})}
    # Topics with the fewest subscribers first: their partitions have the least choice.
    for topic in sorted(subscribers, key=lambda t: (len(subscribers[t]), t)):
        for partition in range(_partition_count(topics, topic)):
            if (topic, partition) not in owner:
                member = min(subscribers[topic], key=lambda m: (load[m], order.index(m)))
                owner[(topic, partition)] = member
                load[member] += 1
    # Move partitions from the most to the least loaded of their subscribers until balanced.
    moved = True
    while moved:
        moved = False
        for (topic, partition), member in sorted(owner.items()):
            target = min(subscribers[topic], key=lambda m: (load[m], order.index(m)))
            if load[member] - load[target] > 1:
                owner[(topic, partition)] = target
                load[member] -= 1
                load[target] += 1
                moved = True
    result: dict[str, TopicAssignment] = {member: {} for member in order}
    for (topic, partition), member in owner.items():
        result[member].setdefault(topic, set()).add(partition)
    return result
