"""ListOffsets answers EARLIEST and LATEST from a snapshot of the topic's offsets, kept only while
nothing is committed to the data file: what another process appends or deletes is answered at
once, never a stale offset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from kafka.protocol.consumer import ListOffsetsRequest, ListOffsetsResponse

from test_serve_protocol import Client
from test_serve_support import ServedCluster, quiet_feed, served_one_broker as served  # noqa: F401

EARLIEST, LATEST = -2, -1
PARTITIONS = 200  # more than one lookup's worth of rows: the snapshot is read whole




@pytest.fixture(name="quiet_feed")
def quiet_feed_fixture(served: ServedCluster) -> Iterator[None]:
    """The feed slowed for the whole test (see ``test_serve_support.quiet_feed``)."""
    with quiet_feed(served):
        yield


def offsets(client: Client, topic: str, timestamp: int, partitions: range) -> dict[int, int]:
    Topic = ListOffsetsRequest.ListOffsetsTopic
    response: Any = client.call(
        ListOffsetsRequest, ListOffsetsResponse, 9, replica_id=-1, isolation_level=0,
        topics=[Topic(name=topic, partitions=[Topic.ListOffsetsPartition(partition_index=p, current_leader_epoch=-1,
                                                                         timestamp=timestamp) for p in partitions])])
    return {p.partition_index: p.offset for t in response.topics for p in t.partitions}


def in_another_process(data_path: Path, code: str) -> None:
    """Run ``code`` (with ``cluster`` open on the data file) in a separate Python process."""
    script = ("import asyncio\nfrom broker_core import Cluster, ProducerRecord\n"
              "from broker_core.delete_records import delete_records\n"
              "async def main():\n"
              f"    async with await Cluster.open({str(data_path)!r}) as cluster:\n"
              f"        {code}\n"
              "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).resolve().parent.parent,
                   timeout=60)


def test_list_offsets_answers_what_another_process_just_committed(served: ServedCluster, quiet_feed: None) -> None:
    served.create_topic("o_snapshot", partitions=PARTITIONS)
    client = Client(served)
    try:
        assert offsets(client, "o_snapshot", LATEST, range(PARTITIONS)) == {p: 0 for p in range(PARTITIONS)}
        assert offsets(client, "o_snapshot", LATEST, range(7, 8)) == {7: 0}  # answered from the snapshot
        in_another_process(served.data_path, "await cluster.logs.append('o_snapshot', 7, "
                                             "[ProducerRecord(None, b'x') for _ in range(3)], acks=1)")
        assert offsets(client, "o_snapshot", LATEST, range(7, 8)) == {7: 3}
        in_another_process(served.data_path, "await delete_records(cluster.storage, cluster.clock, "
                                             "'o_snapshot', {7: 2})")
        assert offsets(client, "o_snapshot", EARLIEST, range(6, 9)) == {6: 0, 7: 2, 8: 0}
        assert offsets(client, "o_snapshot", LATEST, range(7, 8)) == {7: 3}
    finally:
        client.close()


def test_an_unknown_partition_is_still_an_error(served: ServedCluster) -> None:
    served.create_topic("o_unknown", partitions=2)
    client = Client(served)
    try:
        Topic = ListOffsetsRequest.ListOffsetsTopic
        response: Any = client.call(
            ListOffsetsRequest, ListOffsetsResponse, 9, replica_id=-1, isolation_level=0,
            topics=[Topic(name="o_unknown", partitions=[
                Topic.ListOffsetsPartition(partition_index=p, current_leader_epoch=-1, timestamp=LATEST)
                for p in (1, 5)])])
        codes = {p.partition_index: p.error_code for t in response.topics for p in t.partitions}
        assert codes == {1: 0, 5: 3}  # UNKNOWN_TOPIC_OR_PARTITION
    finally:
        client.close()


def test_metadata_answers_partitions_another_process_just_added(served: ServedCluster, quiet_feed: None) -> None:
    from kafka.protocol.metadata import MetadataRequest, MetadataResponse

    served.create_topic("o_metadata", partitions=2)
    client = Client(served)

    def partitions() -> list[int]:
        response: Any = client.call(MetadataRequest, MetadataResponse, 12, allow_auto_topic_creation=False,
                                    include_topic_authorized_operations=False,
                                    topics=[MetadataRequest.MetadataRequestTopic(topic_id=None, name="o_metadata")])
        return sorted(p.partition_index for t in response.topics for p in t.partitions)

    try:
        assert partitions() == [0, 1]
        assert partitions() == [0, 1]  # answered from the leadership view: nothing was committed since
        in_another_process(served.data_path, "await cluster.topics.create_partitions('o_metadata', 4)")
        assert partitions() == [0, 1, 2, 3]
    finally:
        client.close()
