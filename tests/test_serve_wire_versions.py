"""The API versions ``kplay serve`` answers: flexible versions byte for byte, every advertised
version of every API, and old versions Kafka 3.x still took.

Golden bytes pin the framing of a flexible version (request header v2, compact fields,
tagged fields; ApiVersions' response header staying v0) next to a non-flexible one. Real
clients (kafka-python, confluent-kafka, aiokafka, kcat) must talk ApiVersions v3+ without
falling back (transactional producers: test_serve_transactions.py; KIP-848 consumers:
test_serve_kip848.py).
"""

from __future__ import annotations

import struct
import subprocess
import time
from typing import Any

import pytest
from kafka.protocol.consumer import (ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest,
                                     OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse)
from kafka.protocol.old.list_offsets import ListOffsetsRequest_v0, ListOffsetsResponse_v0

from app.serve.api_versions import SUPPORTED_APIS, ApiKey
from app.serve.apis import HANDLERS
from test_serve_support import (AiokafkaKit, ConfluentKit, KafkaPythonKit, Sent, ServedCluster, kcat_path,
                                exchange, served)  # noqa: F401 (a fixture)

CLIENT_ID = "raw-test"


def compact(text: str) -> bytes:
    """A compact string: unsigned varint length + 1, then UTF-8 (lengths here stay below 127)."""
    data = text.encode()
    assert len(data) < 127
    return bytes([len(data) + 1]) + data


def header_v1(key: int, version: int, correlation: int) -> bytes:
    return struct.pack(">hhih", key, version, correlation, len(CLIENT_ID)) + CLIENT_ID.encode()


# -- golden bytes --------------------------------------------------------------------------------

def test_api_versions_v3_golden_bytes(served: ServedCluster) -> None:
    # Request header v2 (v1 + an empty tag buffer), then ClientSoftwareName/Version and no tags.
    request = header_v1(18, 3, 77) + b"\x00" + compact("kplay-test") + compact("1.0.0") + b"\x00"
    frame = exchange(served, request)
    rows = sorted(SUPPORTED_APIS.values(), key=lambda spec: spec.key)
    # The response header stays v0 (no tag buffer) for ApiVersions, as in Kafka: a client
    # must read it before it knows which versions the broker has.
    expected = (struct.pack(">ih", 77, 0) + bytes([len(rows) + 1])
                + b"".join(struct.pack(">hhh", spec.key, spec.min_version, spec.max_version) + b"\x00"
                           for spec in rows)
                + struct.pack(">i", 0) + b"\x00")
    assert frame == expected
    advertised = {spec.key: (spec.min_version, spec.max_version) for spec in rows}
    assert advertised[ApiKey.API_VERSIONS] == (0, 4)


def test_api_versions_v3_refuses_a_malformed_software_name(served: ServedCluster) -> None:
    request = header_v1(18, 3, 78) + b"\x00" + compact("bad name!") + compact("1.0") + b"\x00"
    frame = exchange(served, request)
    # INVALID_REQUEST (42) and an empty table, as Kafka's ApiVersionsRequest.isValid() decides.
    assert frame == struct.pack(">ih", 78, 42) + b"\x01" + struct.pack(">i", 0) + b"\x00"


def find_coordinator_golden(served: ServedCluster, group: str) -> tuple[int, str, int]:
    assert served.server is not None
    node = served.server.coordinator_for(group)
    assert node is not None
    host, port = served.endpoint(node)
    return node, host, port


def test_find_coordinator_v2_and_v3_golden_bytes(served: ServedCluster) -> None:
    node, host, port = find_coordinator_golden(served, "golden-group")
    # v2, not flexible: header v1; key as int16-length string, key type int8.
    request = header_v1(10, 2, 5) + struct.pack(">h", 12) + b"golden-group" + b"\x00"
    frame = exchange(served, request, node)
    assert frame == (struct.pack(">iihh", 5, 0, 0, -1) + struct.pack(">ih", node, len(host)) + host.encode()
                     + struct.pack(">i", port))
    # v3, flexible: request header v2 and compact strings; response header v1 (a tag buffer).
    request = header_v1(10, 3, 6) + b"\x00" + compact("golden-group") + b"\x00" + b"\x00"
    frame = exchange(served, request, node)
    assert frame == (struct.pack(">i", 6) + b"\x00" + struct.pack(">ih", 0, 0) + b"\x00"
                     + struct.pack(">i", node) + compact(host) + struct.pack(">i", port) + b"\x00")


