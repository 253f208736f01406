"""Kafka's consumer partition assignors: range, roundrobin, sticky and cooperative-sticky.

Each assignor is a pure function of (partitions per topic, member subscriptions) that gives
the same assignment as the Java client's assignor of the same name (Kafka 3.x/4.x, without
rack awareness), so a group rebalancing here splits partitions exactly as a real one would.

Where Kafka's result depends on the iteration order of a ``java.util.HashMap`` (which members
keep their extra partition in the sticky assignors), that order is reproduced from Java's
``String.hashCode``; members whose ids share a hash bucket keep the order of the
``subscriptions`` mapping, i.e. the order the coordinator lists them in.

Not modelled: rack-aware assignment (``client.rack``) and static membership
(``group.instance.id``, which makes range and roundrobin order members by instance id).

Deliberate differences, all on inputs where Kafka itself misbehaves: owned partitions with a
partition number the topic does not have are ignored; a first member with an empty
subscription does not make the group look "all subscriptions equal"; and a stale previous
owner is only preferred if it still subscribes to the topic (Kafka would hand it the
partition anyway, or fail with a NullPointerException).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

# (topic, partition). broker_core.records.TopicPartition is a NamedTuple of the same shape, so
# callers may pass those; results are plain tuples, which compare equal to them.
TP = tuple[str, int]
Assignment = dict[str, list[TP]]
RebalanceProtocol = Literal["eager", "cooperative"]

#: Generation of a member that reports none (Kafka's ``AbstractStickyAssignor.DEFAULT_GENERATION``).
DEFAULT_GENERATION = -1
#: The assignor a consumer uses unless told otherwise (``partition.assignment.strategy``).
DEFAULT_ASSIGNOR = "range"

_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Subscription:
    """What one member sends when it joins the group.

    ``topics`` is what it subscribed to. ``owned_partitions`` and ``generation`` are what the
    sticky assignors remember: the partitions the member held after generation ``generation``
    (-1 when unknown, e.g. a brand-new member). range and roundrobin ignore both.
    """

    topics: tuple[str, ...]
    owned_partitions: tuple[TP, ...] = ()
    generation: int = DEFAULT_GENERATION

    def __post_init__(self) -> None:
        if isinstance(self.topics, str):
            raise TypeError("topics must be a collection of topic names, not one string")
        # Kafka subscribes to a set of topics: drop repeats, keep tuples so this stays hashable.
        object.__setattr__(self, "topics", tuple(dict.fromkeys(self.topics)))
        owned = dict.fromkeys((str(topic), int(partition)) for topic, partition in self.owned_partitions)
        object.__setattr__(self, "owned_partitions", tuple(owned))


@dataclass(frozen=True)
class CooperativeAssignment:
    """One cooperative rebalance: what each member owns now, and what is still in flight.

    A partition that moves between two live members is first revoked by its old owner and left
    unassigned for this generation (``withheld`` says who will get it); the members that revoked
    something rejoin at once, and the follow-up rebalance hands it over.
    """

    assignment: Assignment
    withheld: dict[TP, str]
    revoked: dict[str, list[TP]]

    @property
    def needs_follow_up(self) -> bool:
        """True when partitions were revoked, so the group must rebalance once more."""
        return any(self.revoked.values())


class Assignor(Protocol):
    """A partition assignor, named as in Kafka's ``partition.assignment.strategy``."""

    name: str
    rebalance_protocol: RebalanceProtocol

    def assign(
        self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
    ) -> Assignment: ...


# --- Java compatibility: string order, String.hashCode and HashMap/HashSet iteration order ---

def java_string_key(text: str) -> bytes:
    """Sort key that orders strings like Java's ``String.compareTo`` (by UTF-16 code unit)."""
    return text.encode("utf-16-be", "surrogatepass")


def _java_hash(text: str) -> int:
    """Java's ``String.hashCode`` as an unsigned 32-bit number."""
    units = text.encode("utf-16-be", "surrogatepass")
    value = 0
    for i in range(0, len(units), 2):
        value = (31 * value + (units[i] << 8 | units[i + 1])) & _MASK32
    return value


def _partition_hash(tp: TP) -> int:
    """Java's ``TopicPartition.hashCode``."""
    return (31 * (31 + tp[1]) + _java_hash(tp[0])) & _MASK32


