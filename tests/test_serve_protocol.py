"""Kafka's wire protocol as ``kplay serve`` speaks it, byte for byte, and what it does with bad input.

Requests here are built by hand (or with kafka-python's generated classes, as a client
would) and sent on plain sockets: golden bytes for ApiVersions, a newer client's
ApiVersions, Metadata's auto-creation rules, leaders and coordinators per listener, the
Fetch long poll, acks=0, idempotent retries, corrupt batches, and every kind of broken
request. A broken request closes that client's connection only: the server and every
other connection keep working, and no acknowledged record is lost.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from kafka.protocol.admin import (DeleteRecordsRequest, DeleteRecordsResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse, ElectLeadersRequest, ElectLeadersResponse)
from kafka.protocol.consumer import (FetchRequest, FetchResponse, JoinGroupRequest, JoinGroupResponse,
                                     ListOffsetsRequest, ListOffsetsResponse)
from kafka.protocol.metadata import (ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
                                     MetadataRequest, MetadataResponse)
from kafka.protocol.producer import InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder

from app.serve import BrokerSettings
from app.serve.api_versions import SUPPORTED_APIS
from test_serve_support import ServedCluster, raw_connection, read_frame, wait_for

CLIENT_ID = "raw-test"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    """A served cluster with a small socket.request.max.bytes (so that a test can exceed it cheaply)."""
    cluster = ServedCluster(Path(tmp_path_factory.mktemp("serve-protocol")) / "cluster.db",
                            settings=BrokerSettings(socket_request_max_bytes=1_000_000)).start()
    try:
        yield cluster
    finally:
        cluster.stop()


class Client:
    """One raw connection: send requests built with kafka-python's classes, read responses."""

    def __init__(self, served: ServedCluster, broker_id: int = 0) -> None:
        self.sock = raw_connection(served, broker_id)
        self.correlation = 0

    def send(self, request_class: Any, version: int, **fields: Any) -> int:
        self.correlation += 1
        request = request_class(version=version, **fields)
        request.with_header(correlation_id=self.correlation, client_id=CLIENT_ID)
        self.sock.sendall(request.encode(header=True, framed=True))
        return self.correlation

    def receive(self, response_class: Any, version: int) -> Any:
        frame = read_frame(self.sock)
        assert frame is not None, "the server closed the connection"
        return response_class.decode(frame, version=version, header=True)

    def call(self, request_class: Any, response_class: Any, version: int, **fields: Any) -> Any:
        correlation = self.send(request_class, version, **fields)
        response = self.receive(response_class, version)
        assert response.header.correlation_id == correlation
        return response

    def closed_by_server(self, timeout: float = 10) -> bool:
        """Whether the server closes the connection (EOF or reset) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self) -> None:
        self.sock.close()


def api_versions_v0(correlation: int) -> bytes:
    """ApiVersions v0 as Kafka's protocol guide spells it: size, key 18, version 0, correlation, client id."""
    body = struct.pack(">hhih", 18, 0, correlation, len(CLIENT_ID)) + CLIENT_ID.encode()
    return struct.pack(">i", len(body)) + body


def assert_server_healthy(served: ServedCluster) -> None:
    """A fresh connection still gets answers, and every broker still listens."""
    for broker_id in range(3):
        client = Client(served, broker_id)
        try:
            client.sock.sendall(api_versions_v0(7))
            frame = read_frame(client.sock)
            assert frame is not None and frame[:4] == struct.pack(">i", 7)
        finally:
            client.close()


def produce_batch(*records: tuple[bytes | None, bytes | None], producer_id: int = -1, sequence: int = -1,
                  timestamp: int | None = None) -> bytes:
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20, producer_id=producer_id,
                                   producer_epoch=0 if producer_id >= 0 else -1, base_sequence=sequence)
    for key, value in records:
        builder.append(timestamp if timestamp is not None else int(time.time() * 1000), key, value, [])
    builder.close()
    return bytes(builder.records()._buffer)


