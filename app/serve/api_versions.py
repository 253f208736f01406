"""The Kafka APIs ``kplay serve`` speaks, and the versions it advertises: data, not code.

Each row names an API, the request and response classes kafka-python generates from
Kafka's own JSON schemas, and the version range answered in ApiVersions: the ranges Kafka
4.0 answers, flexible versions (compact strings, tagged fields, request header v2)
included. Topic ids are the core's (Metadata 10+ carries them; Metadata 12, Fetch 13+ and
DeleteTopics 6 may name a topic by id alone). The topic-id-only versions of Kafka 4.1
(Produce 13, OffsetCommit/OffsetFetch 10) are not answered yet. ListOffsets also answers
v0, which Kafka 4.0 removed (KIP-896) but 3.x accepted and Burrow/sarama still send:
kafka-python's schemas stop at v1, so v0 uses its legacy classes. ListOffsets stops at
v10, as in Kafka 4.0 (v11 asks for tiered-storage uploads, KIP-1023).

Widening a range is a one-line change here, plus a golden-bytes test for the new version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Mapping

from kafka.protocol.admin import (AlterConfigsRequest, AlterConfigsResponse, DescribeTransactionsRequest,
                                  DeleteRecordsRequest, DeleteRecordsResponse, ElectLeadersRequest, ElectLeadersResponse,
                                  DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, CreatePartitionsRequest,
                                  CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteGroupsRequest, DeleteGroupsResponse,
                                  DeleteTopicsRequest, DeleteTopicsResponse, DescribeClusterRequest,
                                  DescribeClusterResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
                                  IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
                                  ListGroupsRequest, ListGroupsResponse)
from kafka.protocol.consumer import (FetchRequest, FetchResponse, HeartbeatRequest, HeartbeatResponse,
                                     JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
                                     ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest,
                                     OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
                                     OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
                                     SyncGroupRequest, SyncGroupResponse)
from kafka.protocol.metadata import (ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
                                     FindCoordinatorResponse, MetadataRequest, MetadataResponse)
from kafka.protocol.old.list_offsets import ListOffsetsRequest_v0, ListOffsetsResponse_v0
from kafka.protocol.producer import (AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
                                     AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
                                     InitProducerIdResponse, ProduceRequest, ProduceResponse, TxnOffsetCommitRequest,
                                     TxnOffsetCommitResponse)
from kafka.protocol.sasl import (SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
                                 SaslHandshakeResponse)

from .consumer_group_messages import (ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
                                      ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse)


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
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    OFFSET_FOR_LEADER_EPOCH = 23
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    TXN_OFFSET_COMMIT = 28
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    SASL_AUTHENTICATE = 36
    CREATE_PARTITIONS = 37
    DELETE_GROUPS = 42
    ELECT_LEADERS = 43
    INCREMENTAL_ALTER_CONFIGS = 44
    DESCRIBE_CLUSTER = 60
    DESCRIBE_TRANSACTIONS = 65
    LIST_TRANSACTIONS = 66
    CONSUMER_GROUP_HEARTBEAT = 68
    CONSUMER_GROUP_DESCRIBE = 69


@dataclass(frozen=True)
class ApiSpec:
    """One API: its key, the versions advertised, and kafka-python's generated classes."""

    key: ApiKey
    min_version: int
    max_version: int
    request: Any
    response: Any
    #: Versions kafka-python's generated classes do not describe: version -> (request, response)
    #: classes from its legacy module or kplay's own (their ``decode`` takes no version).
    hand_coded: Mapping[int, tuple[Any, Any]] = field(default_factory=dict)

    def supports(self, version: int) -> bool:
        """Whether ``version`` of this API is one kplay advertises (and so decodes)."""
        return self.min_version <= version <= self.max_version

    def flexible(self, version: int) -> bool:
        """Whether ``version`` is flexible (request header v2, compact fields, tagged fields)."""
        return version not in self.hand_coded and self.request.flexible_version_q(version)


