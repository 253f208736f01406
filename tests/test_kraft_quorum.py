"""The KRaft control plane: a controller quorum of voters, an active controller elected by a
majority, the metadata log advancing with every metadata change, and what stops without a
majority (leader elections, topic changes) while partitions with a running leader serve on.
Checked through the core, ``kplay brokers`` and ``kplay metadata-quorum`` (kafka-metadata-quorum's
output, MetadataQuorumCommand.java)."""

from __future__ import annotations

import re

import pytest

from broker_core import ProducerRecord
from broker_core.errors import NotLeaderOrFollower, RequestTimedOut
from cli_harness import create_topics, kplay


async def test_every_metadata_change_advances_the_metadata_log(cluster):
    start = (await cluster.controller.quorum()).high_watermark
    await cluster.topics.create_topic("t", 3, 3)
    after_create = (await cluster.controller.quorum()).high_watermark
    assert after_create > start
    await cluster.logs.append("t", 0, [ProducerRecord(b"k", b"v")])  # data, not metadata
    assert (await cluster.controller.quorum()).high_watermark == after_create
    await cluster.controller.stop_broker(1)  # fencing, ISR shrinks, leader elections
    after_stop = (await cluster.controller.quorum()).high_watermark
    assert after_stop > after_create
    await cluster.topics.alter_config("t", {"retention.ms": 1000})
    await cluster.topics.delete_topic("t")
    quorum = await cluster.controller.quorum()
    assert quorum.high_watermark >= after_stop + 2
    # The stopped voter's log stopped where it stopped; the running ones are caught up.
    stopped = next(v for v in quorum.voters if v.node_id == 1)
    assert not stopped.alive and stopped.log_end_offset < quorum.high_watermark
    assert all(v.log_end_offset == quorum.high_watermark for v in quorum.voters if v.alive)


async def test_without_a_majority_nothing_needing_the_controller_happens_but_live_leaders_serve(cluster):
    await cluster.topics.create_topic("t", 3, 3)
    await cluster.controller.stop_broker(1)  # 2 of 3 voters: the controller moves broker 1's leaders
    leaders = {p.partition: p.leader for p in (await cluster.topics.describe_topic("t")).partitions}
    assert 1 not in leaders.values() and 2 in leaders.values()
    await cluster.controller.stop_broker(2)  # 1 of 3 voters: no active controller
    quorum = await cluster.controller.quorum()
    assert not quorum.has_leader and quorum.live_voters == 1 and quorum.majority == 2

    described = {p.partition: p for p in (await cluster.topics.describe_topic("t")).partitions}
    # No election ran: the stopped brokers' partitions still name them as leader.
    assert {p: d.leader for p, d in described.items()} == leaders
    stopped_led = [p for p, b in leaders.items() if b == 2]
    live_led = next(p for p, b in leaders.items() if b == 0)
    # A partition whose leader runs keeps serving produce (acks=1) and fetch.
    appended = await cluster.logs.append("t", live_led, [ProducerRecord(b"k", b"v")], acks=1)
    assert appended.base_offset == 0
    await cluster.logs.read("t", live_led, 0)
    # One whose leader stopped cannot: nobody may elect another.
    with pytest.raises(NotLeaderOrFollower):
        await cluster.logs.append("t", stopped_led[0], [ProducerRecord(b"k", b"v")], acks=1)
    for attempt in (cluster.topics.create_topic("new", 1, 1), cluster.topics.delete_topic("t"),
                    cluster.topics.create_partitions("t", 4), cluster.topics.alter_config("t", {"retention.ms": 1}),
                    cluster.controller.elect_leaders("unclean")):
        with pytest.raises(RequestTimedOut, match="Timed out waiting for the active controller.*1 of 3 voters"):
            await attempt

    # A majority again: the new active controller fences the stopped broker and elects leaders.
    change = await cluster.controller.start_broker(1)
    assert change.controller >= 0
    after = {p.partition: p.leader for p in (await cluster.topics.describe_topic("t")).partitions}
    assert all(leader in (0, 1) for leader in after.values())
    await cluster.topics.create_topic("new", 1, 1)


