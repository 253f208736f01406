"""Consumer groups from the command line: console consumers sharing a topic, and
``kplay consumer-groups`` describing, resetting and deleting, each in its own process."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from broker_core import Cluster
from broker_core.partitioner import partition_for_key
from cli_harness import LiveTool, create_topics, kplay

COLUMNS = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
           "CLIENT-ID"]


def wait_for_group(data_path, group: str, members: int, timeout_s: float = 60.0, tools=()):
    """Poll the group through the core until it is Stable with ``members`` members; return it."""
    async def describe():
        cluster = await Cluster.open(data_path)
        try:
            return await cluster.groups.describe_group(group)
        finally:
            await cluster.close()

    deadline = time.monotonic() + timeout_s
    while True:
        description = asyncio.run(describe())
        if description.state == "Stable" and len(description.members) == members:
            return description
        assert time.monotonic() < deadline, (
            f"group {group} never became stable with {members} members: {description}; "
            f"stderr of the tools: {[tool.stderr_so_far() for tool in tools]}; "
            f"exit status: {[tool.proc.poll() for tool in tools]}")
        time.sleep(0.1)  # a poll interval between two reads of the group, not a wait for a result


def describe_rows(data_path, group: str) -> list[dict[str, str]]:
    result = kplay(data_path, "consumer-groups", "--describe", "--group", group, "--bootstrap-server", "x:9092")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "" and lines[1].split() == COLUMNS
    return [dict(zip(COLUMNS, line.split())) for line in lines[2:]]


def keys_for_each_partition(count: int) -> list[str]:
    """One key per partition, chosen with Kafka's partitioner."""
    found: dict[int, str] = {}
    for i in range(1000):
        found.setdefault(partition_for_key(f"key-{i}".encode(), count), f"key-{i}")
        if len(found) == count:
            return [found[p] for p in range(count)]
    raise AssertionError("no key for some partition")


def produce_keyed(data_path, topic: str, lines: list[str]) -> None:
    result = kplay(data_path, "console-producer", "--topic", topic, "--property", "parse.key=true",
                   "--property", "key.separator=:", input="".join(line + "\n" for line in lines))
    assert result.returncode == 0, result.stderr


def test_two_console_consumers_in_one_group_split_a_two_partition_topic(data_path):
    create_topics(data_path, {"split": 2})
    consumers = [LiveTool(data_path, "console-consumer", "--topic", "split", "--group", "pair", "--from-beginning",
                          "--property", "print.partition=true", "--property", "print.key=true")
                 for _ in range(2)]
    try:
        description = wait_for_group(data_path, "pair", members=2, tools=consumers)
        assert sorted(len(m.assignment) for m in description.members) == [1, 1]
        key0, key1 = keys_for_each_partition(2)
        produce_keyed(data_path, "split", [f"{key0}:a0", f"{key1}:b0", f"{key0}:a1", f"{key1}:b1"])
        seen = [consumer.read_lines(2) for consumer in consumers]
        results = [consumer.stop(signal.SIGINT) for consumer in consumers]
    finally:
        for consumer in consumers:
            consumer.kill()
    partitions = [{line.split("\t")[0] for line in lines} for lines in seen]
    assert sorted(map(sorted, partitions)) == [["Partition:0"], ["Partition:1"]]  # one partition each
    assert sorted(line.split("\t", 1)[1] for lines in seen for line in lines) == sorted(
        [f"{key0}\ta0", f"{key0}\ta1", f"{key1}\tb0", f"{key1}\tb1"])
    for lines in seen:  # each member sees its partition in order
        assert [line.split("\t")[2] for line in lines] in (["a0", "a1"], ["b0", "b1"])
    assert [code for code, _ in results] == [0, 0]
    assert all(stderr == ["Processed a total of 2 messages"] for _, stderr in results)
    # Leaving commits what each member read: the whole topic, no lag.
    rows = describe_rows(data_path, "pair")
    assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) for r in rows] == \
        [("0", "2", "2", "0"), ("1", "2", "2", "0")]


