"""``kplay topics`` run as a user runs it: a subprocess, Kafka's flags, Kafka's output."""

from __future__ import annotations

import re

import pytest

from cli_harness import create_topics, kplay

HEADER = re.compile(r"^Topic: (\S+)\tTopicId: ([A-Za-z0-9_-]{22})\tPartitionCount: (\d+)"
                    r"\tReplicationFactor: (\d+)\tConfigs: (.*)$")
ROW = re.compile(r"^\tTopic: (\S+)\tPartition: (\d+)\tLeader: (\d+|none)\tReplicas: ([\d,]+)\tIsr: ([\d,]*)"
                 r"\tElr: \tLastKnownElr: $")  # Kafka 4.x's partition line (KIP-966's lists, empty)


def test_tutorial_create_then_describe_prints_kafkas_tab_separated_lines(data_path):
    created = kplay(data_path, "topics", "--create", "--topic", "topic-test", "--partitions", "1",
                    "--replication-factor", "1", "--bootstrap-server", "localhost:9092")
    assert created.returncode == 0, created.stderr
    assert created.stdout == "Created topic topic-test.\n"

    described = kplay(data_path, "topics", "--describe", "--topic", "topic-test",
                      "--bootstrap-server", "localhost:9092")
    assert described.returncode == 0, described.stderr
    header, row = described.stdout.splitlines()
    name, _topic_id, count, rf, configs = HEADER.match(header).groups()
    assert (name, count, rf, configs) == ("topic-test", "1", "1", "")
    topic, partition, leader, replicas, isr = ROW.match(row).groups()
    assert (topic, partition) == ("topic-test", "0")
    assert replicas == leader == isr  # one replica: it leads and is the whole ISR


def test_describe_shows_every_partition_its_replicas_and_config_overrides(data_path):
    kplay(data_path, "topics", "--create", "--topic", "orders", "--partitions", "3", "--replication-factor", "3",
          "--config", "retention.ms=60000", "--config", "cleanup.policy=compact")
    lines = kplay(data_path, "topics", "--describe", "--topic", "orders").stdout.splitlines()
    assert HEADER.match(lines[0]).group(5) == "cleanup.policy=compact,retention.ms=60000"
    rows = [ROW.match(line).groups() for line in lines[1:]]
    assert [r[1] for r in rows] == ["0", "1", "2"]
    for _, _, leader, replicas, isr in rows:
        assert sorted(replicas.split(",")) == ["0", "1", "2"]
        assert leader == replicas.split(",")[0] == isr.split(",")[0]


def test_list_alter_and_delete(data_path):
    for name in ("b-topic", "a-topic"):
        assert kplay(data_path, "topics", "--create", "--topic", name).returncode == 0
    assert kplay(data_path, "topics", "--list").stdout == "a-topic\nb-topic\n"

    altered = kplay(data_path, "topics", "--alter", "--topic", "a-topic", "--partitions", "4")
    assert altered.returncode == 0, altered.stderr
    header = kplay(data_path, "topics", "--describe", "--topic", "a-topic").stdout.splitlines()[0]
    assert HEADER.match(header).group(3) == "4"

    assert kplay(data_path, "topics", "--delete", "--topic", "b-topic").returncode == 0
    assert kplay(data_path, "topics", "--list").stdout == "a-topic\n"


def test_topic_flag_is_a_regular_expression_for_describe(data_path):
    create_topics(data_path, {"orders": 1, "orders-eu": 1, "payments": 1})
    out = kplay(data_path, "topics", "--describe", "--topic", "orders.*").stdout
    assert [HEADER.match(line).group(1) for line in out.splitlines() if line.startswith("Topic:")] == \
        ["orders", "orders-eu"]


