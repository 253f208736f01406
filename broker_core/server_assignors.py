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
  of what it had, in the order Java's ``HashMap`` iterates member ids and topic ids, and the rest goes to
  members below quota. When members subscribe to different topics (*heterogeneous*) it is
  Kafka's ``UniformHeterogeneousAssignmentBuilder`` step for step (ported from apache/kafka
  commit 1eb7644, October 2024): members keep what they had of topics they still subscribe
  to; free partitions go, topic by topic (most partitions per subscriber first), to the least
  loaded subscriber; then up to 16 rounds over the topics move each topic's partitions from
  its most to its least loaded subscribers until no move helps. Ties go to the member
  earlier in ``HashMap`` order and the topic with the smaller id, as in Kafka. Balance is per
  topic: no member holding a topic's partition has 2+ more than another subscriber of it
  (unless the 16 rounds run out first, as in Kafka).

Not modelled: rack-aware assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .assignors import java_hash_bucket, java_hashmap_order, java_string_key, java_table_size

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
        return _uniform_homogeneous(members, topics) if homogeneous else uniform_heterogeneous(members, topics)
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


def _hashmap_topic_items(assignment: Mapping[str, frozenset[int]],
                         topics: Mapping[str, TopicSpec]) -> list[tuple[str, frozenset[int]]]:
    """A member's assignment in the order a default ``HashMap<Uuid, ...>`` of it iterates."""
    size = java_table_size(len(assignment))
    return sorted(assignment.items(), key=lambda item: java_hash_bucket(
        _uuid_hash(topics[item[0]].topic_id) if item[0] in topics else 0, size))


def _hashset_int_order(partitions: frozenset[int]) -> list[int]:
    """Partition numbers in the order a default ``HashSet<Integer>`` of them iterates.

    ``Integer.hashCode`` is the number itself, so this is ascending until numbers pass the
    table size; numbers sharing a bucket are taken ascending (their insertion order is unknown).
    """
    size = java_table_size(len(partitions))
    return sorted(partitions, key=lambda p: (java_hash_bucket(p & 0xFFFFFFFF, size), p))


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
        # Kafka walks the member's assignment as a HashMap<Uuid, HashSet<Integer>>: when the
        # quota runs out mid-way, that order decides which partitions are kept.
        for topic, parts in _hashmap_topic_items(members[member].assignment, topics):
            if topic not in subscribed:
                continue
            if len(parts) <= quota:
                quota -= len(parts)
                kept[topic] = set(parts)
                continue
            mine = set()
            for partition in _hashset_int_order(parts):
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
#
# Kafka's UniformHeterogeneousAssignmentBuilder (apache/kafka group-coordinator, ported from
# commit 1eb7644349cb07139d6a3c1ad1986979647cac99, October 2024, the 4.0 line). Members are
# numbered in the order the group spec iterates them (Java's HashMap order of member ids) and
# every tie is broken by that number, so the order of choices below is Kafka's.

#: Kafka's MAX_ITERATION_COUNT: rounds over the topics in the final balancing phase.
_MAX_ITERATION_COUNT = 16


def _signed64(data: bytes) -> int:
    return int.from_bytes(data, "big", signed=True)


def _uuid_order(topic_id: bytes) -> tuple[int, int]:
    """Java's ``Uuid.compareTo``: most then least significant 64 bits, compared as signed longs."""
    if len(topic_id) != 16:
        return (0, 0)
    return (_signed64(topic_id[:8]), _signed64(topic_id[8:]))


