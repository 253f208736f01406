"""The backend interface: what the UI and the command-line tools need from a cluster.

A ``Backend`` is one open cluster. Two implementations exist: ``EmbeddedBackend`` (the
playground's data file, through ``broker_core.Cluster``) and ``KafkaClientBackend`` (any
Kafka cluster, through confluent-kafka). Nothing here imports Textual or Rich.

What every method guarantees, on every backend:

- Every method is a coroutine (or returns an object whose waiting methods are coroutines)
  and never blocks the caller's event loop: the Kafka-client backend runs every client call
  in a worker thread, with a bounded timeout (``request_timeout_s``).
- Failures are ``broker_core.errors.KafkaError`` subclasses with Kafka's names and codes
  (``UnknownTopicOrPartition``, ``TopicAlreadyExists``, ``InvalidPartitions``, ...), whichever
  backend raised them. A cluster that cannot be reached, refuses the credentials or fails
  the TLS handshake raises ``ClusterUnreachable`` (one line, naming the cause), within
  ``request_timeout_s``. A write on a read-only backend raises ``ReadOnlyCluster`` before
  anything is sent. Something the backend cannot do raises ``Unsupported`` with a reason.
- Reads return frozen dataclasses (the core's own types, re-exported below, so one formatter
  prints either backend's answer): ``TopicDescription`` / ``PartitionDescription`` (leader,
  replicas, ISR, log start offset, high watermark), ``ConfigEntry``, ``BrokerDescription``,
  ``GroupListing`` / ``GroupDescription`` / ``MemberDescription`` (state, protocol, members,
  assignments), ``PartitionLag`` (committed offset, high watermark, lag), ``ConsumerRecord``.
- ``describe_topics`` returns the topics in the order asked (every topic, sorted by name,
  when none are named) and raises ``UnknownTopicOrPartition`` for a named topic that does
  not exist. A partition's ``log_end_offset`` is its high watermark where the backend cannot
  see the leader's log end (a Kafka client cannot). ``TopicDescription.config`` holds the
  configs that are not at Kafka's default (what ``kafka-topics --describe`` prints after
  ``Configs:``): the topic's overrides, and on a real cluster also what its brokers set. Values
  are typed on the embedded backend, the broker's strings on a real cluster
  (``broker_core.config.value_text`` prints either); ``describe_config`` gives every config with
  its source.
- Writes (create/alter/delete topics, configs, produce, commit, reset offsets, delete group)
  are acknowledged by the cluster when the coroutine returns; the change is visible to the
  next read on the same backend.
- ``producer()`` and ``consumer()`` return objects with the core ``Producer``'s and
  ``Consumer``'s verbs (``RecordProducer`` / ``RecordConsumer``); a ``consumer`` with a
  ``group_id`` joins that group through the cluster's group coordinator.
- ``subscribe(*kinds)`` returns a ``ChangeStream`` of the core's typed events
  (``broker_core.events``: ``TopicCreated``, ``TopicDeleted``, ``PartitionsAdded``,
  ``RecordsAppended``, ``LeaderElected``, ``IsrChanged``, ``BrokerStateChanged``,
  ``ControllerChanged``, ``GroupStateChanged``, ``GroupRebalanced``, ``OffsetsCommitted``,
  ``SegmentDeleted``, ``LogTruncated``, ``Resync``, ...), and ``ClusterConnection`` when the
  Kafka-client backend loses or regains the cluster. The embedded backend publishes every change as it is
  committed; the Kafka-client backend polls metadata, watermarks and groups every
  ``poll_interval_s`` (``DEFAULT_POLL_INTERVAL_S``, settable) and publishes what changed
  between two polls, so a change shows within about one interval. Events are ordered by
  ``seq``; a subscriber that falls too far behind gets a ``Resync`` (reread what it shows).
- ``schema_registry()`` and ``connect()`` give the cluster's Schema Registry and Kafka Connect with
  the verbs the playground's own have (the embedded ones, or REST clients of a profile's
  ``schema.registry.url`` / ``connect.url``), or raise ``Unsupported`` when the cluster has none.
- ``cluster`` is the embedded core on the playground and None on a real cluster.
- ``capabilities`` says what only some backends can do (stop a broker, the lesson clock,
  the Schema Registry, Connect); a caller checks it, and ``unsupported_reason`` gives the
  one line to show where a capability is missing.
"""