def test_if_not_exists_and_if_exists_make_repeats_harmless(data_path):
    create_topics(data_path, {"t": 1})
    again = kplay(data_path, "topics", "--create", "--topic", "t", "--if-not-exists")
    assert again.returncode == 0 and again.stderr == ""
    gone = kplay(data_path, "topics", "--delete", "--topic", "missing", "--if-exists")
    assert gone.returncode == 0 and gone.stderr == ""


@pytest.fixture(scope="module")
def cluster_with_t(tmp_path_factory):
    """One data file for every mistake below: each is refused, so none changes it."""
    path = tmp_path_factory.mktemp("mistakes") / "cluster.db"
    create_topics(path, {"t": 2})
    return path


PREFIX = "Error while executing topic command : "


@pytest.mark.parametrize(("args", "stream", "expected"), [
    # What fails while the command runs: stdout, behind kafka-topics' prefix (TopicCommand.printException).
    (["--create", "--topic", "t"], "stdout", PREFIX + "Topic 't' already exists."),
    (["--create", "--topic", "x", "--replication-factor", "4"], "stdout",
     PREFIX + "Replication factor: 4 larger than available brokers: 3."),
    (["--create", "--topic", "x", "--partitions", "0"], "stdout", PREFIX + "The partitions must be greater than 0"),
    (["--create", "--topic", "bad/name"], "stdout", PREFIX + "Topic name \"bad/name\" is illegal, it contains a "
                                                                 "character other than ASCII alphanumerics, '.', '_' and '-'"),
    (["--create", "--topic", "x", "--config", "no.such.config=1"], "stdout",
     PREFIX + "Unknown topic config name: no.such.config"),
    (["--create", "--topic", "x", "--config", "retention.ms=99999999999999999999999"], "stdout",
     PREFIX + "Invalid value 99999999999999999999999 for configuration retention.ms: Not a number of type LONG"),
    (["--create", "--topic", "x", "--config", "retention.ms"], "stdout",
     PREFIX + 'requirement failed: Invalid topic config: all configs to be added must be in the format "key=val".'),
    (["--describe", "--topic", "missing"], "stdout", PREFIX + "Topic 'missing' does not exist as expected"),
    (["--delete", "--topic", "missing"], "stdout", PREFIX + "Topic 'missing' does not exist as expected"),
    (["--alter", "--topic", "t", "--partitions", "1"], "stdout",
     PREFIX + "Topic currently has 2 partitions, which is higher than the requested 1."),
    # Refused options: stderr (CommandLineUtils.printUsageAndExit).
    (["--alter", "--topic", "t"], "stderr", 'Missing required argument "[partitions]"'),
    (["--create"], "stderr", 'Missing required argument "[topic]"'),
    (["--create", "--delete", "--topic", "t"], "stderr",
     "Command must include exactly one action: --list, --describe, --create, --alter or --delete"),
    ([], "stderr", "Command must include exactly one action"),
    (["--list", "--partitions", "3"], "stderr", 'Option "[partitions]" can\'t be used with option "[list]"'),
    (["--create", "--topic", "x", "--partitions", "three"], "stderr", "Invalid value for '--partitions'"),
    (["--create", "--topic", "x", "--no-such-flag"], "stderr", "No such option: --no-such-flag"),
])
def test_each_mistake_is_one_line_naming_it_and_a_failure_status(cluster_with_t, args, stream, expected):
    result = kplay(cluster_with_t, "topics", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if stream == "stdout":
        assert (result.stdout, result.stderr) == (expected + "\n", "")
    else:
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
        assert expected in result.stderr


def test_an_empty_list_is_one_blank_line_and_internal_topics_can_be_left_out(tmp_path):
    assert kplay(tmp_path / "empty.db", "topics", "--list").stdout == "\n"
    assert kplay(tmp_path / "empty.db", "topics", "--list", "--exclude-internal").stdout == "\n"


def test_a_file_that_is_not_a_kplay_data_file_is_refused_untouched(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    result = kplay(other, "topics", "--list")
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and "not a kplay data file" in result.stderr
    assert other.read_text() == "my notes\n"