def java_hash_bucket(hash_code: int, table_size: int) -> int:
    # HashMap spreads the high bits down before masking with the table size.
    return (hash_code ^ (hash_code >> 16)) & (table_size - 1)


def java_table_size(entries: int) -> int:
    # A default HashMap starts at 16 buckets and doubles past a 0.75 load factor.
    size = 16
    while entries > size * 3 // 4:
        size *= 2
    return size


def java_hashmap_order(keys: Iterable[str]) -> list[str]:
    """Keys in the order a default ``HashMap<String, ...>`` filled in this order iterates them."""
    ordered = list(keys)
    size = java_table_size(len(ordered))
    # sorted() is stable, so keys sharing a bucket keep insertion order, as in the bucket's chain
    # (Java's tree bins for 8+ colliding keys are not modelled).
    return sorted(ordered, key=lambda key: java_hash_bucket(_java_hash(key), size))


class _JavaHashSet:
    """A ``HashSet<TopicPartition>`` reduced to what Kafka reads from it: its first element."""

    def __init__(self) -> None:
        self._inserted: dict[TP, int] = {}
        self._counter = 0
        self._table = 16

    def add(self, tp: TP) -> None:
        if tp not in self._inserted:
            self._inserted[tp] = self._counter
            self._counter += 1
            if len(self._inserted) > self._table * 3 // 4:
                self._table *= 2  # a HashMap table grows but never shrinks

    def discard(self, tp: TP) -> None:
        self._inserted.pop(tp, None)

    def __bool__(self) -> bool:
        return bool(self._inserted)

    def first(self) -> TP:
        return min(self._inserted, key=lambda tp: (java_hash_bucket(_partition_hash(tp), self._table), self._inserted[tp]))


# --- shared helpers ---

def _subscribed_topics(
    partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
) -> dict[str, int]:
    """Existing topics that at least one member subscribes to (what Kafka hands its assignors)."""
    wanted = {topic for subscription in subscriptions.values() for topic in subscription.topics}
    return {topic: count for topic, count in partitions_per_topic.items() if topic in wanted and count > 0}


def _finish(subscriptions: Mapping[str, Subscription], assignment: Mapping[str, list[TP]]) -> Assignment:
    """Every member, in the caller's order, with its partitions sorted by (topic, partition)."""
    return {member: sorted(assignment.get(member, ())) for member in subscriptions}


class RangeAssignor:
    """Kafka's default assignor: each topic is cut into contiguous ranges, one per member.

    Members are ordered by id; when a topic's partitions do not divide evenly the first members
    get one extra, topic after topic, so with 3 partitions and 2 members member 0 gets 0-1.
    """

    name = "range"
    rebalance_protocol: RebalanceProtocol = "eager"

    def assign(
        self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
    ) -> Assignment:
        result: dict[str, list[TP]] = {member: [] for member in subscriptions}
        for topic, count in _subscribed_topics(partitions_per_topic, subscriptions).items():
            members = sorted((m for m, s in subscriptions.items() if topic in s.topics), key=java_string_key)
            per_member, extra = divmod(count, len(members))
            for index, member in enumerate(members):
                start = per_member * index + min(index, extra)
                length = per_member + (1 if index < extra else 0)
                result[member].extend((topic, p) for p in range(start, start + length))
        return _finish(subscriptions, result)


class RoundRobinAssignor:
    """Deals all partitions, sorted by topic then number, to the members in id order like cards.

    A member not subscribed to a partition's topic is skipped, so with identical subscriptions
    counts differ by at most one, but mixed subscriptions can leave some members with more.
    """

    name = "roundrobin"
    rebalance_protocol: RebalanceProtocol = "eager"

    def assign(
        self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
    ) -> Assignment:
        topics = _subscribed_topics(partitions_per_topic, subscriptions)
        members = sorted(subscriptions, key=java_string_key)
        result: dict[str, list[TP]] = {member: [] for member in subscriptions}
        position = 0  # Kafka's CircularIterator over the sorted members
        for topic in sorted(topics, key=java_string_key):
            for partition in range(topics[topic]):
                while topic not in subscriptions[members[position]].topics:
                    position = (position + 1) % len(members)
                result[members[position]].append((topic, partition))
                position = (position + 1) % len(members)
        return _finish(subscriptions, result)


