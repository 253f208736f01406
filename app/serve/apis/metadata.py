"""ApiVersions, Metadata, DescribeCluster and FindCoordinator: how a client learns the cluster's shape."""

from __future__ import annotations

import re

from typing import Any

from kafka.protocol.admin import DescribeClusterResponse
from kafka.protocol.metadata import ApiVersionsResponse, FindCoordinatorResponse, MetadataResponse

from broker_core.coordinator_records import INTERNAL_TOPICS
from broker_core.errors import KafkaError, LeaderNotAvailable, TopicAlreadyExists, UnknownTopicOrPartition
from broker_core.names import validate_topic_name
from broker_core.topics import TopicDescription

from ..api_versions import SUPPORTED_APIS
from ..topic_ids import wire_topic_id
from .context import RequestContext, WireError

#: DescribeCluster's endpoint types: 1 brokers (what these listeners are), 2 controllers.
BROKER_ENDPOINT_TYPE = 1
#: Kafka's UNSUPPORTED_ENDPOINT_TYPE: controllers asked of a broker's listener.
UNSUPPORTED_ENDPOINT_TYPE = 119
#: FindCoordinator's key type for a group.
GROUP_KEY_TYPE = 0
#: FindCoordinator's key type for a transactional id (kplay has no transaction coordinator yet).
TRANSACTION_KEY_TYPE = 1

#: Kafka's ``ApiVersionsRequest`` check of ClientSoftwareName and ClientSoftwareVersion.
_SOFTWARE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")

Topic = MetadataResponse.MetadataResponseTopic
Partition = Topic.MetadataResponsePartition
Broker = MetadataResponse.MetadataResponseBroker


def api_versions_body(version: int, error: int = WireError.NONE, only: int | None = None) -> ApiVersionsResponse:
    """The ApiVersions answer: every API with the versions kplay advertises (``only``: that API's row)."""
    keys = [ApiVersionsResponse.ApiVersion(api_key=spec.key, min_version=spec.min_version,
                                           max_version=spec.max_version)
            for spec in sorted(SUPPORTED_APIS.values(), key=lambda spec: spec.key)
            if only is None or spec.key == only]
    return ApiVersionsResponse(version=version, error_code=error, api_keys=keys, throttle_time_ms=0)


async def handle_api_versions(ctx: RequestContext, request) -> ApiVersionsResponse:
    """ApiVersions: the table of ``api_versions.SUPPORTED_APIS``.

    From v3 the client names its software; as Kafka, a name or version outside
    ``[a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])?`` gets INVALID_REQUEST and no table.
    """
    if ctx.version >= 3 and not (_SOFTWARE.fullmatch(request.client_software_name or "")
                                 and _SOFTWARE.fullmatch(request.client_software_version or "")):
        return ApiVersionsResponse(version=ctx.version, error_code=WireError.INVALID_REQUEST, api_keys=[],
                                   throttle_time_ms=0)
    return api_versions_body(ctx.version)


async def handle_metadata(ctx: RequestContext, request) -> MetadataResponse:
    """Metadata: live brokers at the addresses the listeners bound, topics, leaders and replicas.

    Asking for a topic that does not exist creates it when the request allows it (and
    ``auto.create.topics.enable``), as a Kafka broker does: with ``num.partitions`` and
    ``default.replication.factor``, answered LEADER_NOT_AVAILABLE until the client asks
    again. Names starting with ``__`` (Kafka's internal topics) are never auto-created.
    """
    server, version = ctx.server, ctx.version
    settings = server.settings
    wanted: list[str] | None
    by_id: list[Any] = []
    if request.topics is None or (version == 0 and not request.topics):
        wanted = None  # every topic
    else:
        # From v12 a topic may be named by id alone.
        for topic in request.topics:
            if topic.name is None:
                name = await server.leadership.topic_name(topic.topic_id)
                if name is None:
                    by_id.append(topic.topic_id)
                else:
                    topic.name = name
        wanted = list(dict.fromkeys(topic.name for topic in request.topics if topic.name is not None))
    allow_create = request.allow_auto_topic_creation if version >= 4 else True
    existing = {t.name: t for t in await _described(ctx, wanted)}
    topics = []
    for name in (sorted(existing) if wanted is None else wanted):
        description = existing.get(name)
        if description is not None:
            topics.append(_topic_metadata(description, server.live_brokers()))
            continue
        code = WireError.NONE
        try:
            validate_topic_name(name)
            if not (allow_create and settings.auto_create_topics_enable) or name.startswith("__"):
                code = UnknownTopicOrPartition.code
            else:
                await ctx.cluster.topics.create_topic(
                    name, settings.num_partitions,
                    min(settings.default_replication_factor, max(1, len(server.live_brokers()))))
                code = LeaderNotAvailable.code
        except TopicAlreadyExists:
            code = LeaderNotAvailable.code  # created meanwhile by someone else: ask again
        except KafkaError as error:  # InvalidTopic for an illegal name, or what creation refused
            code = error.code
        topics.append(Topic(error_code=code, name=name, is_internal=False, partitions=[]))
    topics.extend(Topic(error_code=WireError.UNKNOWN_TOPIC_ID, name=None, topic_id=topic_id, is_internal=False,
                        partitions=[]) for topic_id in by_id)
    brokers = [Broker(node_id=broker_id, host=host, port=port, rack=None)
               for broker_id, (host, port) in sorted(server.advertised_endpoints().items())]
    return MetadataResponse(version=version, throttle_time_ms=0, brokers=brokers,
                            cluster_id=ctx.cluster.cluster_id,
                            controller_id=await ctx.cluster.controller.controller_id(), topics=topics)