def produce(client: Client, topic: str, partition: int, batch: bytes, acks: int = -1, version: int = 8) -> Any:
    part = ProduceRequest.TopicProduceData.PartitionProduceData(index=partition, records=batch)
    return client.call(ProduceRequest, ProduceResponse, version, transactional_id=None, acks=acks, timeout_ms=5000,
                       topic_data=[ProduceRequest.TopicProduceData(name=topic, partition_data=[part])])


def leader_client(served: ServedCluster, topic: str, partition: int = 0) -> Client:
    return Client(served, served.leader(topic, partition))


def fetch_request(topic: str, partition: int, offset: int, max_wait_ms: int = 0) -> dict[str, Any]:
    part = FetchRequest.FetchTopic.FetchPartition(partition=partition, current_leader_epoch=-1, fetch_offset=offset,
                                                  log_start_offset=-1, partition_max_bytes=1 << 20)
    return dict(replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=1, max_bytes=1 << 24, isolation_level=1,
                session_id=0, session_epoch=-1, topics=[FetchRequest.FetchTopic(topic=topic, partitions=[part])],
                forgotten_topics_data=[], rack_id="")


# -- golden bytes and versions ----------------------------------------------------------------

def test_api_versions_v0_golden_bytes(served: ServedCluster) -> None:
    client = Client(served)
    try:
        client.sock.sendall(api_versions_v0(42))
        frame = read_frame(client.sock)
    finally:
        client.close()
    entries = sorted(SUPPORTED_APIS.values(), key=lambda spec: spec.key)
    expected = struct.pack(">ihi", 42, 0, len(entries)) + b"".join(
        struct.pack(">hhh", spec.key, spec.min_version, spec.max_version) for spec in entries)
    assert frame == expected
    # What every client here was checked against (shared/WIRE.md): these must stay advertised.
    floor = {18: 0, 3: 4, 0: 3, 1: 4, 2: 1, 10: 0, 11: 0, 14: 0, 12: 0, 13: 0, 8: 2, 9: 1, 22: 0}
    for key, version in floor.items():
        assert SUPPORTED_APIS[key].supports(version)


def test_a_newer_clients_api_versions_gets_unsupported_version_and_its_own_range_in_a_v0_body(
        served: ServedCluster) -> None:
    client = Client(served)
    try:
        # ApiVersions v9 (newer than Kafka 4's v4): header v2, then a body this broker cannot know.
        body = struct.pack(">hhih", 18, 9, 5, len(CLIENT_ID)) + CLIENT_ID.encode() + b"\x00" + b"\x06kplay\x041.0\x00"
        client.sock.sendall(struct.pack(">i", len(body)) + body)
        frame = read_frame(client.sock)
        assert frame is not None
        # As Kafka (KIP-511): error 35 and only ApiVersions' own range, in a v0 body.
        assert frame == struct.pack(">ihi", 5, 35, 1) + struct.pack(">hhh", 18, 0, 4)
        # The connection stays open: the client retries with a version listed.
        retried = client.call(ApiVersionsRequest, ApiVersionsResponse, 4, client_software_name="kplay",
                              client_software_version="1.0")
        assert retried.error_code == 0
    finally:
        client.close()


# -- metadata ----------------------------------------------------------------------------------

def metadata(client: Client, *names: str, allow_auto_creation: bool = True) -> Any:
    topics = [MetadataRequest.MetadataRequestTopic(name=name) for name in names]
    return client.call(MetadataRequest, MetadataResponse, 8, topics=topics,
                       allow_auto_topic_creation=allow_auto_creation, include_cluster_authorized_operations=False,
                       include_topic_authorized_operations=False)


def test_metadata_advertises_each_broker_where_it_listens(served: ServedCluster) -> None:
    client = Client(served, 1)
    try:
        response = metadata(client)
    finally:
        client.close()
    assert {(b.node_id, b.host, b.port) for b in response.brokers} == {
        (broker_id, *served.endpoint(broker_id)) for broker_id in range(3)}
    assert response.cluster_id == served.core.cluster_id


