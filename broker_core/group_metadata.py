"""A consumer group's metadata: Kafka's ``GroupMetadata`` state machine and its storage.

``GroupMetadata`` holds one group as the coordinator sees it inside a transaction (state,
generation, leader, members) and changes it by Kafka's rules; ``load_group`` and
``save_group`` read it from and write it to the data file. ``GroupCoordinator`` (groups.py)
wraps each request in a transaction around these.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

import aiosqlite

from .consumer_protocol import ConsumerProtocolError, decode_assignment
from .records import TopicPartition
from .storage import record_change

#: The states of Kafka's group state machine.
EMPTY = "Empty"
PREPARING_REBALANCE = "PreparingRebalance"
COMPLETING_REBALANCE = "CompletingRebalance"
STABLE = "Stable"
DEAD = "Dead"
#: Kafka's group states, as ``kafka-consumer-groups --describe --state`` prints them.
GROUP_STATES = (EMPTY, PREPARING_REBALANCE, COMPLETING_REBALANCE, STABLE, DEAD)


@dataclass(frozen=True)
class JoinGroupResult:
    """The JoinGroup response: the new generation, and for the leader every member's metadata."""

    generation: int
    protocol_name: str | None
    leader_id: str
    member_id: str
    members: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def is_leader(self) -> bool:
        """Whether the member that joined must compute the assignment."""
        return self.leader_id == self.member_id


@dataclass
class MemberMetadata:
    """One member as the coordinator keeps it: its protocols, heartbeat and assignment."""

    member_id: str
    client_id: str
    host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: list[tuple[str, bytes]]
    last_heartbeat: int
    join_seq: int
    awaiting_join: bool = False
    awaiting_sync: bool = False
    assignment: bytes | None = None

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return [(n, bytes(m)) for n, m in protocols] == [(n, bytes(m)) for n, m in self.protocols]

    def metadata(self, protocol: str) -> bytes:
        return next(m for n, m in self.protocols if n == protocol)