async def _described(ctx: RequestContext, wanted: list[str] | None) -> list[TopicDescription]:
    """Every topic (``wanted`` None), else those of ``wanted`` that exist.

    The leadership view's description of the file answers when nothing was committed since
    it was read (Produce, Fetch and ListOffsets need it anyway). Otherwise only what was asked
    is read: a consumer's periodic Metadata names its own topics or none, and describing every
    partition of the file for it cost 50 ms at 10,000 partitions.
    """
    if wanted is not None and not wanted:
        return []
    current = await ctx.server.leadership.described_now()
    if current is not None:  # the leadership view, read since the last commit: exact
        return list(current.values()) if wanted is None else [current[name] for name in wanted if name in current]
    topics = ctx.cluster.topics
    if wanted is None:
        return await topics.describe_topics()
    if not wanted:
        return []
    known = set(await topics.list_topics())
    try:
        return await topics.describe_topics([name for name in wanted if name in known])
    except UnknownTopicOrPartition:  # deleted since it was listed
        asked = set(wanted)
        return [t for t in await topics.describe_topics() if t.name in asked]


async def handle_describe_cluster(ctx: RequestContext, request) -> DescribeClusterResponse:
    """DescribeCluster: the cluster id, a controller id as Metadata gives it, and the running brokers.

    Brokers' listeners serve brokers only (endpoint type 1); asking them for the
    controllers is UNSUPPORTED_ENDPOINT_TYPE, as in Kafka. From v2 stopped brokers are
    listed too, as fenced, when the request asks for fenced brokers.
    """
    if ctx.version >= 1 and request.endpoint_type != BROKER_ENDPOINT_TYPE:
        return DescribeClusterResponse(version=ctx.version, throttle_time_ms=0,
                                       error_code=UNSUPPORTED_ENDPOINT_TYPE,
                                       error_message="The broker listeners serve brokers, not controllers",
                                       cluster_id=ctx.cluster.cluster_id, brokers=[])
    endpoints = ctx.server.advertised_endpoints()
    brokers = [DescribeClusterResponse.DescribeClusterBroker(broker_id=broker_id, host=host, port=port, rack=None,
                                                             is_fenced=False)
               for broker_id, (host, port) in sorted(endpoints.items())]
    if ctx.version >= 2 and request.include_fenced_brokers:
        brokers.extend(DescribeClusterResponse.DescribeClusterBroker(broker_id=broker_id, host=host, port=port,
                                                                     rack=None, is_fenced=True)
                       for broker_id, (host, port) in sorted(ctx.server.stopped_endpoints().items()))
    return DescribeClusterResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE,
                                   error_message=None, endpoint_type=BROKER_ENDPOINT_TYPE,
                                   cluster_id=ctx.cluster.cluster_id,
                                   controller_id=await ctx.cluster.controller.controller_id(), brokers=brokers)


def _topic_metadata(description: TopicDescription, live: set[int]) -> "Topic":
    partitions = []
    for p in description.partitions:
        partitions.append(Partition(
            error_code=WireError.NONE if p.leader >= 0 else WireError.LEADER_NOT_AVAILABLE,
            partition_index=p.partition, leader_id=p.leader, leader_epoch=p.leader_epoch,
            replica_nodes=list(p.replicas), isr_nodes=list(p.isr),
            offline_replicas=[b for b in p.replicas if b not in live]))
    return Topic(error_code=WireError.NONE, name=description.name, topic_id=wire_topic_id(description.topic_id),
                 is_internal=description.name in INTERNAL_TOPICS, partitions=partitions)


async def handle_find_coordinator(ctx: RequestContext, request) -> FindCoordinatorResponse:
    """FindCoordinator: the broker whose listener answers for a group or a transactional id
    (v4+: for each key asked).

    kplay has no share-group coordinator: asking for one fails at once with a non-retriable
    error naming what is missing.
    """
    key_type = request.key_type if ctx.version >= 1 else GROUP_KEY_TYPE
    keys = list(request.coordinator_keys) if ctx.version >= 4 else [request.key]
    found = [_coordinator(ctx, key_type, key) for key in keys]
    if ctx.version >= 4:
        return FindCoordinatorResponse(version=ctx.version, throttle_time_ms=0, coordinators=[
            FindCoordinatorResponse.Coordinator(key=key, node_id=node, host=host, port=port, error_code=code,
                                                error_message=message)
            for key, (code, message, node, host, port) in zip(keys, found)])
    code, message, node, host, port = found[0]
    return FindCoordinatorResponse(version=ctx.version, throttle_time_ms=0, error_code=code, error_message=message,
                                   node_id=node, host=host, port=port)


def _coordinator(ctx: RequestContext, key_type: int, key: str) -> tuple[int, str | None, int, str, int]:
    """(error code, error message, node id, host, port) for one key."""
    if key_type not in (GROUP_KEY_TYPE, TRANSACTION_KEY_TYPE):  # share groups (KIP-932) and anything newer
        return (WireError.INVALID_REQUEST, f"coordinator key type {key_type} is not supported by kplay serve",
                -1, "", -1)
    coordinator = ctx.server.coordinator_for(key)
    endpoint = ctx.server.advertised_endpoints().get(coordinator) if coordinator is not None else None
    if endpoint is None:
        return (WireError.COORDINATOR_NOT_AVAILABLE, "The coordinator is not available: every broker is stopped",
                -1, "", -1)
    return WireError.NONE, None, coordinator, endpoint[0], endpoint[1]
