"""``Consumer``: Kafka's consumer: assigned partitions, positions, poll, seek, commit, groups.

A consumer keeps a *position* per partition (the next offset it will read). Reading
never deletes anything: positions just move. Where a position is missing it comes from
the group's committed offset, else from ``auto_offset_reset`` (earliest or latest);
a position that retention has overtaken raises OffsetOutOfRange internally and is reset
by the same rule, as in Kafka.

Partitions come either from ``assign()`` (a standalone consumer) or from ``subscribe()``
(a member of the consumer group ``group_id``). A member does what Kafka's client-side
``ConsumerCoordinator`` does, driven by ``poll()``: it joins the group, and when it is
the leader it computes everyone's assignment with the group's chosen assignor (the
coordinator never does); it heartbeats, rejoins when the coordinator answers
RebalanceInProgress, commits before giving partitions up when auto-commit is on, and
leaves the group on ``close()``.

With ``group_protocol="consumer"`` (Kafka 4's KIP-848) the member heartbeats instead and
the coordinator assigns; ``ConsumerProtocolMember`` (consumer_group_member.py) reconciles.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from types import TracebackType
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable, Mapping, Sequence

from .assignors import Subscription as AssignorSubscription
from .assignors import get_assignor
from .consumer_protocol import (ConsumerProtocolAssignment, ConsumerProtocolError, ConsumerProtocolSubscription,
                                decode_assignment, decode_cooperative_user_data, decode_sticky_user_data,
                                decode_subscription, encode_assignment, encode_cooperative_user_data,
                                encode_sticky_user_data, encode_subscription)
from .completed_fetch import CompletedFetch
from .consumer_group_member import GROUP_PROTOCOLS, ConsumerProtocolMember
from .errors import (FencedMemberEpoch, IllegalGeneration, InvalidGroupId, KafkaError, OffsetOutOfRange,
                     RebalanceInProgress, UnknownMemberId, UnknownTopicOrPartition)
from .events import Resync
from .groups import JoinGroupResult
from .log import EARLIEST, LATEST
from .ready_partitions import OffsetRows, ReadyPartitions
from .record_reader import load_compiled_reader
from .records import ConsumerRecord, FetchResult, TopicPartition, TransactionMark

if TYPE_CHECKING:
    from .cluster import Cluster
    from .events import Subscription

#: Called after each change of a group member's partitions with (revoked, assigned);
#: may be a coroutine function. With an eager assignor everything is revoked before the
#: rebalance and the whole new assignment is assigned after it; with cooperative-sticky
#: only the partitions that move are revoked.
RebalanceListener = Callable[[set[TopicPartition], set[TopicPartition]], "Awaitable[None] | None"]

#: Kafka's wording when a consumer without ``group.id`` uses group features.
_NO_GROUP_ID = ("To use the group management or offset commit APIs, you must provide a valid group.id"
                " in the consumer configuration.")


class NoOffsetForPartition(KafkaError):
    """``auto_offset_reset="none"`` and the partition has no committed offset."""

    name, code = "NO_OFFSET_FOR_PARTITION", -1


#: Transaction marks a consumer keeps for ``take_transaction_marks`` (the oldest go first).
MARKS_KEPT = 1_000
#: A consumer assigned at least this many partitions reads only those that have anything at their
#: position (``ReadyPartitions``); fewer are simply read each poll.
IDLE_CHECK_MIN_PARTITIONS = 4
#: Kafka's isolation.level values.
ISOLATION_LEVELS = ("read_uncommitted", "read_committed")
#: Kafka's auto.offset.reset values.
AUTO_OFFSET_RESETS = ("latest", "earliest", "none")


def check_consumer_settings(auto_offset_reset: str, isolation_level: str) -> None:
    """Raise ValueError, with Kafka's words, for an ``auto.offset.reset`` or ``isolation.level``
    that Kafka's consumer refuses (every backend's consumer and the console consumer check the same)."""
    if auto_offset_reset not in AUTO_OFFSET_RESETS:
        raise ValueError(f"Invalid value {auto_offset_reset} for configuration auto.offset.reset: "
                         f"String must be one of: {', '.join(AUTO_OFFSET_RESETS)}")
    if isolation_level not in ISOLATION_LEVELS:
        raise ValueError(f"Invalid value {isolation_level} for configuration isolation.level: "
                         "String must be one of: read_committed, read_uncommitted")


class Consumer:
    """Reads records from assigned partitions, alone or as a member of a consumer group.

    Use ``assign()`` for explicit partitions (a standalone consumer) or ``subscribe()``
    to share topics' partitions with the other members of ``group_id``. A consumer with a
    ``group_id`` reads and commits that group's offsets either way.
    """

    def __init__(self, cluster: "Cluster", *, group_id: str | None = None,
                 client_id: str = "kplay-consumer", auto_offset_reset: str = "latest",
                 enable_auto_commit: bool = True, auto_commit_interval_ms: int = 5000,
                 max_poll_records: int = 500, session_timeout_ms: int = 45_000,
                 heartbeat_interval_ms: int = 3_000, max_poll_interval_ms: int = 300_000,
                 partition_assignment_strategy: str | Sequence[str] = "range",
                 host: str = "/127.0.0.1", group_protocol: str = "classic",
                 group_remote_assignor: str | None = None, isolation_level: str = "read_uncommitted") -> None:
        check_consumer_settings(auto_offset_reset, isolation_level)
        if heartbeat_interval_ms >= session_timeout_ms:
            raise ValueError(f"heartbeat.interval.ms ({heartbeat_interval_ms}) must be lower than"
                             f" session.timeout.ms ({session_timeout_ms})")
        for name, value in (("session.timeout.ms", session_timeout_ms), ("heartbeat.interval.ms", heartbeat_interval_ms),
                            ("max.poll.interval.ms", max_poll_interval_ms),
                            ("auto.commit.interval.ms", auto_commit_interval_ms)):
            if value < 1:
                raise ValueError(f"Invalid value {value} for configuration {name}: Value must be at least 1")
        if group_id is not None and not group_id:
            raise InvalidGroupId(_NO_GROUP_ID)
        if group_protocol not in GROUP_PROTOCOLS:
            raise ValueError(f"Invalid value {group_protocol} for configuration group.protocol: String must be one"
                             f" of: {', '.join(GROUP_PROTOCOLS)}")
        strategies = ([s.strip() for s in partition_assignment_strategy.split(",") if s.strip()]
                      if isinstance(partition_assignment_strategy, str) else list(partition_assignment_strategy))
        if not strategies:
            raise ValueError("partition.assignment.strategy must name at least one assignor")
        self._assignors = [get_assignor(name) for name in strategies]
        self._cluster = cluster
        self.group_id = group_id
        self.client_id = client_id
        self.host = host
        self.auto_offset_reset = auto_offset_reset
        #: Kafka's isolation.level: read_committed reads below the last stable offset, without
        #: aborted transactions' records; read_uncommitted (Kafka's default) reads everything.
        self.isolation_level = isolation_level
        self.enable_auto_commit = enable_auto_commit and group_id is not None
        self.auto_commit_interval_ms = auto_commit_interval_ms
        self.max_poll_records = max_poll_records
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.max_poll_interval_ms = max_poll_interval_ms
        #: Kafka picks the cooperative protocol only if every configured assignor supports it.
        self.rebalance_protocol = ("cooperative" if all(a.rebalance_protocol == "cooperative" for a in self._assignors)
                                   else "eager")
        #: Called with (revoked, assigned) whenever a group rebalance changes the assignment.
        self.rebalance_listeners: list[RebalanceListener] = []
        #: The assignor the group chose in the last rebalance (None before one).
        self.group_protocol: str | None = None
        self._mode = "none"  # "assign" or "subscribe" once one was called
        self._subscription: tuple[str, ...] = ()
        self._assigned: list[TopicPartition] = []
        self._assigned_set: set[TopicPartition] = set()  # for membership checks, per seek
        self._assigned_index: dict[TopicPartition, int] = {}  # place in the polls' round
        self._assigned_topics: frozenset[str] = frozenset()
        #: Which partitions have anything at their position, from one scan kept while nobody commits.
        self._ready = ReadyPartitions(isolation_level == "read_committed")
        self._positions: dict[TopicPartition, int] = {}
        #: Records fetched and not yet returned, per partition (Kafka's buffered CompletedFetch).
        self._completed: dict[TopicPartition, CompletedFetch] = {}
        self._paused: set[TopicPartition] = set()
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._transaction_marks: list[tuple[TopicPartition, TransactionMark]] = []
        self._committed_by_us: dict[TopicPartition, int] = {}
        self._next_auto_commit_ms = self._now_ms() + auto_commit_interval_ms
        self._next_partition = 0
        self._closed = False
        # group membership (Kafka's client-side ConsumerCoordinator)
        self._member_id = ""
        self._generation = -1
        self._rejoin_needed = False
        self._join_task: asyncio.Task[tuple[int, str | None, bytes]] | None = None
        self._leave_task: asyncio.Task[None] | None = None
        self._events: "Subscription | None" = None
        self._next_heartbeat_ms = 0
        self._heartbeat_now = False
        self._is_leader = False
        self._metadata_snapshot: dict[str, int] = {}
        self._check_metadata = False
        # What the sticky assignors remember across an eager revoke: the last assignment and its generation.
        self._last_assignment: tuple[list[TopicPartition], int] = ([], -1)
        #: ``group.protocol``: "classic" (join/sync, the client assigns) or "consumer" (KIP-848).
        self.protocol = group_protocol
        self._kip848 = (ConsumerProtocolMember(self, group_remote_assignor)
                        if group_protocol == "consumer" else None)
        # Polls decode with aiokafka's compiled reader: imported now (once, ~35 ms), not in the first poll.
        load_compiled_reader()

    async def __aenter__(self) -> "Consumer":
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def _now_ms(self) -> int:
        # Heartbeats and auto-commit run on the cluster's clock, the clock sessions expire on.
        return self._cluster.clock.now_ms()

    # -- group state --------------------------------------------------------------------
    @property
    def member_id(self) -> str:
        """The member id the coordinator gave this consumer ("" outside a group)."""
        return self._kip848.member_id if self._kip848 is not None else self._member_id

    @property
    def generation(self) -> int:
        """The group generation of the current assignment (-1 outside a group); with the
        consumer protocol, the member epoch."""
        if self._kip848 is not None:
            return self._kip848.epoch if self._kip848.joined else -1
        return self._generation

    @property
    def rebalancing(self) -> bool:
        """Whether this member is between learning of a rebalance and receiving its assignment
        (never with the consumer protocol: a member keeps reading while it reconciles)."""
        if self._kip848 is not None:
            return self._mode == "subscribe" and not self._kip848.joined
        return self._mode == "subscribe" and (self._join_task is not None or self._rejoin_needed)

    @property
    def is_leader(self) -> bool:
        """Whether this member computed the group's assignment in the last rebalance."""
        return self._is_leader

    def subscription(self) -> set[str]:
        """The topics this consumer subscribed to (empty unless ``subscribe()`` was called)."""
        return set(self._subscription)

    # -- assignment ---------------------------------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition | tuple[str, int]]) -> None:
        """Read exactly these partitions (no group rebalancing)."""
        if self._mode == "subscribe":
            raise ValueError("Subscription to topics, partitions and pattern are mutually exclusive")
        new = [tp if type(tp) is TopicPartition else TopicPartition._make(tp) for tp in partitions]
        self._mode = "assign" if new else "none"
        self._set_assignment(new)

    def subscribe(self, topics: Iterable[str] | str) -> None:
        """Join ``group_id`` and share these topics' partitions with its other members.

        Takes effect on the next ``poll()``, which joins (or rejoins) the group.
        """
        if self.group_id is None:
            raise InvalidGroupId(_NO_GROUP_ID)
        names = [topics] if isinstance(topics, str) else list(topics)
        if any(not isinstance(name, str) or not name.strip() for name in names):
            raise ValueError("Topic collection to subscribe to cannot contain null or empty topic")
        if self._mode == "assign":
            raise ValueError("Subscription to topics, partitions and pattern are mutually exclusive")
        if not names:
            self.unsubscribe()
            return
        wanted = tuple(sorted(set(names)))
        if self._mode == "subscribe" and wanted == self._subscription:
            return
        self._subscription = wanted
        self._mode = "subscribe"
        self._rejoin_needed = True
        if self._kip848 is not None:
            self._kip848.subscription_changed()

    def unsubscribe(self) -> None:
        """Stop reading: give up every partition and leave the group (sent in the background)."""
        if self._mode != "subscribe":
            self._mode = "none"
            self._set_assignment([])
            return
        owned = set(self._assigned)
        member_id = self._member_id
        if self._join_task is not None:
            self._join_task.cancel()
            self._join_task = None
        self._mode = "none"
        self._subscription = ()
        self._set_assignment([])
        self._reset_membership()
        self._rejoin_needed = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop to leave from: the session timeout will remove the member
        self._leave_task = loop.create_task(self._leave(owned, member_id))

    def _set_assignment(self, partitions: Iterable[TopicPartition]) -> None:
        ordered = sorted(partitions)  # often given in order: sorting a sorted list is one pass, a set's is not
        keep = set(ordered)
        self._assigned = ordered if len(ordered) == len(keep) else sorted(keep)
        self._assigned_set = keep
        self._assigned_index = {tp: index for index, tp in enumerate(self._assigned)}
        self._assigned_topics = frozenset(tp.topic for tp in keep)
        self._positions = {tp: off for tp, off in self._positions.items() if tp in keep}
        self._ready.assigned(keep, self._positions)
        self._completed = {tp: fetched for tp, fetched in self._completed.items() if tp in keep}
        self._paused &= keep

    def assignment(self) -> set[TopicPartition]:
        """The partitions this consumer reads now."""
        return set(self._assigned)

    # -- positions ----------------------------------------------------------------------
    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        """Read ``tp`` from ``offset`` next (checked against the log on the next poll)."""
        tp = TopicPartition(*tp)
        self._require_assigned(tp)
        if offset < 0:
            raise ValueError(f"seek offset must not be negative: {offset}")
        self._set_position(tp, offset)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Move to the log start offset (the oldest record retention has kept)."""
        await self._seek_to(EARLIEST, partitions)

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Move to the high watermark (the last stable offset with read_committed): only records
        produced from now on will be read."""
        await self._seek_to(LATEST, partitions)

    async def _seek_to(self, spec: int, partitions: Sequence[TopicPartition]) -> None:
        """Seek each partition (none named: every assigned one) to its EARLIEST or LATEST offset (the
        last stable offset for read_committed, as Kafka's consumer asks ListOffsets with its isolation
        level): one lookup per topic, not one per partition (a consumer may be assigned thousands)."""
        if not partitions and len(self._assigned) >= IDLE_CHECK_MIN_PARTITIONS:
            await self._seek_all_to(spec)
            return
        by_topic: dict[str, list[TopicPartition]] = {}
        partitions = partitions or tuple(self._assigned)
        for tp in partitions:
            self._require_assigned(tp)
            by_topic.setdefault(tp.topic, []).append(tp)
        for topic, tps in by_topic.items():
            found = await self._cluster.logs.list_offsets(topic, [(tp.partition, spec) for tp in tps],
                                                          read_committed=self.read_committed)
            for tp, answer in zip(tps, found):
                if isinstance(answer, KafkaError):
                    raise answer
                self._set_position(tp, answer[0])  # type: ignore[arg-type]

    async def _seek_all_to(self, spec: int) -> None:
        """Seek every assigned partition from one read of all their offsets, which also tells the
        next poll which partitions have anything to read (no second scan)."""
        version = self._cluster.storage.data_version()  # read before the scan, as ``_refresh_ready`` does
        offsets = await self._cluster.logs.partition_offset_rows(sorted(self._assigned_topics))
        positions = {}
        column = 1 if spec == EARLIEST else 4 if self.read_committed else 3  # log start, LSO, high watermark
        for tp in self._assigned:
            partitions = offsets.get(tp.topic)
            if partitions is None:
                raise UnknownTopicOrPartition(f"Topic '{tp.topic}' does not exist")
            found = partitions.get(tp.partition)
            if found is None:
                raise UnknownTopicOrPartition(f"Partition {tp.partition} of topic '{tp.topic}' does not exist")
            positions[tp] = found[column]
        self._positions.update(positions)
        self._scanned(version, offsets)

    async def position(self, tp: TopicPartition | tuple[str, int]) -> int:
        """The offset of the next record this consumer will read from ``tp``."""
        tp = TopicPartition(*tp)
        self._require_assigned(tp)
        if tp not in self._positions:
            await self._reset_position(tp, use_committed=True)
        return self._positions[tp]

    def known_position(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        """``tp``'s position if this consumer already has one, else None, without looking one
        up: for a view that watches a consumer another task polls (``position()`` would set it)."""
        return self._positions.get(TopicPartition(*tp))

    def high_watermark(self, tp: TopicPartition) -> int | None:
        """The high watermark seen by the last fetch of ``tp`` (None before one)."""
        found = self._high_watermarks.get(tp)
        if found is None and tp in self._assigned_set:
            return self._ready.high_watermark(tp)
        return found

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop fetching these partitions (positions are kept)."""
        for tp in partitions or tuple(self._assigned):
            self._require_assigned(tp)
            self._paused.add(tp)

    def resume(self, *partitions: TopicPartition) -> None:
        """Fetch these partitions again."""
        for tp in partitions or tuple(self._assigned):
            self._paused.discard(tp)

    def paused(self) -> set[TopicPartition]:
        """Partitions currently paused."""
        return set(self._paused)

    def _set_position(self, tp: TopicPartition, offset: int) -> None:
        self._positions[tp] = offset
        self._ready.moved(tp, offset)

    def _require_assigned(self, tp: TopicPartition) -> None:
        if tp not in self._assigned_set:
            raise ValueError(f"No current assignment for partition {tp}")

    async def _reset_position(self, tp: TopicPartition, *, use_committed: bool) -> None:
        if use_committed and self.group_id is not None:
            committed = await self.committed(tp)
            if committed is not None:
                self._set_position(tp, committed)
                return
        if self.auto_offset_reset == "none":
            raise NoOffsetForPartition(f"Undefined offset with no reset policy for partition: {tp}")
        spec = EARLIEST if self.auto_offset_reset == "earliest" else LATEST
        self._set_position(tp, await self._cluster.logs.list_offset(  # type: ignore[arg-type]
            tp.topic, tp.partition, spec, read_committed=self.read_committed))

    # -- reading ------------------------------------------------------------------------
    async def poll(self, timeout_ms: int = 0) -> list[ConsumerRecord]:
        """Records from the assigned partitions, waiting up to ``timeout_ms`` for some.

        Returns at most ``max_poll_records``, taking partitions in turn so one busy
        partition cannot starve the others. A group member also heartbeats and takes part
        in rebalances here, so it must poll at least every ``heartbeat_interval_ms``.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            await self._before_fetch(deadline)
            records = await self._fetch_once()
            await self._maybe_auto_commit()
            remaining = deadline - time.monotonic()
            if records or remaining <= 0 or self._closed:
                return records
            feed = self._cluster.feed
            if not feed.running:
                await self._cluster.start_feed()
            await feed.wait_for_change(min(remaining, self._wait_slice()))

    def _wait_slice(self) -> float:
        """Longest a poll may wait for data before doing its periodic work again."""
        return min(1.0, self.heartbeat_interval_ms / 1000)

    async def _before_fetch(self, deadline: float) -> None:
        """Group membership work: heartbeat, and join or rejoin (waiting until ``deadline`` at most)."""
        if self._leave_task is not None:
            task, self._leave_task = self._leave_task, None
            with contextlib.suppress(Exception):
                await task
        if self._mode != "subscribe" or self._closed:
            return
        await self._watch_group()
        if self._kip848 is not None:
            await self._kip848.maintain()
            return
        while True:
            if self._join_task is None:
                if not self._rejoin_needed and self._member_id:
                    if self._heartbeat_now or self._now_ms() >= self._next_heartbeat_ms:
                        await self._send_heartbeat()
                    if not self._rejoin_needed and self._is_leader and self._check_metadata:
                        self._check_metadata = False
                        if await self._partition_counts(self._metadata_snapshot) != self._metadata_snapshot:
                            self._rejoin_needed = True  # the leader rejoins: a topic it assigned changed
                if not self._rejoin_needed:
                    return
                await self._on_join_prepare()
                self._join_task = asyncio.create_task(self._join_and_sync(),
                                                      name=f"kplay-join-{self.group_id}")
            await asyncio.wait({self._join_task}, timeout=max(deadline - time.monotonic(), 0))
            if not self._join_task.done():
                return  # still rebalancing: the next poll carries on
            task, self._join_task = self._join_task, None
            try:
                generation, protocol, data = task.result()
            except BaseException:
                self._rejoin_needed = True
                raise
            await self._on_join_complete(generation, protocol, data)
            if not self._rejoin_needed:
                return

    async def _fetch_once(self) -> list[ConsumerRecord]:
        out: list[ConsumerRecord] = []
        for tp in await self._partitions_to_read():
            budget = self.max_poll_records - len(out)
            if budget <= 0:
                break
            fetched = self._completed.get(tp)
            if fetched is not None and self._positions.get(tp) != fetched.position:
                fetched = None  # a seek moved the position: those records are not next (Kafka drops them too)
            if fetched is not None:
                records, marks, position = self._take(tp, fetched, budget)
                self._took(tp, records, marks, position, out)
                if not fetched.drained:
                    continue
                del self._completed[tp]
                if records:
                    continue
                # Nothing was left (a stream learns it when asked): read on from the log now.
            if tp not in self._ready.ready and len(self._assigned) >= IDLE_CHECK_MIN_PARTITIONS:
                continue  # nothing at its position (it was only here for what it had buffered)
            try:
                result, fetched_at = await self._fetch_partition(tp)
            except KafkaError as error:
                if not error.retriable:
                    raise
                # Kafka's fetcher retries these (an offline leader, a topic deleted before the
                # group rebalanced) on the next fetch instead of failing poll().
                self._check_metadata = True
                continue
            if fetched_at is None or self._positions.get(tp) != fetched_at:
                # Revoked, unassigned, closed or sought elsewhere while it was read: as Kafka's
                # fetcher ignores records for a partition no longer fetchable at that offset.
                continue
            self._high_watermarks[tp] = result.high_watermark
            fetched = self._completed[tp] = CompletedFetch(result, fetched_at)
            records, marks, position = self._take(tp, fetched, budget)
            if fetched.drained:
                del self._completed[tp]
            self._took(tp, records, marks, position, out)
        return out

    def _take(self, tp: TopicPartition, fetched: CompletedFetch,
              budget: int) -> tuple[list[ConsumerRecord], list[TransactionMark], int | None]:
        """Records from what was fetched; a record that cannot be read drops the fetch, so the
        next poll reads it again and fails again until a seek moves past it (as Kafka's consumer)."""
        try:
            return fetched.take(budget)
        except BaseException:
            self._completed.pop(tp, None)
            raise

    def _took(self, tp: TopicPartition, records: list[ConsumerRecord], marks: list[TransactionMark],
              position: int | None, out: list[ConsumerRecord]) -> None:
        """Pass on what a fetch of ``tp`` gave: records into ``out``, marks, the new position."""
        if records:
            out.extend(records)
        if marks:
            self._transaction_marks.extend((tp, mark) for mark in marks)
            del self._transaction_marks[:-MARKS_KEPT]
        if position is not None:
            # Past the records and past the markers and aborted records skipped (offset gaps).
            self._set_position(tp, position)

    async def _partitions_to_read(self) -> list[TopicPartition]:
        """The partitions this poll looks at, in turn from a place that moves each poll (so one busy
        partition cannot starve the others): those with records buffered and those with anything at
        their position. A consumer assigned thousands of partitions, few with data, looks at those few
        (Kafka's fetch likewise costs what has data): which they are comes from one query for all of
        them, kept until anyone commits to the data file (``ReadyPartitions``); a partition not found,
        without a position or out of range is read as usual (and raises or resets as it does)."""
        count = len(self._assigned)
        if not count:
            return []
        start = self._next_partition % count
        self._next_partition += 1
        if count < IDLE_CHECK_MIN_PARTITIONS:
            return [tp for tp in self._assigned[start:] + self._assigned[:start] if tp not in self._paused]
        if len(self._positions) < count:
            await self._reset_missing_positions()
        await self._refresh_ready()
        wanted = (self._ready.ready | self._completed.keys()) - self._paused
        index = self._assigned_index
        return sorted(wanted, key=lambda tp: (index[tp] - start) % count)

    async def _refresh_ready(self) -> None:
        """Scan every assigned partition's offsets again if anyone committed since the last scan."""
        version = self._cluster.storage.data_version()  # read before the scan: a later commit moves it
        if self._ready.is_current(version, self._assigned_topics):
            return
        offsets = await self._cluster.logs.partition_offset_rows(sorted(self._assigned_topics))
        self._scanned(version, offsets)

    def _scanned(self, version: int, offsets: OffsetRows) -> None:
        """Take a scan of every assigned partition's offsets (``version`` read before it). Its high
        watermarks are newer than any fetch's so far: ``high_watermark()`` answers from it until a
        fetch of the partition tells a newer one (a Kafka fetch reports every partition's)."""
        self._ready.scanned(version, self._assigned_topics, offsets, self._positions, self._assigned)
        self._high_watermarks.clear()

    async def _reset_missing_positions(self) -> None:
        """Give every assigned partition without a position one, as Kafka's updateFetchPositions
        does before a fetch: the group's committed offsets in one lookup, then ``auto_offset_reset``
        in one lookup per topic, not two per partition. A partition this cannot settle (unknown,
        ``auto_offset_reset="none"``) is left to the fetch, which raises or retries as it does."""
        missing = [tp for tp in self._assigned if tp not in self._positions]
        with contextlib.suppress(KafkaError):
            if self.group_id is not None:
                committed = await self._cluster.groups.fetch_offsets(self.group_id, missing)
                for tp in missing:
                    if committed.get(tp) is not None:
                        self._set_position(tp, committed[tp])
                missing = [tp for tp in missing if tp not in self._positions]
            if not missing or self.auto_offset_reset == "none":
                return
            spec = EARLIEST if self.auto_offset_reset == "earliest" else LATEST
            by_topic: dict[str, list[TopicPartition]] = {}
            for tp in missing:
                by_topic.setdefault(tp.topic, []).append(tp)
            for topic, tps in by_topic.items():
                found = await self._cluster.logs.list_offsets(topic, [(tp.partition, spec) for tp in tps],
                                                              read_committed=self.read_committed)
                for tp, answer in zip(tps, found):
                    if not isinstance(answer, KafkaError) and answer[0] is not None:
                        self._set_position(tp, answer[0])

    async def _fetch_partition(self, tp: TopicPartition) -> tuple[FetchResult, int | None]:
        """What ``tp`` holds from this consumer's position, and the position read from (None if
        the partition stopped being fetchable while its position was looked up)."""
        # Whole batches, enough of them for max.poll.records: what this poll does not return,
        # the next ones do (CompletedFetch), without reading or decoding the batches again.
        if tp not in self._positions:
            await self._reset_position(tp, use_committed=True)
        position = self._positions.get(tp)
        try:
            return await self._cluster.logs.read(tp.topic, tp.partition, position or 0,
                                                 max_records=self.max_poll_records, whole_batches=True,
                                                 read_committed=self.read_committed), position
        except OffsetOutOfRange:
            await self._reset_position(tp, use_committed=False)
            position = self._positions.get(tp)
            return await self._cluster.logs.read(tp.topic, tp.partition, position or 0,
                                                 max_records=self.max_poll_records, whole_batches=True,
                                                 read_committed=self.read_committed), position

    def take_transaction_marks(self) -> list[tuple[TopicPartition, TransactionMark]]:
        """The transaction markers polls passed and the aborted records they returned since the
        last call (the newest ``MARKS_KEPT``), for a view that shows them; a Kafka consumer
        hides both, and so does ``poll()``."""
        marks, self._transaction_marks = self._transaction_marks, []
        return marks

    @property
    def read_committed(self) -> bool:
        """Whether this consumer reads only committed transactions (isolation.level=read_committed)."""
        return self.isolation_level == "read_committed"

    # -- committing ---------------------------------------------------------------------
    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (by default the position of every assigned partition) for the group.

        A member commits with its generation: after the group has moved on this raises
        IllegalGeneration (or UnknownMemberId once it was removed), and RebalanceInProgress
        while it is rebalancing (poll to finish the rebalance, then retry).
        """
        if self.group_id is None:
            raise InvalidGroupId(_NO_GROUP_ID)
        entries = (self._consumed_offsets() if offsets is None
                   else {TopicPartition(*tp): int(offset) for tp, offset in offsets.items()})
        if not entries:
            return
        generation, member_id = -1, ""
        if self._kip848 is not None and self._mode == "subscribe":
            if not self._kip848.joined:
                raise RebalanceInProgress("Offset commit cannot be completed: the member has not joined the group yet.")
            generation, member_id = self._kip848.epoch, self._kip848.member_id
        elif self._mode == "subscribe":
            if self._join_task is not None or self._generation < 0 or not self._member_id:
                raise RebalanceInProgress(
                    "Offset commit cannot be completed since the consumer is undergoing a rebalance for auto"
                    " partition assignment. You can try completing the rebalance by calling poll() and then"
                    " retry the operation.")
            generation, member_id = self._generation, self._member_id
        try:
            await self._cluster.groups.commit_offsets(self.group_id, generation, member_id, entries)
        except RebalanceInProgress:
            self._rejoin_needed = self._mode == "subscribe"
            raise
        except IllegalGeneration:
            if self._mode == "subscribe":
                self._generation_lost(forget_member=False)
            raise
        except (UnknownMemberId, FencedMemberEpoch):
            if self._mode == "subscribe" and self._kip848 is not None:
                await self._kip848.lost()
            elif self._mode == "subscribe":
                self._generation_lost(forget_member=True)
            raise
        self._committed_by_us.update(entries)

    async def committed(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        """The group's committed offset for ``tp`` (None if it has none)."""
        if self.group_id is None:
            raise InvalidGroupId(_NO_GROUP_ID)
        tp = TopicPartition(*tp)
        return (await self._cluster.groups.fetch_offsets(self.group_id, [tp])).get(tp)

    def _consumed_offsets(self) -> dict[TopicPartition, int]:
        return {tp: self._positions[tp] for tp in self._assigned if tp in self._positions}

    async def _commit_quietly(self, offsets: Mapping[TopicPartition, int]) -> None:
        # Kafka's client logs a failed automatic commit and carries on.
        with contextlib.suppress(KafkaError):
            await self.commit(offsets)

    async def _maybe_auto_commit(self) -> None:
        if not self.enable_auto_commit or self._now_ms() < self._next_auto_commit_ms:
            return
        self._next_auto_commit_ms = self._now_ms() + self.auto_commit_interval_ms
        if self.rebalancing:
            return  # the rebalance commits before it revokes anything
        changed = {tp: offset for tp, offset in self._consumed_offsets().items()
                   if self._committed_by_us.get(tp) != offset}
        if changed:
            await self._commit_quietly(changed)

    # -- group membership ---------------------------------------------------------------
    async def _watch_group(self) -> None:
        """Follow the group's and topics' events so a rebalance is noticed at once, not
        only at the next heartbeat (the coordinator's answer still decides)."""
        feed = self._cluster.feed
        if not feed.running:
            await self._cluster.start_feed()
        if self._events is None:
            self._events = feed.subscribe("group_state", "topic_created", "partitions_added", "topic_deleted")
        for event in self._events.get_nowait():
            if isinstance(event, Resync):
                self._heartbeat_now = self._check_metadata = True
            elif event.kind == "group_state":
                if getattr(event, "group", None) != self.group_id:
                    continue
                if self._kip848 is not None:
                    self._kip848.wake()  # the group epoch or an assignment changed: ask now
                elif getattr(event, "state", "") == "PreparingRebalance":
                    self._heartbeat_now = True
            elif getattr(event, "topic", None) in self._metadata_snapshot:
                self._check_metadata = True

    async def _send_heartbeat(self) -> None:
        assert self.group_id is not None
        self._heartbeat_now = False
        self._next_heartbeat_ms = self._now_ms() + self.heartbeat_interval_ms
        self._check_metadata = self._check_metadata or self._is_leader
        try:
            await self._cluster.groups.heartbeat(self.group_id, self._generation, self._member_id)
        except RebalanceInProgress:
            self._rejoin_needed = True
        except IllegalGeneration:
            self._generation_lost(forget_member=False)
        except UnknownMemberId:
            self._generation_lost(forget_member=True)

    def _generation_lost(self, *, forget_member: bool) -> None:
        """The group moved on without us: our partitions are lost, so rejoin (without committing)."""
        self._generation = -1
        self._is_leader = False
        if forget_member:
            self._member_id = ""
        self._rejoin_needed = True

    def _reset_membership(self) -> None:
        self._member_id = ""
        self._generation = -1
        self._is_leader = False
        self._metadata_snapshot = {}

    async def _on_join_prepare(self) -> None:
        """Before rejoining: commit what was consumed, then revoke (Kafka's onJoinPrepare)."""
        owned = set(self._assigned)
        if self.enable_auto_commit and self._generation >= 0 and self._member_id:
            await self._commit_quietly(self._consumed_offsets())
        if self.rebalance_protocol == "eager" or self._generation < 0:
            revoked = owned  # eager: everything; lost generation: everything is gone anyway
        else:
            revoked = {tp for tp in owned if tp.topic not in self._subscription}
        self._rejoin_needed = False
        if revoked:
            self._set_assignment(owned - revoked)
            await self._notify_listeners(revoked, set())

    async def _join_and_sync(self) -> tuple[int, str | None, bytes]:
        """JoinGroup then SyncGroup until both succeed; the leader computes the assignment."""
        assert self.group_id is not None
        groups = self._cluster.groups
        while True:
            if self._closed or self._mode != "subscribe":
                raise asyncio.CancelledError()  # closed or unsubscribed meanwhile: never rejoin
            try:
                result = await groups.join_group(
                    self.group_id, self._member_id, client_id=self.client_id, host=self.host,
                    session_timeout_ms=self.session_timeout_ms, rebalance_timeout_ms=self.max_poll_interval_ms,
                    protocol_type="consumer", protocols=self._join_protocols(),
                    on_member_id=self._remember_member_id)
            except UnknownMemberId:
                self._member_id = ""
                continue
            self._member_id = result.member_id
            self._is_leader = result.is_leader
            assignments = await self._perform_assignment(result) if result.is_leader else None
            try:
                data = await groups.sync_group(self.group_id, result.generation, result.member_id, assignments)
            except (RebalanceInProgress, IllegalGeneration):
                continue
            except UnknownMemberId:
                self._member_id = ""
                continue
            return result.generation, result.protocol_name, data

    def _remember_member_id(self, member_id: str) -> None:
        self._member_id = member_id

    def _join_protocols(self) -> list[tuple[str, bytes]]:
        """One subscription per configured assignor, in order of preference."""
        owned = tuple(self._assigned)
        remembered, remembered_generation = self._last_assignment
        protocols = []
        for assignor in self._assignors:
            user_data: bytes | None = None
            if assignor.name == "sticky":
                user_data = encode_sticky_user_data(remembered, remembered_generation)
            elif assignor.name == "cooperative-sticky":
                user_data = encode_cooperative_user_data(remembered_generation)
            subscription = ConsumerProtocolSubscription(self._subscription, user_data, owned, self._generation)
            protocols.append((assignor.name, encode_subscription(subscription)))
        return protocols

    async def _perform_assignment(self, result: JoinGroupResult) -> dict[str, bytes]:
        """The leader's job: every member's partitions, by the assignor the group chose."""
        assignor = get_assignor(result.protocol_name or "")
        subscriptions: dict[str, AssignorSubscription] = {}
        for member_id, metadata in result.members:
            try:
                subscription = decode_subscription(metadata)
            except ConsumerProtocolError:
                subscription = ConsumerProtocolSubscription(())  # unreadable: it gets nothing
            owned, generation = subscription.owned_partitions, subscription.generation_id
            try:
                if assignor.name == "sticky":
                    # The eager sticky assignor keeps its memory in user_data (Kafka's StickyAssignor).
                    owned, generation = decode_sticky_user_data(subscription.user_data)
                elif assignor.name == "cooperative-sticky" and subscription.version < 2:
                    generation = decode_cooperative_user_data(subscription.user_data)
            except ConsumerProtocolError:
                owned, generation = (), -1
            subscriptions[member_id] = AssignorSubscription(subscription.topics, tuple(owned), generation)
        topics = {topic for s in subscriptions.values() for topic in s.topics}
        counts = await self._partition_counts(topics)
        plan = assignor.assign({t: n for t, n in counts.items() if n > 0}, subscriptions)
        self._metadata_snapshot = counts
        return {member_id: encode_assignment(ConsumerProtocolAssignment(
                    tuple(TopicPartition(*tp) for tp in plan.get(member_id, ()))))
                for member_id in subscriptions}

    async def _partition_counts(self, topics: Iterable[str]) -> dict[str, int]:
        counts = {}
        for topic in sorted(topics):
            try:
                counts[topic] = await self._cluster.logs.partition_count(topic)
            except UnknownTopicOrPartition:
                counts[topic] = 0  # not there (yet): a creation later makes the leader rejoin
        return counts

    async def _on_join_complete(self, generation: int, protocol: str | None, data: bytes) -> None:
        """After SyncGroup: take the new assignment (Kafka's onJoinComplete)."""
        try:
            new = {TopicPartition(*tp) for tp in decode_assignment(data).partitions}
        except ConsumerProtocolError:
            new = set()
        owned = set(self._assigned)
        revoked, added = owned - new, new - owned
        self._generation = generation
        self.group_protocol = protocol
        self._next_heartbeat_ms = self._now_ms() + self.heartbeat_interval_ms
        if revoked and self.enable_auto_commit:
            await self._commit_quietly({tp: off for tp, off in self._consumed_offsets().items() if tp in revoked})
        self._set_assignment(new)
        for tp in added:  # another member may have committed it since we last did
            self._committed_by_us.pop(tp, None)
        self._last_assignment = (sorted(new), generation)
        if revoked:
            # Cooperative: what we gave up goes to its new owner in a follow-up rebalance.
            self._rejoin_needed = True
        await self._notify_listeners(revoked, added)

    async def _notify_listeners(self, revoked: set[TopicPartition], assigned: set[TopicPartition]) -> None:
        failure: BaseException | None = None
        for listener in list(self.rebalance_listeners):
            try:
                outcome = listener(set(revoked), set(assigned))
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as exc:  # every listener runs; the first failure surfaces from poll()
                failure = failure or exc
        if failure is not None:
            raise failure

    async def _leave(self, owned: set[TopicPartition], member_id: str) -> None:
        assert self.group_id is not None
        try:
            if owned:
                await self._notify_listeners(owned, set())
        finally:
            if self._kip848 is not None:
                await self._kip848.leave()
            elif member_id:
                with contextlib.suppress(KafkaError):
                    await self._cluster.groups.leave_group(self.group_id, member_id)

    async def close(self) -> None:
        """Commit (with auto-commit on), give up the partitions, leave the group and stop."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._join_task is not None:
                self._join_task.cancel()
                # Bounded: a cancel racing a wake-up can be swallowed by a wait inside (Python 3.11).
                await asyncio.wait({self._join_task}, timeout=1.0)
                self._join_task = None
            if self._leave_task is not None:
                with contextlib.suppress(Exception):
                    await self._leave_task
                self._leave_task = None
            if self._mode == "subscribe":
                if self.enable_auto_commit and self.generation >= 0 and self.member_id:
                    await self._commit_quietly(self._consumed_offsets())
                owned = set(self._assigned)
                member_id = self._member_id
                self._set_assignment([])
                self._reset_membership()
                await self._leave(owned, member_id)
            elif self.enable_auto_commit and self._positions:
                await self._commit_quietly(self._consumed_offsets())
        finally:
            if self._events is not None:
                self._events.close()
                self._events = None


__all__ = ["Consumer", "NoOffsetForPartition", "RebalanceListener"]
