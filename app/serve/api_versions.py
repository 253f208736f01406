"""The Kafka APIs ``kplay serve`` speaks, and the versions it advertises: data, not code.

Each row names an API, the request and response classes kafka-python generates from
Kafka's own JSON schemas, and the version range answered in ApiVersions. The ranges stop
below each API's first *flexible* version (compact strings and tagged fields): the
non-flexible versions are the ones every client here was checked against (kafka-python,
aiokafka, confluent-kafka/librdkafka, kcat; see ``shared/WIRE.md``), and they also stop
below the topic-id versions (Produce/Fetch 13+, OffsetCommit/OffsetFetch 10+) and below
OffsetFetch 8, whose shape changes. The minimums are the oldest versions Kafka's schemas
still describe (Produce 3 is the first to carry magic-2 record batches only).

Widening a range is a one-line change here, plus a golden-bytes test for the new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from kafka.protocol.admin import (AlterConfigsRequest, AlterConfigsResponse, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
                                  CreateTopicsResponse, DeleteGroupsRequest, DeleteGroupsResponse,
                                  DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
                                  IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
                                  ListGroupsRequest, ListGroupsResponse)
from kafka.protocol.consumer import (FetchRequest, FetchResponse, HeartbeatRequest, HeartbeatResponse,
                                     JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
                                     ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest,
                                     OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
                                     SyncGroupRequest, SyncGroupResponse)
from kafka.protocol.metadata import (ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
                                     FindCoordinatorResponse, MetadataRequest, MetadataResponse)
from kafka.protocol.producer import (InitProducerIdRequest, InitProducerIdResponse, ProduceRequest,
                                     ProduceResponse)


class ApiKey(IntEnum):
    """The API keys kplay answers, with Kafka's names and numbers."""

    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    INIT_PRODUCER_ID = 22
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    CREATE_PARTITIONS = 37
    DELETE_GROUPS = 42
    INCREMENTAL_ALTER_CONFIGS = 44


@dataclass(frozen=True)
class ApiSpec:
    """One API: its key, the versions advertised, and kafka-python's generated classes."""

    key: ApiKey
    min_version: int
    max_version: int
    request: Any
    response: Any

    def supports(self, version: int) -> bool:
        """Whether ``version`` of this API is one kplay advertises (and so decodes)."""
        return self.min_version <= version <= self.max_version


SUPPORTED_APIS: dict[int, ApiSpec] = {spec.key: spec for spec in (
    ApiSpec(ApiKey.PRODUCE, 3, 8, ProduceRequest, ProduceResponse),
    ApiSpec(ApiKey.FETCH, 4, 11, FetchRequest, FetchResponse),
    ApiSpec(ApiKey.LIST_OFFSETS, 1, 5, ListOffsetsRequest, ListOffsetsResponse),
    ApiSpec(ApiKey.METADATA, 0, 8, MetadataRequest, MetadataResponse),
    ApiSpec(ApiKey.OFFSET_COMMIT, 2, 7, OffsetCommitRequest, OffsetCommitResponse),
    ApiSpec(ApiKey.OFFSET_FETCH, 1, 5, OffsetFetchRequest, OffsetFetchResponse),
    ApiSpec(ApiKey.FIND_COORDINATOR, 0, 2, FindCoordinatorRequest, FindCoordinatorResponse),
    ApiSpec(ApiKey.JOIN_GROUP, 0, 5, JoinGroupRequest, JoinGroupResponse),
    ApiSpec(ApiKey.HEARTBEAT, 0, 3, HeartbeatRequest, HeartbeatResponse),
    ApiSpec(ApiKey.LEAVE_GROUP, 0, 3, LeaveGroupRequest, LeaveGroupResponse),
    ApiSpec(ApiKey.SYNC_GROUP, 0, 3, SyncGroupRequest, SyncGroupResponse),
    ApiSpec(ApiKey.DESCRIBE_GROUPS, 0, 4, DescribeGroupsRequest, DescribeGroupsResponse),
    ApiSpec(ApiKey.LIST_GROUPS, 0, 2, ListGroupsRequest, ListGroupsResponse),
    ApiSpec(ApiKey.API_VERSIONS, 0, 2, ApiVersionsRequest, ApiVersionsResponse),
    ApiSpec(ApiKey.CREATE_TOPICS, 2, 4, CreateTopicsRequest, CreateTopicsResponse),
    ApiSpec(ApiKey.DELETE_TOPICS, 1, 3, DeleteTopicsRequest, DeleteTopicsResponse),
    ApiSpec(ApiKey.INIT_PRODUCER_ID, 0, 1, InitProducerIdRequest, InitProducerIdResponse),
    ApiSpec(ApiKey.DESCRIBE_CONFIGS, 1, 3, DescribeConfigsRequest, DescribeConfigsResponse),
    ApiSpec(ApiKey.CREATE_PARTITIONS, 0, 1, CreatePartitionsRequest, CreatePartitionsResponse),
    ApiSpec(ApiKey.DELETE_GROUPS, 0, 1, DeleteGroupsRequest, DeleteGroupsResponse),
    ApiSpec(ApiKey.ALTER_CONFIGS, 0, 1, AlterConfigsRequest, AlterConfigsResponse),
    ApiSpec(ApiKey.INCREMENTAL_ALTER_CONFIGS, 0, 0, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse),
)}


def api_name(key: int) -> str:
    """Kafka's name for an API key (``Produce``, ``Fetch``, ...), or ``ApiKey(N)`` for others."""
    try:
        return ApiKey(key).name.title().replace("_", "")
    except ValueError:
        return f"ApiKey({key})"