# --- the sticky assignors (Kafka's AbstractStickyAssignor) ---

@dataclass
class _StickyOutcome:
    assignment: dict[str, list[TP]]
    # Partitions handed from one live owner to another; None when the general path ran,
    # where Kafka leaves the cooperative assignor to work it out from the subscriptions.
    transferring: dict[TP, str] | None


def _sticky_assign(
    partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
) -> _StickyOutcome:
    topics = _subscribed_topics(partitions_per_topic, subscriptions)
    if not subscriptions:
        return _StickyOutcome({}, {})
    # Kafka walks its subscriptions HashMap; the iteration order decides who keeps extras.
    order = java_hashmap_order(subscriptions)
    owned: dict[str, list[TP]] = {}
    claimed_by: dict[TP, str] = {}
    claimed_twice: set[TP] = set()
    first_topics: frozenset[str] | None = None
    all_equal = True
    max_generation = DEFAULT_GENERATION
    for member in order:
        subscription = subscriptions[member]
        if first_topics is None:
            first_topics = frozenset(subscription.topics)
        elif frozenset(subscription.topics) != first_topics:
            all_equal = False
        generation = subscription.generation
        max_generation = max(max_generation, generation)
        mine: list[TP] = []
        owned[member] = mine
        for tp in subscription.owned_partitions:
            if tp[0] not in topics or not 0 <= tp[1] < topics[tp[0]]:
                continue
            other = claimed_by.get(tp)
            if other is None:
                mine.append(tp)
                claimed_by[tp] = member
                continue
            other_generation = subscriptions[other].generation
            if generation == other_generation:
                # Two owners in one generation: trust neither, and treat the partition as moving.
                claimed_twice.add(tp)
                _remove(owned[other], tp)
                claimed_by[tp] = member
            elif generation > other_generation:
                mine.append(tp)  # the newer generation's claim wins
                _remove(owned[other], tp)
                claimed_by[tp] = member
    if all_equal:
        return _constrained_assign(topics, owned, claimed_twice)
    builder = _GeneralAssignment(topics, subscriptions, owned, order)
    return _StickyOutcome(builder.build(max_generation), None)


def _remove(partitions: list[TP], tp: TP) -> None:
    if tp in partitions:
        partitions.remove(tp)


def _constrained_assign(
    topics: dict[str, int], owned: dict[str, list[TP]], claimed_twice: set[TP]
) -> _StickyOutcome:
    """Kafka's fast path when every member subscribes to the same topics: quotas, then round-robin."""
    total = sum(topics.values())
    min_quota, expected_over_min = divmod(total, len(owned))
    max_quota = min_quota + (1 if expected_over_min else 0)
    over_min = 0
    assignment: dict[str, list[TP]] = {member: [] for member in owned}
    kept: set[TP] = set()
    revoked: set[TP] = set()
    under_min: list[str] = []
    at_min: list[str] = []  # members at min_quota that may still take one more

    for member, claimed in owned.items():  # HashMap order: earlier members keep their extra partition
        mine = sorted((tp for tp in claimed if tp not in claimed_twice), key=lambda tp: (tp[1], java_string_key(tp[0])))
        if len(mine) < min_quota:
            keep = mine
            under_min.append(member)
        elif len(mine) >= max_quota and over_min < expected_over_min:
            keep = mine[:max_quota]
            over_min += 1
            if over_min == expected_over_min:
                at_min.clear()  # every extra partition is taken
        else:
            keep = mine[:min_quota]
            if over_min < expected_over_min:
                at_min.append(member)
        assignment[member].extend(keep)
        kept.update(keep)
        revoked.update(mine[len(keep):])

    unassigned = [(t, p) for t in sorted(topics, key=java_string_key) for p in range(topics[t]) if (t, p) not in kept]
    under_min.sort(key=java_string_key)
    waiting = deque(sorted(at_min, key=java_string_key))
    transferring: dict[TP, str] = {}
    index = 0
    for tp in unassigned:
        from_under_min = True
        if index < len(under_min):
            member = under_min[index]
        elif under_min:
            index = 0  # start another lap over the members still below min_quota
            member = under_min[0]
        elif waiting:
            member = waiting.popleft()
            from_under_min = False
        else:
            raise AssertionError("no member left to take a partition")  # Kafka: IllegalStateException
        assignment[member].append(tp)
        if tp in revoked or tp in claimed_twice:
            transferring[tp] = member
        count = len(assignment[member])
        if from_under_min and count == min_quota:
            under_min.pop(index)
            waiting.append(member)
        else:
            if from_under_min:
                index += 1
            if count == max_quota:
                over_min += 1
    return _StickyOutcome(assignment, transferring)