def test_metadata_auto_creates_topics_as_kafka_does(served: ServedCluster) -> None:
    client = Client(served)
    try:
        first = metadata(client, "auto_made")
        assert [(t.name, t.error_code) for t in first.topics] == [("auto_made", 5)]  # LEADER_NOT_AVAILABLE
        again = metadata(client, "auto_made")
        assert again.topics[0].error_code == 0 and len(again.topics[0].partitions) == 1  # num.partitions=1

        refused = metadata(client, "not_made", allow_auto_creation=False)
        assert refused.topics[0].error_code == 3  # UNKNOWN_TOPIC_OR_PARTITION
        internal = metadata(client, "__internal_looking")
        assert internal.topics[0].error_code == 3
        illegal = metadata(client, "no spaces allowed")
        assert illegal.topics[0].error_code == 17  # INVALID_TOPIC_EXCEPTION
    finally:
        client.close()
    topics = served.call(served.core.topics.list_topics())
    assert "auto_made" in topics
    assert not {"not_made", "__internal_looking", "no spaces allowed"} & set(topics)


# -- produce and fetch ----------------------------------------------------------------------

def test_produce_to_a_follower_is_not_leader_or_follower(served: ServedCluster) -> None:
    served.create_topic("p_leaders", partitions=1, replication_factor=3)
    leader = served.leader("p_leaders", 0)
    follower = Client(served, (leader + 1) % 3)
    try:
        response = produce(follower, "p_leaders", 0, produce_batch((b"k", b"v")))
    finally:
        follower.close()
    assert response.responses[0].partition_responses[0].error_code == 6
    assert served.log("p_leaders", 0) == []
    client = leader_client(served, "p_leaders")
    try:
        response = produce(client, "p_leaders", 0, produce_batch((b"k", b"v")))
    finally:
        client.close()
    assert response.responses[0].partition_responses[0].error_code == 0
    assert [r.value for r in served.log("p_leaders", 0)] == [b"v"]


def test_a_corrupt_batch_is_refused_and_the_rest_of_the_request_written(served: ServedCluster) -> None:
    served.create_topic("p_corrupt", partitions=2)
    # Both partitions on one broker's listener: ask the leader of each.
    good = produce_batch((b"k", b"good"))
    bad = bytearray(produce_batch((b"k", b"bad")))
    bad[-1] ^= 0xFF  # inside the CRC's range
    for partition, batch, expected in ((0, bytes(bad), 2), (1, good, 0)):
        client = leader_client(served, "p_corrupt", partition)
        try:
            response = produce(client, "p_corrupt", partition, batch)
        finally:
            client.close()
        assert response.responses[0].partition_responses[0].error_code == expected  # 2: CORRUPT_MESSAGE
    assert served.log("p_corrupt", 0) == []
    assert [r.value for r in served.log("p_corrupt", 1)] == [b"good"]


def test_a_batch_above_max_message_bytes_is_message_too_large(served: ServedCluster) -> None:
    served.create_topic("p_small", max_message_bytes=500)
    client = leader_client(served, "p_small")
    try:
        small = produce(client, "p_small", 0, produce_batch((b"k", b"x" * 100)))
        large = produce(client, "p_small", 0, produce_batch(*[(b"k", b"x" * 100)] * 5))
    finally:
        client.close()
    assert small.responses[0].partition_responses[0].error_code == 0
    refused = large.responses[0].partition_responses[0]
    assert refused.error_code == 10  # MESSAGE_TOO_LARGE
    assert "exceeds the maximum configured value of 500" in refused.error_message
    assert len(served.log("p_small", 0)) == 1


