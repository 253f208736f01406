"""A KIP-848 consumer group (``group.protocol=consumer``): Kafka's ``ConsumerGroup`` and its members.

The coordinator, not a group leader, decides who owns what. The group has a *group epoch*,
bumped whenever the members' subscriptions or the subscribed topics change; a *target
assignment* computed by a server-side assignor for that epoch (the *assignment epoch*);
and members that each move towards their target at their own pace, one heartbeat at a
time (Kafka's ``CurrentAssignmentBuilder``):

* a member first gives up what is no longer in its target (``pending_revocation``; state
  ``UNREVOKED_PARTITIONS``, its member epoch unchanged) and must say so in a heartbeat;
* only then does it move to the target epoch and receive the new partitions, but only
  those no other member still holds (``UNRELEASED_PARTITIONS`` until they are released).

So a partition never has two owners, and members that keep their partitions never stop
(no stop-the-world rebalance as with the classic protocol).

Group states as Kafka names them: Empty (no members), Assigning (group epoch ahead of the
assignment epoch), Reconciling (some member not yet at the target), Stable.

``load_consumer_group`` and ``save_consumer_group`` read and write one group inside the
caller's transaction; ``ConsumerGroupCoordinator`` (consumer_group_coordinator.py) runs the
heartbeat around them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import aiosqlite

from .records import TopicPartition
from .server_assignors import DEFAULT_SERVER_ASSIGNOR, MemberSpec, TopicSpec, assign
from .storage import record_change

#: Kafka's ``ConsumerGroup.ConsumerGroupState`` names.
EMPTY = "Empty"
ASSIGNING = "Assigning"
RECONCILING = "Reconciling"
STABLE = "Stable"
DEAD = "Dead"
CONSUMER_GROUP_STATES = (EMPTY, ASSIGNING, RECONCILING, STABLE, DEAD)

#: Kafka's ``MemberState``.
MEMBER_STABLE = "STABLE"
UNREVOKED_PARTITIONS = "UNREVOKED_PARTITIONS"
UNRELEASED_PARTITIONS = "UNRELEASED_PARTITIONS"

#: topic -> partitions
Partitions = dict[str, frozenset[int]]


def partitions_of(raw: Mapping[str, Any]) -> Partitions:
    """A ``{topic: partitions}`` mapping with empty topics dropped and frozen sets."""
    return {topic: frozenset(parts) for topic, parts in raw.items() if parts}


def flatten(partitions: Mapping[str, frozenset[int]]) -> list[TopicPartition]:
    """Sorted TopicPartitions of a ``{topic: partitions}`` mapping."""
    return sorted(TopicPartition(topic, p) for topic, parts in partitions.items() for p in parts)


@dataclass(frozen=True)
class ConsumerGroupMember:
    """One member as Kafka's ``ConsumerGroupMember`` keeps it."""

    member_id: str
    member_epoch: int = 0
    previous_member_epoch: int = 0
    state: str = MEMBER_STABLE
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout_ms: int = 0
    session_timeout_ms: int = 0
    server_assignor: str | None = None
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    assigned: Partitions = field(default_factory=dict)
    pending_revocation: Partitions = field(default_factory=dict)
    target: Partitions = field(default_factory=dict)
    last_heartbeat: int = 0
    revocation_deadline: int = 0
    join_seq: int = 0

    def reconciled_to(self, epoch: int) -> bool:
        """Kafka's ``isReconciledTo``: stable at the given epoch."""
        return self.state == MEMBER_STABLE and self.member_epoch == epoch

    def with_epoch(self, epoch: int) -> "ConsumerGroupMember":
        """Kafka's ``updateMemberEpoch``: the old epoch becomes the previous one."""
        return replace(self, previous_member_epoch=self.member_epoch, member_epoch=epoch)