from __future__ import annotations

import abc
import asyncio
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator, ClassVar, Mapping, Protocol, Sequence

from broker_core.config import ConfigEntry
from broker_core.errors import KafkaError
from broker_core.events import (BrokerStateChanged, ControllerChanged, Event, GroupRebalanced,
                                GroupStateChanged, IsrChanged, LeaderElected, LogTruncated, OffsetsCommitted,
                                PartitionsAdded, RecordsAppended, Resync, SegmentDeleted, TopicAltered,
                                TopicCreated, TopicDeleted)
from broker_core.groups import GroupDescription, GroupListing, MemberDescription, PartitionLag
from broker_core.records import ConsumerRecord, Headers, RecordMetadata, TopicPartition
from broker_core.topics import PartitionDescription, TopicDescription

if TYPE_CHECKING:
    from broker_core import Cluster

__all__ = [
    "Backend", "BrokerDescription", "BrokerStateChanged", "Capability", "ChangeStream", "ClusterConnection",
    "ClusterUnreachable",
    "ConfigEntry", "ConsumerRecord", "ControllerChanged", "DEFAULT_POLL_INTERVAL_S", "Event", "GroupDescription",
    "GroupListing", "GroupRebalanced", "GroupStateChanged", "Headers", "IsrChanged", "LeaderElected",
    "LogTruncated", "MemberDescription", "OffsetsCommitted", "PartitionDescription", "PartitionLag", "PartitionsAdded",
    "ReadOnlyCluster", "RecordConsumer", "RecordMetadata", "RecordProducer", "RecordsAppended", "Resync",
    "SegmentDeleted", "TopicAltered", "TopicCreated", "TopicDeleted", "TopicDescription", "TopicPartition",
    "Unsupported", "Watermarks",
]

#: How often the Kafka-client backend polls metadata, watermarks and groups for its change feed.
#: One second: a record produced elsewhere shows within a second or two, and a cluster of
#: 1,000 topics costs a handful of requests a second (Metadata, ListOffsets, group calls).
DEFAULT_POLL_INTERVAL_S = 1.0


class Capability(enum.Enum):
    """Something only some backends can do."""

    #: Stop and start brokers, elect leaders uncleanly at will, set replication delay (a simulation).
    BROKER_CONTROL = "broker-control"
    #: The lesson clock and lessons (scenarios drive the simulated cluster).
    LESSONS = "lessons"
    #: A Schema Registry is reachable (the embedded one, or the profile's schema.registry.url).
    SCHEMA_REGISTRY = "schema-registry"
    #: A Kafka Connect worker is reachable (the embedded one, or the profile's connect.url).
    CONNECT = "connect"


class ClusterUnreachable(KafkaError):
    """The cluster could not be reached (unreachable, authentication failed, TLS error, timed out)."""

    name, code, retriable = "NETWORK_EXCEPTION", 13, True


class ReadOnlyCluster(KafkaError):
    """A write was refused before it was sent: the cluster's profile says ``read_only = true``."""

    name, code = "CLUSTER_AUTHORIZATION_FAILED", 31


class Unsupported(KafkaError):
    """The backend cannot do this (for example stop a broker of a real cluster)."""

    name, code = "UNSUPPORTED_VERSION", 35


@dataclass(frozen=True)
class ClusterConnection(Event):
    """The Kafka-client backend lost (``connected`` False, ``reason`` says why) or regained the cluster.

    After a reconnection a ``Resync`` follows: what changed meanwhile was not seen event by event.
    """

    kind: ClassVar[str] = "cluster_connection"
    connected: bool = True
    reason: str = ""