def test_an_idempotent_retry_is_answered_with_the_first_offset_and_not_written_twice(served: ServedCluster) -> None:
    served.create_topic("p_idempotent")
    client = leader_client(served, "p_idempotent")
    try:
        ids = client.call(InitProducerIdRequest, InitProducerIdResponse, 1, transactional_id=None,
                          transaction_timeout_ms=60_000)
        assert ids.error_code == 0 and ids.producer_id >= 0
        first = produce_batch((b"a", b"1"), (b"b", b"2"), producer_id=ids.producer_id, sequence=0)
        offsets = [produce(client, "p_idempotent", 0, first).responses[0].partition_responses[0].base_offset
                   for _ in range(2)]
        second = produce_batch((b"c", b"3"), producer_id=ids.producer_id, sequence=2)
        third = produce(client, "p_idempotent", 0, second).responses[0].partition_responses[0].base_offset
    finally:
        client.close()
    assert offsets == [0, 0]
    assert third == 2
    assert [r.value for r in served.log("p_idempotent", 0)] == [b"1", b"2", b"3"]


def test_acks_zero_gets_no_response_and_requests_are_answered_in_order(served: ServedCluster) -> None:
    served.create_topic("p_acks0")
    client = leader_client(served, "p_acks0")
    try:
        part = ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=produce_batch((None, b"quiet")))
        client.send(ProduceRequest, 8, transactional_id=None, acks=0, timeout_ms=5000,
                    topic_data=[ProduceRequest.TopicProduceData(name="p_acks0", partition_data=[part])])
        # A long-polling fetch, then a quick request: the quick one's answer comes after the fetch's.
        fetch_id = client.send(FetchRequest, 11, **fetch_request("p_acks0", 0, 1, max_wait_ms=300))
        meta_id = client.send(MetadataRequest, 8, topics=[], allow_auto_topic_creation=False,
                              include_cluster_authorized_operations=False, include_topic_authorized_operations=False)
        fetched = client.receive(FetchResponse, 11)
        described = client.receive(MetadataResponse, 8)
    finally:
        client.close()
    assert fetched.header.correlation_id == fetch_id
    assert described.header.correlation_id == meta_id
    assert fetched.responses[0].partitions[0].high_watermark == 1
    assert [r.value for r in served.log("p_acks0", 0)] == [b"quiet"]


def test_a_failed_acks_zero_produce_closes_the_connection(served: ServedCluster) -> None:
    client = Client(served)
    try:
        part = ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=produce_batch((None, b"x")))
        client.send(ProduceRequest, 8, transactional_id=None, acks=0, timeout_ms=5000,
                    topic_data=[ProduceRequest.TopicProduceData(name="p_never_created", partition_data=[part])])
        assert client.closed_by_server()
    finally:
        client.close()
    assert_server_healthy(served)


def test_fetch_waits_for_records_until_max_wait(served: ServedCluster) -> None:
    served.create_topic("p_longpoll")
    reader = leader_client(served, "p_longpoll")
    writer = leader_client(served, "p_longpoll")
    try:
        started = time.monotonic()
        empty = reader.call(FetchRequest, FetchResponse, 11, **fetch_request("p_longpoll", 0, 0, max_wait_ms=300))
        waited = time.monotonic() - started
        assert empty.responses[0].partitions[0].records in (b"", None)
        assert waited >= 0.25

        reader.send(FetchRequest, 11, **fetch_request("p_longpoll", 0, 0, max_wait_ms=20_000))
        started = time.monotonic()
        produce(writer, "p_longpoll", 0, produce_batch((b"k", b"arrived")))
        response = reader.receive(FetchResponse, 11)
        assert time.monotonic() - started < 10  # answered when the record came, not at max_wait
    finally:
        reader.close()
        writer.close()
    partition = response.responses[0].partitions[0]
    assert partition.error_code == 0
    assert partition.high_watermark == partition.last_stable_offset == 1
    [batch] = list(MemoryRecords(partition.records))
    assert [(r.offset, r.key, r.value) for r in batch] == [(0, b"k", b"arrived")]