def reconcile(member: ConsumerGroupMember, target_epoch: int, target: Partitions,
              partition_owner_epoch: Callable[[str, int], int],
              owned: Partitions | None) -> ConsumerGroupMember:
    """Kafka's ``CurrentAssignmentBuilder.build``: the member's next step towards ``target``.

    ``partition_owner_epoch(topic, p)`` is the epoch of the member holding the partition
    (assigned or pending revocation), -1 if none does. ``owned`` is what the member said it
    owns in this heartbeat (None if it did not say).
    """
    def still_owns(revoking: Partitions) -> bool:
        if owned is None:
            return True
        return any(p in revoking.get(topic, ()) for topic, parts in owned.items() for p in parts)

    def next_assignment(epoch: int, current: Partitions) -> ConsumerGroupMember:
        assigned: dict[str, set[int]] = {}
        revoking: dict[str, set[int]] = {}
        incoming: dict[str, set[int]] = {}
        unreleased = False
        for topic in set(target) | set(current):
            wanted = target.get(topic, frozenset())
            have = current.get(topic, frozenset())
            keep = have & wanted
            new = wanted - keep
            free = {p for p in new if partition_owner_epoch(topic, p) == -1}
            unreleased = unreleased or len(free) < len(new)
            if keep:
                assigned[topic] = set(keep)
            if have - keep:
                revoking[topic] = set(have - keep)
            if free:
                incoming[topic] = free
        if revoking and still_owns(partitions_of(revoking)):
            return replace(member.with_epoch(epoch),
                           state=UNREVOKED_PARTITIONS, assigned=partitions_of(assigned),
                           pending_revocation=partitions_of(revoking))
        for topic, parts in incoming.items():
            assigned.setdefault(topic, set()).update(parts)
        return replace(member.with_epoch(target_epoch),
                       state=UNRELEASED_PARTITIONS if unreleased else MEMBER_STABLE,
                       assigned=partitions_of(assigned), pending_revocation={})

    if member.state == MEMBER_STABLE:
        if member.member_epoch != target_epoch:
            return next_assignment(member.member_epoch, member.assigned)
        return member
    if member.state == UNREVOKED_PARTITIONS:
        if still_owns(member.pending_revocation):
            return member
        return next_assignment(member.member_epoch + 1, member.assigned)
    return next_assignment(member.member_epoch, member.assigned)  # UNRELEASED_PARTITIONS


def subscribes(member: ConsumerGroupMember, topic: str) -> bool:
    """Whether ``member`` subscribes to ``topic``, by name or by its regex (matching the whole name)."""
    if topic in member.subscribed_topic_names:
        return True
    return bool(member.subscribed_topic_regex) and re.fullmatch(member.subscribed_topic_regex, topic) is not None


class ConsumerGroup:
    """One consumer group as the coordinator sees it inside a transaction."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.exists = False
        self.deleted = False
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.subscription_metadata: dict[str, int] = {}
        self.members: dict[str, ConsumerGroupMember] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fenced: list[str] = []
        self.dirty = False
        self._state_before = EMPTY

    # -- queries ---------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Kafka's ``maybeUpdateGroupState``."""
        if not self.members:
            return EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ASSIGNING
        if any(not m.reconciled_to(self.assignment_epoch) for m in self.members.values()):
            return RECONCILING
        return STABLE

    def preferred_assignor(self) -> str:
        """The server assignor most members ask for (Kafka's ``computePreferredServerAssignor``)."""
        votes = Counter(m.server_assignor for m in self.members.values() if m.server_assignor)
        if not votes:
            return DEFAULT_SERVER_ASSIGNOR
        return max(votes, key=lambda name: (votes[name], name == DEFAULT_SERVER_ASSIGNOR))

    def partition_owner_epoch(self, topic: str, partition: int) -> int:
        """The epoch of the member holding ``topic-partition`` (assigned or revoking), -1 if free."""
        for member in self.members.values():
            if partition in member.assigned.get(topic, ()) or partition in member.pending_revocation.get(topic, ()):
                return member.member_epoch
        return -1

    # -- changes ---------------------------------------------------------------------------
    def touch(self) -> None:
        """Mark the group changed (it will be saved), and existing."""
        self.dirty = True
        self.exists = True

    def put_member(self, member: ConsumerGroupMember) -> None:
        """Add or replace a member."""
        self.members[member.member_id] = member
        self.touch()

    def bump_epoch(self, reason: str) -> None:
        """A new group epoch: the target assignment must be computed again."""
        self.group_epoch += 1
        self.touch()
        self.events.append(("group_state", {"group": self.group_id, "state": self.state,
                                            "reason": f"group epoch {self.group_epoch}: {reason}"}))

    def fence(self, member_id: str, reason: str) -> None:
        """Kafka's ``consumerGroupFenceMember``: remove the member, free its partitions, bump the epoch."""
        if self.members.pop(member_id, None) is None:
            return
        self.fenced.append(member_id)
        # The subscribed topics without the member's (as Kafka recomputes them on a fence), so the
        # next heartbeat does not see them vanish as a change of its own.
        self.subscription_metadata = {t: n for t, n in self.subscription_metadata.items()
                                      if any(subscribes(m, t) for m in self.members.values())}
        self.bump_epoch(f"member {member_id} {reason}")

    def compute_target(self, topics: Mapping[str, TopicSpec], subscriptions: Mapping[str, frozenset[str]]) -> None:
        """Run the preferred assignor for the current group epoch and store every member's target."""
        specs = {mid: MemberSpec(subscriptions.get(mid, frozenset()), m.instance_id, m.target)
                 for mid, m in self.members.items()}
        result = assign(self.preferred_assignor(), specs, topics)
        for mid, member in list(self.members.items()):
            self.members[mid] = replace(member, target=partitions_of(result.get(mid, {})))
        self.assignment_epoch = self.group_epoch
        self.touch()
        self.events.append(("group_rebalanced", {
            "group": self.group_id, "generation": self.group_epoch, "protocol": self.preferred_assignor(),
            "leader": "", "assignment": {mid: [[tp.topic, tp.partition] for tp in flatten(m.target)]
                                         for mid, m in self.members.items()}}))

    def maintain(self, now: int) -> None:
        """Apply the timers that have passed: session timeouts, then rebalance (revocation) timeouts."""
        for member in list(self.members.values()):
            if now >= member.last_heartbeat + member.session_timeout_ms:
                self.fence(member.member_id, f"expired: no heartbeat within its session timeout"
                                             f" ({member.session_timeout_ms} ms)")
            elif member.revocation_deadline and now >= member.revocation_deadline:
                self.fence(member.member_id, f"failed to revoke its partitions within its rebalance timeout"
                                             f" ({member.rebalance_timeout_ms} ms)")

    def note_state(self) -> None:
        """Queue a state-change event if the state differs from the one loaded."""
        if self.state != self._state_before:
            self.events.append(("group_state", {"group": self.group_id, "state": self.state,
                                                "reason": f"group epoch {self.group_epoch}"}))
            self._state_before = self.state