def test_describe_shows_committed_offsets_log_end_and_lag_and_the_live_member(data_path):
    create_topics(data_path, {"orders": 1})
    kplay(data_path, "console-producer", "--topic", "orders", input="".join(f"o{i}\n" for i in range(10)))
    read = kplay(data_path, "console-consumer", "--topic", "orders", "--group", "billing", "--from-beginning",
                 "--max-messages", "4")
    assert read.stdout.splitlines() == ["o0", "o1", "o2", "o3"]

    rows = describe_rows(data_path, "billing")
    assert rows == [{"GROUP": "billing", "TOPIC": "orders", "PARTITION": "0", "CURRENT-OFFSET": "4",
                     "LOG-END-OFFSET": "10", "LAG": "6", "CONSUMER-ID": "-", "HOST": "-", "CLIENT-ID": "-"}]
    empty = kplay(data_path, "consumer-groups", "--describe", "--group", "billing")
    assert empty.stderr == "\nConsumer group 'billing' has no active members.\n"

    member = LiveTool(data_path, "console-consumer", "--topic", "orders", "--group", "billing")
    try:
        assert member.read_lines(6) == [f"o{i}" for i in range(4, 10)]  # resumes at the committed offset
        (live,) = describe_rows(data_path, "billing")
        assert live["CLIENT-ID"] == "console-consumer" and live["CONSUMER-ID"].startswith("console-consumer-")
        state = kplay(data_path, "consumer-groups", "--describe", "--group", "billing", "--state").stdout.splitlines()
        assert state[1].split()[:2] == ["GROUP", "COORDINATOR"] and state[2].split()[-2:] == ["Stable", "1"]
        members = kplay(data_path, "consumer-groups", "--describe", "--group", "billing", "--members")
        assert members.stdout.splitlines()[2].split()[-1] == "1"  # #PARTITIONS
        listed = kplay(data_path, "consumer-groups", "--list", "--state").stdout.splitlines()
        assert [line.split() for line in listed] == [["GROUP", "STATE"], ["billing", "Stable"]]
        busy = kplay(data_path, "consumer-groups", "--reset-offsets", "--group", "billing", "--topic", "orders",
                     "--to-earliest", "--execute")
        assert busy.returncode != 0
        assert busy.stdout == ("\nError: Assignments can only be reset if the group 'billing' is inactive, but the "
                               f"current state is Stable.\n\n{'GROUP':<30} {'TOPIC':<30} {'PARTITION':<10} "
                               f"{'NEW-OFFSET':<15}\n")
    finally:
        member.stop()
        member.kill()


def test_reset_offsets_dry_run_changes_nothing_and_execute_moves_the_group(data_path):
    create_topics(data_path, {"t": 2})
    key0, key1 = keys_for_each_partition(2)
    produce_keyed(data_path, "t", [f"{key0}:{i}" for i in range(6)] + [f"{key1}:{i}" for i in range(4)])
    kplay(data_path, "console-consumer", "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "10")
    assert [r["CURRENT-OFFSET"] for r in describe_rows(data_path, "g")] == ["6", "4"]

    dry = kplay(data_path, "consumer-groups", "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest",
                "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [line.split() for line in dry.stdout.splitlines()] == [
        [], ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], ["g", "t", "0", "0"], ["g", "t", "1", "0"]]
    assert [r["CURRENT-OFFSET"] for r in describe_rows(data_path, "g")] == ["6", "4"]

    def reset(*scenario: str) -> list[str]:
        result = kplay(data_path, "consumer-groups", "--reset-offsets", "--group", "g", "--topic", "t",
                       *scenario, "--execute")
        assert result.returncode == 0, result.stderr
        return [r["CURRENT-OFFSET"] for r in describe_rows(data_path, "g")]

    assert reset("--to-earliest") == ["0", "0"]
    assert reset("--to-offset", "3") == ["3", "3"]
    assert reset("--shift-by", "2") == ["5", "4"]  # partition 1 ends at 4: clamped, as Kafka does
    assert reset("--to-latest") == ["6", "4"]
    assert reset("--to-datetime", "2000-01-01T00:00:00.000") == ["0", "0"]
    only_one = kplay(data_path, "consumer-groups", "--reset-offsets", "--group", "g", "--topic", "t:1",
                     "--to-offset", "2", "--execute")
    assert only_one.returncode == 0
    assert [(r["CURRENT-OFFSET"], r["LAG"]) for r in describe_rows(data_path, "g")] == [("0", "6"), ("2", "2")]


