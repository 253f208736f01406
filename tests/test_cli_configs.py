"""``kplay configs`` (kafka-configs) as a user runs it, and the config rules every front shares.

The expected lines are Kafka 4.x's ``ConfigCommand`` output; the refusal texts are
``ConfigDef``'s (``Invalid value X for configuration Y: Not a number of type LONG``, ...).
"""

from __future__ import annotations

import asyncio

import pytest

from broker_core import Cluster
from broker_core.config import APPEND, DELETE, SET, SUBTRACT, TOPIC_CONFIGS, apply_config_operations
from broker_core.errors import InvalidConfig
from cli_harness import kplay


@pytest.mark.parametrize(("key", "raw", "message"), [
    ("retention.ms", "99999999999999999999999", "Invalid value 99999999999999999999999 for configuration "
                                                "retention.ms: Not a number of type LONG"),
    ("retention.ms", "1_000", "Invalid value 1_000 for configuration retention.ms: Not a number of type LONG"),
    ("retention.ms", "-2", "Invalid value -2 for configuration retention.ms: Value must be at least -1"),
    ("segment.bytes", "3000000000", "Invalid value 3000000000 for configuration segment.bytes: "
                                    "Not a number of type INT"),
    ("min.cleanable.dirty.ratio", "1.5", "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: "
                                         "Value must be no more than 1"),
    ("min.cleanable.dirty.ratio", "-1", "Invalid value -1.0 for configuration min.cleanable.dirty.ratio: "
                                        "Value must be at least 0"),
    ("cleanup.policy", "compact,gone", "Invalid value gone for configuration cleanup.policy: "
                                       "String must be one of: compact, delete"),
    ("unclean.leader.election.enable", "yes", "Invalid value yes for configuration "
                                              "unclean.leader.election.enable: Expected value to be either true or false"),
])
def test_values_are_refused_as_kafkas_config_def_refuses_them(key: str, raw: str, message: str) -> None:
    with pytest.raises(InvalidConfig) as refused:
        TOPIC_CONFIGS[key].parse(raw)
    assert str(refused.value) == message


def test_values_kafka_accepts_are_parsed_to_their_type() -> None:
    assert TOPIC_CONFIGS["retention.ms"].parse(" 9223372036854775807 ") == 2**63 - 1
    assert TOPIC_CONFIGS["retention.bytes"].parse("-5") == -5  # retention.bytes has no lower bound in Kafka
    assert TOPIC_CONFIGS["min.cleanable.dirty.ratio"].parse("1") == 1.0
    assert TOPIC_CONFIGS["cleanup.policy"].parse("compact , delete") == "compact,delete"


def test_incremental_operations_append_and_subtract_on_lists_only() -> None:
    config = apply_config_operations({}, [("cleanup.policy", APPEND, "compact"), ("retention.ms", SET, "10")])
    assert config == {"cleanup.policy": "delete,compact", "retention.ms": 10}
    config = apply_config_operations(config, [("cleanup.policy", SUBTRACT, "delete"), ("retention.ms", DELETE, None)])
    assert config == {"cleanup.policy": "compact"}
    with pytest.raises(InvalidConfig, match="Config value append is not allowed for config key: retention.ms"):
        apply_config_operations({}, [("retention.ms", APPEND, "1")])


def test_alter_then_describe_prints_kafkas_lines(data_path) -> None:
    kplay(data_path, "topics", "--create", "--topic", "orders", "--partitions", "2")
    altered = kplay(data_path, "configs", "--bootstrap-server", "localhost:9092", "--entity-type", "topics",
                    "--entity-name", "orders", "--alter", "--add-config", "retention.ms=60000,cleanup.policy=[compact,delete]")
    assert (altered.returncode, altered.stdout, altered.stderr) == (0, "Completed updating config for topic orders.\n", "")

    described = kplay(data_path, "configs", "--entity-type", "topics", "--entity-name", "orders", "--describe")
    assert described.stdout == (
        "Dynamic configs for topic orders are:\n"
        "  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, "
        "DEFAULT_CONFIG:log.cleanup.policy=delete}\n"
        "  retention.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=60000, "
        "DEFAULT_CONFIG:log.retention.hours=168}\n")
    topics = kplay(data_path, "topics", "--describe", "--topic", "orders").stdout
    assert "Configs: cleanup.policy=compact,delete,retention.ms=60000" in topics.splitlines()[0]

    deleted = kplay(data_path, "configs", "--entity-type", "topics", "--entity-name", "orders", "--alter",
                    "--delete-config", "cleanup.policy")
    assert deleted.returncode == 0
    everything = kplay(data_path, "configs", "--entity-type", "topics", "--entity-name", "orders", "--describe",
                       "--all").stdout.splitlines()
    assert everything[0] == "All configs for topic orders are:"
    assert "  cleanup.policy=delete sensitive=false synonyms={DEFAULT_CONFIG:log.cleanup.policy=delete}" in everything
    assert ("  segment.ms=604800000 sensitive=false synonyms={DEFAULT_CONFIG:log.roll.hours=168}" in everything)
    assert ("  max.message.bytes=1048588 sensitive=false synonyms={DEFAULT_CONFIG:message.max.bytes=1048588}"
            in everything)
    names = [line.split("=")[0].strip() for line in everything[1:]]
    assert names == sorted(names) and len(names) == len(TOPIC_CONFIGS)


