"""AlterConfigs and IncrementalAlterConfigs against ``kplay serve``, with the core's validation."""

from __future__ import annotations


import pytest

from test_serve_support import ServedCluster, served  # noqa: F401 (a fixture)


def test_confluent_incremental_alter_sets_deletes_and_refuses_as_kafka(served: ServedCluster) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                       ConfigSource)

    served.create_topic("ck_conf", partitions=1)
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    resource = ConfigResource("topic", "ck_conf", incremental_configs=[
        ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    next(iter(admin.incremental_alter_configs([resource]).values())).result(15)
    assert served.call(served.core.topics.describe_topic("ck_conf")).config == {
        "retention.ms": 60000, "cleanup.policy": "delete,compact"}
    entries = next(iter(admin.describe_configs([ConfigResource("topic", "ck_conf")]).values())).result(15)
    assert ConfigSource(entries["retention.ms"].source) == ConfigSource.DYNAMIC_TOPIC_CONFIG

    bad = ConfigResource("topic", "ck_conf", incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("min.cleanable.dirty.ratio", "1.5", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as refused:
        next(iter(admin.incremental_alter_configs([bad]).values())).result(15)
    assert refused.value.args[0].name() == "INVALID_CONFIG"
    assert "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1" in (
        refused.value.args[0].str())
    assert served.call(served.core.topics.describe_topic("ck_conf")).config["retention.ms"] == 60000


def test_legacy_alter_configs_replaces_the_whole_config(served: ServedCluster) -> None:
    import warnings

    from confluent_kafka.admin import AdminClient, ConfigResource

    served.create_topic("ck_legacy", partitions=1)
    admin = AdminClient({"bootstrap.servers": served.bootstrap})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for configs in ({"retention.ms": "1000", "segment.ms": "500"}, {"segment.ms": "700"}):
            resource = ConfigResource("topic", "ck_legacy", set_config=configs)
            next(iter(admin.alter_configs([resource]).values())).result(15)
    # AlterConfigs resets every key the request leaves out, as Kafka does.
    assert served.call(served.core.topics.describe_topic("ck_legacy")).config == {"segment.ms": 700}
