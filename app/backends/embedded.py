"""``EmbeddedBackend``: the playground's data file, through the broker core's ``Cluster``.

Every verb is the core's own call; nothing is translated but the shapes the interface
names (``BrokerDescription``, ``Watermarks``). The core's change feed is the backend's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from broker_core import Cluster, Consumer, Producer
from broker_core.config import broker_default_configs, describe_topic_config
from broker_core.delete_records import delete_records
from broker_core.errors import InvalidRequest, KafkaError
from broker_core.log import EARLIEST, LATEST

from .interface import (Backend, BrokerDescription, Capability, ChangeStream, ConfigEntry, ConsumerRecord,
                        GroupDescription, GroupListing, PartitionLag, RecordConsumer, RecordProducer,
                        TopicDescription, TopicPartition, Unsupported, Watermarks)


class EmbeddedBackend(Backend):
    """The playground: one data file opened by this process (``cluster`` is the core itself)."""

    capabilities = frozenset({Capability.BROKER_CONTROL, Capability.LESSONS, Capability.SCHEMA_REGISTRY,
                              Capability.CONNECT})

    def __init__(self, cluster: Cluster, *, owns_cluster: bool = False) -> None:
        self.cluster = cluster
        self.name = f"playground ({cluster.path})"
        self._owns_cluster = owns_cluster

    @classmethod
    async def open(cls, path: Path | str) -> "EmbeddedBackend":
        """Open the data file at ``path`` (created on first use); ``close()`` closes it."""
        return cls(await Cluster.open(path), owns_cluster=True)

    async def close(self) -> None:
        """Close the data file if this backend opened it."""
        if self._owns_cluster:
            self._owns_cluster = False
            await self.cluster.close()

    async def cluster_id(self) -> str:
        """The data file's cluster id."""
        return self.cluster.cluster_id

    async def brokers(self) -> list[BrokerDescription]:
        """The simulated brokers, stopped ones included (no listener unless served: host "", port 0)."""
        return [BrokerDescription(b.broker_id, "", 0, None, b.alive, b.is_controller, b.leader_count, b.is_voter)
                for b in await self.cluster.controller.brokers()]

    async def list_topics(self) -> list[str]:
        """Topic names, sorted."""
        return await self.cluster.topics.list_topics()

    async def describe_topics(self, names: Sequence[str] | None = None) -> list[TopicDescription]:
        """The core's topic descriptions (replica progress included)."""
        return await self.cluster.topics.describe_topics(names)

    async def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                           config: Mapping[str, str] | None = None) -> None:
        """Create a topic in the data file."""
        await self.cluster.topics.create_topic(name, partitions, replication_factor, config)

    async def create_partitions(self, name: str, total: int) -> None:
        """Add partitions."""
        await self.cluster.topics.create_partitions(name, total)

    async def delete_topic(self, name: str) -> None:
        """Delete a topic and its records."""
        await self.cluster.topics.delete_topic(name)

    async def describe_config(self, topic: str) -> list[ConfigEntry]:
        """Every topic config with its source (the core's defaults are Kafka's)."""
        return describe_topic_config((await self.cluster.topics.describe_topic(topic)).config)

    async def alter_config(self, topic: str, set_: Mapping[str, str] | None = None,
                           delete: Sequence[str] = ()) -> None:
        """Incrementally alter overrides."""
        await self.cluster.topics.alter_config(topic, set_, delete)

    async def describe_broker_config(self, broker: str) -> list[ConfigEntry]:
        """A simulated broker's configs: Kafka's defaults, none dynamic ("" has no entries)."""
        if broker == "":
            return []
        if broker not in {str(b.broker_id) for b in await self.cluster.controller.brokers()}:
            raise InvalidRequest(f"Broker {broker} is not part of this cluster")
        return [ConfigEntry(key, value, "DEFAULT_CONFIG", (("DEFAULT_CONFIG", key, value),))
                for key, value in sorted(broker_default_configs().items())]

    async def alter_broker_config(self, broker: str, set_: Mapping[str, str] | None = None,
                                  delete: Sequence[str] = ()) -> None:
        """Refused: the playground's broker configs are fixed."""
        raise Unsupported("kplay's broker configs are fixed: change a topic's configs with --entity-type topics")

    async def delete_records(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | KafkaError]:
        """The core's DeleteRecords, one topic at a time (all or nothing within a topic, as the core does)."""
        by_topic: dict[str, dict[int, int]] = {}
        for tp, offset in offsets.items():
            by_topic.setdefault(tp.topic, {})[tp.partition] = offset
        outcomes: dict[TopicPartition, int | KafkaError] = {}
        for topic, asked in by_topic.items():
            try:
                starts: dict[int, int | KafkaError] = dict(
                    await delete_records(self.cluster.storage, self.cluster.clock, topic, asked))
            except KafkaError as error:
                starts = {partition: error for partition in asked}
            outcomes.update({TopicPartition(topic, partition): starts[partition] for partition in asked})
        return outcomes

    async def elect_leaders(self, kind: str, partitions: Sequence[TopicPartition] | None = None
                            ) -> dict[TopicPartition, KafkaError | None]:
        """The simulated controller's election."""
        return await self.cluster.controller.elect_leaders(kind, partitions)  # type: ignore[arg-type]

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, Watermarks]:
        """ListOffsets earliest and latest for each partition."""
        logs = self.cluster.logs
        return {tp: Watermarks(await logs.list_offset(tp.topic, tp.partition, EARLIEST) or 0,
                               await logs.list_offset(tp.topic, tp.partition, LATEST) or 0)
                for tp in partitions}

    async def offsets_for_times(self, timestamps: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        """ListOffsets by timestamp."""
        return {tp: await self.cluster.logs.list_offset(tp.topic, tp.partition, at) for tp, at in timestamps.items()}

    async def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[ConsumerRecord]:
        """Committed records from ``offset`` on."""
        return (await self.cluster.logs.read(topic, partition, offset, max_records=max_records)).records

    def producer(self, *, acks: int | str = "all", linger_ms: float = 5.0, batch_size: int = 16_384,
                 buffer_memory: int = 32 * 1024 * 1024, client_id: str = "kplay-producer") -> RecordProducer:
        """The core's ``Producer``."""
        return Producer(self.cluster, acks=acks, linger_ms=linger_ms, batch_size=batch_size,
                        buffer_memory=buffer_memory, client_id=client_id)

    def consumer(self, *, group_id: str | None = None, client_id: str = "kplay-consumer",
                 auto_offset_reset: str = "latest", enable_auto_commit: bool = True,
                 isolation_level: str = "read_uncommitted", **settings: object) -> RecordConsumer:
        """The core's ``Consumer``, reading committed transactions only with ``read_committed``."""
        return Consumer(self.cluster, group_id=group_id, client_id=client_id, auto_offset_reset=auto_offset_reset,
                        enable_auto_commit=enable_auto_commit, isolation_level=isolation_level,
                        **settings)  # type: ignore[arg-type]

    async def list_groups(self) -> list[GroupListing]:
        """Every group, by id."""
        return await self.cluster.groups.list_groups()

    async def describe_group(self, group: str) -> GroupDescription:
        """DescribeGroups."""
        return await self.cluster.groups.describe_group(group)

    async def committed_offsets(self, group: str) -> dict[TopicPartition, int]:
        """OffsetFetch for every partition."""
        return await self.cluster.groups.fetch_offsets(group)

    async def group_lag(self, group: str) -> list[PartitionLag]:
        """kafka-consumer-groups' rows."""
        return await self.cluster.groups.group_lag(group)

    async def reset_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Reset an inactive group's offsets."""
        await self.cluster.groups.reset_offsets(group, offsets)

    async def delete_group(self, group: str) -> None:
        """Delete an empty group."""
        await self.cluster.groups.delete_group(group)

    def schema_registry(self) -> object:
        """The data file's Schema Registry (``cluster.schemas``)."""
        return self.cluster.schemas

    def connect(self) -> object:
        """A Connect worker on the data file (its connectors run where a worker runs: the playground,
        ``kplay serve`` or ``kplay connect --worker``)."""
        from broker_core.connect import ConnectWorker

        return ConnectWorker(self.cluster)

    async def subscribe(self, *kinds: str) -> ChangeStream:
        """The core's change feed."""
        feed = await self.cluster.start_feed()
        return feed.subscribe(*kinds)