class GroupMetadata:
    """One group's metadata, loaded inside a transaction, changed by Kafka's rules, saved back."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.exists = False
        self.deleted = False
        self.state = EMPTY
        self.protocol_type = ""
        self.protocol_name: str | None = None
        self.generation = 0
        self.leader_id: str | None = None
        self.rebalance_deadline = 0
        self.next_member_seq = 0
        self.members: dict[str, MemberMetadata] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.expired: list[str] = []
        self.dirty = False

    # -- queries ---------------------------------------------------------------------------
    def _candidate_protocols(self) -> set[str]:
        names: set[str] | None = None
        for member in self.members.values():
            mine = {name for name, _ in member.protocols}
            names = mine if names is None else names & mine
        return names or set()

    def supports(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        """Kafka's ``supportsProtocols``: any first member, then only compatible ones."""
        if not self.members:
            return bool(protocol_type) and bool(protocols)
        return protocol_type == self.protocol_type and bool(
            {name for name, _ in protocols} & self._candidate_protocols())

    def _select_protocol(self) -> str:
        # Every member votes for its most preferred protocol that all members support.
        candidates = self._candidate_protocols()
        votes: Counter[str] = Counter()
        for member in self.members.values():
            votes[next(name for name, _ in member.protocols if name in candidates)] += 1
        leader = self.members.get(self.leader_id or "") or next(iter(self.members.values()))
        preference = [name for name, _ in leader.protocols]
        return max(votes, key=lambda name: (votes[name], -preference.index(name)))

    def join_result(self, member_id: str) -> JoinGroupResult:
        leader = self.leader_id or ""
        members = []
        if member_id == leader and self.protocol_name is not None:
            members = [(m.member_id, m.metadata(self.protocol_name)) for m in self.members.values()]
        return JoinGroupResult(self.generation, self.protocol_name, leader, member_id, members)

    def assignment_payload(self) -> dict[str, list[list[Any]]]:
        return {m.member_id: [[tp.topic, tp.partition] for tp in self.decoded_assignment(m)]
                for m in self.members.values()}

    def decoded_assignment(self, member: MemberMetadata) -> list[TopicPartition]:
        if self.protocol_type != "consumer" or not member.assignment:
            return []
        try:
            return sorted(decode_assignment(member.assignment).partitions)
        except ConsumerProtocolError:
            return []  # a foreign client's private format: nothing we can show

    # -- changes ---------------------------------------------------------------------------
    def _touch(self) -> None:
        self.dirty = True
        self.exists = True

    def _transition(self, state: str, reason: str) -> None:
        self.state = state
        self._touch()
        self.events.append(("group_state", {"group": self.group_id, "state": state, "reason": reason}))

    def heartbeat(self, member: MemberMetadata, now: int) -> None:
        member.last_heartbeat = now
        self._touch()

    def add_member(self, member_id: str, client_id: str, host: str, session_timeout_ms: int,
                   rebalance_timeout_ms: int, protocol_type: str, protocols: list[tuple[str, bytes]],
                   now: int) -> MemberMetadata:
        if not self.members:
            self.protocol_type = protocol_type
        member = MemberMetadata(member_id, client_id, host, session_timeout_ms, rebalance_timeout_ms,
                         protocols, now, self.next_member_seq, awaiting_join=True)
        self.next_member_seq += 1
        self.members[member_id] = member
        if self.leader_id is None:
            self.leader_id = member_id
        self._touch()
        return member

    def update_member(self, member: MemberMetadata, session_timeout_ms: int, rebalance_timeout_ms: int,
                      protocols: list[tuple[str, bytes]], now: int) -> None:
        member.protocols = protocols
        member.session_timeout_ms = session_timeout_ms
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.awaiting_join = True
        member.last_heartbeat = now
        self._touch()

    def remove_member(self, member_id: str) -> None:
        del self.members[member_id]
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        self._touch()

    def maybe_prepare_rebalance(self, now: int, reason: str) -> None:
        if self.state in (STABLE, COMPLETING_REBALANCE, EMPTY):
            self._prepare_rebalance(now, reason)
        self.try_complete_join(now)

    def _prepare_rebalance(self, now: int, reason: str) -> None:
        for member in self.members.values():
            # Followers waiting for the leader's assignment must rejoin instead.
            member.assignment = None
            member.awaiting_sync = False
        timeout = max((m.rebalance_timeout_ms for m in self.members.values()), default=0)
        self.rebalance_deadline = now + timeout
        self._transition(PREPARING_REBALANCE, reason)

    def try_complete_join(self, now: int) -> None:
        """End the join phase if every member has rejoined or the rebalance timeout has passed."""
        if self.state != PREPARING_REBALANCE:
            return
        if not all(m.awaiting_join for m in self.members.values()) and now < self.rebalance_deadline:
            return
        dropped = [m for m in self.members.values() if not m.awaiting_join]
        for member in dropped:
            self.remove_member(member.member_id)
            self.expired.append(member.member_id)
        self.generation += 1
        if not self.members:
            self.protocol_name = None
            self.leader_id = None
            self._transition(EMPTY, f"generation {self.generation} has no members"
                             + (f" (removed {', '.join(m.member_id for m in dropped)}: did not rejoin"
                                " within the rebalance timeout)" if dropped else ""))
            self.events.append(("group_rebalanced", {
                "group": self.group_id, "generation": self.generation, "protocol": "",
                "leader": "", "assignment": {}}))
            return
        self.protocol_name = self._select_protocol()
        if self.leader_id not in self.members:
            self.leader_id = next(iter(self.members))
        for member in self.members.values():
            member.awaiting_join = False
            member.awaiting_sync = False
            member.assignment = None
            member.last_heartbeat = now
        reason = f"generation {self.generation} formed with {len(self.members)} member(s)"
        if dropped:
            reason += (f"; removed {', '.join(m.member_id for m in dropped)}:"
                       " did not rejoin within the rebalance timeout")
        self._transition(COMPLETING_REBALANCE, reason)

    def complete_sync(self, assignments: Mapping[str, bytes], now: int) -> None:
        """The leader's SyncGroup: store every member's assignment and become Stable."""
        for member in self.members.values():
            member.assignment = bytes(assignments.get(member.member_id) or b"")
            if member.awaiting_sync or member.member_id == self.leader_id:
                member.last_heartbeat = now
            member.awaiting_sync = False
        self._transition(STABLE, f"leader {self.leader_id} sent the assignment for generation {self.generation}")
        self.events.append(("group_rebalanced", {
            "group": self.group_id, "generation": self.generation, "protocol": self.protocol_name or "",
            "leader": self.leader_id or "", "assignment": self.assignment_payload()}))

    def _keeps_alive(self, member: MemberMetadata) -> bool:
        # A member with a request in purgatory (a join or a follower's sync) is not expired.
        return ((self.state == PREPARING_REBALANCE and member.awaiting_join)
                or (self.state == COMPLETING_REBALANCE and member.awaiting_sync))

    def maintain(self, now: int) -> None:
        """Apply every timer that has passed: session timeouts, then the rebalance deadline."""
        expired = [m for m in self.members.values()
                   if not self._keeps_alive(m) and now >= m.last_heartbeat + m.session_timeout_ms]
        for member in expired:
            self.remove_member(member.member_id)
            self.expired.append(member.member_id)
        if expired:
            names = ", ".join(m.member_id for m in expired)
            self.maybe_prepare_rebalance(now, f"removing member {names} on heartbeat expiration")
        self.try_complete_join(now)

    def leave(self, member_id: str, now: int) -> None:
        self.remove_member(member_id)
        self.maybe_prepare_rebalance(now, f"removing member {member_id} on LeaveGroup")