@pytest.fixture
def lagging(tmp_path: Path) -> Iterator[ServedCluster]:
    """A served cluster of its own whose followers copy each batch 300 ms after the leader wrote it."""
    cluster = ServedCluster(tmp_path / "lagging.db").start()
    try:
        cluster.call(cluster.core.controller.set_replication_delay(300))
        cluster.create_topic("p_lagging", partitions=1, replication_factor=3)
        yield cluster
    finally:
        cluster.stop()


def test_a_held_fetch_sees_records_once_the_followers_have_them(lagging: ServedCluster) -> None:
    # With a replication delay, an acks=1 record is in the leader's log at once but readable
    # only when the in-sync followers copied it: the server's replica fetcher moves them.
    reader = leader_client(lagging, "p_lagging")
    writer = leader_client(lagging, "p_lagging")
    try:
        reader.send(FetchRequest, 11, **fetch_request("p_lagging", 0, 0, max_wait_ms=20_000))
        started = time.monotonic()
        produced = produce(writer, "p_lagging", 0, produce_batch((b"k", b"replicated")), acks=1)
        assert produced.responses[0].partition_responses[0].error_code == 0
        response = reader.receive(FetchResponse, 11)
        waited = time.monotonic() - started
    finally:
        reader.close()
        writer.close()
    partition = response.responses[0].partitions[0]
    assert partition.high_watermark == 1
    assert [r.value for b in MemoryRecords(partition.records) for r in b] == [b"replicated"]
    assert 0.2 <= waited < 10


def test_a_retry_sent_while_the_first_attempt_waits_for_acks_all_is_not_written_twice(
        lagging: ServedCluster) -> None:
    first, second = leader_client(lagging, "p_lagging"), leader_client(lagging, "p_lagging")
    try:
        ids = first.call(InitProducerIdRequest, InitProducerIdResponse, 1, transactional_id=None,
                         transaction_timeout_ms=60_000)
        batch = produce_batch((b"k", b"once"), producer_id=ids.producer_id, sequence=0)
        part = ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=batch)
        request = dict(transactional_id=None, acks=-1, timeout_ms=30_000,
                       topic_data=[ProduceRequest.TopicProduceData(name="p_lagging", partition_data=[part])])
        first.send(ProduceRequest, 8, **request)
        # The first attempt waits for the followers (300 ms); the producer sends the batch again meanwhile.
        wait_for(lambda: len(lagging.call(lagging.core.logs.read("p_lagging", 0, 0)).records) == 0
                 and lagging.call(lagging.core.topics.describe_topic("p_lagging")).partitions[0].log_end_offset == 1,
                 "the first attempt to be in the leader's log")
        second.send(ProduceRequest, 8, **request)
        answers = [client.receive(ProduceResponse, 8).responses[0].partition_responses[0]
                   for client in (first, second)]
    finally:
        first.close()
        second.close()
    assert [(a.error_code, a.base_offset) for a in answers] == [(0, 0), (0, 0)]
    assert [r.value for r in lagging.log("p_lagging", 0)] == [b"once"]


def test_an_error_partition_carries_empty_records_not_null(served: ServedCluster) -> None:
    client = Client(served)
    try:
        response = client.call(FetchRequest, FetchResponse, 11, **fetch_request("p_nowhere", 3, 0))
    finally:
        client.close()
    partition = response.responses[0].partitions[0]
    assert partition.error_code == 3
    assert partition.records == b""


