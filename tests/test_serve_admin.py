"""Admin clients against ``kplay serve``: create, describe and delete topics, configs and groups.

confluent-kafka's AdminClient, kafka-python's KafkaAdminClient and aiokafka's admin
client each create a topic, describe it (partitions, replicas, config overrides), grow
it and delete it; refusals come back with Kafka's error codes and the core's words.
"""

from __future__ import annotations

import asyncio

import pytest

from broker_core.errors import UnknownTopicOrPartition
from test_serve_support import KITS, Sent, ServedCluster, wait_for, served  # noqa: F401 (a fixture)


def core_topics(served: ServedCluster) -> list[str]:
    return served.call(served.core.topics.list_topics())


def test_confluent_admin_creates_describes_grows_and_deletes_a_topic(served: ServedCluster) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions, NewTopic

    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    created = admin.create_topics([NewTopic("ck_orders", num_partitions=3, replication_factor=2,
                                            config={"retention.ms": "3600000", "cleanup.policy": "compact"})])
    created["ck_orders"].result(15)
    description = served.call(served.core.topics.describe_topic("ck_orders"))
    assert description.partition_count == 3 and description.replication_factor == 2
    assert description.config == {"retention.ms": 3600000, "cleanup.policy": "compact"}

    metadata = admin.list_topics("ck_orders", timeout=15).topics["ck_orders"]
    assert sorted(metadata.partitions) == [0, 1, 2]
    assert all(len(p.replicas) == 2 and p.leader in p.replicas for p in metadata.partitions.values())

    configs = admin.describe_configs([ConfigResource("topic", "ck_orders")])
    entries = next(iter(configs.values())).result(15)
    assert entries["retention.ms"].value == "3600000"
    assert ConfigSource(entries["retention.ms"].source) == ConfigSource.DYNAMIC_TOPIC_CONFIG
    assert entries["segment.bytes"].is_default and entries["segment.bytes"].value == "1073741824"

    with pytest.raises(KafkaException) as exists:
        admin.create_topics([NewTopic("ck_orders", 1, 1)])["ck_orders"].result(15)
    assert exists.value.args[0].name() == "TOPIC_ALREADY_EXISTS"
    with pytest.raises(KafkaException) as too_many:
        admin.create_topics([NewTopic("ck_wide", 1, replication_factor=5)])["ck_wide"].result(15)
    assert too_many.value.args[0].name() == "INVALID_REPLICATION_FACTOR"
    assert "larger than available brokers: 3" in too_many.value.args[0].str()

    admin.create_partitions([NewPartitions("ck_orders", 5)])["ck_orders"].result(15)
    assert served.call(served.core.topics.describe_topic("ck_orders")).partition_count == 5
    with pytest.raises(KafkaException) as shrink:
        admin.create_partitions([NewPartitions("ck_orders", 2)])["ck_orders"].result(15)
    assert shrink.value.args[0].name() == "INVALID_PARTITIONS"

    admin.delete_topics(["ck_orders"])["ck_orders"].result(15)
    assert "ck_orders" not in core_topics(served)
    with pytest.raises(KafkaException) as missing:
        admin.delete_topics(["ck_orders"])["ck_orders"].result(15)
    assert missing.value.args[0].name() == "UNKNOWN_TOPIC_OR_PART"


def test_confluent_admin_lists_and_describes_a_consumer_group(served: ServedCluster) -> None:
    from confluent_kafka.admin import AdminClient

    served.create_topic("ck_grouped", partitions=2)
    kit = KITS["confluent-kafka"](served.bootstrap)
    kit.produce("ck_grouped", [Sent(b"k", b"v")])
    consumer = kit.consumer("ck_grouped", "ck_watchers")
    try:
        wait_for(lambda: consumer.assignment() == {("ck_grouped", 0), ("ck_grouped", 1)},
                 "the member to own both partitions", step=lambda: consumer.poll(0.1))
        admin = AdminClient({"bootstrap.servers": served.bootstrap})
        listed = admin.list_consumer_groups().result(15).valid
        assert "ck_watchers" in {g.group_id for g in listed}
        group = admin.describe_consumer_groups(["ck_watchers"])["ck_watchers"].result(15)
        assert group.state.name == "STABLE"
        assert len(group.members) == 1
        owned = {(tp.topic, tp.partition) for tp in group.members[0].assignment.topic_partitions}
        assert owned == {("ck_grouped", 0), ("ck_grouped", 1)}
    finally:
        consumer.close()


def test_kafka_python_admin_creates_describes_and_deletes(served: ServedCluster) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=served.bootstrap, request_timeout_ms=15_000)
    try:
        admin.create_topics({"kp_events": {"num_partitions": 2, "replication_factor": 3,
                                           "configs": {"min.insync.replicas": "2"}}})
        [described] = admin.describe_topics(["kp_events"])
        assert described["error_code"] == 0
        assert [p["partition_index"] for p in described["partitions"]] == [0, 1]
        assert all(sorted(p["replica_nodes"]) == [0, 1, 2] for p in described["partitions"])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp_events")])
        assert configs["topic"]["kp_events"]["min.insync.replicas"]["value"] == "2"
        assert configs["topic"]["kp_events"]["min.insync.replicas"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics({"kp_events": {"num_partitions": 1}})
        admin.create_partitions({"kp_events": 4})
        assert served.call(served.core.topics.describe_topic("kp_events")).partition_count == 4
        admin.delete_topics(["kp_events"])
        assert "kp_events" not in admin.list_topics()
    finally:
        admin.close()
    with pytest.raises(UnknownTopicOrPartition):
        served.call(served.core.topics.describe_topic("kp_events"))


def test_kafka_python_admin_deletes_an_empty_group(served: ServedCluster) -> None:
    from kafka.admin import KafkaAdminClient

    served.create_topic("kp_gone")
    kit = KITS["kafka-python"](served.bootstrap)
    kit.produce("kp_gone", [Sent(b"k", b"v")])
    consumer = kit.consumer("kp_gone", "kp_leavers")
    wait_for(lambda: consumer.poll(0.1), "the member's first record")
    consumer.commit()
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=served.bootstrap, request_timeout_ms=15_000)
    try:
        assert "kp_leavers" in {g["group_id"] for g in admin.list_groups()}
        admin.delete_groups(["kp_leavers"])
    finally:
        admin.close()
    assert served.call(served.core.groups.describe_group("kp_leavers")).state == "Dead"


def test_aiokafka_admin_creates_and_deletes(served: ServedCluster) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def roundtrip() -> tuple[list[str], list[str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=served.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic("aio_metrics", num_partitions=2, replication_factor=1)])
            after_create = await admin.list_topics()
            await admin.delete_topics(["aio_metrics"])
            after_delete = await admin.list_topics()
        finally:
            await admin.close()
        return after_create, after_delete

    after_create, after_delete = asyncio.run(roundtrip())
    assert "aio_metrics" in after_create
    assert "aio_metrics" not in after_delete
    assert "aio_metrics" not in core_topics(served)
