"""``KafkaClientBackend``: any Kafka cluster, through confluent-kafka (librdkafka).

Admin calls go through one ``AdminClient``; every blocking client call runs on this
backend's own small thread pool and every admin future is awaited with ``asyncio.wrap_future``,
always under ``request_timeout_s``, so a slow or vanished cluster never blocks the caller's
event loop and never hangs it: it fails with ``ClusterUnreachable`` naming the cause.

What a Kafka client cannot see is said where it shows: a partition's ``log_end_offset`` is its
high watermark (only the leader knows its log end), ``leader_epoch`` is -1 (unknown), only live
brokers are listed, and a group's generation is -1 (DescribeGroups' admin API does not return it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar

from confluent_kafka import (ConsumerGroupState, ConsumerGroupTopicPartitions, ConsumerGroupType, ElectionType,
                             KafkaException)
from confluent_kafka import KafkaError as ClientError
from confluent_kafka import TopicPartition as ClientTopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry as ClientConfigEntry,
                                   ConfigResource, ConfigSource, NewPartitions, NewTopic, OffsetSpec,
                                   ResourceType)

from broker_core.errors import GroupIdNotFound, InvalidConfig, KafkaError, UnknownTopicOrPartition
from broker_core.group_descriptions import CLASSIC_GROUP_TYPE, CONSUMER_GROUP_TYPE
from broker_core.groups import lag_rows

from .interface import (DEFAULT_POLL_INTERVAL_S, Backend, BrokerDescription, Capability, ChangeStream,
                        ClusterUnreachable, ConfigEntry, ConsumerRecord, GroupDescription, GroupListing,
                        MemberDescription, PartitionDescription, PartitionLag, RecordConsumer, RecordProducer,
                        TopicDescription, TopicPartition, Unsupported, Watermarks)
from .kafka_errors import DECISIVE_CODES, as_kafka_error, cause_text

T = TypeVar("T")

#: How long one request to the cluster may take before it is reported unreachable.
DEFAULT_REQUEST_TIMEOUT_S = 10.0
#: Threads for blocking client calls: the change feed's poll and a few callers at once.
CLIENT_THREADS = 4
#: librdkafka's log lines never reach the terminal (errors are reported as one line instead).
CLIENT_LOGGER = logging.getLogger("kplay.librdkafka")
CLIENT_LOGGER.addHandler(logging.NullHandler())
CLIENT_LOGGER.propagate = False

#: Kafka's group state names (ConsumerGroupState's names are librdkafka's).
GROUP_STATES = {ConsumerGroupState.STABLE: "Stable", ConsumerGroupState.EMPTY: "Empty",
                ConsumerGroupState.DEAD: "Dead", ConsumerGroupState.PREPARING_REBALANCING: "PreparingRebalance",
                ConsumerGroupState.COMPLETING_REBALANCING: "CompletingRebalance",
                ConsumerGroupState.UNKNOWN: "Unknown"}
#: Offsets ListOffsets answers with when it has none.
NO_OFFSET = -1


class KafkaClientBackend(Backend):
    """A Kafka cluster reached with librdkafka ``properties`` (bootstrap.servers, security.protocol, ...)."""

    def __init__(self, properties: Mapping[str, str], *, name: str = "", read_only: bool = False,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
                 schema_registry_url: str | None = None, connect_url: str | None = None,
                 schema_registry_user_info: str | None = None, connect_user_info: str | None = None) -> None:
        if "bootstrap.servers" not in properties:
            raise InvalidConfig("Invalid cluster properties: bootstrap.servers is missing")
        self.properties = dict(properties)
        self.name = name or self.properties["bootstrap.servers"]
        self.read_only = read_only
        self.poll_interval_s = poll_interval_s
        self.request_timeout_s = request_timeout_s
        self.schema_registry_url = schema_registry_url
        self.connect_url = connect_url
        self._rest_user_info = {"schema-registry": schema_registry_user_info, "connect": connect_user_info}
        self.capabilities = frozenset(
            ({Capability.SCHEMA_REGISTRY} if schema_registry_url else set())
            | ({Capability.CONNECT} if connect_url else set()))
        self._executor = ThreadPoolExecutor(CLIENT_THREADS, thread_name_prefix="kplay-kafka-client")
        self._errors: list[ClientError] = []
        self._admin = AdminClient(self.client_config())
        self._feed: Any = None  # KafkaClientFeed, started on the first subscribe()
        self._closed = False

    @classmethod
    async def open(cls, properties: Mapping[str, str], **options: Any) -> "KafkaClientBackend":
        """Connect and check the cluster answers (``ClusterUnreachable`` with the cause if not)."""
        try:
            backend = cls(properties, **options)
        except (KafkaException, ValueError, TypeError) as error:
            raise _config_problem(error, properties) from None
        try:
            await backend.check_connection()
        except BaseException:
            await backend.close()
            raise
        return backend

    def client_config(self, **extra: Any) -> dict[str, Any]:
        """librdkafka properties for a new client of this cluster (``extra`` on top)."""
        return {**self.properties, "logger": CLIENT_LOGGER, "error_cb": self._errors.append, **extra}

    # --- calling the client off the event loop ----------------------------------------------

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking client call on this backend's threads, bounded by ``request_timeout_s``."""
        if self._closed:
            raise ClusterUnreachable(f"the connection to cluster '{self.name}' is closed")
        loop = asyncio.get_running_loop()
        try:
            return await self.answer(loop.run_in_executor(self._executor, function, *args))
        except KafkaException as error:
            raise self._client_error(error) from None

    async def answer(self, pending: Awaitable[T]) -> T:
        """Await a client call's answer for at most ``request_timeout_s`` (+1 s, so librdkafka's own
        timeout fires first); ``ClusterUnreachable`` with the clearest cause seen after that."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the answer does (CPython gh-86296), and the change feed's loop never stopped.
        try:
            async with asyncio.timeout(self.request_timeout_s + 1):
                return await pending
        except TimeoutError:
            raise self._unreachable() from None

    async def admin(self, request: Callable[..., dict[Any, Future[Any]]], *args: Any,
                    **kwargs: Any) -> dict[Any, Any]:
        """Send an admin request and wait for every answer; the first failure is raised as a KafkaError."""
        answers = await self.admin_outcomes(request, *args, **kwargs)
        for outcome in answers.values():
            if isinstance(outcome, BaseException):
                raise outcome
        return answers

    async def admin_outcomes(self, request: Callable[..., dict[Any, Future[Any]]], *args: Any,
                             **kwargs: Any) -> dict[Any, Any]:
        """Like ``admin`` but each key's outcome is its result or its KafkaError (nothing raised for those)."""
        kwargs.setdefault("request_timeout", self.request_timeout_s)
        futures = await self.call(lambda: request(*args, **kwargs))
        if futures:
            # Every answer in one hop to a client thread: awaiting each future on the event loop
            # woke it once per partition (about 6,000 times per poll of a 1,000-topic cluster).
            await self.call(wait_for_futures, list(futures.values()), self.request_timeout_s + 1)
        outcomes: dict[Any, Any] = {}
        for key, future in futures.items():
            if not future.done():
                raise self._unreachable()
            error = future.exception()
            if error is None:
                outcomes[key] = future.result()
            elif isinstance(error, KafkaException):
                outcomes[key] = self._client_error(error)
            else:
                raise error
        return outcomes

    def _client_error(self, error: KafkaException) -> BaseException:
        found = as_kafka_error(error)
        if isinstance(found, ClusterUnreachable):
            return self._unreachable(found)
        return found

    def _unreachable(self, fallback: ClusterUnreachable | None = None) -> ClusterUnreachable:
        """The clearest cause seen: librdkafka's last decisive error, else the failure itself."""
        self._admin.poll(0)  # serve error_cb: librdkafka reports connection errors through it
        # "3/3 brokers are down" says less than why they are: prefer a broker's own error.
        specific = [e for e in self._errors if e.code() != ClientError._ALL_BROKERS_DOWN]
        decisive = [e for e in specific if e.code() in DECISIVE_CODES]
        seen = decisive or specific or self._errors
        cause = cause_text(seen[-1]) if seen else (str(fallback) if fallback else
                                                   f"no answer within {self.request_timeout_s:g} s")
        return ClusterUnreachable(f"Cannot use cluster '{self.name}' "
                                  f"({self.properties['bootstrap.servers']}): {cause}")

    async def check_connection(self) -> None:
        """Fetch metadata once; fail early on a decisive error (auth, TLS, name resolution, refused)."""
        deadline = time.monotonic() + self.request_timeout_s
        while True:
            try:
                await self.call(self._admin.list_topics, None, min(0.5, self.request_timeout_s))
                return
            except ClusterUnreachable as problem:
                failure = problem
            self._admin.poll(0)
            if any(e.code() in DECISIVE_CODES for e in self._errors) or time.monotonic() >= deadline:
                raise failure if not self._errors else self._unreachable()

    # --- the cluster ------------------------------------------------------------------------

    async def metadata(self) -> Any:
        """The cluster's metadata (every topic, partition and live broker), one Metadata request."""
        return await self.call(self._admin.list_topics, None, self.request_timeout_s)

    async def cluster_id(self) -> str:
        """The cluster's id (from Metadata)."""
        return (await self.metadata()).cluster_id or ""

    async def brokers(self) -> list[BrokerDescription]:
        """Live brokers from Metadata, with how many partitions each leads."""
        return brokers_from(await self.metadata())

    async def close(self) -> None:
        """Stop the change feed and the client threads."""
        if self._closed:
            return
        try:
            if self._feed is not None:
                await self._feed.stop()
        finally:
            self._closed = True
            self._executor.shutdown(wait=False, cancel_futures=True)

    # --- topics -----------------------------------------------------------------------------

    async def list_topics(self) -> list[str]:
        """Every topic, internal ones included, sorted."""
        return sorted((await self.metadata()).topics)

    async def describe_topics(self, names: Sequence[str] | None = None) -> list[TopicDescription]:
        """Metadata, watermarks and config overrides: three requests whatever the topic count."""
        metadata = await self.metadata()
        if names is None:
            names = sorted(metadata.topics)
        for name in names:
            if name not in metadata.topics or metadata.topics[name].error is not None and \
                    metadata.topics[name].error.code() == ClientError.UNKNOWN_TOPIC_OR_PART:
                raise UnknownTopicOrPartition(f"Topic '{name}' does not exist")
        partitions = [TopicPartition(name, p) for name in names for p in sorted(metadata.topics[name].partitions)]
        marks = await self.watermarks(partitions)
        overrides = await self._non_default_configs(names)
        ids = await self._topic_ids(names)
        return [topic_description(metadata.topics[name], ids.get(name, ""), overrides.get(name, {}), marks)
                for name in names]

    async def _non_default_configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each topic's configs whose source is not DEFAULT_CONFIG: its overrides and what its brokers set,
        which is what kafka-topics --describe prints after ``Configs:`` (``!ConfigEntry.isDefault()``)."""
        if not names:
            return {}
        answers = await self.admin(self._admin.describe_configs,
                                   [ConfigResource(ResourceType.TOPIC, name) for name in names])
        return {resource.name: {key: entry.value for key, entry in entries.items()
                                if entry.source != ConfigSource.DEFAULT_CONFIG.value and entry.value is not None}
                for resource, entries in answers.items()}

    async def _topic_ids(self, names: Sequence[str]) -> dict[str, str]:
        """Topic ids from DescribeTopics (Metadata v10+); a broker without them gives none."""
        from confluent_kafka import TopicCollection

        if not names:
            return {}
        try:
            answers = await self.admin_outcomes(self._admin.describe_topics, TopicCollection(list(names)))
        except ClusterUnreachable:
            raise
        except (KafkaError, KafkaException):
            return {}
        # librdkafka prints ids in standard base64; Kafka (Uuid.toString) in URL-safe base64.
        return {name: str(answer.topic_id).replace("+", "-").replace("/", "_") for name, answer in answers.items()
                if not isinstance(answer, BaseException) and answer.topic_id is not None}

    async def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                           config: Mapping[str, str] | None = None) -> None:
        """CreateTopics."""
        self.check_writable(f"create topic '{name}'")
        await self.admin(self._admin.create_topics, [NewTopic(name, partitions, replication_factor,
                                                              config={k: str(v) for k, v in (config or {}).items()})],
                         operation_timeout=self.request_timeout_s)

    async def create_partitions(self, name: str, total: int) -> None:
        """CreatePartitions."""
        self.check_writable(f"add partitions to topic '{name}'")
        await self.admin(self._admin.create_partitions, [NewPartitions(name, total)],
                         operation_timeout=self.request_timeout_s)

    async def delete_topic(self, name: str) -> None:
        """DeleteTopics."""
        self.check_writable(f"delete topic '{name}'")
        await self.admin(self._admin.delete_topics, [name], operation_timeout=self.request_timeout_s)

    async def describe_config(self, topic: str) -> list[ConfigEntry]:
        """DescribeConfigs with synonyms: every config, its value and where it comes from."""
        answers = await self.admin(self._admin.describe_configs, [ConfigResource(ResourceType.TOPIC, topic)])
        entries = next(iter(answers.values()))
        return sorted((config_entry(entry) for entry in entries.values()), key=lambda e: e.name)

    async def alter_config(self, topic: str, set_: Mapping[str, str] | None = None,
                           delete: Sequence[str] = ()) -> None:
        """IncrementalAlterConfigs: set and delete overrides, the others stay."""
        self.check_writable(f"alter the configs of topic '{topic}'")
        operations = alter_operations(set_, delete)
        await self.admin(self._admin.incremental_alter_configs,
                         [ConfigResource(ResourceType.TOPIC, topic, incremental_configs=operations)])

    async def describe_broker_config(self, broker: str) -> list[ConfigEntry]:
        """DescribeConfigs of a BROKER resource, with synonyms ("" is the cluster-wide default entity).

        librdkafka refuses an empty resource name, so the default entity is read from a live broker's
        description: each config set cluster-wide carries a DYNAMIC_DEFAULT_BROKER_CONFIG synonym.
        """
        if broker == "":
            live = sorted(b.broker_id for b in await self.brokers())
            if not live:
                return []
            return sorted({name: ConfigEntry(name, value, DEFAULT_BROKER_SOURCE, ((DEFAULT_BROKER_SOURCE, name, value),))
                           for entry in await self.describe_broker_config(str(live[0]))
                           for source, name, value in entry.synonyms if source == DEFAULT_BROKER_SOURCE}.values(),
                          key=lambda e: e.name)
        answers = await self.admin(self._admin.describe_configs, [ConfigResource(ResourceType.BROKER, broker)])
        entries = next(iter(answers.values()))
        return sorted((config_entry(entry) for entry in entries.values()), key=lambda e: e.name)

    async def alter_broker_config(self, broker: str, set_: Mapping[str, str] | None = None,
                                  delete: Sequence[str] = ()) -> None:
        """IncrementalAlterConfigs of a BROKER resource: set and delete dynamic configs, the others stay.

        kafka-configs sends the legacy AlterConfigs with the old dynamic configs plus the changes;
        the incremental request ends in the same dynamic configs without resending the others.
        """
        self.check_writable(f"alter the configs of broker '{broker}'" if broker else
                            "alter the default configs of the brokers")
        if broker == "":
            raise Unsupported("confluent-kafka cannot address the brokers' default entity (librdkafka refuses an "
                              "empty resource name): alter each broker with --broker ID")
        operations = alter_operations(set_, delete)
        await self.admin(self._admin.incremental_alter_configs,
                         [ConfigResource(ResourceType.BROKER, broker, incremental_configs=operations)])

    async def delete_records(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | KafkaError]:
        """DeleteRecords through the AdminClient: each partition's low watermark, or its error."""
        self.check_writable("delete records")
        asked = [ClientTopicPartition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()]
        answers = await self.admin_outcomes(self._admin.delete_records, asked)
        for outcome in answers.values():
            if isinstance(outcome, ClusterUnreachable):  # the cluster, not a partition, failed: one line
                raise outcome
        return {TopicPartition(tp.topic, tp.partition): outcome if isinstance(outcome, KafkaError)
                else outcome.low_watermark for tp, outcome in answers.items()}

    async def elect_leaders(self, kind: str, partitions: Sequence[TopicPartition] | None = None
                            ) -> dict[TopicPartition, KafkaError | None]:
        """ElectLeaders through the AdminClient (its one future answers every partition)."""
        self.check_writable(f"elect {kind} leaders")
        election = ElectionType.UNCLEAN if kind == "unclean" else ElectionType.PREFERRED
        asked = None if partitions is None else [ClientTopicPartition(tp.topic, tp.partition) for tp in partitions]
        # No request_timeout here: confluent-kafka 2.16's elect_leaders fails to parse any keyword
        # (SystemError "more argument specifiers than keyword list entries"); the wait below bounds it.
        future = await self.call(lambda: self._admin.elect_leaders(election, asked))
        try:
            answers = await self.answer(asyncio.wrap_future(future))
        except KafkaException as error:
            raise self._client_error(error) from None
        return {TopicPartition(tp.topic, tp.partition): None if outcome is None else self._client_error(outcome)
                for tp, outcome in answers.items()}

    # --- records ----------------------------------------------------------------------------

    async def watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, Watermarks]:
        """ListOffsets earliest and latest (one request each, whatever the partition count)."""
        if not partitions:
            return {}
        starts = await self._list_offsets({tp: OffsetSpec.earliest() for tp in partitions})
        ends = await self._list_offsets({tp: OffsetSpec.latest() for tp in partitions})
        return {tp: Watermarks(max(0, starts.get(tp, 0)), max(0, ends.get(tp, 0))) for tp in partitions}

    async def offsets_for_times(self, timestamps: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        """ListOffsets by timestamp (None where no record is that late)."""
        found = await self._list_offsets({tp: OffsetSpec.for_timestamp(at) for tp, at in timestamps.items()})
        return {tp: (None if found.get(tp, NO_OFFSET) < 0 else found[tp]) for tp in timestamps}

    async def _list_offsets(self, specs: Mapping[TopicPartition, Any]) -> dict[TopicPartition, int]:
        answers = await self.admin(self._admin.list_offsets,
                                   {ClientTopicPartition(tp.topic, tp.partition): spec for tp, spec in specs.items()})
        return {TopicPartition(tp.topic, tp.partition): info.offset for tp, info in answers.items()}

    async def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[ConsumerRecord]:
        """Records from ``offset`` up to the high watermark, by a consumer that joins no group."""
        end = (await self.watermarks([TopicPartition(topic, partition)]))[TopicPartition(topic, partition)]
        if offset >= end.high_watermark or max_records <= 0:
            return []
        wanted = min(max_records, end.high_watermark - offset)
        consumer = self.consumer(enable_auto_commit=False, auto_offset_reset="earliest")
        try:
            consumer.assign([TopicPartition(topic, partition)])
            consumer.seek(TopicPartition(topic, partition), offset)
            records: list[ConsumerRecord] = []
            deadline = time.monotonic() + self.request_timeout_s
            while len(records) < wanted and time.monotonic() < deadline:
                records += await consumer.poll(timeout_ms=200)
            return records[:wanted]
        finally:
            await consumer.close()

    def producer(self, *, acks: int | str = "all", linger_ms: float = 5.0, batch_size: int = 16_384,
                 buffer_memory: int = 32 * 1024 * 1024, client_id: str = "kplay-producer") -> RecordProducer:
        """A librdkafka producer with these settings (``ReadOnlyCluster`` on a read-only profile)."""
        from .kafka_client_records import KafkaClientProducer

        self.check_writable("produce records")
        return KafkaClientProducer(self, acks=acks, linger_ms=linger_ms, batch_size=batch_size,
                                   buffer_memory=buffer_memory, client_id=client_id)

    def consumer(self, *, group_id: str | None = None, client_id: str = "kplay-consumer",
                 auto_offset_reset: str = "latest", enable_auto_commit: bool = True,
                 isolation_level: str = "read_uncommitted", **settings: object) -> RecordConsumer:
        """A librdkafka consumer (a group member once it subscribes, when ``group_id`` is given)."""
        from .kafka_client_records import KafkaClientConsumer

        return KafkaClientConsumer(self, group_id=group_id, client_id=client_id, auto_offset_reset=auto_offset_reset,
                                   enable_auto_commit=enable_auto_commit, isolation_level=isolation_level,
                                   **settings)

    # --- groups -----------------------------------------------------------------------------

    async def list_groups(self) -> list[GroupListing]:
        """ListGroups (consumer groups), sorted by id."""
        future = await self.call(lambda: self._admin.list_consumer_groups(request_timeout=self.request_timeout_s))
        try:
            result = await self.answer(asyncio.wrap_future(future))
        except KafkaException as error:
            raise self._client_error(error) from None
        return sorted((GroupListing(g.group_id, GROUP_STATES.get(g.state, "Unknown"),
                                    "" if g.is_simple_consumer_group else "consumer", group_type(g.type))
                       for g in result.valid), key=lambda g: g.group_id)

    async def describe_group(self, group: str) -> GroupDescription:
        """DescribeGroups; an unknown group is ``Dead`` with no members, as Kafka reports it."""
        return (await self.describe_groups([group]))[group]

    async def describe_groups(self, groups: Sequence[str]) -> dict[str, GroupDescription]:
        """DescribeGroups for several groups in one request (unknown ones ``Dead``)."""
        if not groups:
            return {}
        found = {}
        for group, outcome in (await self.admin_outcomes(self._admin.describe_consumer_groups, list(groups))).items():
            if isinstance(outcome, GroupIdNotFound):
                found[group] = GroupDescription(group, "Dead", "", "", -1, "", [])
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                found[group] = group_description(outcome)
        return found

    async def committed_offsets(self, group: str) -> dict[TopicPartition, int]:
        """OffsetFetch for every partition the group committed."""
        answers = await self.admin(self._admin.list_consumer_group_offsets, [ConsumerGroupTopicPartitions(group)])
        found = next(iter(answers.values()))
        return {TopicPartition(tp.topic, tp.partition): tp.offset for tp in found.topic_partitions or []
                if tp.offset >= 0}

    async def group_lag(self, group: str) -> list[PartitionLag]:
        """One row per partition committed or assigned: committed offset, high watermark, lag, owner."""
        description = await self.describe_group(group)
        if description.state == "Dead":
            raise GroupIdNotFound(f"Consumer group '{group}' does not exist.")
        committed = await self.committed_offsets(group)
        marks = await self.watermarks(sorted(set(committed) | {tp for m in description.members for tp in m.assignment}))
        return lag_rows(description.members, committed, {tp: mark.high_watermark for tp, mark in marks.items()})

    async def reset_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """AlterConsumerGroupOffsets (the cluster refuses it while the group has members)."""
        self.check_writable(f"reset the offsets of group '{group}'")
        partitions = [ClientTopicPartition(tp.topic, tp.partition, offset) for tp, offset in sorted(offsets.items())]
        await self.admin(self._admin.alter_consumer_group_offsets, [ConsumerGroupTopicPartitions(group, partitions)])

    async def delete_group(self, group: str) -> None:
        """DeleteGroups."""
        self.check_writable(f"delete group '{group}'")
        await self.admin(self._admin.delete_consumer_groups, [group])

    # --- the Schema Registry and Connect -----------------------------------------------------

    def schema_registry(self) -> object:
        """A client of the profile's ``schema.registry.url`` (``Unsupported`` without one)."""
        from .schema_registry_client import RemoteSchemaRegistry

        if not self.schema_registry_url:
            return super().schema_registry()
        return RemoteSchemaRegistry(self.schema_registry_url, user_info=self._rest_user_info["schema-registry"],
                                    timeout_s=self.request_timeout_s)

    def connect(self) -> object:
        """A client of the profile's ``connect.url`` (``Unsupported`` without one)."""
        from .connect_client import RemoteConnect

        if not self.connect_url:
            return super().connect()
        return RemoteConnect(self.connect_url, user_info=self._rest_user_info["connect"],
                             timeout_s=self.request_timeout_s)

    # --- the change feed --------------------------------------------------------------------

    async def subscribe(self, *kinds: str) -> ChangeStream:
        """Start polling (every ``poll_interval_s``) if not yet, and subscribe."""
        from .kafka_client_feed import KafkaClientFeed

        if self._feed is None:
            self._feed = KafkaClientFeed(self, self.poll_interval_s)
            await self._feed.start()
        return self._feed.subscribe(*kinds)


# --- turning the client's answers into the interface's types ----------------------------------

def _config_problem(error: BaseException, properties: Mapping[str, str]) -> InvalidConfig:
    """librdkafka's refusal of the properties, with the file a ``*.location`` property names
    (librdkafka's own words, such as OpenSSL's ``BIO lib``, do not say which file or why)."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], ClientError):
        text = error.args[0].str()
    else:
        text = str(error)
    for key, value in properties.items():
        if key.endswith(".location") and key in text:
            missing = "" if os.path.exists(value) else ": no such file"
            text += f" ({key} = {value}{missing})"
    return InvalidConfig(f"Invalid cluster properties: {text}")


def brokers_from(metadata: Any) -> list[BrokerDescription]:
    """``BrokerDescription`` for each broker in a Metadata answer."""
    leaders: dict[int, int] = {}
    for topic in metadata.topics.values():
        for partition in topic.partitions.values():
            if partition.leader >= 0:
                leaders[partition.leader] = leaders.get(partition.leader, 0) + 1
    return [BrokerDescription(b.id, b.host, b.port, None, True, b.id == metadata.controller_id, leaders.get(b.id, 0))
            for b in sorted(metadata.brokers.values(), key=lambda b: b.id)]


def topic_description(topic: Any, topic_id: str, overrides: dict[str, str],
                      marks: Mapping[TopicPartition, Watermarks]) -> TopicDescription:
    """A Metadata topic with its watermarks and overrides, as the core describes a topic."""
    partitions = []
    for number in sorted(topic.partitions):
        found = topic.partitions[number]
        mark = marks.get(TopicPartition(topic.topic, number), Watermarks(0, 0))
        partitions.append(PartitionDescription(number, found.leader, -1, tuple(found.replicas), tuple(found.isrs),
                                               mark.log_start_offset, mark.high_watermark, mark.high_watermark))
    replication = len(partitions[0].replicas) if partitions else 0
    return TopicDescription(topic.topic, topic_id, replication, dict(overrides), tuple(partitions))


#: Where a cluster-wide dynamic broker config comes from (Kafka's ConfigEntry.ConfigSource).
DEFAULT_BROKER_SOURCE = "DYNAMIC_DEFAULT_BROKER_CONFIG"


def alter_operations(set_: Mapping[str, str] | None, delete: Sequence[str]) -> list[ClientConfigEntry]:
    """IncrementalAlterConfigs operations: SET each of ``set_``, DELETE each of ``delete``."""
    operations = [ClientConfigEntry(key, str(value), incremental_operation=AlterConfigOpType.SET)
                  for key, value in (set_ or {}).items()]
    operations += [ClientConfigEntry(key, None, incremental_operation=AlterConfigOpType.DELETE) for key in delete]
    return operations


def config_entry(entry: Any) -> ConfigEntry:
    """A DescribeConfigs entry as the core's ``ConfigEntry`` (source by Kafka's ConfigSource name)."""
    def source_name(value: int) -> str:
        try:
            return ConfigSource(value).name
        except ValueError:
            return "UNKNOWN_CONFIG"

    synonyms = tuple((source_name(s.source), s.name, "null" if s.value is None else s.value)
                     for s in (entry.synonyms or {}).values())
    return ConfigEntry(entry.name, "null" if entry.value is None else entry.value, source_name(entry.source),
                       synonyms)


def group_type(found: Any) -> str:
    """KIP-848's group type as the core names it: "consumer" for the consumer protocol, else "classic"."""
    return CONSUMER_GROUP_TYPE if found == ConsumerGroupType.CONSUMER else CLASSIC_GROUP_TYPE


def group_description(found: Any) -> GroupDescription:
    """A DescribeConsumerGroups (or ConsumerGroupDescribe) answer as the core's ``GroupDescription``
    (the generation or group epoch is not in librdkafka's answer: -1)."""
    def partitions(assignment: Any) -> list[TopicPartition]:
        return sorted(TopicPartition(tp.topic, tp.partition)
                      for tp in (assignment.topic_partitions if assignment else []) or [])

    members = [MemberDescription(m.member_id, m.client_id, m.host, partitions(m.assignment),
                                 instance_id=m.group_instance_id,
                                 target_assignment=partitions(getattr(m, "target_assignment", None)))
               for m in found.members]
    return GroupDescription(found.group_id, GROUP_STATES.get(found.state, "Unknown"),
                            "" if found.is_simple_consumer_group else "consumer", found.partition_assignor or "",
                            -1, "", members, group_type(getattr(found, "type", None)))