class _MemberAssignmentBalancer:
    """Kafka's ``MemberAssignmentBalancer``: the least and most loaded ranges of a topic's subscribers.

    Within each range every member started with the same partition count; the least loaded
    range grows rightwards and the most loaded range leftwards as partitions move.
    """

    def __init__(self, sizes: list[int]) -> None:
        self._sizes = sizes  # shared with the builder: it changes as partitions are assigned
        self._sorted: list[int] = []
        self._least_end = 0  # exclusive
        self._least_count = -1
        self._next_least = 0
        self._most_start = 0  # inclusive
        self._most_end = 0  # exclusive
        self._most_count = 1
        self._next_most = -1

    def initialize(self, members: list[int]) -> int:
        """Reset for these subscribers; the difference between the most and least loaded of them."""
        sizes = self._sizes
        self._sorted = sorted(members, key=lambda m: (sizes[m], m))
        self._least_end = 0
        self._least_count = sizes[self._sorted[0]] - 1
        self._next_least = 0
        self._most_start = len(self._sorted)
        self._most_end = len(self._sorted)
        self._most_count = sizes[self._sorted[-1]] + 1
        self._next_most = len(self._sorted) - 1
        return sizes[self._sorted[-1]] - sizes[self._sorted[0]]

    def next_least_loaded(self) -> int:
        """The member to give the next partition to (assumed given)."""
        if self._next_least >= self._least_end:
            # The range is full: bump its level and take in members now at that level.
            self._least_count += 1
            while (self._least_end < len(self._sorted)
                   and self._sizes[self._sorted[self._least_end]] == self._least_count):
                self._least_end += 1
            self._next_least = 0
        member = self._sorted[self._next_least]
        self._next_least += 1
        return member

    def next_most_loaded(self) -> int:
        """The member to take the next partition from (assumed taken), or -1 if none is left."""
        if self._next_most < self._most_start:
            if self._most_end <= self._most_start and self._most_start > 0:
                # Emptied by exclusions: reset the level so the range surely expands below.
                self._most_count = self._sizes[self._sorted[self._most_start - 1]]
            else:
                self._most_count -= 1
            while self._most_start > 0 and self._sizes[self._sorted[self._most_start - 1]] == self._most_count:
                self._most_start -= 1
            self._next_most = self._most_end - 1
        if self._next_most < 0:
            return -1
        member = self._sorted[self._next_most]
        self._next_most -= 1
        return member

    def exclude_most_loaded(self) -> None:
        """Drop the member ``next_most_loaded`` last returned: it has no partition of this topic to give."""
        index = self._next_most + 1
        member = self._sorted[index]
        self._sorted[index] = self._sorted[self._most_end - 1]
        self._sorted[self._most_end - 1] = member
        self._most_end -= 1

    def is_balanced(self) -> bool:
        """The two ranges' partition counts differ by one or less."""
        return self._most_count - self._least_count <= 1