# -- every advertised version -------------------------------------------------------------------

def _every_version() -> list[tuple[int, int]]:
    return [(spec.key, version) for spec in SUPPORTED_APIS.values()
            for version in range(spec.min_version, spec.max_version + 1)
            if version not in spec.hand_coded and spec.key != ApiKey.JOIN_GROUP]


@pytest.mark.parametrize("key,version", _every_version(),
                         ids=[f"{ApiKey(k).name}-v{v}" for k, v in _every_version()])
def test_every_advertised_version_is_answered_in_that_version(served: ServedCluster, key: int, version: int) -> None:
    spec = SUPPORTED_APIS[key]
    fields: dict[str, Any] = {ApiKey.PRODUCE: {"acks": 1},
                              ApiKey.API_VERSIONS: {"client_software_name": "kplay-test",
                                                    "client_software_version": "1"}}.get(key, {})
    request = spec.request(version=version, **fields)
    request.with_header(correlation_id=900 + version, client_id=CLIENT_ID)
    frame = exchange(served, request.encode(header=True, framed=False))
    response = spec.response.decode(frame, version=version, header=True)
    assert response.header.correlation_id == 900 + version
    # Nothing left over: the whole frame was this version's response.
    assert response.encode(header=True) == frame


# -- old versions -------------------------------------------------------------------------------

def test_list_offsets_v0_answers_as_kafka_3_did(served: ServedCluster) -> None:
    served.create_topic("legacy-offsets")
    KafkaPythonKit("kafka-python", served.bootstrap).produce("legacy-offsets", [Sent(b"k", b"v")] * 3)

    def ask(timestamp: int, max_offsets: int) -> list[int]:
        request = ListOffsetsRequest_v0(replica_id=-1, topics=[("legacy-offsets", [(0, timestamp, max_offsets)])])
        request.with_header(correlation_id=3, client_id=CLIENT_ID)
        frame = exchange(served, request.encode(header=True), served.leader("legacy-offsets", 0))
        response = ListOffsetsResponse_v0.decode(frame, header=True)
        ((name, ((partition, error, offsets),)),) = response.topics
        assert (name, partition, error) == ("legacy-offsets", 0, 0)
        return list(offsets)

    assert ask(-1, 1) == [3]          # latest: what Burrow and sarama ask
    assert ask(-2, 1) == [0]          # earliest
    assert ask(-1, 10) == [3, 0]      # newest first
    assert ask(0, 10) == []           # every record is newer than 1970