def test_delete_removes_an_empty_group(data_path):
    create_topics(data_path, {"t": 1})
    kplay(data_path, "console-producer", "--topic", "t", input="x\n")
    kplay(data_path, "console-consumer", "--topic", "t", "--group", "old", "--from-beginning", "--max-messages", "1")
    assert kplay(data_path, "consumer-groups", "--list").stdout == "old\n"
    deleted = kplay(data_path, "consumer-groups", "--delete", "--group", "old")
    assert deleted.stdout == "Deletion of requested consumer groups ('old') was successful.\n"
    assert kplay(data_path, "consumer-groups", "--list").stdout == ""


@pytest.fixture(scope="module")
def groups_data(tmp_path_factory):
    """A data file with topic t and an empty group g: every mistake below leaves it unchanged."""
    path = tmp_path_factory.mktemp("groups") / "cluster.db"
    create_topics(path, {"t": 1})
    kplay(path, "consumer-groups", "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--execute")
    return path


CG_PREFIX = "\nError: Executing consumer group command failed due to "


@pytest.mark.parametrize(("args", "stream", "expected"), [
    (["--describe"], "stderr", "Option [describe] takes one of these options: [all-groups], [group]"),
    (["--list", "--describe", "--group", "g"], "stderr", "Command must include exactly one action"),
    (["--describe", "--group", "nobody"], "stdout", "\nError: Consumer group 'nobody' does not exist."),
    (["--describe", "--group", "g", "--members", "--state"], "stderr",
     "Option [describe] takes at most one of these options"),
    (["--reset-offsets", "--group", "g", "--topic", "t", "--execute"], "stderr",
     "Option [reset-offsets] requires one of the following scenarios"),
    (["--reset-offsets", "--group", "g", "--to-earliest", "--execute"], "stderr",
     "One of the reset scopes should be defined: --all-topics, --topic."),
    (["--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"], "stderr",
     'Option "[to-earliest]" can\'t be used with option "[to-latest]"'),
    (["--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--dry-run", "--execute"], "stderr",
     "Option [reset-offsets] only accepts one of [execute] and [dry-run]"),
    (["--reset-offsets", "--group", "g", "--topic", "t:9", "--to-earliest", "--execute"], "stdout",
     CG_PREFIX + 'The partitions "t-9" do not exist'),
    (["--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday", "--execute"], "stdout",
     CG_PREFIX + "java.text.ParseException: Error parsing timestamp. It does not contain a 'T' according to "
                 "ISO8601 format"),
    # Utils.getDateTime: milliseconds are required.
    (["--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "2024-01-01T10:00:00", "--execute"],
     "stdout", CG_PREFIX + 'java.text.ParseException: Unparseable date: "2024-01-01T10:00:00Z"'),
    (["--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "2024-02-30T10:00:00.000", "--execute"],
     "stdout", CG_PREFIX + 'java.text.ParseException: Unparseable date: "2024-02-30T10:00:00.000Z"'),
    (["--reset-offsets", "--group", "g", "--topic", "t", "--to-offset", "soon", "--execute"], "stderr",
     "Invalid value for '--to-offset'"),
    (["--delete", "--group", "nobody"], "stdout",
     "\nError: Deletion of some consumer groups failed:\n* Group 'nobody' could not be deleted due to: "
     "org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist: 'nobody'."),
    (["--list", "--state", "Sleeping"], "stderr", "Invalid state list 'Sleeping'. Valid states are:"),
])
def test_each_consumer_groups_mistake_is_one_line_and_a_failure_status(groups_data, args, stream, expected):
    result = kplay(groups_data, "consumer-groups", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if stream == "stdout":
        assert result.stdout == expected + "\n" and "Error" not in result.stderr
    else:
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
        assert expected in result.stderr


@pytest.mark.parametrize(("text", "millis"), [
    ("2024-01-01T10:00:00.000", 1704103200000),
    ("2024-01-01T10:00:00.123Z", 1704103200123),
    ("2024-01-01T10:00:00.000+01:00", 1704099600000),
    ("2024-01-01T10:00:00.000-05", 1704121200000),
])
def test_to_datetime_reads_what_kafkas_get_date_time_reads(text, millis):
    from app.commands.consumer_groups import parse_datetime

    assert parse_datetime(text) == millis

def test_describe_a_kip848_consumer_group_as_kafka_4s_tool_does(data_path):
    from broker_core.consumer_group_coordinator import ConsumerGroupHeartbeatRequest

    create_topics(data_path, {"orders": 4})

    async def two_members() -> None:
        cluster = await Cluster.open(data_path)
        try:
            for member in ("member-a", "member-b"):
                await cluster.groups.consumer_group_heartbeat(ConsumerGroupHeartbeatRequest(
                    "modern", member, 0, rebalance_timeout_ms=30_000, subscribed_topic_names=("orders",),
                    owned_partitions={}, client_id=f"client-{member}", client_host="/127.0.0.1"))
            await cluster.groups.commit_offsets("modern", 1, "member-a", {("orders", 0): 0})
        finally:
            await cluster.close()

    asyncio.run(two_members())
    state = kplay(data_path, "consumer-groups", "--describe", "--group", "modern", "--state")
    # member-b waits for member-a to revoke: the new protocol's Reconciling is "rebalancing".
    assert state.stderr == "\nWarning: Consumer group 'modern' is rebalancing.\n"
    assert state.stdout.splitlines()[1].split() == ["GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE",
                                                    "#MEMBERS"]
    assert state.stdout.splitlines()[2].split()[-3:] == ["uniform", "Reconciling", "2"]
    members = kplay(data_path, "consumer-groups", "--describe", "--group", "modern", "--members", "--verbose")
    rows = {line.split()[1]: line.split() for line in members.stdout.splitlines()[2:]}
    assert rows["member-a"][-2:] == ["4", "orders(0,1,2,3)"]  # still owns all four until it revokes
    assert rows["member-b"][-2:] == ["0", "-"]
    listed = kplay(data_path, "consumer-groups", "--list", "--state").stdout.splitlines()
    assert [line.split() for line in listed] == [["GROUP", "STATE"], ["modern", "Reconciling"]]
    offsets = kplay(data_path, "consumer-groups", "--describe", "--group", "modern")
    first = offsets.stdout.splitlines()[2].split()
    assert first[:6] == ["modern", "orders", "0", "0", "0", "0"] and first[6] == "member-a"


def test_console_consumer_joins_with_the_kip848_protocol_when_asked(data_path):
    create_topics(data_path, {"orders": 2})
    kplay(data_path, "console-producer", "--topic", "orders", input="".join(f"o{i}\n" for i in range(4)))
    read = kplay(data_path, "console-consumer", "--topic", "orders", "--group", "modern", "--from-beginning",
                 "--max-messages", "4", "--consumer-property", "group.protocol=consumer",
                 "--consumer-property", "group.remote.assignor=range")
    assert read.returncode == 0, read.stderr
    assert sorted(read.stdout.splitlines()) == ["o0", "o1", "o2", "o3"]
    # It committed with its member epoch and left: an Empty group of the consumer protocol.
    listed = kplay(data_path, "consumer-groups", "--list", "--state").stdout.splitlines()
    assert [line.split() for line in listed] == [["GROUP", "STATE"], ["modern", "Empty"]]
    assert sum(int(r["CURRENT-OFFSET"]) for r in describe_rows(data_path, "modern")) == 4
    bad = kplay(data_path, "console-consumer", "--topic", "orders", "--group", "g", "--consumer-property",
                "group.protocol=eager", "--max-messages", "1")
    assert bad.returncode != 0
    assert "group.protocol: String must be one of: classic, consumer" in bad.stderr
    assert "Traceback" not in bad.stderr