@dataclass(frozen=True)
class BrokerDescription:
    """One broker: id, where it listens, rack, whether it is up, controller, how many leaders it hosts.

    On a real cluster only live brokers are known (``alive`` is always True there), and
    ``is_voter`` is False (KRaft voters are not in a client's metadata).
    """

    broker_id: int
    host: str
    port: int
    rack: str | None
    alive: bool
    is_controller: bool
    leader_count: int
    is_voter: bool = False


@dataclass(frozen=True)
class Watermarks:
    """A partition's readable range: its log start offset and its high watermark."""

    log_start_offset: int
    high_watermark: int


class ChangeStream(Protocol):
    """A subscription to a backend's change events; iterate it with ``async for``, ``close()`` it after."""

    async def get(self) -> Event:
        """The next event, waiting for one."""

    def get_nowait(self) -> list[Event]:
        """Every event queued now, without waiting."""

    def close(self) -> None:
        """Stop receiving events."""

    def __aiter__(self) -> AsyncIterator[Event]:
        """Events as they come."""


class RecordProducer(Protocol):
    """Sends records; the core ``Producer``'s verbs."""

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                   partition: int | None = None, headers: Headers = (),
                   timestamp: int | None = None) -> asyncio.Future[RecordMetadata]:
        """Queue one record; the returned future resolves to where it landed (or raises KafkaError)."""

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                            partition: int | None = None, headers: Headers = (),
                            timestamp: int | None = None) -> RecordMetadata:
        """Send one record and wait for its acknowledgement."""

    async def flush(self) -> None:
        """Wait until every queued record is acknowledged or failed."""

    async def close(self) -> None:
        """Flush and release the producer."""