def test_offset_fetch_v8_answers_several_groups(served: ServedCluster) -> None:
    served.create_topic("fetch-v8", partitions=2)
    assert served.server is not None
    groups = ("v8-a", "v8-b")
    for group, offset in zip(groups, (5, 7)):
        part = OffsetCommitRequest.OffsetCommitRequestTopic.OffsetCommitRequestPartition(
            partition_index=0, committed_offset=offset, committed_metadata="")
        commit = OffsetCommitRequest(version=9, group_id=group, generation_id_or_member_epoch=-1, member_id="",
                                     topics=[OffsetCommitRequest.OffsetCommitRequestTopic(name="fetch-v8",
                                                                                         partitions=[part])])
        commit.with_header(correlation_id=1, client_id=CLIENT_ID)
        frame = exchange(served, commit.encode(header=True), served.server.coordinator_for(group))
        committed = OffsetCommitResponse.decode(frame, version=9, header=True)
        assert committed.topics[0].partitions[0].error_code == 0
    # Both groups in one request: it goes to one broker, so only its groups are answered,
    # the other gets NOT_COORDINATOR, each with its own error, as in Kafka.
    asked = OffsetFetchRequest.OffsetFetchRequestGroup
    request = OffsetFetchRequest(version=8, require_stable=False, groups=[
        asked(group_id="v8-a", topics=[asked.OffsetFetchRequestTopics(name="fetch-v8", partition_indexes=[0, 1])]),
        asked(group_id="v8-b", topics=None)])
    request.with_header(correlation_id=2, client_id=CLIENT_ID)
    frame = exchange(served, request.encode(header=True), served.server.coordinator_for("v8-a"))
    response = OffsetFetchResponse.decode(frame, version=8, header=True)
    by_group = {group.group_id: group for group in response.groups}
    a = by_group["v8-a"]
    assert a.error_code == 0
    assert [(p.partition_index, p.committed_offset) for p in a.topics[0].partitions] == [(0, 5), (1, -1)]
    b = by_group["v8-b"]
    if served.server.coordinator_for("v8-b") == served.server.coordinator_for("v8-a"):
        assert b.error_code == 0 and [(t.name, [p.committed_offset for p in t.partitions]) for t in b.topics] == [
            ("fetch-v8", [7])]
    else:
        assert b.error_code == 16  # NOT_COORDINATOR


# -- real clients -------------------------------------------------------------------------------

