"""The admin APIs: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs and
IncrementalAlterConfigs.

Each topic in a request succeeds or fails on its own, with the core's error and words.
kplay places replicas itself, so a request that names replica assignments is refused.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kafka.protocol.admin import (AlterConfigsResponse, CreatePartitionsResponse, CreateTopicsResponse,
                                  DeleteRecordsResponse, DeleteTopicsResponse, DescribeConfigsResponse, ElectLeadersResponse,
                                  IncrementalAlterConfigsResponse)

from broker_core.config import TOPIC_CONFIGS, apply_config_operations, describe_topic_config
from broker_core.delete_records import delete_records
from broker_core.errors import InvalidRequest, KafkaError, TopicAlreadyExists, UnknownTopicOrPartition
from broker_core.records import TopicPartition
from broker_core.topics import validate_new_topic, validate_partition_increase

from ..topic_ids import wire_topic_id
from .context import RequestContext, WireError, error_code, error_message

#: CreateTopics' "use the broker's default" for partitions and replication factor.
BROKER_DEFAULT = -1
#: DescribeConfigs resource types (``ConfigResource.Type``).
TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4
#: ``DescribeConfigsResponse.ConfigSource``.
DYNAMIC_TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
CONFIG_SOURCES = {"DYNAMIC_TOPIC_CONFIG": DYNAMIC_TOPIC_CONFIG, "DEFAULT_CONFIG": DEFAULT_CONFIG}
#: ``ConfigDef.Type`` as DescribeConfigs v3 reports it.
CONFIG_TYPES = {"bool": 1, "string": 2, "int": 3, "long": 5, "double": 6, "list": 7}

CreatedConfig = CreateTopicsResponse.CreatableTopicResult.CreatableTopicConfigs
Result = DescribeConfigsResponse.DescribeConfigsResult
Entry = Result.DescribeConfigsResourceResult
Synonym = Entry.DescribeConfigsSynonym


def _manual_assignment() -> InvalidRequest:
    return InvalidRequest("kplay places replicas itself: replica assignments in the request are not supported")


async def handle_create_topics(ctx: RequestContext, request) -> CreateTopicsResponse:
    """CreateTopics: each topic with its partitions, replication factor and configs (or the broker's defaults)."""
    settings = ctx.server.settings
    results = []
    for topic in request.topics:
        code, message = WireError.NONE, None
        partitions = replication = BROKER_DEFAULT
        configs = None
        topic_id = None
        try:
            if topic.assignments:
                raise _manual_assignment()
            partitions = settings.num_partitions if topic.num_partitions == BROKER_DEFAULT else topic.num_partitions
            replication = (settings.default_replication_factor if topic.replication_factor == BROKER_DEFAULT
                           else topic.replication_factor)
            config = {entry.name: entry.value for entry in topic.configs or ()}
            if request.validate_only:
                live = await ctx.cluster.topics.live_brokers()
                config = validate_new_topic(topic.name, partitions, replication, len(live), config)
                if topic.name in await ctx.cluster.topics.list_topics():
                    raise TopicAlreadyExists(f"Topic '{topic.name}' already exists.")
            else:
                await ctx.cluster.topics.create_topic(topic.name, partitions, replication, config)
                created = await ctx.cluster.topics.describe_topic(topic.name)
                config, topic_id = created.config, wire_topic_id(created.topic_id)
            if ctx.version >= 5:
                # v5+ (KIP-525): the created topic's partitions, replication factor and configs.
                configs = [CreatedConfig(name=entry.name, value=entry.value, read_only=entry.read_only,
                                         config_source=entry.config_source, is_sensitive=entry.is_sensitive)
                           for entry in _config_entries(config, synonyms=False)]
        except KafkaError as error:
            code, message = error_code(error), error_message(error)
            partitions = replication = BROKER_DEFAULT
        results.append(CreateTopicsResponse.CreatableTopicResult(
            name=topic.name, error_code=code, error_message=message, num_partitions=partitions,
            replication_factor=replication, configs=configs, topic_id=topic_id))
    return CreateTopicsResponse(version=ctx.version, throttle_time_ms=0, topics=results)


async def handle_delete_topics(ctx: RequestContext, request) -> DeleteTopicsResponse:
    """DeleteTopics: each topic with its records and the groups' offsets for it."""
    results = []
    # v6 names each topic by name or by id.
    asked = ([(topic.name, topic.topic_id) for topic in request.topics] if ctx.version >= 6
             else [(name, None) for name in request.topic_names])
    for name, topic_id in asked:
        code, message = WireError.NONE, None
        try:
            if name is None:
                name = await ctx.server.leadership.topic_name(topic_id)
            if name is None:
                code, message = WireError.UNKNOWN_TOPIC_ID, f"No topic has the id {topic_id}"
            else:
                description = await ctx.server.leadership.topic(name)
                if topic_id is not None and description is not None:
                    topic_id = wire_topic_id(description.topic_id)
                await ctx.cluster.topics.delete_topic(name)
        except KafkaError as error:
            code, message = error_code(error), error_message(error)
        result = DeleteTopicsResponse.DeletableTopicResult(name=name, error_code=code, error_message=message)
        if topic_id is not None:
            result.topic_id = topic_id
        results.append(result)
    return DeleteTopicsResponse(version=ctx.version, throttle_time_ms=0, responses=results)


async def handle_create_partitions(ctx: RequestContext, request) -> CreatePartitionsResponse:
    """CreatePartitions: grow topics to a new partition count (never shrink)."""
    results = []
    for topic in request.topics:
        code, message = WireError.NONE, None
        try:
            if topic.assignments:
                raise _manual_assignment()
            if request.validate_only:
                current = (await ctx.cluster.topics.describe_topic(topic.name)).partition_count
                validate_partition_increase(current, topic.count)
            else:
                await ctx.cluster.topics.create_partitions(topic.name, topic.count)
        except KafkaError as error:
            code, message = error_code(error), error_message(error)
        results.append(CreatePartitionsResponse.CreatePartitionsTopicResult(name=topic.name, error_code=code,
                                                                            error_message=message))
    return CreatePartitionsResponse(version=ctx.version, throttle_time_ms=0, results=results)


async def handle_delete_records(ctx: RequestContext, request) -> DeleteRecordsResponse:
    """DeleteRecords: move each partition's log start forward (the core's all-or-nothing per topic)."""
    topics = []
    for topic in request.topics:
        offsets = {partition.partition_index: partition.offset for partition in topic.partitions}
        try:
            starts: dict[int, int] = await delete_records(ctx.cluster.storage, ctx.cluster.clock, topic.name, offsets)
            code, low = WireError.NONE, None
        except KafkaError as error:
            starts, code, low = {}, error_code(error), -1
        topics.append(DeleteRecordsResponse.DeleteRecordsTopicResult(name=topic.name, partitions=[
            DeleteRecordsResponse.DeleteRecordsTopicResult.DeleteRecordsPartitionResult(
                partition_index=index, low_watermark=starts[index] if low is None else low, error_code=code)
            for index in offsets]))
    return DeleteRecordsResponse(version=ctx.version, throttle_time_ms=0, topics=topics)


async def handle_elect_leaders(ctx: RequestContext, request) -> ElectLeadersResponse:
    """ElectLeaders: preferred (v0's only kind) or unclean elections, an outcome per partition."""
    kind = "unclean" if ctx.version >= 1 and request.election_type == 1 else "preferred"
    partitions = None if request.topic_partitions is None else [
        TopicPartition(topic.topic, partition) for topic in request.topic_partitions for partition in topic.partitions]
    outcomes = await ctx.cluster.controller.elect_leaders(kind, partitions)
    by_topic: dict[str, list] = {}
    for tp, error in sorted(outcomes.items(), key=lambda item: (item[0].topic, item[0].partition)):
        by_topic.setdefault(tp.topic, []).append(ElectLeadersResponse.ReplicaElectionResult.PartitionResult(
            partition_id=tp.partition, error_code=WireError.NONE if error is None else error_code(error),
            error_message=None if error is None else error_message(error)))
    return ElectLeadersResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                                replica_election_results=[
                                    ElectLeadersResponse.ReplicaElectionResult(topic=topic, partition_result=results)
                                    for topic, results in by_topic.items()])


