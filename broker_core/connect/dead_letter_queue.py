"""A sink connector's dead letter queue: ``errors.tolerance=all`` with
``errors.deadletterqueue.topic.name``.

A record a converter or transform fails on is written, as it was consumed (key, value and
headers unchanged), to the queue topic, which is created if missing with
``errors.deadletterqueue.topic.replication.factor``. With
``errors.deadletterqueue.context.headers.enable`` it carries Kafka Connect's
``__connect.errors.*`` headers saying where it came from and why it failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import TopicAlreadyExists, UnknownTopicOrPartition
from ..log import BatchRequest
from ..partitioner import partition_for_key
from ..records import ConsumerRecord, ProducerRecord
from .config import ConnectorConfig

if TYPE_CHECKING:
    from ..cluster import Cluster

HEADER_PREFIX = "__connect.errors."


class DeadLetterQueue:
    """Writes failed records of one sink task to its connector's dead letter queue topic."""

    def __init__(self, cluster: "Cluster", config: ConnectorConfig, task_id: int) -> None:
        self.cluster = cluster
        self.config = config
        self.task_id = task_id
        self.topic = config["errors.deadletterqueue.topic.name"].strip()

    async def report(self, record: ConsumerRecord, stage: str, stage_class: str, error: Exception) -> None:
        """Write ``record`` to the queue (nothing when no queue topic is set)."""
        if not self.topic:
            return
        headers = list(record.headers)
        if self.config["errors.deadletterqueue.context.headers.enable"]:
            context = {"topic": record.topic, "partition": str(record.partition), "offset": str(record.offset),
                       "connector.name": self.config.name, "task.id": str(self.task_id), "stage": stage,
                       "class.name": stage_class, "exception.class.name": type(error).__name__,
                       "exception.message": str(error)}
            headers += [(HEADER_PREFIX + name, value.encode()) for name, value in context.items()]
        partitions = await self._ensure_topic()
        partition = partition_for_key(record.key, partitions) if record.key is not None else 0
        produced = ProducerRecord(record.key, record.value, tuple(headers), record.timestamp)
        results = await self.cluster.logs.append_batches([BatchRequest(self.topic, partition, [produced])], "all")
        if isinstance(results[0], Exception):
            raise results[0]

    async def _ensure_topic(self) -> int:
        try:
            return await self.cluster.logs.partition_count(self.topic)
        except UnknownTopicOrPartition:
            factor = self.config["errors.deadletterqueue.topic.replication.factor"]
            try:
                await self.cluster.topics.create_topic(self.topic, 1, 1 if factor == -1 else factor)
            except TopicAlreadyExists:
                pass
            return await self.cluster.logs.partition_count(self.topic)