class _Movements:
    """Kafka's PartitionMovements: which partitions moved between which members this rebalance.

    When a partition would move back toward a member it came from, Kafka moves one that already
    went the other way instead, so no topic ping-pongs partitions between two members.
    """

    def __init__(self) -> None:
        self._pair_of: dict[TP, tuple[str, str]] = {}
        self._by_topic: dict[str, dict[tuple[str, str], _JavaHashSet]] = {}

    def _drop(self, tp: TP) -> tuple[str, str]:
        pair = self._pair_of.pop(tp)
        per_topic = self._by_topic[tp[0]]
        per_topic[pair].discard(tp)
        if not per_topic[pair]:
            del per_topic[pair]
        if not per_topic:
            del self._by_topic[tp[0]]
        return pair

    def _record(self, tp: TP, pair: tuple[str, str]) -> None:
        self._pair_of[tp] = pair
        per_topic = self._by_topic.setdefault(tp[0], {})
        if pair not in per_topic:
            per_topic[pair] = _JavaHashSet()
        per_topic[pair].add(tp)

    def move(self, tp: TP, old: str, new: str) -> None:
        if tp in self._pair_of:
            source, _ = self._drop(tp)
            if source != new:  # a partition returning to where it started has not moved at all
                self._record(tp, (source, new))
        else:
            self._record(tp, (old, new))

    def partition_to_move(self, tp: TP, old: str, new: str) -> TP:
        per_topic = self._by_topic.get(tp[0])
        if per_topic is None:
            return tp
        if tp in self._pair_of:
            old = self._pair_of[tp][0]
        reverse = per_topic.get((new, old))
        return reverse.first() if reverse else tp