async def handle_describe_configs(ctx: RequestContext, request) -> DescribeConfigsResponse:
    """DescribeConfigs: a topic's configuration (overrides and defaults), or a broker's."""
    results = []
    overrides = await _topic_overrides(ctx, [resource.resource_name for resource in request.resources
                                             if resource.resource_type == TOPIC_RESOURCE])
    for resource in request.resources:
        keys = set(resource.configuration_keys) if resource.configuration_keys is not None else None
        try:
            if resource.resource_type == TOPIC_RESOURCE:
                if resource.resource_name not in overrides:
                    raise UnknownTopicOrPartition(f"Topic '{resource.resource_name}' does not exist")
                entries = _config_entries(overrides[resource.resource_name], request.include_synonyms)
            elif resource.resource_type == BROKER_RESOURCE:
                entries = _broker_entries(ctx, resource.resource_name)
            else:
                raise InvalidRequest(f"kplay describes the configs of topics and brokers, not of resource type "
                                     f"{resource.resource_type}")
        except KafkaError as error:
            results.append(Result(error_code=error_code(error), error_message=error_message(error),
                                  resource_type=resource.resource_type, resource_name=resource.resource_name,
                                  configs=[]))
            continue
        results.append(Result(error_code=WireError.NONE, error_message=None, resource_type=resource.resource_type,
                              resource_name=resource.resource_name,
                              configs=[entry for entry in entries if keys is None or entry.name in keys]))
    return DescribeConfigsResponse(version=ctx.version, throttle_time_ms=0, results=results)


