"""``GroupCoordinator``: Kafka's classic consumer-group protocol over the data file.

Members join, sync, heartbeat and leave exactly as with a real broker's coordinator:

* a join or a leave moves the group to ``PreparingRebalance``; the join phase ends when
  every known member has rejoined or the rebalance timeout (the longest
  ``max.poll.interval.ms`` of the members) has passed, and members that did not rejoin
  are removed;
* the generation then goes up and the group waits in ``CompletingRebalance`` for the
  leader (the first member to join, kept while it stays) to send, in SyncGroup, the
  assignment it computed in the client; everyone else receives their share;
* a member whose last heartbeat is older than its session timeout is removed, which
  triggers a rebalance. Members blocked in a join or waiting for the leader's sync are
  kept alive, as Kafka's coordinator keeps members with a request in purgatory.

Nothing lives in memory: every change is one ``BEGIN IMMEDIATE`` transaction, so
members in different processes share a group through the data file. Timers are lazy:
whoever next touches a group (any call here, or ``expire_members()``) applies the
session timeouts and rebalance deadlines that have passed on the injectable clock, so
the member of a process that died expires without any daemon. Calls that must wait for
other members (a join waiting for the rest, a follower's sync waiting for the leader)
wait on the change feed and re-check in short slices.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence, TypeVar

from .clock import Clock
from .consumer_group import ConsumerGroup, load_consumer_group, save_consumer_group
from .consumer_group_coordinator import (ConsumerGroupCoordinator, ConsumerGroupHeartbeatRequest,
                                         ConsumerGroupHeartbeatResult)
from .errors import (GroupIdNotFound, IllegalGeneration, InconsistentGroupProtocol, InvalidGroupId,
                     InvalidSessionTimeout, KafkaError, NonEmptyGroup, RebalanceInProgress, StaleMemberEpoch,
                     UnknownMemberId, UnknownTopicOrPartition, UnsupportedVersion)
from .events import ChangeFeed, Event
from .group_descriptions import (CONSUMER_GROUP_TYPE, GroupDescription, GroupListing, MemberDescription,
                                 PartitionLag)
from .group_metadata import (COMPLETING_REBALANCE, DEAD, EMPTY, PREPARING_REBALANCE, STABLE, GroupMetadata,
                             JoinGroupResult, load_group, save_group)
from .coordinator_records import (MemberRecord, group_metadata_key, group_metadata_value, offset_commit_key,
                                  offset_commit_value)
from .offsets_topic import OffsetsTopicWriter
from .records import TopicPartition
from .storage import Storage, record_change

#: Broker defaults of ``group.min.session.timeout.ms`` and ``group.max.session.timeout.ms``.
GROUP_MIN_SESSION_TIMEOUT_MS = 6_000
GROUP_MAX_SESSION_TIMEOUT_MS = 1_800_000
#: How long a blocked join or sync waits for a change before re-checking the group anyway
#: (deadlines move with the clock, which writes nothing to the feed).
RECHECK_INTERVAL_S = 0.1
#: The first OffsetCommit version a consumer-protocol member may use (KIP-848).
CONSUMER_PROTOCOL_MIN_COMMIT_VERSION = 9
#: The generation and member id of a standalone (``assign()``) consumer committing offsets.
NO_GENERATION = -1
NO_MEMBER_ID = ""

_T = TypeVar("_T")


def lag_rows(members: Sequence[MemberDescription], committed: Mapping[TopicPartition, int],
             high_watermarks: Mapping[TopicPartition, int]) -> list[PartitionLag]:
    """``kafka-consumer-groups --describe``'s rows: one per partition committed or assigned, sorted,
    with lag = high watermark - committed offset (whichever cluster the numbers came from)."""
    owners = {tp: member for member in members for tp in member.assignment}
    rows = []
    for tp in sorted(set(committed) | set(owners)):
        offset = committed.get(tp)
        end = high_watermarks.get(tp)
        owner = owners.get(tp)
        rows.append(PartitionLag(
            tp.topic, tp.partition, offset, end,
            # Not clamped: after a truncation Kafka's tool shows a negative lag too.
            None if offset is None or end is None else end - offset,
            owner.member_id if owner else None, owner.client_id if owner else None,
            owner.host if owner else None))
    return rows


# --- the coordinator ------------------------------------------------------------------------

class _Wait:
    """An operation's answer meaning "not yet: wait for the group to change and ask again"."""