class _GeneralAssignment:
    """Kafka's general sticky path, for groups whose members subscribe to different topics."""

    def __init__(
        self,
        topics: dict[str, int],
        subscriptions: Mapping[str, Subscription],
        owned: dict[str, list[TP]],
        order: list[str],
    ) -> None:
        self.topics = topics
        self.subscriptions = subscriptions
        self.order = order
        self.consumers_of: dict[str, list[str]] = {topic: [] for topic in topics}
        self.topics_of: dict[str, set[str]] = {}
        for member in order:
            self.topics_of[member] = {t for t in subscriptions[member].topics if t in topics}
            for topic in subscriptions[member].topics:
                if topic in topics:
                    self.consumers_of[topic].append(member)
        self.max_size = {m: sum(topics[t] for t in self.topics_of[m]) for m in order}
        self.assignment: dict[str, list[TP]] = {m: list(owned[m]) for m in order}
        self.owner: dict[TP, str] = {tp: m for m, tps in self.assignment.items() for tp in tps}
        # Partitions of the least-shared topics first: they have the fewest places to go.
        topic_order = sorted(topics, key=lambda t: (len(self.consumers_of[t]), java_string_key(t)))
        self.all_partitions = [(t, p) for t in topic_order for p in range(topics[t])]
        self.active: set[str] = set(order)
        self.movements = _Movements()
        self.revocation_required = False

    def build(self, max_generation: int) -> dict[str, list[TP]]:
        previous = self._previous_owners(max_generation)
        kept: set[TP] = set()
        for member, partitions in self.assignment.items():
            subscribed = self.subscriptions[member].topics
            keep = [tp for tp in partitions if tp[0] in subscribed]
            if len(keep) < len(partitions):
                self.revocation_required = True  # the member unsubscribed from a topic it owned
                for tp in partitions:
                    if tp[0] not in subscribed:
                        del self.owner[tp]
            self.assignment[member] = keep
            kept.update(keep)
        unassigned = [tp for tp in self.all_partitions if tp not in kept]
        self._balance(previous, unassigned)
        return self.assignment

    def _previous_owners(self, max_generation: int) -> dict[TP, tuple[str, int]]:
        """Owners from older generations: a fallback home for partitions, newest generation first."""
        previous: dict[TP, tuple[str, int]] = {}
        for member in self.order:
            subscription = self.subscriptions[member]
            if subscription.generation < max_generation:
                for tp in subscription.owned_partitions:
                    if tp not in previous or subscription.generation > previous[tp][1]:
                        previous[tp] = (member, subscription.generation)
        return previous

    def _by_load(self) -> list[str]:
        # Kafka's TreeSet of members ordered by (number of partitions, member id).
        return sorted(self.active, key=lambda m: (len(self.assignment[m]), java_string_key(m)))

    def _give(self, tp: TP, member: str) -> None:
        self.assignment[member].append(tp)
        self.owner[tp] = member

    def _balance(self, previous: dict[TP, tuple[str, int]], unassigned: list[TP]) -> None:
        initializing = not any(self.assignment.values())
        for tp in unassigned:
            for member in self._by_load():
                if tp[0] in self.topics_of[member]:
                    self._give(tp, member)
                    break

        # Topics with one possible consumer, and members that cannot change, sit out the rest.
        fixed_topics = {topic for topic, members in self.consumers_of.items() if len(members) < 2}
        movable = [tp for tp in self.all_partitions if tp[0] not in fixed_topics]
        unassigned = [tp for tp in unassigned if tp[0] not in fixed_topics]
        fixed: dict[str, list[TP]] = {}
        for member in self.order:
            if not self._can_participate(member):
                self.active.discard(member)
                fixed[member] = self.assignment.pop(member)

        before = {member: list(partitions) for member, partitions in self.assignment.items()}
        owner_before = dict(self.owner)
        if not self.revocation_required:
            self._reassign(unassigned, previous)  # first try moving only the newly placed partitions
        moved = self._reassign(movable, previous)
        # Keep the old assignment unless moving things actually improved the balance.
        if not initializing and moved and _balance_score(self.assignment) >= _balance_score(before):
            self.assignment, self.owner = before, owner_before
        self.assignment.update(fixed)
        self.active.update(fixed)

    def _can_participate(self, member: str) -> bool:
        partitions = self.assignment[member]
        if len(partitions) < self.max_size[member]:
            return True
        return any(len(self.consumers_of[tp[0]]) >= 2 for tp in partitions)

    def _is_balanced(self) -> bool:
        by_load = self._by_load()
        if len(self.assignment[by_load[0]]) >= len(self.assignment[by_load[-1]]) - 1:
            return True
        owner = {tp: m for m, partitions in self.assignment.items() for tp in partitions}
        for member in by_load:
            count = len(self.assignment[member])
            if count == self.max_size[member]:
                continue
            mine = set(self.assignment[member])
            for topic in self.topics_of[member]:
                for partition in range(self.topics[topic]):
                    other = owner.get((topic, partition))
                    if (topic, partition) in mine or other is None:
                        continue
                    if count + 1 < len(self.assignment[other]):
                        return False  # this member could take one more without unbalancing
        return True

    def _reassign(self, partitions: list[TP], previous: dict[TP, tuple[str, int]]) -> bool:
        """Move partitions toward lighter members until balanced; True if anything moved."""
        moved_any = False
        while True:
            modified = False
            for tp in partitions:
                if self._is_balanced():
                    break
                current = self.owner[tp]
                load = len(self.assignment[current])
                earlier = previous.get(tp)
                if (
                    earlier is not None
                    and earlier[0] in self.active
                    and tp[0] in self.topics_of[earlier[0]]
                    and load > len(self.assignment[earlier[0]]) + 1
                ):
                    self._move(tp, earlier[0])  # back to the owner of an older generation
                    moved_any = modified = True
                    continue
                for other in self.consumers_of[tp[0]]:
                    if other in self.active and load > len(self.assignment[other]) + 1:
                        target = next(m for m in self._by_load() if tp[0] in self.topics_of[m])
                        self._move(tp, target)
                        moved_any = modified = True
                        break
            if not modified:
                return moved_any

    def _move(self, tp: TP, new: str) -> None:
        actual = self.movements.partition_to_move(tp, self.owner[tp], new)
        old = self.owner[actual]
        self.movements.move(actual, old, new)
        self.assignment[old].remove(actual)
        self._give(actual, new)