async def _topic_overrides(ctx: RequestContext, names: list[str]) -> dict[str, dict[str, Any]]:
    """The config overrides of the named topics that exist, read in one pass: a client describing every
    topic of a big cluster asks for all of them in one request (1,000 topics: 22 s one by one, each
    description reading every partition; well under a second together)."""
    if not names:
        return {}
    existing = set(await ctx.cluster.topics.list_topics())
    wanted = [name for name in dict.fromkeys(names) if name in existing]
    if not wanted:
        return {}
    try:
        described = await ctx.cluster.topics.describe_topics(wanted)
    except UnknownTopicOrPartition:  # deleted between the two reads: describe the survivors one by one
        described = []
        for name in wanted:
            with contextlib.suppress(UnknownTopicOrPartition):
                described.append(await ctx.cluster.topics.describe_topic(name))
    return {description.name: description.config for description in described}


def _config_entries(overrides: dict[str, Any], synonyms: bool) -> list:
    """A topic's configuration entries: its overrides, and the defaults for the rest."""
    entries = []
    for entry in describe_topic_config(overrides):
        spec = TOPIC_CONFIGS[entry.name]
        listed = [Synonym(name=synonym, value=value, source=CONFIG_SOURCES[source])
                  for source, synonym, value in entry.synonyms] if synonyms else []
        entries.append(Entry(name=entry.name, value=entry.value, read_only=False,
                             config_source=CONFIG_SOURCES[entry.source], is_sensitive=False, synonyms=listed,
                             config_type=CONFIG_TYPES.get(spec.kind, 0), documentation=spec.doc))
    return entries


async def handle_alter_configs(ctx: RequestContext, request) -> AlterConfigsResponse:
    """AlterConfigs (the legacy API): each topic's config becomes exactly the configs given."""
    results = []
    for resource in request.resources:
        code, message = WireError.NONE, None
        try:
            _only_topics(resource.resource_type)
            config = {entry.name: entry.value for entry in resource.configs or ()}
            await ctx.cluster.topics.replace_config(resource.resource_name, config, request.validate_only)
        except KafkaError as error:
            code, message = error_code(error), error_message(error)
        results.append(AlterConfigsResponse.AlterConfigsResourceResponse(
            error_code=code, error_message=message, resource_type=resource.resource_type,
            resource_name=resource.resource_name))
    return AlterConfigsResponse(version=ctx.version, throttle_time_ms=0, responses=results)


async def handle_incremental_alter_configs(ctx: RequestContext, request) -> IncrementalAlterConfigsResponse:
    """IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT on a topic's configs, all or nothing."""
    results = []
    for resource in request.resources:
        code, message = WireError.NONE, None
        try:
            _only_topics(resource.resource_type)
            current = (await ctx.cluster.topics.describe_topic(resource.resource_name)).config
            operations = [(entry.name, entry.config_operation, entry.value) for entry in resource.configs or ()]
            await ctx.cluster.topics.replace_config(resource.resource_name,
                                                    apply_config_operations(current, operations),
                                                    request.validate_only)
        except KafkaError as error:
            code, message = error_code(error), error_message(error)
        results.append(IncrementalAlterConfigsResponse.AlterConfigsResourceResponse(
            error_code=code, error_message=message, resource_type=resource.resource_type,
            resource_name=resource.resource_name))
    return IncrementalAlterConfigsResponse(version=ctx.version, throttle_time_ms=0, responses=results)


def _only_topics(resource_type: int) -> None:
    if resource_type != TOPIC_RESOURCE:
        raise InvalidRequest("kplay's broker configs are fixed: only topic configs can be altered")


def _broker_entries(ctx: RequestContext, resource_name: str) -> list:
    if resource_name == "":  # the cluster-wide default entity: kplay serve sets no dynamic defaults
        return []
    try:
        broker_id = int(resource_name)
    except ValueError:
        raise InvalidRequest(f"Broker id must be an integer, not '{resource_name}'") from None
    if broker_id not in ctx.server.broker_ids:
        raise InvalidRequest(f"Broker {broker_id} is not part of this cluster")
    entries = []
    for key, value, kind, doc, changed in ctx.server.broker_config(broker_id):
        entries.append(Entry(name=key, value=_text(value), read_only=True,
                             config_source=STATIC_BROKER_CONFIG if changed else DEFAULT_CONFIG,
                             is_sensitive=False, synonyms=[], config_type=CONFIG_TYPES.get(kind, 0),
                             documentation=doc))
    return entries


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