async def load_group(conn: aiosqlite.Connection, group_id: str) -> GroupMetadata:
    """Read one group (an empty, not-yet-existing one if it has no row) inside a transaction."""
    group = GroupMetadata(group_id)
    rows = await conn.execute_fetchall(
        "SELECT state, protocol_type, protocol_name, generation, leader_id, rebalance_deadline,"
        " next_member_seq FROM groups WHERE group_id=?", (group_id,))
    if not rows:
        return group
    (group.state, group.protocol_type, group.protocol_name, group.generation, group.leader_id,
     group.rebalance_deadline, group.next_member_seq) = rows[0]
    group.exists = True
    for row in await conn.execute_fetchall(
            "SELECT member_id, client_id, host, session_timeout_ms, rebalance_timeout_ms, protocols,"
            " last_heartbeat, join_seq, awaiting_join, awaiting_sync, assignment FROM group_members"
            " WHERE group_id=? ORDER BY join_seq", (group_id,)):
        protocols = [(name, bytes.fromhex(meta)) for name, meta in json.loads(row[5])]
        group.members[row[0]] = MemberMetadata(row[0], row[1], row[2], row[3], row[4], protocols, row[6], row[7],
                                        bool(row[8]), bool(row[9]), row[10])
    return group


async def save_group(conn: aiosqlite.Connection, group: GroupMetadata, now: int) -> None:
    """Write a changed group back, with its change-feed events, in the caller's transaction."""
    if group.deleted:
        for table in ("group_members", "committed_offsets", "groups"):
            await conn.execute(f"DELETE FROM {table} WHERE group_id=?", (group.group_id,))
    elif group.dirty:
        await conn.execute(
            "INSERT INTO groups(group_id, state, protocol_type, protocol_name, generation, leader_id,"
            " rebalance_deadline, next_member_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(group_id) DO UPDATE SET state=excluded.state, protocol_type=excluded.protocol_type,"
            " protocol_name=excluded.protocol_name, generation=excluded.generation,"
            " leader_id=excluded.leader_id, rebalance_deadline=excluded.rebalance_deadline,"
            " next_member_seq=excluded.next_member_seq",
            (group.group_id, group.state, group.protocol_type, group.protocol_name, group.generation,
             group.leader_id, group.rebalance_deadline, group.next_member_seq))
        await conn.execute("DELETE FROM group_members WHERE group_id=?", (group.group_id,))
        await conn.executemany(
            "INSERT INTO group_members(group_id, member_id, client_id, host, session_timeout_ms,"
            " rebalance_timeout_ms, protocols, last_heartbeat, join_seq, awaiting_join, awaiting_sync,"
            " assignment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(group.group_id, m.member_id, m.client_id, m.host, m.session_timeout_ms, m.rebalance_timeout_ms,
              json.dumps([[name, bytes(meta).hex()] for name, meta in m.protocols]), m.last_heartbeat,
              m.join_seq, int(m.awaiting_join), int(m.awaiting_sync), m.assignment)
             for m in group.members.values()])
    for kind, payload in group.events:
        await record_change(conn, now, kind, payload)
