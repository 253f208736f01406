"""The Kafka-client backend's change feed: poll the cluster, publish what changed as the core's events.

Every ``poll_interval_s`` one ``ClusterSnapshot`` is taken (Metadata; ListOffsets earliest and
latest for every partition; ListGroups, DescribeGroups and OffsetFetch per group: a handful of
requests whatever the topic count, all off the event loop) and compared with the previous one.
The differences become the same typed events the embedded core publishes, so a UI updates the
same way on either backend. A cluster that stops answering gives one
``ClusterConnection(connected=False)`` and polling goes on; when it answers again,
``ClusterConnection(connected=True)`` and a ``Resync`` follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from broker_core.errors import KafkaError
from broker_core.events import Subscription

from .interface import (BrokerStateChanged, ClusterConnection, ClusterUnreachable, ControllerChanged, Event,
                        GroupDescription, GroupRebalanced, GroupStateChanged, IsrChanged, LeaderElected,
                        LogTruncated, OffsetsCommitted, PartitionsAdded, RecordsAppended, Resync, SegmentDeleted,
                        TopicCreated, TopicDeleted, TopicPartition, Watermarks)

if TYPE_CHECKING:
    from .kafka_client import KafkaClientBackend

#: How long stopping the feed may wait for a poll under way to end (its client calls are cancelled at once).
STOP_WITHIN_S = 10.0
#: A partition as Metadata shows it: leader, replicas, ISR.
PartitionState = tuple[int, tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class ClusterSnapshot:
    """What one poll saw."""

    topics: dict[str, dict[int, PartitionState]] = field(default_factory=dict)
    marks: dict[TopicPartition, Watermarks] = field(default_factory=dict)
    brokers: frozenset[int] = frozenset()
    controller: int = -1
    groups: dict[str, GroupDescription] = field(default_factory=dict)
    offsets: dict[str, dict[TopicPartition, int]] = field(default_factory=dict)


async def take_snapshot(backend: "KafkaClientBackend") -> ClusterSnapshot:
    """Read metadata, watermarks and groups from the cluster."""
    metadata = await backend.metadata()
    topics = {name: {number: (p.leader, tuple(p.replicas), tuple(p.isrs)) for number, p in topic.partitions.items()}
              for name, topic in metadata.topics.items()}
    marks = await backend.watermarks([TopicPartition(name, number) for name, parts in sorted(topics.items())
                                      for number in sorted(parts)])
    groups = await backend.describe_groups([listing.group_id for listing in await backend.list_groups()])
    committed = await asyncio.gather(*(backend.committed_offsets(group) for group in groups))
    return ClusterSnapshot(topics, marks, frozenset(metadata.brokers), metadata.controller_id, groups,
                           dict(zip(groups, committed)))


def changes(before: ClusterSnapshot, after: ClusterSnapshot) -> Iterator[dict[str, Any]]:
    """What changed between two snapshots, as (event class, fields) without seq and time."""
    for name in sorted(set(after.topics) - set(before.topics)):
        parts = after.topics[name]
        replication = len(parts[0][1]) if 0 in parts else 0
        yield dict(cls=TopicCreated, topic=name, partitions=len(parts), replication_factor=replication)
    for name in sorted(set(before.topics) - set(after.topics)):
        yield dict(cls=TopicDeleted, topic=name)
    for name in sorted(set(before.topics) & set(after.topics)):
        old, new = before.topics[name], after.topics[name]
        if len(new) > len(old):
            yield dict(cls=PartitionsAdded, topic=name, partitions=len(new))
        for number in sorted(set(old) & set(new)):
            (old_leader, _, old_isr), (leader, _, isr) = old[number], new[number]
            mark = after.marks.get(TopicPartition(name, number), Watermarks(0, 0))
            if leader != old_leader:
                yield dict(cls=LeaderElected, topic=name, partition=number, leader=leader, previous=old_leader,
                           leader_epoch=-1, isr=list(isr), reason="seen in the cluster's metadata")
            elif set(isr) != set(old_isr):
                yield dict(cls=IsrChanged, topic=name, partition=number, isr=list(isr),
                           high_watermark=mark.high_watermark, reason="seen in the cluster's metadata")
    for tp in sorted(set(before.marks) & set(after.marks)):
        old_mark, mark = before.marks[tp], after.marks[tp]
        if mark.high_watermark > old_mark.high_watermark:
            yield dict(cls=RecordsAppended, topic=tp.topic, partition=tp.partition, end_offset=mark.high_watermark,
                       high_watermark=mark.high_watermark)
        elif mark.high_watermark < old_mark.high_watermark:
            yield dict(cls=LogTruncated, topic=tp.topic, partition=tp.partition, end_offset=mark.high_watermark,
                       removed=old_mark.high_watermark - mark.high_watermark)
        if mark.log_start_offset > old_mark.log_start_offset:
            yield dict(cls=SegmentDeleted, topic=tp.topic, partition=tp.partition,
                       base_offset=old_mark.log_start_offset, next_offset=mark.log_start_offset,
                       log_start_offset=mark.log_start_offset, reason="the log start offset moved")
    for broker in sorted(after.brokers - before.brokers):
        yield dict(cls=BrokerStateChanged, broker=broker, alive=True)
    for broker in sorted(before.brokers - after.brokers):
        yield dict(cls=BrokerStateChanged, broker=broker, alive=False)
    if after.controller != before.controller:
        yield dict(cls=ControllerChanged, controller=after.controller, previous=before.controller)
    yield from _group_changes(before, after)


def _group_changes(before: ClusterSnapshot, after: ClusterSnapshot) -> Iterator[dict[str, Any]]:
    for group in sorted(set(before.groups) | set(after.groups)):
        old, new = before.groups.get(group), after.groups.get(group)
        if new is None:
            yield dict(cls=GroupStateChanged, group=group, state="Dead", reason="the group is gone")
            continue
        if old is None or old.state != new.state:
            yield dict(cls=GroupStateChanged, group=group, state=new.state, reason="seen in DescribeGroups")
        if new.state == "Stable" and (old is None or _assignment(old) != _assignment(new)):
            yield dict(cls=GroupRebalanced, group=group, generation=new.generation, protocol=new.protocol,
                       leader=new.leader, assignment=_assignment(new))
        old_offsets, new_offsets = before.offsets.get(group, {}), after.offsets.get(group, {})
        moved = [[tp.topic, tp.partition, offset] for tp, offset in sorted(new_offsets.items())
                 if old_offsets.get(tp) != offset]
        if moved:
            yield dict(cls=OffsetsCommitted, group=group, offsets=moved)


def _assignment(group: GroupDescription) -> dict[str, list[list[Any]]]:
    return {m.member_id: [[tp.topic, tp.partition] for tp in m.assignment] for m in group.members}


class KafkaClientFeed:
    """Polls a ``KafkaClientBackend`` and publishes the changes to its subscriptions."""

    def __init__(self, backend: "KafkaClientBackend", poll_interval_s: float) -> None:
        self._backend = backend
        self.poll_interval_s = poll_interval_s
        self._subscriptions: set[Subscription] = set()
        self._snapshot: ClusterSnapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self.connected = True

    async def start(self) -> None:
        """Take the first snapshot (changes are reported from then on) and start polling."""
        if self._task is not None:
            return
        with contextlib.suppress(ClusterUnreachable):
            self._snapshot = await take_snapshot(self._backend)
        self._task = asyncio.create_task(self._run(), name="kplay-kafka-client-feed")

    async def stop(self) -> None:
        """Stop polling (``RuntimeError`` if the poll does not end within ``STOP_WITHIN_S``)."""
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        # A bounded wait: a poll that ignored its cancellation once kept app teardown waiting forever.
        done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN_S)
        if not done:
            raise RuntimeError(f"the change feed's poll did not end within {STOP_WITHIN_S:g} s of being stopped")
        with contextlib.suppress(asyncio.CancelledError):
            task.result()

    def subscribe(self, *kinds: str) -> Subscription:
        """A new subscription to events of ``kinds`` (all when none are named)."""
        subscription = Subscription(self, frozenset(kinds) if kinds else None)
        self._subscriptions.add(subscription)
        return subscription

    async def _run(self) -> None:
        # Checked as well as cancelled: a cancellation swallowed on the way must not keep it polling.
        while asyncio.current_task() is self._task:
            await asyncio.sleep(self.poll_interval_s)
            await self.poll_once()

    async def poll_once(self) -> int:
        """Take a snapshot and publish what changed since the last one; return how many events."""
        try:
            snapshot = await take_snapshot(self._backend)
        except ClusterUnreachable as problem:
            if self.connected:
                self.connected = False
                self._publish(ClusterConnection, connected=False, reason=str(problem))
                return 1
            return 0
        except KafkaError:
            # The cluster changed between this poll's requests (a topic deleted after Metadata
            # listed it and before its offsets were asked): drop this poll, the next sees it whole.
            # Raising would end the feed, and every pane would stop following the cluster.
            return 0
        published = 0
        if not self.connected or self._snapshot is None:
            if not self.connected:
                self.connected = True
                self._publish(ClusterConnection, connected=True, reason="")
                published += 1
            self._publish(Resync, reason="reconnected to the cluster: changes meanwhile were not seen")
            self._snapshot = snapshot
            return published + 1
        for change in changes(self._snapshot, snapshot):
            self._publish(change.pop("cls"), **change)
            published += 1
        self._snapshot = snapshot
        return published

    def _publish(self, cls: type[Event], **fields: Any) -> None:
        self._seq += 1
        item = cls(seq=self._seq, at=int(time.time() * 1000), **fields)
        for subscription in list(self._subscriptions):
            subscription.offer(item)
