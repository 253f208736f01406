"""``ClusterSource``: the cluster a pane reads from and writes to, whichever it is.

The panes run on a backend (``app.backends.Backend``): the playground's data file or a real
Kafka cluster. Widgets never import ``app``, so the backend verbs they use are declared here
as a Protocol that every backend satisfies. ``cluster`` is the embedded core on the playground
(what only a simulation has: replica progress, records above the high watermark, the lesson
clock, stopping brokers) and None on a real cluster, where those parts are left out.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Protocol, Sequence

from broker_core import Cluster
from broker_core.groups import GroupDescription, GroupListing, PartitionLag
from broker_core.records import ConsumerRecord, TopicPartition
from broker_core.topics import TopicDescription


class ClusterSource(Protocol):
    """The backend verbs the panes use (see ``app.backends.interface`` for what each guarantees)."""

    name: str
    read_only: bool
    cluster: Cluster | None

    def check_writable(self, what: str) -> None:
        """Raise ``ReadOnlyCluster`` naming ``what`` when the cluster is read-only."""

    async def brokers(self) -> list[Any]:
        """Every broker known (``BrokerDescription``), sorted by id."""

    async def describe_topics(self, names: Sequence[str] | None = None) -> list[TopicDescription]:
        """Topics with their partitions and watermarks."""

    async def describe_topic(self, name: str) -> TopicDescription:
        """One topic (``UnknownTopicOrPartition`` if it does not exist)."""

    async def partition_count(self, topic: str) -> int:
        """How many partitions ``topic`` has."""

    async def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[ConsumerRecord]:
        """Committed records of one partition from ``offset`` on."""

    def producer(self, *, acks: int | str = "all", linger_ms: float = 5.0, batch_size: int = 16_384,
                 buffer_memory: int = 32 * 1024 * 1024, client_id: str = "kplay-producer") -> Any:
        """A producer (``RecordProducer``)."""

    def consumer(self, *, group_id: str | None = None, client_id: str = "kplay-consumer",
                 auto_offset_reset: str = "latest", enable_auto_commit: bool = True,
                 isolation_level: str = "read_uncommitted", **settings: object) -> Any:
        """A consumer (``RecordConsumer``)."""

    async def list_groups(self) -> list[GroupListing]:
        """Every consumer group with its state."""

    async def describe_group(self, group: str) -> GroupDescription:
        """A group's state, protocol, members and assignments."""

    async def group_lag(self, group: str) -> list[PartitionLag]:
        """Committed offset, high watermark and lag per partition."""

    async def committed_offsets(self, group: str) -> Mapping[TopicPartition, int]:
        """The group's committed offsets."""

    async def subscribe(self, *kinds: str) -> Any:
        """A ``ChangeStream`` of the cluster's typed events of ``kinds``."""


def clock_ms(source: ClusterSource) -> int:
    """The time to stamp and rate by: the playground's clock (a lesson's may be fast-forwarded), else the wall's."""
    if source.cluster is not None:
        return source.cluster.clock.now_ms()
    return int(time.time() * 1000)