@pytest.fixture
def api_versions_asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(version, error code) of every ApiVersions request answered from here on."""
    asked: list[tuple[int, int]] = []
    original = HANDLERS[ApiKey.API_VERSIONS]

    async def recording(ctx: Any, request: Any) -> Any:
        response = await original(ctx, request)
        asked.append((ctx.version, response.error_code))
        return response

    monkeypatch.setitem(HANDLERS, ApiKey.API_VERSIONS, recording)
    return asked


# aiokafka 0.14's newest ApiVersions is v0: it is here to show that the old version still works.
@pytest.mark.parametrize("kit_class,newest", [(KafkaPythonKit, 3), (ConfluentKit, 3), (AiokafkaKit, 0)],
                         ids=["kafka-python", "confluent-kafka", "aiokafka"])
def test_clients_speak_their_newest_api_versions_without_falling_back(
        served: ServedCluster, api_versions_asked: list[tuple[int, int]], kit_class: type, newest: int) -> None:
    topic = f"flexible-{kit_class.__name__.lower()}"
    served.create_topic(topic)
    kit = kit_class(kit_class.__name__, served.bootstrap)
    try:
        offsets = kit.produce(topic, [Sent(b"k", b"flexible")])
    finally:
        kit.close()
    assert offsets == [(0, 0)]
    assert api_versions_asked, "the client never asked for ApiVersions"
    # Every ApiVersions the client sent was its newest (flexible for all but aiokafka) and
    # answered without an error: no client had to fall back to an older version.
    assert all(version >= newest and error == 0 for version, error in api_versions_asked), api_versions_asked


@pytest.mark.skipif(kcat_path() is None, reason="kcat is not installed")
def test_kcat_lists_metadata_over_flexible_versions(served: ServedCluster,
                                                    api_versions_asked: list[tuple[int, int]]) -> None:
    served.create_topic("kcat-flexible")
    listing = subprocess.run([str(kcat_path()), "-b", served.bootstrap, "-L", "-t", "kcat-flexible"],
                             capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert 'topic "kcat-flexible" with 1 partitions' in listing.stdout
    assert api_versions_asked and all(version >= 3 and error == 0 for version, error in api_versions_asked)


def test_confluent_admin_describes_the_cluster(served: ServedCluster) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    described = admin.describe_cluster(request_timeout=15).result(timeout=20)
    assert described.cluster_id == served.core.cluster_id
    assert sorted((node.id, node.host, node.port) for node in described.nodes) == sorted(
        (broker_id, *served.endpoint(broker_id)) for broker_id in range(3))


def test_list_offsets_max_timestamp_and_the_tiered_specs(served: ServedCluster) -> None:
    from confluent_kafka import Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    served.create_topic("max-timestamp")
    producer = Producer({"bootstrap.servers": served.bootstrap})
    for timestamp in (1_000, 3_000, 2_000, 3_000):
        producer.produce("max-timestamp", b"v", timestamp=timestamp)
    assert producer.flush(15) == 0
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    partition = TopicPartition("max-timestamp", 0)
    (found,) = admin.list_offsets({partition: OffsetSpec.max_timestamp()}).values()
    # The first record with the largest timestamp (KIP-734).
    assert (found.result(timeout=20).offset, found.result().timestamp) == (1, 3_000)

    def raw(spec: int) -> tuple[int, int]:
        asked = ListOffsetsRequest.ListOffsetsTopic
        request = ListOffsetsRequest(version=9, replica_id=-1, isolation_level=0, topics=[asked(
            name="max-timestamp", partitions=[asked.ListOffsetsPartition(partition_index=0, timestamp=spec,
                                                                        current_leader_epoch=-1)])])
        request.with_header(correlation_id=4, client_id=CLIENT_ID)
        frame = exchange(served, request.encode(header=True), served.leader("max-timestamp", 0))
        (answer,) = ListOffsetsResponse.decode(frame, version=9, header=True).topics[0].partitions
        assert answer.error_code == 0
        return answer.offset, answer.timestamp

    assert raw(-4) == (0, -1)    # the local log starts where the log does (no tiered storage)
    assert raw(-5) == (-1, -1)   # nothing is tiered, as Kafka answers without remote storage


def test_topic_ids_in_metadata_fetch_and_delete_topics(served: ServedCluster) -> None:
    import uuid

    from kafka.protocol.admin import DeleteTopicsRequest, DeleteTopicsResponse
    from kafka.protocol.consumer import FetchRequest, FetchResponse
    from kafka.protocol.metadata import MetadataRequest, MetadataResponse

    served.create_topic("by-id")
    KafkaPythonKit("kafka-python", served.bootstrap).produce("by-id", [Sent(b"k", b"found by id")])
    leader = served.leader("by-id", 0)

    def metadata(**topic: Any) -> Any:
        request = MetadataRequest(version=12, topics=[MetadataRequest.MetadataRequestTopic(**topic)],
                                  allow_auto_topic_creation=False, include_topic_authorized_operations=False)
        request.with_header(correlation_id=1, client_id=CLIENT_ID)
        return MetadataResponse.decode(exchange(served, request.encode(header=True)), version=12, header=True)

    (by_name,) = metadata(name="by-id").topics
    topic_id = by_name.topic_id
    assert topic_id is not None and topic_id != uuid.UUID(int=0)
    (by_id,) = metadata(name=None, topic_id=topic_id).topics
    assert (by_id.name, by_id.topic_id, by_id.error_code) == ("by-id", topic_id, 0)
    (unknown,) = metadata(name=None, topic_id=uuid.uuid4()).topics
    assert unknown.error_code == 100  # UNKNOWN_TOPIC_ID

    def fetch(wanted: uuid.UUID) -> Any:
        part = FetchRequest.FetchTopic.FetchPartition(partition=0, current_leader_epoch=-1, fetch_offset=0,
                                                      last_fetched_epoch=-1, log_start_offset=-1,
                                                      partition_max_bytes=1 << 20)
        request = FetchRequest(version=13, replica_id=-1, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20,
                               isolation_level=0, session_id=0, session_epoch=-1,
                               topics=[FetchRequest.FetchTopic(topic_id=wanted, partitions=[part])],
                               forgotten_topics_data=[], rack_id="")
        request.with_header(correlation_id=2, client_id=CLIENT_ID)
        (topic,) = FetchResponse.decode(exchange(served, request.encode(header=True), leader), version=13,
                                        header=True).responses
        return topic

    found = fetch(topic_id)
    assert found.topic_id == topic_id
    assert found.partitions[0].error_code == 0 and b"found by id" in bytes(found.partitions[0].records)
    assert fetch(uuid.uuid4()).partitions[0].error_code == 100

    request = DeleteTopicsRequest(version=6, timeout_ms=5000, topics=[
        DeleteTopicsRequest.DeleteTopicState(name=None, topic_id=topic_id)])
    request.with_header(correlation_id=3, client_id=CLIENT_ID)
    (deleted,) = DeleteTopicsResponse.decode(exchange(served, request.encode(header=True)), version=6,
                                             header=True).responses
    assert (deleted.name, deleted.topic_id, deleted.error_code) == ("by-id", topic_id, 0)
    assert served.call(served.core.topics.list_topics()).count("by-id") == 0


def test_list_offsets_for_many_partitions_answers_each_as_the_core_does(served: ServedCluster) -> None:
    """One ListOffsets per broker naming many partitions: every partition gets its own answer
    (earliest, latest, latest under read_committed, by time) and its leader's epoch."""
    from confluent_kafka import IsolationLevel, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    from broker_core.delete_records import delete_records
    from broker_core.log import EARLIEST, LATEST

    topic, count = "many-offsets", 120
    served.create_topic(topic, count)
    producer = Producer({"bootstrap.servers": served.bootstrap, "linger.ms": 20})
    for partition in range(count):
        for step in range(partition % 4):  # 0-3 records, at times 1000*partition + 10*step
            producer.produce(topic, b"v", partition=partition, timestamp=1_000 * partition + 10 * step + 1)
    assert producer.flush(30) == 0
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    # The log starts later on a few partitions (kplay serve has no DeleteRecords: through the
    # core), and one transaction stays open on partition 3.
    core = served.core
    served.call(delete_records(core.storage, core.clock, topic, {p: 1 for p in range(3, count, 8)}))
    transactional = Producer({"bootstrap.servers": served.bootstrap, "transactional.id": "many-offsets-open"})
    transactional.init_transactions(20)
    transactional.begin_transaction()
    transactional.produce(topic, b"open", partition=3, timestamp=1)
    assert transactional.flush(20) == 0

    described = {p.partition: p for p in served.call(served.core.topics.describe_topic(topic)).partitions}
    specs = {"earliest": (OffsetSpec.earliest(), EARLIEST), "latest": (OffsetSpec.latest(), LATEST),
             "by time": (OffsetSpec.for_timestamp(50_000), 50_000)}
    for isolation in (IsolationLevel.READ_UNCOMMITTED, IsolationLevel.READ_COMMITTED):
        for name, (asked, core_spec) in specs.items():
            futures = admin.list_offsets({TopicPartition(topic, p): asked for p in range(count)},
                                         isolation_level=isolation, request_timeout=30)
            got = {tp.partition: future.result(timeout=30) for tp, future in futures.items()}
            committed = isolation == IsolationLevel.READ_COMMITTED
            expected = {p: served.call(served.core.logs.list_offset(topic, p, core_spec, read_committed=committed))
                        for p in range(count)}
            assert {p: got[p].offset for p in range(count)} == {
                p: -1 if offset is None else offset for p, offset in expected.items()}, (name, isolation)
            assert {p: got[p].leader_epoch for p in range(count)} == {
                p: described[p].leader_epoch for p in range(count)}
    # The core's answers are the right ones: checked against what was written.
    latest = {p: served.call(served.core.logs.list_offset(topic, p, LATEST)) for p in range(count)}
    assert latest[3] == 3 + 1 and latest[5] == 1  # partition 3: three records and the open one
    assert served.call(served.core.logs.list_offset(topic, 3, LATEST, read_committed=True)) == 3
    assert served.call(served.core.logs.list_offset(topic, 11, EARLIEST)) == 1  # records deleted below 1
    assert served.call(served.core.logs.list_offset(topic, 50, 50_000)) == 0
    assert served.call(served.core.logs.list_offset(topic, 49, 50_000)) is None  # its records are older
    transactional.abort_transaction(20)