def _dump(partitions: Mapping[str, frozenset[int]]) -> str:
    return json.dumps({topic: sorted(parts) for topic, parts in sorted(partitions.items())})


def _load(text: str) -> Partitions:
    return partitions_of(json.loads(text or "{}"))


_MEMBER_COLUMNS = ("member_id, member_epoch, previous_member_epoch, state, instance_id, rack_id, client_id,"
                   " client_host, rebalance_timeout_ms, session_timeout_ms, server_assignor,"
                   " subscribed_topic_names, subscribed_topic_regex, assigned, pending_revocation, target,"
                   " last_heartbeat, revocation_deadline, join_seq")


async def load_consumer_group(conn: aiosqlite.Connection, group_id: str) -> ConsumerGroup:
    """Read one consumer group (an empty, not-yet-existing one if it has no row)."""
    group = ConsumerGroup(group_id)
    rows = await conn.execute_fetchall(
        "SELECT group_epoch, assignment_epoch, subscription_metadata FROM consumer_groups WHERE group_id=?",
        (group_id,))
    if not rows:
        return group
    group.exists = True
    group.group_epoch, group.assignment_epoch = rows[0][0], rows[0][1]
    group.subscription_metadata = json.loads(rows[0][2] or "{}")
    for row in await conn.execute_fetchall(
            f"SELECT {_MEMBER_COLUMNS} FROM consumer_group_members WHERE group_id=? ORDER BY join_seq, member_id",
            (group_id,)):
        (member_id, epoch, previous, state, instance_id, rack_id, client_id, host, rebalance_timeout,
         session_timeout, assignor, names, regex, assigned, revoking, target, heartbeat, deadline, seq) = row
        group.members[member_id] = ConsumerGroupMember(
            member_id, epoch, previous, state, instance_id, rack_id, client_id, host, rebalance_timeout,
            session_timeout, assignor, tuple(json.loads(names)), regex, _load(assigned), _load(revoking),
            _load(target), heartbeat, deadline, seq)
    group._state_before = group.state
    return group


async def save_consumer_group(conn: aiosqlite.Connection, group: ConsumerGroup, now: int) -> None:
    """Write a changed group back, with its change-feed events, in the caller's transaction."""
    group.note_state()
    if group.deleted:
        await conn.execute("DELETE FROM consumer_group_members WHERE group_id=?", (group.group_id,))
        await conn.execute("DELETE FROM consumer_groups WHERE group_id=?", (group.group_id,))
    elif group.dirty:
        await conn.execute(
            "INSERT INTO consumer_groups(group_id, group_epoch, assignment_epoch, subscription_metadata)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(group_id) DO UPDATE SET group_epoch=excluded.group_epoch,"
            " assignment_epoch=excluded.assignment_epoch, subscription_metadata=excluded.subscription_metadata",
            (group.group_id, group.group_epoch, group.assignment_epoch,
             json.dumps(group.subscription_metadata, sort_keys=True)))
        await conn.execute("DELETE FROM consumer_group_members WHERE group_id=?", (group.group_id,))
        await conn.executemany(
            f"INSERT INTO consumer_group_members(group_id, {_MEMBER_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(group.group_id, m.member_id, m.member_epoch, m.previous_member_epoch, m.state, m.instance_id,
              m.rack_id, m.client_id, m.client_host, m.rebalance_timeout_ms, m.session_timeout_ms,
              m.server_assignor, json.dumps(list(m.subscribed_topic_names)), m.subscribed_topic_regex,
              _dump(m.assigned), _dump(m.pending_revocation), _dump(m.target), m.last_heartbeat,
              m.revocation_deadline, m.join_seq) for m in group.members.values()])
    for kind, payload in group.events:
        await record_change(conn, now, kind, payload)