class _UniformHeterogeneousBuilder:
    """Kafka's ``UniformHeterogeneousAssignmentBuilder``: balance first, then stickiness."""

    def __init__(self, members: Mapping[str, MemberSpec], topics: Mapping[str, TopicSpec],
                 member_order: list[str]) -> None:
        self._members = members
        self._topics = topics
        self._member_ids = member_order
        self._subscribers: dict[str, list[int]] = {}
        for index, member in enumerate(member_order):
            # Java iterates a subscription set; which topic is checked first decides which
            # missing topic the error names, so check in name order for a stable message.
            for topic in sorted(members[member].topics):
                _partition_count(topics, topic)
                self._subscribers.setdefault(topic, []).append(index)
        self._sizes = [0] * len(member_order)
        self._owners = {topic: [-1] * topics[topic].partitions for topic in self._subscribers}
        self._target: dict[str, TopicAssignment] = {}

    def _topic_key(self, topic: str) -> tuple[float, int, tuple[int, int], str]:
        # Partitions per subscriber descending, then subscriber count ascending, then topic id
        # ascending (the name only separates topics without an id, which Kafka cannot have).
        count, subscribers = self._topics[topic].partitions, len(self._subscribers[topic])
        return (-(count / subscribers), subscribers, _uuid_order(self._topics[topic].topic_id), topic)

    def _sorted_topics(self, topics: Iterable[str]) -> list[str]:
        return sorted(topics, key=self._topic_key)

    def build(self) -> dict[str, TopicAssignment]:
        """The new target assignment of every member."""
        if not self._subscribers:
            return {member: {} for member in self._member_ids}
        self._maybe_revoke_partitions()
        self._assign_remaining_partitions(self._unassigned_partitions())
        self._balance()
        return self._target

    def _maybe_revoke_partitions(self) -> None:
        # Each member keeps what it had of the topics it still subscribes to.
        for index, member in enumerate(self._member_ids):
            spec = self._members[member]
            kept: TopicAssignment = {}
            for topic, partitions in spec.assignment.items():
                if topic not in spec.topics:
                    continue
                owners = self._owners[topic]
                # Kafka's target assignment never holds a partition twice or past the topic's end;
                # skip such entries rather than fail on them.
                mine = {p for p in partitions if 0 <= p < len(owners) and owners[p] == -1}
                for partition in mine:
                    owners[partition] = index
                self._sizes[index] += len(mine)
                if mine:
                    kept[topic] = mine
            self._target[member] = kept

    def _unassigned_partitions(self) -> dict[str, list[int]]:
        unassigned = {topic: [p for p, owner in enumerate(owners) if owner == -1]
                      for topic, owners in self._owners.items()}
        return {topic: partitions for topic, partitions in unassigned.items() if partitions}

    def _assign_remaining_partitions(self, partitions: dict[str, list[int]]) -> None:
        # Topics sorted so the balanced outcome is most likely; each free partition goes to the
        # least loaded subscriber, round after round.
        balancer = _MemberAssignmentBalancer(self._sizes)
        for topic in self._sorted_topics(partitions):
            balancer.initialize(self._subscribers[topic])
            for partition in partitions[topic]:
                self._assign_partition(topic, partition, balancer.next_least_loaded())

    def _balance(self) -> None:
        # Only a topic with two or more subscribers can move.
        movable = [topic for topic, subscribers in self._subscribers.items() if len(subscribers) >= 2]
        if movable:
            self._balance_topics(movable)

    def _balance_topics(self, topics: list[str]) -> None:
        # Loop over the topics until a whole round moves nothing, or the iteration limit.
        ordered = self._sorted_topics(topics)
        last_rebalanced = -1
        balancer = _MemberAssignmentBalancer(self._sizes)
        for _ in range(_MAX_ITERATION_COUNT):
            for index, topic in enumerate(ordered):
                if index == last_rebalanced:
                    return
                if self._balance_topic(topic, balancer) > 0 or last_rebalanced == -1:
                    last_rebalanced = index

    def _balance_topic(self, topic: str, balancer: _MemberAssignmentBalancer) -> int:
        """Move the topic's partitions from its most to its least loaded subscribers; how many moved."""
        reassigned = 0
        if balancer.initialize(self._subscribers[topic]) <= 1:
            return reassigned
        owners = self._owners[topic]
        # Partitions grouped by owner, so each owner's last partition is found at once.
        partitions = sorted(range(len(owners)), key=lambda p: (owners[p], p))
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}  # exclusive
        for i, partition in enumerate(partitions):
            starts.setdefault(owners[partition], i)
            ends[owners[partition]] = i + 1
        while not balancer.is_balanced():
            while True:
                most = balancer.next_most_loaded()
                if most == -1:
                    break
                if most not in ends or ends[most] - starts[most] <= 0:
                    balancer.exclude_most_loaded()
                    continue
                break
            if most == -1:
                break
            # The chosen member gives up its last partition of the topic.
            partition = partitions[ends[most] - 1]
            ends[most] -= 1
            least = balancer.next_least_loaded()
            if balancer.is_balanced():
                break
            self._assign_partition(topic, partition, least)
            reassigned += 1
        return reassigned

    def _assign_partition(self, topic: str, partition: int, index: int) -> None:
        old = self._owners[topic][partition]
        if old != -1:
            old_assignment = self._target[self._member_ids[old]]
            old_assignment[topic].discard(partition)
            if not old_assignment[topic]:
                del old_assignment[topic]
            self._sizes[old] -= 1
        self._target[self._member_ids[index]].setdefault(topic, set()).add(partition)
        self._owners[topic][partition] = index
        self._sizes[index] += 1


def uniform_heterogeneous(members: Mapping[str, MemberSpec],
                          topics: Mapping[str, TopicSpec]) -> dict[str, TopicAssignment]:
    """Kafka's heterogeneous uniform builder on its own, whatever the subscriptions.

    ``assign`` runs it only when members subscribe to different topics; Kafka's own tests
    (UniformHeterogeneousAssignmentBuilderTest) also run it on matching subscriptions.
    """
    if not members:
        return {}
    return _UniformHeterogeneousBuilder(members, topics, java_hashmap_order(members)).build()