_WAIT = _Wait()


class GroupCoordinator:
    """Kafka's group coordinator and offset manager over the data file.

    Classic groups are run here; KIP-848 consumer groups by ``consumer_groups`` (a
    ``ConsumerGroupCoordinator``), and offsets, listings and descriptions cover both.
    ``feed`` is the cluster's change feed: blocking calls wait on it (starting it if
    needed) for other members' moves, including moves made by other processes.
    """

    def __init__(self, storage: Storage, clock: Clock, feed: ChangeFeed, *,
                 min_session_timeout_ms: int = GROUP_MIN_SESSION_TIMEOUT_MS,
                 max_session_timeout_ms: int = GROUP_MAX_SESSION_TIMEOUT_MS) -> None:
        self._storage = storage
        self._clock = clock
        self._feed = feed
        self._offsets_topic = OffsetsTopicWriter(storage, clock)
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        self.consumer_groups = ConsumerGroupCoordinator(storage, clock)

    # -- transactions -----------------------------------------------------------------------
    async def _update(self, group_id: str, operation: Callable[[GroupMetadata, int], _T]) -> _T:
        """Run ``operation`` on the group (after its due timers) in one write transaction.

        A KafkaError from ``operation`` is raised after the timers' effects are committed,
        as a broker answers an error while still expiring members.
        """
        now = self._clock.now_ms()
        error: KafkaError | None = None
        result: Any = None
        async with self._storage.write() as conn:
            group = await load_group(conn, group_id)
            group.maintain(now)
            try:
                result = operation(group, now)
            except KafkaError as exc:
                error = exc
            await self._save(conn, group, now)
        if error is not None:
            raise error
        return result

    async def _save(self, conn: Any, group: GroupMetadata, now: int,
                    commits: Mapping[TopicPartition, int] | None = None, metadata: str = "") -> None:
        """Save the group and log what changed to ``__consumer_offsets``, in the caller's transaction.

        As Kafka's coordinator: a completed rebalance writes the group's metadata record, a
        commit one record per partition, a deletion tombstones for the group and its offsets.
        """
        records: list[tuple[bytes, bytes | None]] = []
        if group.deleted:
            rows = await conn.execute_fetchall(
                "SELECT topic, partition FROM committed_offsets WHERE group_id=? ORDER BY topic, partition",
                (group.group_id,))
            records += [(offset_commit_key(group.group_id, topic, partition), None) for topic, partition in rows]
            records.append((group_metadata_key(group.group_id), None))
        elif any(kind == "group_rebalanced" for kind, _ in group.events):
            records.append((group_metadata_key(group.group_id), _group_metadata_value(group, now)))
        records += [(offset_commit_key(group.group_id, tp.topic, tp.partition),
                     offset_commit_value(offset, metadata, now)) for tp, offset in sorted((commits or {}).items())]
        await save_group(conn, group, now)
        await self._offsets_topic.append(conn, group.group_id, records, now)

    async def _inspect(self, group_id: str, operation: Callable[[GroupMetadata, int], _T]) -> _T:
        """Like ``_update``, but read-only unless a timer or ``operation`` changes something.

        Blocked calls re-check the group often; most checks change nothing, and those stay
        off the writer lock other processes need.
        """
        now = self._clock.now_ms()
        async with self._storage.snapshot() as conn:
            group = await load_group(conn, group_id)
        group.maintain(now)
        try:
            result = operation(group, now)
        except KafkaError:
            if group.dirty:
                return await self._update(group_id, operation)
            raise
        if group.dirty:
            return await self._update(group_id, operation)
        return result

    async def _await_group(self, group_id: str, check: Callable[[GroupMetadata, int], Any]) -> Any:
        """Re-run ``check`` whenever the group changes (or every re-check slice) until it answers."""
        if not self._feed.running:
            await self._feed.start()
        events = self._feed.subscribe("group_state", "group_rebalanced")
        try:
            while True:
                result = await self._inspect(group_id, check)
                if result is not _WAIT:
                    return result
                await _next_group_event(events.get, group_id, RECHECK_INTERVAL_S)
        finally:
            events.close()

    # -- membership -------------------------------------------------------------------------
    async def join_group(self, group_id: str, member_id: str, *, client_id: str, host: str,
                         session_timeout_ms: int, rebalance_timeout_ms: int,
                         protocol_type: str, protocols: list[tuple[str, bytes]],
                         on_member_id: Callable[[str], None] | None = None) -> JoinGroupResult:
        """JoinGroup: become (or stay) a member; returns once the join phase has completed.

        ``member_id`` is "" for a new member (it gets ``client_id-<uuid>``, as in Kafka);
        ``on_member_id`` is told the id as soon as the member exists, before the wait, so
        a caller cancelled while waiting can still leave. Raises InvalidGroupId,
        InvalidSessionTimeout, InconsistentGroupProtocol or UnknownMemberId (a member id
        the group no longer knows: rejoin with "").
        """
        if not group_id:
            raise InvalidGroupId("The configured groupId is invalid: it must not be empty.")
        if not self.min_session_timeout_ms <= session_timeout_ms <= self.max_session_timeout_ms:
            raise InvalidSessionTimeout(
                f"The session timeout {session_timeout_ms} ms is not within the range allowed by the broker"
                f" (group.min.session.timeout.ms={self.min_session_timeout_ms},"
                f" group.max.session.timeout.ms={self.max_session_timeout_ms}).")
        protocols = [(str(name), bytes(meta)) for name, meta in protocols]
        if not protocol_type or not protocols:
            raise InconsistentGroupProtocol(
                "The group member's supported protocols are incompatible with those of existing members"
                " or first group member tried to join with empty protocol type or empty protocol list.")

        def join(group: GroupMetadata, now: int) -> JoinGroupResult | tuple[str, int]:
            if not member_id:
                if not group.supports(protocol_type, protocols):
                    raise _inconsistent(group_id)
                new_id = f"{client_id}-{uuid.uuid4()}"
                group.add_member(new_id, client_id, host, session_timeout_ms, rebalance_timeout_ms,
                                 protocol_type, protocols, now)
                start = group.generation
                group.maybe_prepare_rebalance(now, f"Adding new member {new_id} with group instance id None")
                return _join_answer(group, new_id, start)
            member = group.members.get(member_id)
            if member is None:
                raise _unknown_member(group_id, member_id)
            if not group.supports(protocol_type, protocols):
                raise _inconsistent(group_id)
            start = group.generation
            if group.state == PREPARING_REBALANCE:
                group.update_member(member, session_timeout_ms, rebalance_timeout_ms, protocols, now)
                group.try_complete_join(now)
            elif group.state == COMPLETING_REBALANCE and member.matches(protocols):
                return group.join_result(member_id)  # it missed the response: same answer again
            elif group.state == STABLE and member_id != group.leader_id and member.matches(protocols):
                return group.join_result(member_id)
            else:
                # Changed metadata, or the leader rejoining (it may have seen topics change).
                group.update_member(member, session_timeout_ms, rebalance_timeout_ms, protocols, now)
                group.maybe_prepare_rebalance(now, f"Updating metadata for member {member_id} during {group.state}"
                                              if member_id != group.leader_id else
                                              f"Leader {member_id} re-joining group during {group.state}")
            return _join_answer(group, member_id, start)

        await self._claim_for_classic(group_id)
        answer = await self._update(group_id, join)
        if on_member_id is not None:
            on_member_id(answer.member_id if isinstance(answer, JoinGroupResult) else answer[0])
        if isinstance(answer, JoinGroupResult):
            return answer
        joined_id, start = answer

        def joined(group: GroupMetadata, now: int) -> JoinGroupResult | _Wait:
            member = group.members.get(joined_id)
            if member is None:
                raise _unknown_member(group_id, joined_id)
            if group.state == PREPARING_REBALANCE:
                if not member.awaiting_join:
                    # A newer rebalance began before we saw our answer: we are still joining.
                    member.awaiting_join = True
                    group._touch()
                    group.try_complete_join(now)
                return _WAIT
            if group.generation > start and group.state in (COMPLETING_REBALANCE, STABLE):
                return group.join_result(joined_id)
            return _WAIT

        return await self._await_group(group_id, joined)

    async def _claim_for_classic(self, group_id: str) -> None:
        """A classic JoinGroup may not join a consumer group with members (INCONSISTENT_GROUP_PROTOCOL:
        kplay does not migrate members between protocols); an empty one is deleted, keeping its
        committed offsets, as Kafka turns an empty consumer group into a classic one."""
        if not await self.consumer_groups.exists(group_id):
            return
        async with self._storage.write() as conn:
            group = await load_consumer_group(conn, group_id)
            group.maintain(self._clock.now_ms())
            if group.members:
                await save_consumer_group(conn, group, self._clock.now_ms())
                raise InconsistentGroupProtocol(
                    f"Group {group_id} uses the consumer group protocol (KIP-848, group.protocol=consumer):"
                    " a member of the classic protocol cannot join it.")
            group.deleted = True
            await save_consumer_group(conn, group, self._clock.now_ms())

    async def consumer_group_heartbeat(self, request: ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResult:
        """ConsumerGroupHeartbeat (KIP-848): see ``ConsumerGroupCoordinator.heartbeat``."""
        return await self.consumer_groups.heartbeat(request)

    async def sync_group(self, group_id: str, generation: int, member_id: str,
                         assignments: Mapping[str, bytes] | None) -> bytes:
        """SyncGroup: the leader sends everyone's assignment; every member gets its own.

        A follower waits here until the leader has synced. Raises UnknownMemberId,
        IllegalGeneration, or RebalanceInProgress (another rebalance began: rejoin).
        """
        def sync(first: bool) -> Callable[[GroupMetadata, int], bytes | _Wait]:
            def apply(group: GroupMetadata, now: int) -> bytes | _Wait:
                member = group.members.get(member_id)
                if member is None:
                    raise _unknown_member(group_id, member_id)
                if generation != group.generation:
                    raise _illegal_generation(group_id, generation, group.generation)
                if group.state == PREPARING_REBALANCE:
                    raise _rebalancing(group_id)
                if group.state == STABLE:
                    if first:
                        group.heartbeat(member, now)
                    return member.assignment or b""
                if member_id == group.leader_id:
                    group.complete_sync(assignments or {}, now)
                    return member.assignment or b""
                if not member.awaiting_sync:
                    member.awaiting_sync = True
                    group._touch()
                return _WAIT
            return apply

        answer = await self._update(group_id, sync(True))
        if not isinstance(answer, _Wait):
            return answer
        return await self._await_group(group_id, sync(False))

    async def heartbeat(self, group_id: str, generation: int, member_id: str) -> None:
        """Heartbeat: keep the member's session alive.

        Raises RebalanceInProgress while the group rebalances (the member must rejoin),
        IllegalGeneration for another generation and UnknownMemberId for a member the
        group does not know (for example one whose session expired).
        """
        def beat(group: GroupMetadata, now: int) -> None:
            member = group.members.get(member_id)
            if member is None or group.state == EMPTY:
                raise _unknown_member(group_id, member_id)
            if generation != group.generation:
                raise _illegal_generation(group_id, generation, group.generation)
            group.heartbeat(member, now)
            if group.state == PREPARING_REBALANCE:
                raise _rebalancing(group_id)

        await self._update(group_id, beat)

    async def leave_group(self, group_id: str, member_id: str) -> None:
        """LeaveGroup: remove the member at once, which triggers a rebalance."""
        def leave(group: GroupMetadata, now: int) -> None:
            if member_id not in group.members:
                raise _unknown_member(group_id, member_id)
            group.leave(member_id, now)

        await self._update(group_id, leave)

    async def expire_members(self) -> list[str]:
        """Remove every member, in every group, whose session timed out or that failed to
        rejoin in time; returns their ids. (Any call on a group does this for that group.)"""
        removed: list[str] = []
        for group_id in await self._group_ids(with_members=True):
            def collect(group: GroupMetadata, now: int) -> list[str]:
                return list(group.expired)
            removed.extend(await self._inspect(group_id, collect))
        return removed + await self.consumer_groups.expire_members()

    # -- offsets ----------------------------------------------------------------------------
    async def commit_offsets(self, group_id: str, generation: int, member_id: str,
                             offsets: Mapping[TopicPartition, int], metadata: str = "", *,
                             api_version: int | None = None) -> None:
        """OffsetCommit: store the group's next offset to read for each partition.

        A group member commits with its generation and member id; a standalone consumer
        (``assign()``) commits with generation -1 and member id "", which Kafka accepts only
        while the group has no members. Raises UnknownTopicOrPartition, UnknownMemberId,
        IllegalGeneration (a commit from an older generation) or RebalanceInProgress.

        In a consumer group ``generation`` is the member epoch: a member that does not
        exist is UnknownMemberId, another epoch StaleMemberEpoch, and an OffsetCommit
        below v9 (``api_version``, None from the core's own consumers) UnsupportedVersion.
        """
        entries, partitions = await self._offsets_to_write(group_id, offsets, "commit")

        def commit_modern(group: ConsumerGroup, now: int) -> dict[TopicPartition, int]:
            _check_partitions(entries, partitions)
            if generation < 0 and not group.members:
                return entries
            member = group.members.get(member_id)
            if member is None:
                raise UnknownMemberId(f"Member {member_id} is not a member of group {group_id}.")
            if api_version is not None and api_version < CONSUMER_PROTOCOL_MIN_COMMIT_VERSION:
                raise UnsupportedVersion("OffsetCommit version 9 or above must be used by members using the"
                                         " modern group protocol")
            _check_member_epoch(generation, member.member_epoch)
            return entries

        def commit(group: GroupMetadata, now: int) -> dict[TopicPartition, int]:
            _check_partitions(entries, partitions)
            standalone = generation < 0 and member_id == NO_MEMBER_ID
            if not group.exists and not standalone:
                raise _illegal_generation(group_id, generation, None)
            if standalone:
                if group.members:
                    raise UnknownMemberId(
                        f"The coordinator is not aware of this member: group '{group_id}' has active members,"
                        " so only its members can commit offsets.")
                group._touch()  # a group only storing offsets exists, Empty, with no protocol type
                return entries
            member = group.members.get(member_id)
            if member is None:
                raise _unknown_member(group_id, member_id)
            if generation != group.generation:
                raise _illegal_generation(group_id, generation, group.generation)
            if group.state == COMPLETING_REBALANCE:
                raise _rebalancing(group_id)
            # Stable, or PreparingRebalance (the member learns of it from its next heartbeat).
            group.heartbeat(member, now)
            return entries

        await self._commit(group_id, commit, metadata, commit_modern)

    async def _commit(self, group_id: str, operation: Callable[[GroupMetadata, int], dict[TopicPartition, int]],
                      metadata: str,
                      modern_operation: Callable[[ConsumerGroup, int], dict[TopicPartition, int]]) -> None:
        """Commit what ``operation`` (a classic group) or ``modern_operation`` (a consumer group) allows."""
        now = self._clock.now_ms()
        error: KafkaError | None = None
        async with self._storage.write() as conn:
            group = await load_group(conn, group_id)
            group.maintain(now)
            modern = await load_consumer_group(conn, group_id)
            modern.maintain(now)
            try:
                entries = modern_operation(modern, now) if modern.exists else operation(group, now)
            except KafkaError as exc:
                error, entries = exc, {}
            await save_consumer_group(conn, modern, now)
            if modern.exists:
                await self._offsets_topic.append(conn, group_id, [
                    (offset_commit_key(group_id, tp.topic, tp.partition), offset_commit_value(offset, metadata, now))
                    for tp, offset in sorted(entries.items())], now)
            else:
                await self._save(conn, group, now, entries, metadata)
            await _store_offsets(conn, group_id, entries, metadata, now)
        if error is not None:
            raise error

    async def commit_transactional_offsets(self, conn: Any, group_id: str, offsets: Mapping[TopicPartition, int],
                                           metadata: Mapping[TopicPartition, str], now: int) -> None:
        """Make a committed transaction's offsets (TxnOffsetCommit) the group's, in the caller's
        write transaction: only now do they become visible to OffsetFetch, as in Kafka."""
        entries = {TopicPartition(*tp): offset for tp, offset in offsets.items()}
        by_metadata: dict[str, dict[TopicPartition, int]] = {}
        for tp, offset in entries.items():
            by_metadata.setdefault(metadata.get(tp, ""), {})[tp] = offset
        for text, group_entries in by_metadata.items():
            records = [(offset_commit_key(group_id, tp.topic, tp.partition), offset_commit_value(offset, text, now))
                       for tp, offset in sorted(group_entries.items())]
            await self._offsets_topic.append(conn, group_id, records, now)
            await _store_offsets(conn, group_id, group_entries, text, now)

    async def fetch_offsets(self, group_id: str, partitions: Iterable[TopicPartition] | None = None, *,
                            member_id: str | None = None, member_epoch: int = -1) -> dict[TopicPartition, int]:
        """OffsetFetch: the group's committed offsets (for ``partitions``, or all of them).

        Partitions without a committed offset are left out. A consumer-protocol member
        fetching as itself (OffsetFetch v9: ``member_id`` and ``member_epoch``) must be a
        member (else UnknownMemberId) at its current epoch (else StaleMemberEpoch).
        """
        if member_id is not None or member_epoch >= 0:
            group = await self.consumer_groups.inspect(group_id)
            if group.exists:
                member = group.members.get(member_id or "")
                if member is None:
                    raise UnknownMemberId(f"Member {member_id} is not a member of group {group_id}.")
                _check_member_epoch(member_epoch, member.member_epoch)
        rows = await self._storage.fetchall(
            "SELECT topic, partition, committed_offset FROM committed_offsets WHERE group_id=?"
            " ORDER BY topic, partition", (group_id,))
        committed = {TopicPartition(topic, partition): offset for topic, partition, offset in rows}
        if partitions is None:
            return committed
        wanted = [TopicPartition(*tp) for tp in partitions]
        return {tp: committed[tp] for tp in wanted if tp in committed}

    async def _offsets_to_write(self, group_id: str, offsets: Mapping[TopicPartition, int],
                                verb: str) -> tuple[dict[TopicPartition, int], dict[str, int]]:
        """Check a commit's or reset's group id and offsets; return them with the topics' partition counts."""
        if not group_id:
            raise InvalidGroupId("The configured groupId is invalid: it must not be empty.")
        entries = {TopicPartition(*tp): int(offset) for tp, offset in offsets.items()}
        for tp, offset in entries.items():
            if offset < 0:
                raise ValueError(f"cannot {verb} {tp} to a negative offset ({offset})")
        return entries, await self._partition_counts({tp.topic for tp in entries})

    async def reset_offsets(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set committed offsets as ``kafka-consumer-groups --reset-offsets --execute`` does.

        Only an inactive group (Empty, or one that does not exist yet) may be reset;
        otherwise NonEmptyGroup with Kafka's words.
        """
        entries, partitions = await self._offsets_to_write(group_id, offsets, "reset")

        def reset(group: GroupMetadata, now: int) -> dict[TopicPartition, int]:
            if group.state not in (EMPTY, DEAD):
                raise NonEmptyGroup(f"Assignments can only be reset if the group '{group_id}' is inactive,"
                                    f" but the current state is {group.state}.")
            _check_partitions(entries, partitions)
            group._touch()
            return entries

        def reset_modern(group: ConsumerGroup, now: int) -> dict[TopicPartition, int]:
            if group.members:
                raise NonEmptyGroup(f"Assignments can only be reset if the group '{group_id}' is inactive,"
                                    f" but the current state is {group.state}.")
            _check_partitions(entries, partitions)
            return entries

        await self._commit(group_id, reset, "", reset_modern)

    # -- administration ---------------------------------------------------------------------
    async def list_groups(self) -> list[GroupListing]:
        """ListGroups: every group, with its state and protocol type, by group id."""
        listings = []
        for group_id in await self.consumer_groups.group_ids(with_members=False):
            group = await self.consumer_groups.inspect(group_id)
            listings.append(GroupListing(group_id, group.state, "consumer", CONSUMER_GROUP_TYPE))
        for group_id in await self._group_ids(with_members=False):
            def overview(group: GroupMetadata, now: int) -> GroupListing | None:
                return GroupListing(group.group_id, group.state, group.protocol_type) if group.exists else None
            listing = await self._inspect(group_id, overview)
            if listing is not None:
                listings.append(listing)
        return sorted(listings, key=lambda listing: listing.group_id)

    async def describe_group(self, group_id: str) -> GroupDescription:
        """DescribeGroups: state, protocol, generation, leader and members with their assignment.

        As in Kafka, the protocol and assignments are only reported while the group is
        Stable, and a group that does not exist is described as ``Dead`` with no members.
        A consumer-protocol group is described as ConsumerGroupDescribe does (``group_type``
        "consumer": epochs, assignor, every member's current and target assignment).
        """
        if await self.consumer_groups.exists(group_id):
            return await self.consumer_groups.describe(group_id)

        def describe(group: GroupMetadata, now: int) -> GroupDescription:
            if not group.exists:
                return GroupDescription(group_id, DEAD, "", "", NO_GENERATION, "", [])
            stable = group.state == STABLE
            members = [MemberDescription(m.member_id, m.client_id, m.host,
                                         group.decoded_assignment(m) if stable else [],
                                         m.session_timeout_ms, m.last_heartbeat)
                       for m in group.members.values()]
            return GroupDescription(group_id, group.state, group.protocol_type,
                                    (group.protocol_name or "") if stable else "", group.generation,
                                    group.leader_id or "", members)

        return await self._inspect(group_id, describe)

    async def group_lag(self, group_id: str) -> list[PartitionLag]:
        """What ``kafka-consumer-groups --describe`` prints: one row per partition that is
        committed or assigned, with lag = high watermark - committed offset.

        Raises GroupIdNotFound for a group that does not exist.
        """
        description = await self.describe_group(group_id)
        if description.state == DEAD:
            raise GroupIdNotFound(f"Consumer group '{group_id}' does not exist.")
        committed = await self.fetch_offsets(group_id)
        wanted = set(committed) | {tp for member in description.members for tp in member.assignment}
        return lag_rows(description.members, committed, await self._high_watermarks({tp.topic for tp in wanted}))

    async def delete_group(self, group_id: str) -> None:
        """DeleteGroups: remove an Empty group and its committed offsets.

        Raises GroupIdNotFound if it does not exist and NonEmptyGroup if it has members.
        """
        if await self.consumer_groups.exists(group_id):
            await self._delete_consumer_group(group_id)
            return

        def delete(group: GroupMetadata, now: int) -> None:
            if not group.exists:
                raise GroupIdNotFound(f"The group id does not exist: '{group_id}'.")
            if group.state != EMPTY:
                raise NonEmptyGroup(f"The group is not empty: '{group_id}' is {group.state}.")
            group.deleted = True
            group.events.append(("group_state", {"group": group_id, "state": DEAD, "reason": "group deleted"}))

        await self._update(group_id, delete)

    async def _delete_consumer_group(self, group_id: str) -> None:
        now = self._clock.now_ms()
        error: KafkaError | None = None
        async with self._storage.write() as conn:
            group = await load_consumer_group(conn, group_id)
            group.maintain(now)
            if group.members:
                error = NonEmptyGroup(f"The group is not empty: '{group_id}' is {group.state}.")
            else:
                rows = await conn.execute_fetchall(
                    "SELECT topic, partition FROM committed_offsets WHERE group_id=? ORDER BY topic, partition",
                    (group_id,))
                await conn.execute("DELETE FROM committed_offsets WHERE group_id=?", (group_id,))
                await self._offsets_topic.append(
                    conn, group_id, [(offset_commit_key(group_id, t, p), None) for t, p in rows], now)
                group.deleted = True
                group.events.append(("group_state", {"group": group_id, "state": DEAD, "reason": "group deleted"}))
            await save_consumer_group(conn, group, now)
        if error is not None:
            raise error

    # -- helpers ----------------------------------------------------------------------------
    async def _group_ids(self, *, with_members: bool) -> list[str]:
        if with_members:
            rows = await self._storage.fetchall("SELECT DISTINCT group_id FROM group_members ORDER BY group_id")
        else:
            rows = await self._storage.fetchall("SELECT group_id FROM groups ORDER BY group_id")
        return [row[0] for row in rows]

    async def _partition_counts(self, topics: set[str]) -> dict[str, int]:
        if not topics:
            return {}
        marks = ",".join("?" * len(topics))
        rows = await self._storage.fetchall(f"SELECT name, partitions FROM topics WHERE name IN ({marks})",
                                            sorted(topics))
        return {name: count for name, count in rows}

    async def _high_watermarks(self, topics: set[str]) -> dict[TopicPartition, int]:
        if not topics:
            return {}
        marks = ",".join("?" * len(topics))
        rows = await self._storage.fetchall(
            "SELECT t.name, p.partition, p.high_watermark FROM partitions p JOIN topics t ON t.id = p.topic_id"
            f" WHERE t.name IN ({marks})", sorted(topics))
        return {TopicPartition(name, partition): hw for name, partition, hw in rows}


def _group_metadata_value(group: GroupMetadata, now: int) -> bytes:
    """The group as Kafka's ``GroupMetadataValue`` records it after a rebalance."""
    protocol = group.protocol_name
    members = [MemberRecord(m.member_id, m.client_id, m.host, m.rebalance_timeout_ms, m.session_timeout_ms,
                            m.metadata(protocol) if protocol is not None else b"", m.assignment or b"")
               for m in group.members.values()]
    return group_metadata_value(group.protocol_type, group.generation, protocol,
                                group.leader_id if members else None, now, members)


def _join_answer(group: GroupMetadata, member_id: str, start: int) -> JoinGroupResult | tuple[str, int]:
    """The join result if this very transaction completed the join phase, else what to wait for."""
    if group.state in (COMPLETING_REBALANCE, STABLE) and group.generation > start and member_id in group.members:
        return group.join_result(member_id)
    return member_id, start


async def _store_offsets(conn: Any, group_id: str, entries: Mapping[TopicPartition, int], metadata: str,
                         now: int) -> None:
    """Write committed offsets and their change-feed entry, in the caller's transaction."""
    if not entries:
        return
    await conn.executemany(
        "INSERT INTO committed_offsets(group_id, topic, partition, committed_offset, metadata,"
        " commit_timestamp) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(group_id, topic, partition)"
        " DO UPDATE SET committed_offset=excluded.committed_offset, metadata=excluded.metadata,"
        " commit_timestamp=excluded.commit_timestamp",
        [(group_id, tp.topic, tp.partition, offset, metadata, now) for tp, offset in sorted(entries.items())])
    await record_change(conn, now, "offsets_committed", {
        "group": group_id, "offsets": [[tp.topic, tp.partition, offset] for tp, offset in sorted(entries.items())]})


def _check_partitions(entries: Mapping[TopicPartition, int], partitions: Mapping[str, int]) -> None:
    for tp in entries:
        count = partitions.get(tp.topic)
        if count is None:
            raise UnknownTopicOrPartition(f"Topic '{tp.topic}' does not exist")
        if not 0 <= tp.partition < count:
            raise UnknownTopicOrPartition(f"Partition {tp.partition} of topic '{tp.topic}' does not exist")


async def _next_group_event(get: Callable[[], Awaitable[Event]], group_id: str, timeout_s: float) -> None:
    """Wait for an event about ``group_id``, at most ``timeout_s``.

    Uses ``asyncio.wait`` rather than ``wait_for``: Python 3.11's ``wait_for`` can swallow a
    cancel that races the event's arrival, and a consumer closing mid-join cancels this wait.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (remaining := deadline - loop.time()) > 0:
        getter = asyncio.ensure_future(get())
        try:
            done, _ = await asyncio.wait({getter}, timeout=remaining)
        finally:
            getter.cancel()
        if not done:
            return
        if getattr(getter.result(), "group", group_id) == group_id:
            return


def _check_member_epoch(received: int, expected: int) -> None:
    """Kafka's ``ConsumerGroup.validateMemberEpoch`` for a consumer-protocol member."""
    if received != expected:
        raise StaleMemberEpoch(f"The received member epoch {received} does not match the expected member"
                               f" epoch {expected}.")


def _unknown_member(group_id: str, member_id: str) -> UnknownMemberId:
    return UnknownMemberId(f"The coordinator is not aware of this member: '{member_id}' is not a member"
                           f" of group '{group_id}'.")


def _illegal_generation(group_id: str, generation: int, current: int | None) -> IllegalGeneration:
    now = "it does not exist" if current is None else f"its generation is {current}"
    return IllegalGeneration(f"Specified group generation id is not valid: {generation} for group"
                             f" '{group_id}' ({now}).")


def _rebalancing(group_id: str) -> RebalanceInProgress:
    return RebalanceInProgress(f"The group is rebalancing, so a rejoin is needed (group '{group_id}').")


def _inconsistent(group_id: str) -> InconsistentGroupProtocol:
    return InconsistentGroupProtocol(
        f"The group member's supported protocols are incompatible with those of existing members of"
        f" group '{group_id}'.")
