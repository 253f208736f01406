"""The client side of KIP-848 (``group.protocol=consumer``): a ``Consumer``'s membership by heartbeat.

With the consumer protocol there is no join, sync or leader: the member heartbeats
(ConsumerGroupHeartbeat) every interval the coordinator gives it, and each answer may carry
its new assignment. Reconciling it is the client's part, as in Kafka's
``ConsumerMembershipManager``: partitions no longer assigned are committed (auto-commit)
and revoked first, those newly assigned are added, and the next heartbeat, sent at once,
reports what the member now owns, which is how the coordinator learns that revoked
partitions may go to their new owner. Nothing stops: partitions the member keeps are read
throughout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .consumer_group_coordinator import JOIN_EPOCH, LEAVE_EPOCH, ConsumerGroupHeartbeatRequest
from .errors import FencedMemberEpoch, KafkaError, UnknownMemberId
from .records import TopicPartition

if TYPE_CHECKING:
    from .consumer import Consumer

#: The protocols ``group.protocol`` accepts, in Kafka's words.
GROUP_PROTOCOLS = ("classic", "consumer")


class ConsumerProtocolMember:
    """One consumer's membership of a KIP-848 group: its id, epoch and heartbeat schedule."""

    def __init__(self, consumer: "Consumer", remote_assignor: str | None) -> None:
        self._consumer = consumer
        self.remote_assignor = remote_assignor
        self.member_id = ""
        self.epoch = JOIN_EPOCH
        self.heartbeat_interval_ms = consumer.heartbeat_interval_ms
        self.joined = False
        self._next_heartbeat_ms = 0
        self._heartbeat_now = True
        self._sent_subscription: tuple[str, ...] | None = None

    def wake(self) -> None:
        """Heartbeat at the next poll (the group changed: there may be something to reconcile)."""
        self._heartbeat_now = True

    def subscription_changed(self) -> None:
        """The consumer subscribed to other topics: send them with the next heartbeat, at once."""
        self._heartbeat_now = True

    async def maintain(self) -> None:
        """Heartbeat when due, and reconcile what the answer assigns; repeat while there is more to ack."""
        for _ in range(4):  # a revoke, then its acknowledgement and the new partitions: a few at most
            if not (self._heartbeat_now or self._consumer._now_ms() >= self._next_heartbeat_ms):
                return
            await self._heartbeat()

    async def _heartbeat(self) -> None:
        consumer = self._consumer
        assert consumer.group_id is not None
        self._heartbeat_now = False
        joining = self.epoch == JOIN_EPOCH
        subscription = consumer._subscription
        send_subscription = joining or subscription != self._sent_subscription
        owned: dict[str, tuple[int, ...]] = {}
        for tp in consumer.assignment():
            owned.setdefault(tp.topic, ())
            owned[tp.topic] += (tp.partition,)
        request = ConsumerGroupHeartbeatRequest(
            consumer.group_id, self.member_id, self.epoch,
            rebalance_timeout_ms=consumer.max_poll_interval_ms if joining else -1,
            subscribed_topic_names=subscription if send_subscription else None,
            server_assignor=self.remote_assignor if joining else None,
            owned_partitions={} if joining else owned, client_id=consumer.client_id, client_host=consumer.host)
        try:
            result = await consumer._cluster.groups.consumer_group_heartbeat(request)
        except (FencedMemberEpoch, UnknownMemberId):
            await self.lost()
            return
        except KafkaError:
            self._next_heartbeat_ms = consumer._now_ms() + self.heartbeat_interval_ms
            raise
        self._sent_subscription = subscription
        self.member_id = result.member_id
        self.epoch = result.member_epoch
        self.joined = True
        self.heartbeat_interval_ms = result.heartbeat_interval_ms or self.heartbeat_interval_ms
        self._next_heartbeat_ms = consumer._now_ms() + self.heartbeat_interval_ms
        if result.assignment is not None:
            await self._reconcile(set(result.assignment))

    async def _reconcile(self, target: set[TopicPartition]) -> None:
        consumer = self._consumer
        owned = consumer.assignment()
        revoked, added = owned - target, target - owned
        if revoked:
            if consumer.enable_auto_commit:
                await consumer._commit_quietly({tp: off for tp, off in consumer._consumed_offsets().items()
                                                if tp in revoked})
            consumer._set_assignment(owned - revoked)
        if added:
            consumer._set_assignment(consumer.assignment() | added)
            for tp in added:  # another member may have committed it since we last did
                consumer._committed_by_us.pop(tp, None)
        if revoked or added:
            self._heartbeat_now = True  # acknowledge: report what we own now
            await consumer._notify_listeners(revoked, added)

    async def lost(self) -> None:
        """Fenced or forgotten by the coordinator: every partition is lost; rejoin with epoch 0."""
        consumer = self._consumer
        lost = consumer.assignment()
        consumer._set_assignment([])
        self.epoch = JOIN_EPOCH
        self.joined = False
        self._heartbeat_now = True
        if lost:
            await consumer._notify_listeners(lost, set())

    async def leave(self) -> None:
        """Leave the group (member epoch -1); its partitions go to the others at once."""
        consumer = self._consumer
        if not self.member_id or consumer.group_id is None:
            return
        member_id, self.member_id, self.epoch, self.joined = self.member_id, "", JOIN_EPOCH, False
        try:
            await consumer._cluster.groups.consumer_group_heartbeat(ConsumerGroupHeartbeatRequest(
                consumer.group_id, member_id, LEAVE_EPOCH, client_id=consumer.client_id, client_host=consumer.host))
        except KafkaError:
            pass  # already fenced: nothing to leave