def test_fetched_batches_carry_offsets_timestamps_and_log_append_time(served: ServedCluster) -> None:
    served.create_topic("p_appendtime", message_timestamp_type="LogAppendTime")
    client = leader_client(served, "p_appendtime")
    try:
        produce(client, "p_appendtime", 0, produce_batch((b"a", b"1"), (b"b", b"2"), timestamp=1_000))
        response = client.call(FetchRequest, FetchResponse, 11, **fetch_request("p_appendtime", 0, 1))
    finally:
        client.close()
    batches = list(MemoryRecords(response.responses[0].partitions[0].records))
    assert all(isinstance(b, DefaultRecordBatch) and b.validate_crc() for b in batches)
    records = [r for b in batches for r in b]
    stored = served.log("p_appendtime", 0)
    # As Kafka serves it: the whole stored batch holding offset 1; the consumer skips offset 0 itself.
    assert [(r.offset, r.value) for r in records] == [(0, b"1"), (1, b"2")]
    assert batches[0].timestamp_type == 1  # LogAppendTime: the broker's clock, not the producer's 1000
    assert records[1].timestamp == stored[1].timestamp != 1_000


def test_list_offsets_by_time_and_earliest_latest(served: ServedCluster) -> None:
    served.create_topic("p_times")
    client = leader_client(served, "p_times")
    try:
        for ts, value in ((1_000, b"a"), (2_000, b"b"), (3_000, b"c")):
            produce(client, "p_times", 0, produce_batch((None, value), timestamp=ts))

        def lookup(timestamp: int) -> tuple[int, int, int]:
            part = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition(
                partition_index=0, current_leader_epoch=-1, timestamp=timestamp)
            response = client.call(ListOffsetsRequest, ListOffsetsResponse, 5, replica_id=-1, isolation_level=0,
                                   topics=[ListOffsetsRequest.ListOffsetsTopic(name="p_times", partitions=[part])])
            found = response.topics[0].partitions[0]
            return found.error_code, found.offset, found.timestamp

        assert lookup(-2) == (0, 0, -1)
        assert lookup(-1) == (0, 3, -1)
        assert lookup(1_500) == (0, 1, 2_000)
        assert lookup(9_999) == (0, -1, -1)
    finally:
        client.close()


# -- groups and configs ----------------------------------------------------------------------

def test_group_requests_go_to_the_coordinator_only(served: ServedCluster) -> None:
    client = Client(served)
    try:
        found = client.call(FindCoordinatorRequest, FindCoordinatorResponse, 2, key="raw-group", key_type=0)
    finally:
        client.close()
    assert found.error_code == 0 and (found.host, found.port) == served.endpoint(found.node_id)
    other = Client(served, (found.node_id + 1) % 3)
    try:
        protocol = JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"\x00\x00\x00\x00\x00\x00\x00\x00")
        response = other.call(JoinGroupRequest, JoinGroupResponse, 5, group_id="raw-group", session_timeout_ms=10_000,
                              rebalance_timeout_ms=10_000, member_id="", group_instance_id=None,
                              protocol_type="consumer", protocols=[protocol])
    finally:
        other.close()
    assert response.error_code == 16  # NOT_COORDINATOR


def test_describe_configs_of_a_broker(served: ServedCluster) -> None:
    client = Client(served)
    try:
        resource = DescribeConfigsRequest.DescribeConfigsResource(resource_type=4, resource_name="1",
                                                                  configuration_keys=None)
        response = client.call(DescribeConfigsRequest, DescribeConfigsResponse, 3, resources=[resource],
                               include_synonyms=False, include_documentation=False)
    finally:
        client.close()
    entries = {c.name: c.value for c in response.results[0].configs}
    assert entries["broker.id"] == "1"
    assert entries["socket.request.max.bytes"] == "1000000"
    assert entries["num.partitions"] == "1"


