"""``kplay brokers`` and ``kplay leader-election`` as a user runs them: separate processes."""

from __future__ import annotations

import asyncio
import json

import pytest

from broker_core import Cluster
from cli_harness import create_topics, kplay


def table(stdout: str) -> dict[str, list[str]]:
    """``brokers --list`` output (header row, then one row per broker) keyed by broker id."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["BROKER", "STATE", "CONTROLLER", "LEADERS", "ROLES"]
    assert lines[-1].startswith("KRaft quorum: ")  # the controller quorum's state, after the table
    return {line.split()[0]: line.split()[1:] for line in lines[1:-1]}


def one_error_line(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_stopping_and_starting_brokers_moves_leaders_and_the_preferred_election_moves_them_back(data_path):
    create_topics(data_path, {"orders": 3}, replication_factor=3)
    listed = table(kplay(data_path, "brokers", "--list").stdout)
    assert listed == {"0": ["running", "yes", "1", "broker,controller"], "1": ["running", "no", "1", "broker,controller"],
                      "2": ["running", "no", "1", "broker,controller"]}

    stopped = kplay(data_path, "brokers", "--stop", "1")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines() == ["Broker 1 stopped.", "partition orders-1: leader 1 -> 2, epoch 1, ISR [2,0]"]
    listed = table(kplay(data_path, "brokers", "--list").stdout)
    assert listed["1"][:3] == ["stopped", "no", "0"] and listed["2"][:3] == ["running", "no", "2"]
    describe = kplay(data_path, "topics", "--describe", "--topic", "orders").stdout
    assert "\tPartition: 1\tLeader: 2\tReplicas: 1,2,0\tIsr: 2,0" in describe

    assert kplay(data_path, "brokers", "--start", "1").stdout.splitlines() == ["Broker 1 started."]
    elected = kplay(data_path, "leader-election", "--election-type", "preferred", "--all-topic-partitions")
    assert elected.returncode == 0, elected.stderr
    assert elected.stdout.splitlines() == ["Successfully completed leader election (PREFERRED) for partitions orders-1"]
    again = kplay(data_path, "leader-election", "--election-type", "PREFERRED", "--topic", "orders", "--partition", "1")
    assert again.stdout.splitlines() == ["Valid replica already elected for partitions orders-1"]
    assert table(kplay(data_path, "brokers", "--list").stdout)["1"][:3] == ["running", "no", "1"]


def test_stopping_the_controller_hands_the_role_to_another_broker(data_path):
    create_topics(data_path, {"t": 1}, replication_factor=2)
    result = kplay(data_path, "brokers", "--stop", "0")
    assert "Active controller: node 1 (was node 0)" in result.stdout.splitlines()
    assert table(kplay(data_path, "brokers", "--list").stdout)["1"][1] == "yes"


@pytest.mark.parametrize(("args", "expected"), [
    (["brokers", "--stop", "7"], "Error: Broker 7 does not exist (the cluster's brokers are 0, 1, 2)"),
    (["brokers", "--start", "-3"], "Error: Broker -3 does not exist (the cluster's brokers are 0, 1, 2)"),
    (["brokers", "--stop", "one"], "kplay brokers: Invalid value for '--stop'"),
    (["brokers", "--list", "--stop", "1"], "Command must include exactly one action"),
    (["brokers", "--replication-delay-ms", "-5"], "Error: Invalid value -5 for configuration playground.replication.delay.ms"),
    (["leader-election", "--all-topic-partitions"], "Missing required option(s): election-type"),
    (["leader-election", "--election-type", "random", "--all-topic-partitions"], "Invalid election type 'random'"),
    (["leader-election", "--election-type", "preferred"],
     "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file"),
    (["leader-election", "--election-type", "preferred", "--topic", "t"], "Missing required option(s): partition"),
])
def test_bad_input_is_one_line_naming_the_problem(data_path, args, expected):
    create_topics(data_path, {"t": 1})
    result = kplay(data_path, *args)
    assert one_error_line(result).startswith(expected)
    assert result.stdout == ""


def test_failed_elections_are_reported_per_partition_and_fail_the_command(data_path, tmp_path):
    create_topics(data_path, {"orders": 1}, replication_factor=2)
    kplay(data_path, "brokers", "--stop", "0")  # orders-0's replicas are [0, 1]: its preferred leader goes
    request = tmp_path / "election.json"
    request.write_text(json.dumps({"partitions": [{"topic": "orders", "partition": 0},
                                                  {"topic": "missing", "partition": 0}]}))
    result = kplay(data_path, "leader-election", "--election-type", "preferred", "--path-to-json-file", str(request))
    assert result.stdout.splitlines() == [
        "Error completing leader election (PREFERRED) for partition: missing-0: "
        "UnknownTopicOrPartitionException: No such topic as missing",
        "Error completing leader election (PREFERRED) for partition: orders-0: "
        "PreferredLeaderNotAvailableException: The preferred leader was not available: broker 0 is stopped "
        "(partition orders-0)"]
    assert one_error_line(result) == "2 replica(s) could not be elected"


def test_the_replication_knobs_are_stored_in_the_data_file(data_path):
    create_topics(data_path, {"t": 1})
    result = kplay(data_path, "brokers", "--replication-delay-ms", "2500")
    assert result.returncode == 0 and "2500 ms" in result.stdout
    assert kplay(data_path, "brokers", "--replica-lag-time-max-ms", "10000").returncode == 0

    async def stored():
        cluster = await Cluster.open(data_path)
        try:
            return await cluster.controller.replication_settings()
        finally:
            await cluster.close()

    settings = asyncio.run(stored())
    assert (settings.replication_delay_ms, settings.replica_lag_time_max_ms) == (2500, 10000)