SUPPORTED_APIS: dict[int, ApiSpec] = {spec.key: spec for spec in (
    ApiSpec(ApiKey.PRODUCE, 3, 12, ProduceRequest, ProduceResponse),
    ApiSpec(ApiKey.FETCH, 4, 17, FetchRequest, FetchResponse),
    ApiSpec(ApiKey.LIST_OFFSETS, 0, 10, ListOffsetsRequest, ListOffsetsResponse,
            hand_coded={0: (ListOffsetsRequest_v0, ListOffsetsResponse_v0)}),
    ApiSpec(ApiKey.METADATA, 0, 13, MetadataRequest, MetadataResponse),
    ApiSpec(ApiKey.OFFSET_COMMIT, 2, 9, OffsetCommitRequest, OffsetCommitResponse),
    ApiSpec(ApiKey.OFFSET_FETCH, 1, 9, OffsetFetchRequest, OffsetFetchResponse),
    ApiSpec(ApiKey.FIND_COORDINATOR, 0, 6, FindCoordinatorRequest, FindCoordinatorResponse),
    ApiSpec(ApiKey.JOIN_GROUP, 0, 9, JoinGroupRequest, JoinGroupResponse),
    ApiSpec(ApiKey.HEARTBEAT, 0, 4, HeartbeatRequest, HeartbeatResponse),
    ApiSpec(ApiKey.LEAVE_GROUP, 0, 5, LeaveGroupRequest, LeaveGroupResponse),
    ApiSpec(ApiKey.SYNC_GROUP, 0, 5, SyncGroupRequest, SyncGroupResponse),
    ApiSpec(ApiKey.DESCRIBE_GROUPS, 0, 6, DescribeGroupsRequest, DescribeGroupsResponse),
    ApiSpec(ApiKey.LIST_GROUPS, 0, 5, ListGroupsRequest, ListGroupsResponse),
    ApiSpec(ApiKey.SASL_HANDSHAKE, 0, 1, SaslHandshakeRequest, SaslHandshakeResponse),
    ApiSpec(ApiKey.API_VERSIONS, 0, 4, ApiVersionsRequest, ApiVersionsResponse),
    ApiSpec(ApiKey.CREATE_TOPICS, 2, 7, CreateTopicsRequest, CreateTopicsResponse),
    ApiSpec(ApiKey.DELETE_TOPICS, 1, 6, DeleteTopicsRequest, DeleteTopicsResponse),
    ApiSpec(ApiKey.DELETE_RECORDS, 0, 2, DeleteRecordsRequest, DeleteRecordsResponse),
    ApiSpec(ApiKey.INIT_PRODUCER_ID, 0, 5, InitProducerIdRequest, InitProducerIdResponse),
    ApiSpec(ApiKey.OFFSET_FOR_LEADER_EPOCH, 2, 4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse),
    ApiSpec(ApiKey.ADD_PARTITIONS_TO_TXN, 0, 5, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse),
    ApiSpec(ApiKey.ADD_OFFSETS_TO_TXN, 0, 4, AddOffsetsToTxnRequest, AddOffsetsToTxnResponse),
    ApiSpec(ApiKey.END_TXN, 0, 5, EndTxnRequest, EndTxnResponse),
    ApiSpec(ApiKey.TXN_OFFSET_COMMIT, 0, 5, TxnOffsetCommitRequest, TxnOffsetCommitResponse),
    ApiSpec(ApiKey.DESCRIBE_CONFIGS, 1, 4, DescribeConfigsRequest, DescribeConfigsResponse),
    ApiSpec(ApiKey.SASL_AUTHENTICATE, 0, 2, SaslAuthenticateRequest, SaslAuthenticateResponse),
    ApiSpec(ApiKey.CREATE_PARTITIONS, 0, 3, CreatePartitionsRequest, CreatePartitionsResponse),
    ApiSpec(ApiKey.DELETE_GROUPS, 0, 2, DeleteGroupsRequest, DeleteGroupsResponse),
    ApiSpec(ApiKey.ELECT_LEADERS, 0, 2, ElectLeadersRequest, ElectLeadersResponse),
    ApiSpec(ApiKey.ALTER_CONFIGS, 0, 2, AlterConfigsRequest, AlterConfigsResponse),
    ApiSpec(ApiKey.INCREMENTAL_ALTER_CONFIGS, 0, 1, IncrementalAlterConfigsRequest,
            IncrementalAlterConfigsResponse),
    ApiSpec(ApiKey.DESCRIBE_CLUSTER, 0, 2, DescribeClusterRequest, DescribeClusterResponse),
    ApiSpec(ApiKey.DESCRIBE_TRANSACTIONS, 0, 0, DescribeTransactionsRequest, DescribeTransactionsResponse),
    ApiSpec(ApiKey.LIST_TRANSACTIONS, 0, 1, ListTransactionsRequest, ListTransactionsResponse),
    # KIP-848's consumer group protocol, from Kafka's JSON definitions (consumer_group_messages.py).
    ApiSpec(ApiKey.CONSUMER_GROUP_HEARTBEAT, 0, 1, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse),
    ApiSpec(ApiKey.CONSUMER_GROUP_DESCRIBE, 0, 0, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse),
)}


def api_name(key: int) -> str:
    """Kafka's name for an API key (``Produce``, ``Fetch``, ...), or ``ApiKey(N)`` for others."""
    try:
        return ApiKey(key).name.title().replace("_", "")
    except ValueError:
        return f"ApiKey({key})"