@pytest.mark.parametrize("version", [0, 1, 2])
def test_delete_records_answers_each_partitions_low_watermark_at_every_version(served: ServedCluster,
                                                                               version: int) -> None:
    topic = f"trim-v{version}"
    served.create_topic(topic, 2, 1)
    client = Client(served)
    try:
        asked = [DeleteRecordsRequest.DeleteRecordsTopic(name=topic, partitions=[
                     DeleteRecordsRequest.DeleteRecordsTopic.DeleteRecordsPartition(partition_index=0, offset=-1),
                     DeleteRecordsRequest.DeleteRecordsTopic.DeleteRecordsPartition(partition_index=1, offset=0)]),
                 DeleteRecordsRequest.DeleteRecordsTopic(name="no-such-topic", partitions=[
                     DeleteRecordsRequest.DeleteRecordsTopic.DeleteRecordsPartition(partition_index=0, offset=5)])]
        response = client.call(DeleteRecordsRequest, DeleteRecordsResponse, version, topics=asked, timeout_ms=1000)
    finally:
        client.close()
    answers = {(t.name, p.partition_index): (p.low_watermark, p.error_code)
               for t in response.topics for p in t.partitions}
    # Empty partitions: the log start stays 0; an unknown topic: UNKNOWN_TOPIC_OR_PARTITION (3), -1.
    assert answers == {(topic, 0): (0, 0), (topic, 1): (0, 0), ("no-such-topic", 0): (-1, 3)}


@pytest.mark.parametrize("version", [0, 1, 2])
def test_elect_leaders_answers_each_partition_at_every_version(served: ServedCluster, version: int) -> None:
    topic = f"elect-v{version}"
    served.create_topic(topic, 2, 2)
    client = Client(served)
    try:
        asked = [ElectLeadersRequest.TopicPartitions(topic=topic, partitions=[0, 1]),
                 ElectLeadersRequest.TopicPartitions(topic="no-such-topic", partitions=[0])]
        response = client.call(ElectLeadersRequest, ElectLeadersResponse, version, election_type=0,
                               topic_partitions=asked, timeout_ms=1000)
    finally:
        client.close()
    codes = {(result.topic, p.partition_id): p.error_code
             for result in response.replica_election_results for p in result.partition_result}
    # The preferred replicas already lead: ELECTION_NOT_NEEDED (84); an unknown topic: 3.
    assert codes == {(topic, 0): 84, (topic, 1): 84, ("no-such-topic", 0): 3}


# -- what a broken client cannot break -------------------------------------------------------

@pytest.mark.parametrize("frame", [
    pytest.param(struct.pack(">i", 1_000_001), id="length above socket.request.max.bytes"),
    pytest.param(struct.pack(">i", 2**31 - 1), id="largest length"),
    pytest.param(struct.pack(">i", -5), id="negative length"),
    pytest.param(struct.pack(">i", 3) + b"abc", id="shorter than a header"),
    pytest.param(struct.pack(">ihhih", 12, 999, 0, 1, 0) + b"xx", id="unknown API key"),
    pytest.param(struct.pack(">ihhih", 10, 17, 0, 1, 0), id="SaslHandshake, not offered"),
    pytest.param(struct.pack(">ihhih", 10, 3, 13, 1, 0), id="Metadata version above the range"),
    pytest.param(struct.pack(">ihhih", 10, 0, 2, 1, 0), id="Produce version below the range"),
    pytest.param(struct.pack(">ihhih", 12, 3, 8, 1, 0) + b"\x00\x05", id="Metadata body cut short"),
    pytest.param(struct.pack(">ihhih", 30, 0, 8, 1, 0) + b"\xff" * 20, id="Produce body of garbage"),
    # transactional_id null (allowed), acks, timeout, one topic whose name is null (not allowed), no partitions.
    pytest.param(struct.pack(">ihhihhhiihi", 28, 0, 8, 1, 0, -1, -1, 5000, 1, -1, 0), id="Produce topic name null"),
    # Fetch v4: one topic "t" whose one partition is fine, then a second topic whose name is null.
    pytest.param(struct.pack(">ihhihiiiibih1siiqihi", 60, 1, 4, 1, 0, -1, 500, 1, 1_000_000, 0, 2, 1, b"t", 1,
                             0, 0, 1_000_000, -1, 0), id="Fetch second topic name null"),
])
def test_a_broken_request_closes_that_connection_only(served: ServedCluster, frame: bytes) -> None:
    bystander = Client(served)
    victim = Client(served)
    try:
        victim.sock.sendall(frame)
        assert victim.closed_by_server()
        # The other connection, opened before, still works.
        assert metadata(bystander).brokers
    finally:
        victim.close()
        bystander.close()
    assert_server_healthy(served)