async def test_a_dedicated_quorum_keeps_its_controller_when_brokers_stop(dedicated_cluster):
    cluster = dedicated_cluster
    await cluster.topics.create_topic("t", 1, 3)
    for broker in (0, 1):
        await cluster.controller.stop_broker(broker)
    quorum = await cluster.controller.quorum()
    assert quorum.leader_id == 3000 and [v.node_id for v in quorum.voters] == [3000, 3001, 3002]
    assert [o.node_id for o in quorum.observers] == [2]  # brokers observe the metadata log
    assert (await cluster.topics.describe_topic("t")).partitions[0].leader == 2


def test_metadata_quorum_describe_status_and_replication_print_kafkas_format(data_path):
    create_topics(data_path, {"t": 1})
    status = kplay(data_path, "metadata-quorum", "--bootstrap-server", "localhost:9092", "describe", "--status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag", "MaxFollowerLagTimeMs",
        "CurrentVoters", "CurrentObservers"]
    assert all(line[24:25] != " " and line[:24].endswith(" ") for line in lines)  # values in column 25
    assert lines[1] == "LeaderId:               0"
    assert lines[4] == "MaxFollowerLag:         0"
    assert re.fullmatch(r'CurrentVoters:          \[\{"id": 0, "directoryId": "[\w-]{22}"}, '
                        r'\{"id": 1, .*}, \{"id": 2, .*}]', lines[6])
    assert lines[7] == "CurrentObservers:       []"

    kplay(data_path, "brokers", "--stop", "2")
    replication = kplay(data_path, "metadata-quorum", "--bootstrap-server", "x:9092", "describe", "--replication")
    assert replication.returncode == 0, replication.stderr
    rows = [line.split("\t")[:-1] for line in replication.stdout.splitlines()]
    assert [c.strip() for c in rows[0]] == ["NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp",
                                            "LastCaughtUpTimestamp", "Status"]
    assert [(r[0].strip(), r[6].strip()) for r in rows[1:]] == [("0", "Leader"), ("1", "Follower"), ("2", "Follower")]
    assert int(rows[3][3]) > 0 and rows[1][3].strip() == "0"  # the stopped voter lags
    assert len({len(r[1]) for r in rows}) == 1  # cells padded to the column's width

    stopped = kplay(data_path, "brokers", "--stop", "1")
    assert "No active controller: 1 of 3 controller quorum voters alive" in stopped.stdout
    listed = kplay(data_path, "brokers", "--list").stdout.splitlines()
    assert listed[0].split() == ["BROKER", "STATE", "CONTROLLER", "LEADERS", "ROLES"]
    assert listed[-1].startswith("KRaft quorum: no active controller (1 of 3 voters alive, 2 needed)")
    failed = kplay(data_path, "metadata-quorum", "--bootstrap-server", "x:9092", "describe", "--status")
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.strip().startswith("org.apache.kafka.common.errors.TimeoutException")
    created = kplay(data_path, "topics", "--create", "--topic", "u", "--bootstrap-server", "x:9092")
    assert created.returncode == 1
    assert "Timed out waiting for the active controller" in created.stdout + created.stderr


def test_metadata_quorum_refuses_what_kafkas_tool_refuses(data_path):
    create_topics(data_path, {"t": 1})
    neither = kplay(data_path, "metadata-quorum", "--bootstrap-server", "x:9092", "describe")
    assert neither.returncode == 1
    assert neither.stderr.strip() == "One of --status or --replication must be specified with describe sub-command"
    human = kplay(data_path, "metadata-quorum", "describe", "--status", "--human-readable")
    assert human.stderr.strip() == "The option --human-readable is only supported along with --replication"
