"""Which broker leads each partition, as the listeners need to know on every request.

Produce, Fetch and ListOffsets must be sent to a partition's leader; a broker that is not
the leader answers NOT_LEADER_OR_FOLLOWER. Reading the leaders from the data file on
every request would cost a database round trip each time, so this view keeps the last
``describe_topics`` and is dropped whenever the change feed reports that leadership or
the set of topics changed (from this process or another).
"""

from __future__ import annotations

import asyncio
import uuid

from broker_core import Cluster
from broker_core.errors import NotLeaderOrFollower, UnknownTopicOrPartition
from broker_core.topics import PartitionDescription, TopicDescription

from .topic_ids import wire_topic_id


class LeadershipView:
    """The topics and their partitions' leaders, reloaded after any change of leadership."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._topics: dict[str, TopicDescription] | None = None
        self._generation = 0
        self._loading: tuple[int, asyncio.Future[dict[str, TopicDescription]]] | None = None
        #: The feed's committed_version() read before ``_topics`` was (-1: unknown).
        self._loaded_version = -1

    def invalidate(self) -> None:
        """Forget what is known: the next question reads the data file again."""
        self._topics = None
        self._loaded_version = -1
        self._generation += 1

    @property
    def generation(self) -> int:
        """Moves whenever what is known is dropped: a leadership change may lie behind."""
        return self._generation

    async def topic(self, name: str) -> TopicDescription | None:
        """The topic as last read, or None if it does not exist.

        A topic not known yet is looked up again once: it may have been created a
        moment ago (by an admin request on another connection) and the feed has not
        said so yet.
        """
        topics = await self._load()
        found = topics.get(name)
        if found is None and self._topics is topics:
            self.invalidate()
            found = (await self._load()).get(name)
        return found

    async def topic_name(self, topic_id: uuid.UUID) -> str | None:
        """The name of the topic with this id, or None if no topic has it (looked up again once)."""
        for attempt in range(2):
            topics = await self._load()
            for description in topics.values():
                if wire_topic_id(description.topic_id) == topic_id:
                    return description.name
            if attempt == 0 and self._topics is topics:
                self.invalidate()
        return None

    async def partition(self, topic: str, partition: int) -> PartitionDescription | None:
        """One partition, or None if the topic or the partition does not exist."""
        description = await self.topic(topic)
        if description is None or not 0 <= partition < len(description.partitions):
            return None
        return description.partitions[partition]

    async def led_by(self, broker_id: int, topic: str, partition: int) -> PartitionDescription:
        """The partition, if ``broker_id`` leads it; else Kafka's error for a request sent there.

        Raises UnknownTopicOrPartition (no such topic or partition) or NotLeaderOrFollower
        (another broker leads it, or none does while it is offline).
        """
        found = await self.partition(topic, partition)
        if found is None:
            raise UnknownTopicOrPartition(f"This server does not host this topic-partition: {topic}-{partition}")
        if found.leader != broker_id:
            who = f"broker {found.leader} leads it" if found.leader >= 0 else "it has no leader now"
            raise NotLeaderOrFollower(
                f"This server (broker {broker_id}) is not the leader for {topic}-{partition}: {who}")
        return found

    async def _load(self) -> dict[str, TopicDescription]:
        if self._topics is not None:
            return self._topics
        # One read for every request that asks meanwhile: describing 10,000 partitions takes
        # ~100 ms, and the requests of a consumer's start (one per broker) come together.
        loading = self._loading
        if loading is None or loading[0] != self._generation:
            loading = self._loading = (self._generation, asyncio.ensure_future(self._read(self._generation)))
        return await asyncio.shield(loading[1])

    async def _read(self, generation: int) -> dict[str, TopicDescription]:
        version = self._cluster.feed.committed_version()
        try:
            topics = {t.name: t for t in await self._cluster.topics.describe_topics()}
        finally:
            if self._loading is not None and self._loading[0] == generation:
                self._loading = None
        # Keep it only if nothing changed while it was read.
        if generation == self._generation:
            self._topics = topics
            self._loaded_version = version
        return topics

    async def described_now(self) -> dict[str, TopicDescription] | None:
        """Every topic as of the data file's last commit, when this view holds exactly that
        (nothing committed by any process since it was read: the feed's ``PRAGMA
        data_version`` has not moved); else None. Metadata then shares this view's one
        description of the file instead of describing its topics again."""
        feed = self._cluster.feed
        version = feed.committed_version()
        if version < 0:
            return None
        topics = await self._load()
        if self._topics is topics and self._loaded_version == version == feed.committed_version():
            return topics
        return None
