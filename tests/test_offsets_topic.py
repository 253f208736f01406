"""Where offsets live: ``__consumer_offsets``, its records in Kafka's bytes, read with Kafka's formatters."""

from __future__ import annotations

import json
import time

from broker_core import ConsumerRecord
from broker_core.coordinator_records import (MemberRecord, group_metadata_key, group_metadata_value,
                                             offset_commit_key, offset_commit_value, offsets_partition)
from app.commands.message_formatters import CoordinatorRecordFormatter
from cli_harness import LiveTool, kplay

OFFSETS = "org.apache.kafka.tools.consumer.OffsetsMessageFormatter"
GROUPS = "org.apache.kafka.tools.consumer.GroupMetadataMessageFormatter"


def test_records_are_kafkas_bytes_and_groups_hash_as_java_does() -> None:
    # GroupCoordinatorRecordSerde: int16 version, then the non-flexible message.
    assert offset_commit_key("g", "t", 1) == b"\x00\x01" + b"\x00\x01g" + b"\x00\x01t" + b"\x00\x00\x00\x01"
    assert offset_commit_value(5, "", 7) == (b"\x00\x03" + (5).to_bytes(8, "big") + b"\xff\xff\xff\xff"
                                              + b"\x00\x00" + (7).to_bytes(8, "big"))
    assert group_metadata_key("g") == b"\x00\x02\x00\x01g"
    # "hello".hashCode() == 99162322; "polygenelubricants".hashCode() == Integer.MIN_VALUE (Utils.abs: 0).
    assert offsets_partition("hello") == 99162322 % 50
    assert offsets_partition("polygenelubricants") == 0


def test_group_metadata_formatter_prints_kafkas_json() -> None:
    # GroupMetadataMessageFormatterTest's version-3 case, from Kafka's own tests.
    member = MemberRecord("member-1", "client-1", "host-1", 1000, 1500, bytes([0, 1]), bytes([1, 2]),
                          group_instance_id="group-instance-1")
    record = ConsumerRecord("__consumer_offsets", 0, 0, 0, group_metadata_key("group-id"),
                            group_metadata_value("consumer", 1, "range", "leader", 1234, [member]))
    expected = ('{"key":{"version":2,"data":{"group":"group-id"}},"value":{"version":3,'
                '"data":{"protocolType":"consumer","generation":1,"protocol":"range",'
                '"leader":"leader","currentStateTimestamp":1234,"members":[{"memberId":"member-1",'
                '"groupInstanceId":"group-instance-1","clientId":"client-1","clientHost":"host-1",'
                '"rebalanceTimeout":1000,"sessionTimeout":1500,"subscription":"AAE=","assignment":"AQI="}]}}}')
    assert CoordinatorRecordFormatter("group", escape_controls=False).format(record) == expected.encode() + b"\n"
    assert CoordinatorRecordFormatter("offset", escape_controls=False).format(record) == b""  # the other kind
    tombstone = record._replace(value=None)
    assert CoordinatorRecordFormatter("group", escape_controls=False).format(tombstone) == (
        b'{"key":{"version":2,"data":{"group":"group-id"}},"value":null}\n')


def test_a_commit_arrives_in_consumer_offsets_and_topics_list_shows_it(data_path) -> None:
    kplay(data_path, "topics", "--create", "--topic", "orders", "--partitions", "2")
    kplay(data_path, "console-producer", "--topic", "orders", input="a\nb\nc\n")
    assert kplay(data_path, "topics", "--list").stdout == "orders\n"  # created on first use, not before

    read = kplay(data_path, "console-consumer", "--topic", "orders", "--group", "billing", "--from-beginning",
                 "--max-messages", "3")
    assert read.returncode == 0, read.stderr
    assert kplay(data_path, "topics", "--list").stdout == "__consumer_offsets\norders\n"
    assert kplay(data_path, "topics", "--list", "--exclude-internal").stdout == "orders\n"
    header = kplay(data_path, "topics", "--describe", "--topic", "__consumer_offsets").stdout.splitlines()[0]
    assert "PartitionCount: 50" in header and "cleanup.policy=compact" in header

    commits = kplay(data_path, "console-consumer", "--topic", "__consumer_offsets", "--from-beginning",
                    "--formatter", OFFSETS, "--timeout-ms", "3000")
    documents = [json.loads(line) for line in commits.stdout.splitlines()]
    latest = {(d["key"]["data"]["topic"], d["key"]["data"]["partition"]): d["value"] for d in documents}
    assert {key: value["data"]["offset"] for key, value in latest.items()} == {
        (topic, p): int(offset) for topic, p, offset in _committed(data_path, "billing")}
    assert all(d["key"]["version"] == 1 and d["value"]["version"] == 3 for d in documents)
    assert all(d["key"]["data"]["group"] == "billing" for d in documents)

    groups = kplay(data_path, "console-consumer", "--topic", "__consumer_offsets", "--from-beginning",
                   "--formatter", GROUPS, "--timeout-ms", "3000")
    metadata = [d for d in map(json.loads, groups.stdout.splitlines()) if d["key"]["data"]["group"] == "billing"]
    assert metadata[0]["key"] == {"version": 2, "data": {"group": "billing"}}
    assert metadata[0]["value"]["data"]["protocol"] == "range" and len(metadata[0]["value"]["data"]["members"]) == 1
    assert metadata[-1]["value"]["data"]["members"] == []  # the member left: an empty generation


def _committed(data_path, group: str) -> list[tuple[str, int, str]]:
    rows = [line.split() for line in kplay(data_path, "consumer-groups", "--describe", "--group", group).stdout.splitlines()]
    return [(row[1], int(row[2]), row[3]) for row in rows if row and row[0] == group]


def test_a_console_consumer_without_group_joins_a_generated_group(data_path) -> None:
    kplay(data_path, "topics", "--create", "--topic", "orders")
    consumer = LiveTool(data_path, "console-consumer", "--topic", "orders", "--from-beginning")
    try:
        deadline = time.monotonic() + 30
        listed: list[str] = []
        while time.monotonic() < deadline and not listed:
            listed = [g for g in kplay(data_path, "consumer-groups", "--list").stdout.split()
                      if g.startswith("console-consumer-")]
        assert len(listed) == 1 and 0 <= int(listed[0].rsplit("-", 1)[1]) < 100000
        kplay(data_path, "console-producer", "--topic", "orders", input="x\n")
        assert consumer.read_lines(1) == ["x"]
    finally:
        code, _ = consumer.stop()
    assert code == 0
    # Auto-commit was off: the throwaway group committed nothing and is gone again.
    assert "console-consumer-" not in kplay(data_path, "consumer-groups", "--list").stdout