def test_a_refused_value_fails_as_kafka_configs_does_and_changes_nothing(data_path) -> None:
    kplay(data_path, "topics", "--create", "--topic", "orders")
    args = ["--entity-type", "topics", "--entity-name", "orders", "--alter",
            "--add-config", "segment.ms=5000,retention.ms=99999999999999999999999"]
    refused = kplay(data_path, "configs", *args)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"Error while executing config command with args '{' '.join(args)} --data {data_path}'",
        "java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.InvalidConfigurationException: "
        "Invalid value 99999999999999999999999 for configuration retention.ms: Not a number of type LONG"]
    dynamic = kplay(data_path, "configs", "--entity-type", "topics", "--entity-name", "orders", "--describe")
    assert dynamic.stdout == "Dynamic configs for topic orders are:\n"

    missing = kplay(data_path, "configs", "--entity-type", "topics", "--entity-name", "orders", "--alter",
                    "--delete-config", "retention.ms")
    assert (missing.returncode, missing.stderr) == (1, "Invalid config(s): retention.ms\n")
    created = kplay(data_path, "topics", "--create", "--topic", "t2", "--config", "min.cleanable.dirty.ratio=2")
    assert created.returncode == 1
    assert "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must be no more than 1" in (
        created.stdout + created.stderr)


@pytest.mark.parametrize(("args", "message"), [
    (["--entity-type", "topics", "--entity-name", "t"], "Command must include exactly one action: --describe, --alter"),
    (["--entity-type", "topics", "--alter", "--add-config", "a=b"],
     "An entity name must be specified with --alter of topics"),
    (["--entity-type", "topics", "--entity-name", "t", "--alter"],
     "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter"),
    (["--entity-type", "topics", "--entity-name", "t", "--alter", "--add-config", "retention.ms"],
     'requirement failed: Invalid entity config: all configs to be added must be in the format "key=val".'),
    (["--entity-type", "things", "--describe"],
     "Invalid entity type things, the entity type must be one of topics, clients, users, brokers, ips, "
     "broker-loggers, client-metrics, groups with a --bootstrap-server or --bootstrap-controller argument"),
    (["--entity-type", "brokers", "--entity-name", "zero", "--describe"],
     "The entity name for brokers must be a valid integer broker id, but it is: zero"),
])
def test_flags_refused_as_kafka_configs_refuses_them(data_path, args: list[str], message: str) -> None:
    result = kplay(data_path, "configs", *args)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", message + "\n")


def test_a_changed_retention_reaches_the_cleaner(data_path) -> None:
    kplay(data_path, "topics", "--create", "--topic", "logs")
    kplay(data_path, "console-producer", "--topic", "logs", input="a\nb\nc\n")
    kplay(data_path, "configs", "--entity-type", "topics", "--entity-name", "logs", "--alter",
          "--add-config", "segment.bytes=14,retention.bytes=0")

    async def clean() -> int:
        cluster = await Cluster.open(data_path)
        try:
            await cluster.cleaner.run_once()
            return (await cluster.topics.describe_topic("logs")).partitions[0].log_start_offset
        finally:
            await cluster.close()

    assert asyncio.run(clean()) > 0


def test_help_shows_no_type_after_plain_flags(data_path) -> None:
    shown = kplay(data_path, "topics", "--help").stdout
    assert "--describe" in shown and "<int>" in shown  # valued options keep their type
    assert "<bool>" not in shown


def test_flags_kafka_4_removed_still_work_with_a_note(data_path) -> None:
    produced = kplay(data_path, "console-producer", "--topic", "notes", "--broker-list", "localhost:9092", input="")
    assert produced.stderr.splitlines()[0] == ("Note: Kafka 4.x's tools have no --broker-list; use --bootstrap-server "
                                               "(kplay accepts --broker-list and ignores it).")
    listed = kplay(data_path, "topics", "--list", "--zookeeper", "localhost:2181")
    assert listed.returncode == 0 and listed.stdout == "\n"
    assert listed.stderr == ("Note: Kafka 4.x's tools have no --zookeeper; use --bootstrap-server "
                             "(kplay accepts --zookeeper and ignores it).\n")
