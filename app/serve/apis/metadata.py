"""ApiVersions, Metadata and FindCoordinator: how a client learns the cluster's shape."""

from __future__ import annotations

from kafka.protocol.metadata import ApiVersionsResponse, FindCoordinatorResponse, MetadataResponse

from broker_core.errors import KafkaError, LeaderNotAvailable, TopicAlreadyExists, UnknownTopicOrPartition
from broker_core.names import validate_topic_name
from broker_core.topics import TopicDescription

from ..api_versions import SUPPORTED_APIS
from .context import RequestContext, WireError

#: FindCoordinator's key type for a group (1 would be a transactional id).
GROUP_KEY_TYPE = 0
#: Kafka's ``offsets.topic.num.partitions``: a group's coordinator is the leader of one of
#: these partitions of ``__consumer_offsets``, chosen by the group id's hash.
OFFSETS_TOPIC_PARTITIONS = 50

Topic = MetadataResponse.MetadataResponseTopic
Partition = Topic.MetadataResponsePartition
Broker = MetadataResponse.MetadataResponseBroker


def api_versions_body(version: int, error: int = WireError.NONE) -> ApiVersionsResponse:
    """The ApiVersions answer: every API with the versions kplay advertises."""
    keys = [ApiVersionsResponse.ApiVersion(api_key=spec.key, min_version=spec.min_version,
                                           max_version=spec.max_version)
            for spec in sorted(SUPPORTED_APIS.values(), key=lambda spec: spec.key)]
    return ApiVersionsResponse(version=version, error_code=error, api_keys=keys, throttle_time_ms=0)


async def handle_api_versions(ctx: RequestContext, request: object) -> ApiVersionsResponse:
    """ApiVersions: the table of ``api_versions.SUPPORTED_APIS``."""
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
    if request.topics is None or (version == 0 and not request.topics):
        wanted = None  # every topic
    else:
        wanted = list(dict.fromkeys(topic.name for topic in request.topics))
    allow_create = request.allow_auto_topic_creation if version >= 4 else True
    existing = {t.name: t for t in await ctx.cluster.topics.describe_topics()}
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
    brokers = [Broker(node_id=broker_id, host=host, port=port, rack=None)
               for broker_id, (host, port) in sorted(server.advertised_endpoints().items())]
    return MetadataResponse(version=version, throttle_time_ms=0, brokers=brokers,
                            cluster_id=ctx.cluster.cluster_id,
                            controller_id=await ctx.cluster.controller.controller_id(), topics=topics)


def _topic_metadata(description: TopicDescription, live: set[int]) -> "Topic":
    partitions = []
    for p in description.partitions:
        partitions.append(Partition(
            error_code=WireError.NONE if p.leader >= 0 else WireError.LEADER_NOT_AVAILABLE,
            partition_index=p.partition, leader_id=p.leader, leader_epoch=p.leader_epoch,
            replica_nodes=list(p.replicas), isr_nodes=list(p.isr),
            offline_replicas=[b for b in p.replicas if b not in live]))
    return Topic(error_code=WireError.NONE, name=description.name, is_internal=False, partitions=partitions)


async def handle_find_coordinator(ctx: RequestContext, request) -> FindCoordinatorResponse:
    """FindCoordinator: the broker whose listener answers for a group.

    Transactions are not part of kplay, so a transaction coordinator is never available.
    """
    key_type = request.key_type if ctx.version >= 1 else GROUP_KEY_TYPE
    if key_type != GROUP_KEY_TYPE:
        return FindCoordinatorResponse(
            version=ctx.version, error_code=WireError.COORDINATOR_NOT_AVAILABLE,
            error_message="kplay does not implement transactions: there is no transaction coordinator",
            node_id=-1, host="", port=-1)
    coordinator = ctx.server.coordinator_for(request.key)
    endpoint = ctx.server.advertised_endpoints().get(coordinator) if coordinator is not None else None
    if endpoint is None:
        return FindCoordinatorResponse(
            version=ctx.version, error_code=WireError.COORDINATOR_NOT_AVAILABLE,
            error_message="The coordinator is not available: every broker is stopped", node_id=-1, host="", port=-1)
    return FindCoordinatorResponse(version=ctx.version, error_code=WireError.NONE, error_message=None,
                                   node_id=coordinator, host=endpoint[0], port=endpoint[1])


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), which places a group in Kafka."""
    value = 0
    encoded = text.encode("utf-16-be")
    for index in range(0, len(encoded), 2):
        value = (31 * value + int.from_bytes(encoded[index:index + 2], "big")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def offsets_partition_for(group_id: str) -> int:
    """The ``__consumer_offsets`` partition of a group: ``Utils.abs(groupId.hashCode) % 50``."""
    hashed = java_string_hash(group_id)
    return (hashed & 0x7FFFFFFF) % OFFSETS_TOPIC_PARTITIONS