def _balance_score(assignment: Mapping[str, list[TP]]) -> int:
    """Sum of partition-count differences over all member pairs; 0 is perfectly even."""
    sizes = [len(partitions) for partitions in assignment.values()]
    return sum(abs(a - b) for i, a in enumerate(sizes) for b in sizes[i + 1:])


class StickyAssignor:
    """Balanced like roundrobin, but members keep what they already owned where balance allows.

    When a member leaves, only its partitions move; when one joins, each existing member gives
    up just enough to even the counts. Rebalances are eager: everyone stops while it happens.
    """

    name = "sticky"
    rebalance_protocol: RebalanceProtocol = "eager"

    def assign(
        self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
    ) -> Assignment:
        return _finish(subscriptions, _sticky_assign(partitions_per_topic, subscriptions).assignment)


class CooperativeStickyAssignor:
    """The sticky assignment, handed over in two steps so no member has to stop consuming.

    A partition moving from one live member to another is revoked in this rebalance and given to
    its new owner only in the follow-up rebalance; everything else stays put throughout.
    """

    name = "cooperative-sticky"
    rebalance_protocol: RebalanceProtocol = "cooperative"

    def assign(
        self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
    ) -> Assignment:
        return self.plan(partitions_per_topic, subscriptions).assignment

    def plan(
        self, partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
    ) -> CooperativeAssignment:
        """The assignment for this generation, plus the partitions withheld while they are revoked."""
        outcome = _sticky_assign(partitions_per_topic, subscriptions)
        assignment = outcome.assignment
        transferring = outcome.transferring
        if transferring is None:
            transferring = _moving_between_members(subscriptions, assignment)
        for tp, member in transferring.items():
            assignment[member].remove(tp)
        final = _finish(subscriptions, assignment)
        revoked = {
            member: sorted(set(subscription.owned_partitions) - set(final[member]))
            for member, subscription in subscriptions.items()
        }
        return CooperativeAssignment(final, dict(sorted(transferring.items())), revoked)


def _moving_between_members(
    subscriptions: Mapping[str, Subscription], assignment: Mapping[str, list[TP]]
) -> dict[TP, str]:
    """Partitions newly given to a member while another member still reports owning them."""
    added: dict[TP, str] = {}
    revoked: set[TP] = set()
    for member, partitions in assignment.items():
        owned = subscriptions[member].owned_partitions
        added.update((tp, member) for tp in partitions if tp not in owned)
        revoked.update(tp for tp in owned if tp not in partitions)
    return {tp: member for tp, member in added.items() if tp in revoked}


ASSIGNORS: dict[str, Assignor] = {
    assignor.name: assignor
    for assignor in (RangeAssignor(), RoundRobinAssignor(), StickyAssignor(), CooperativeStickyAssignor())
}

# partition.assignment.strategy also takes Java class names; accept those for muscle memory.
_ALIASES: dict[str, str] = {
    alias: assignor.name
    for assignor in ASSIGNORS.values()
    for alias in (type(assignor).__name__, f"org.apache.kafka.clients.consumer.{type(assignor).__name__}")
}


def get_assignor(name: str) -> Assignor:
    """The assignor called ``name`` (Kafka's short name or Java class name).

    Raises ValueError naming the unknown assignor and listing the valid ones.
    """
    assignor = ASSIGNORS.get(_ALIASES.get(name, name))
    if assignor is None:
        raise ValueError(f"unknown partition assignor {name!r}; valid assignors: {', '.join(ASSIGNORS)}")
    return assignor


__all__ = [
    "ASSIGNORS", "Assignment", "Assignor", "CooperativeAssignment", "CooperativeStickyAssignor",
    "DEFAULT_ASSIGNOR", "DEFAULT_GENERATION", "RangeAssignor", "RoundRobinAssignor",
    "StickyAssignor", "Subscription", "TP", "get_assignor",
]