def test_a_client_vanishing_mid_request_harms_nobody(served: ServedCluster) -> None:
    served.create_topic("p_vanish")
    # Half a request, then gone.
    client = Client(served)
    client.sock.sendall(struct.pack(">i", 100) + b"\x00\x03\x00\x08")
    client.close()
    # A long-polling fetch whose client leaves while it waits.
    waiting = leader_client(served, "p_vanish")
    waiting.send(FetchRequest, 11, **fetch_request("p_vanish", 0, 0, max_wait_ms=500))
    waiting.close()
    # A produce whose client leaves before the answer: the record is still written.
    leaving = leader_client(served, "p_vanish")
    leaving.send(ProduceRequest, 8, transactional_id=None, acks=-1, timeout_ms=5000,
                 topic_data=[ProduceRequest.TopicProduceData(name="p_vanish", partition_data=[
                     ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=produce_batch((b"k", b"v")))])])
    leaving.sock.shutdown(socket.SHUT_RDWR)
    leaving.close()
    wait_for(lambda: [r.value for r in served.log("p_vanish", 0)] == [b"v"], "the abandoned produce to be written")
    assert_server_healthy(served)


def test_a_silent_or_stalled_connection_is_closed_after_connections_max_idle_ms(tmp_path: Path) -> None:
    quiet = ServedCluster(tmp_path / "quiet.db", settings=BrokerSettings(connections_max_idle_ms=300)).start()
    try:
        silent, stalled = Client(quiet), Client(quiet)
        try:
            stalled.sock.sendall(struct.pack(">i", 50) + b"\x00\x03")  # a request that never completes
            started = time.monotonic()
            assert silent.closed_by_server() and stalled.closed_by_server()
            assert time.monotonic() - started >= 0.2
        finally:
            silent.close()
            stalled.close()
        # A connection that keeps talking stays open well past the idle time.
        busy = Client(quiet)
        try:
            started, correlation = time.monotonic(), 0
            while time.monotonic() - started < 0.8:
                correlation += 1
                busy.sock.sendall(api_versions_v0(correlation))
                assert read_frame(busy.sock) is not None
        finally:
            busy.close()
    finally:
        quiet.stop()


def test_many_connections_at_once_are_all_answered(served: ServedCluster) -> None:
    count = 150
    sockets = [raw_connection(served, i % 3) for i in range(count)]
    answers: list[bytes | None] = [None] * count
    try:
        for index, sock in enumerate(sockets):
            sock.sendall(api_versions_v0(index))

        def read(index: int) -> None:
            answers[index] = read_frame(sockets[index])

        threads = [threading.Thread(target=read, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for sock in sockets:
            sock.close()
    assert all(answer is not None and answer[:4] == struct.pack(">i", index) for index, answer in enumerate(answers))
    assert_server_healthy(served)


def test_no_acknowledged_record_is_lost_to_broken_clients(served: ServedCluster) -> None:
    served.create_topic("p_survivor")
    writer = leader_client(served, "p_survivor")
    acked = []
    try:
        for i in range(20):
            response = produce(writer, "p_survivor", 0, produce_batch((None, f"r{i}".encode())))
            assert response.responses[0].partition_responses[0].error_code == 0
            acked.append(f"r{i}".encode())
            vandal = Client(served, i % 3)
            vandal.sock.sendall(struct.pack(">i", 2**31 - 1) if i % 2 else b"\x00\x00\x00\x0a\x7f\x7f")
            vandal.close()
    finally:
        writer.close()
    assert [r.value for r in served.log("p_survivor", 0)] == acked