class RecordConsumer(Protocol):
    """Reads records, standalone (``assign``) or in a group (``subscribe``); the core ``Consumer``'s verbs."""

    group_id: str | None
    client_id: str
    max_poll_records: int

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        """Read exactly these partitions (no group membership)."""

    def subscribe(self, topics: Sequence[str] | str) -> None:
        """Join ``group_id`` and read the partitions the group assigns for ``topics``."""

    def assignment(self) -> set[TopicPartition]:
        """The partitions read now."""

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` next."""

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Read from the log start (every assigned partition when none are named)."""

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Read from the high watermark (every assigned partition when none are named)."""

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record ``poll`` returns for ``tp``."""

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop returning records of these partitions until resumed."""

    def resume(self, *partitions: TopicPartition) -> None:
        """Return records of these partitions again."""

    def paused(self) -> set[TopicPartition]:
        """The paused partitions."""

    async def poll(self, timeout_ms: int = 0) -> list[ConsumerRecord]:
        """Records that arrived, waiting up to ``timeout_ms`` for some (at most ``max_poll_records``)."""

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (the positions consumed so far when None) for the group."""

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset for ``tp`` (None when none)."""

    async def close(self) -> None:
        """Leave the group (committing first with auto-commit on) and release the consumer."""


class Backend(abc.ABC):
    """One open cluster, embedded or reached through Kafka's protocol. See the module docstring."""

    #: What the header shows: "playground" and its file, or a profile name / bootstrap servers.
    name: str = ""
    #: Refuse every write with ``ReadOnlyCluster`` (a profile's ``read_only = true``).
    read_only: bool = False
    #: What only some backends can do.
    capabilities: frozenset[Capability] = frozenset()
    #: The embedded core when this backend is the playground, None on a real cluster: a UI draws
    #: from it what only a simulation has (replica progress, records above the high watermark,
    #: the lesson clock, stopping brokers).
    cluster: "Cluster | None" = None

    def can(self, capability: Capability) -> bool:
        """Whether this backend has ``capability``."""
        return capability in self.capabilities

    def unsupported_reason(self, capability: Capability) -> str:
        """One line saying why ``capability`` is missing here (empty when it is not)."""
        if self.can(capability):
            return ""
        return {
            Capability.BROKER_CONTROL: "a real cluster's brokers are not kplay's to stop or start",
            Capability.LESSONS: "lessons drive the playground's simulated cluster, not a real one",
            Capability.SCHEMA_REGISTRY: "no Schema Registry: set schema.registry.url in the cluster's profile",
            Capability.CONNECT: "no Kafka Connect: set connect.url in the cluster's profile",
        }[capability]

    def check_writable(self, what: str) -> None:
        """Raise ``ReadOnlyCluster`` naming ``what`` when the backend is read-only."""
        if self.read_only:
            raise ReadOnlyCluster(f"Cluster '{self.name}' is read-only (its profile says read_only = true): "
                                  f"refusing to {what}")

    # --- the cluster ---------------------------------------------------------------------

    @abc.abstractmethod
    async def cluster_id(self) -> str:
        """The cluster's id."""

    @abc.abstractmethod
    async def brokers(self) -> list[BrokerDescription]:
        """Every broker known, sorted by id."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop the change feed and release every connection (idempotent)."""

    async def __aenter__(self) -> "Backend":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- topics and configs --------------------------------------------------------------

    @abc.abstractmethod
    async def list_topics(self) -> list[str]:
        """Every topic's name, sorted, internal ones (``__consumer_offsets``) included."""

    @abc.abstractmethod
    async def describe_topics(self, names: Sequence[str] | None = None) -> list[TopicDescription]:
        """Topics with their partitions, watermarks and config overrides."""

    async def describe_topic(self, name: str) -> TopicDescription:
        """One topic (``UnknownTopicOrPartition`` if it does not exist)."""
        return (await self.describe_topics([name]))[0]

    async def partition_count(self, topic: str) -> int:
        """How many partitions ``topic`` has (``UnknownTopicOrPartition`` if it does not exist)."""
        return (await self.describe_topic(topic)).partition_count

    @abc.abstractmethod
    async def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                           config: Mapping[str, str] | None = None) -> None:
        """Create a topic (``TopicAlreadyExists``, ``InvalidTopic``, ``InvalidReplicationFactor``, ...)."""

    @abc.abstractmethod
    async def create_partitions(self, name: str, total: int) -> None:
        """Grow ``name`` to ``total`` partitions (``InvalidPartitions`` if that is not more)."""

    @abc.abstractmethod
    async def delete_topic(self, name: str) -> None:
        """Delete a topic and its records."""

    @abc.abstractmethod
    async def describe_config(self, topic: str) -> list[ConfigEntry]:
        """Every config of ``topic`` with its value and source, sorted by name."""

    @abc.abstractmethod
    async def alter_config(self, topic: str, set_: Mapping[str, str] | None = None,
                           delete: Sequence[str] = ()) -> None:
        """Set and remove config overrides of ``topic`` (incrementally: others stay)."""

    @abc.abstractmethod
    async def describe_broker_config(self, broker: str) -> list[ConfigEntry]:
        """Every config of broker ``broker`` (an id; "" is the cluster-wide default entity), sorted by name.

        Dynamic ones have source DYNAMIC_BROKER_CONFIG (DYNAMIC_DEFAULT_BROKER_CONFIG for ""). The
        playground's brokers have none: their configs are Kafka's defaults, and "" has no entries.
        """

    @abc.abstractmethod
    async def alter_broker_config(self, broker: str, set_: Mapping[str, str] | None = None,
                                  delete: Sequence[str] = ()) -> None:
        """Set and remove dynamic configs of ``broker`` ("" for every broker), incrementally.

        ``Unsupported`` on the playground, whose broker configs are fixed.
        """

    @abc.abstractmethod
    async def delete_records(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | KafkaError]:
        """Kafka's ``Admin.deleteRecords``: delete each partition's records below its offset (-1: the high
        watermark); per partition the new log start offset (the low watermark) or the failure."""

    @abc.abstractmethod
    async def elect_leaders(self, kind: str, partitions: Sequence[TopicPartition] | None = None
                            ) -> dict[TopicPartition, KafkaError | None]:
        """Kafka's ``Admin.electLeaders``: ``kind`` "preferred" or "unclean"; the outcome per partition
        (None: elected). ``partitions`` None means every partition (those needing none are left out)."""

    # --- records -------------------------------------------------------------------------

    @abc.abstractmethod
    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, Watermarks]:
        """Log start offset and high watermark of each partition."""

    @abc.abstractmethod
    async def offsets_for_times(self, timestamps: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        """Per partition, the first offset whose timestamp is at or after the given one (None: none is)."""

    @abc.abstractmethod
    async def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[ConsumerRecord]:
        """Up to ``max_records`` committed records of one partition from ``offset`` on (no group)."""

    @abc.abstractmethod
    def producer(self, *, acks: int | str = "all", linger_ms: float = 5.0, batch_size: int = 16_384,
                 buffer_memory: int = 32 * 1024 * 1024, client_id: str = "kplay-producer") -> RecordProducer:
        """A producer with Kafka's settings (``acks``, ``linger.ms``, ...); close it when done."""

    async def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                      partition: int | None = None, headers: Headers = ()) -> RecordMetadata:
        """Send one record with acks=all and wait for it (a producer opened and closed around it)."""
        producer = self.producer()
        try:
            return await producer.send_and_wait(topic, value, key, partition=partition, headers=headers)
        finally:
            await producer.close()

    @abc.abstractmethod
    def consumer(self, *, group_id: str | None = None, client_id: str = "kplay-consumer",
                 auto_offset_reset: str = "latest", enable_auto_commit: bool = True,
                 isolation_level: str = "read_uncommitted", **settings: object) -> RecordConsumer:
        """A consumer; ``settings`` are further Kafka consumer configs by the core's keyword names
        (``session_timeout_ms``, ``max_poll_records``, ...). Close it when done."""

    # --- groups --------------------------------------------------------------------------

    @abc.abstractmethod
    async def list_groups(self) -> list[GroupListing]:
        """Every consumer group with its state, sorted by id."""

    @abc.abstractmethod
    async def describe_group(self, group: str) -> GroupDescription:
        """A group's state, protocol, members and their assignments (an unknown group is ``Dead``)."""

    @abc.abstractmethod
    async def committed_offsets(self, group: str) -> dict[TopicPartition, int]:
        """The group's committed offsets."""

    @abc.abstractmethod
    async def group_lag(self, group: str) -> list[PartitionLag]:
        """``kafka-consumer-groups --describe`` rows: committed offset, high watermark, lag, owner."""

    @abc.abstractmethod
    async def reset_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set the group's committed offsets (the group must have no active members)."""

    @abc.abstractmethod
    async def delete_group(self, group: str) -> None:
        """Delete an empty group and its offsets (``NonEmptyGroup``, ``GroupIdNotFound``)."""

    # --- the Schema Registry and Connect --------------------------------------------------

    def schema_registry(self) -> object:
        """The cluster's Schema Registry, with the core ``SchemaRegistry``'s verbs
        (``Unsupported`` when there is none: see ``Capability.SCHEMA_REGISTRY``)."""
        raise Unsupported(self.unsupported_reason(Capability.SCHEMA_REGISTRY))

    def connect(self) -> object:
        """The cluster's Kafka Connect, with the verbs ``kplay connect`` uses (``create_connector``,
        ``connector_status``, ...); ``Unsupported`` when there is none (``Capability.CONNECT``)."""
        raise Unsupported(self.unsupported_reason(Capability.CONNECT))

    # --- the change feed -----------------------------------------------------------------

    @abc.abstractmethod
    async def subscribe(self, *kinds: str) -> ChangeStream:
        """Start the change feed if needed and subscribe to events of ``kinds`` (all when none)."""

