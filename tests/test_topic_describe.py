"""Describing some topics of many: the order asked, each topic's own partitions, past SQLite's 500-parameter chunks."""

from __future__ import annotations

import pytest

from broker_core import Cluster
from broker_core.errors import UnknownTopicOrPartition


async def test_named_topics_come_back_in_the_order_asked_with_their_own_partitions(cluster: Cluster) -> None:
    names = [f"t{number:04d}" for number in range(620)]  # more than one 500-name chunk
    for number, name in enumerate(names):
        await cluster.topics.create_topic(name, 1 + number % 3, 1)
    asked = list(reversed(names[::2])) + names[1:4]
    described = await cluster.topics.describe_topics(asked)
    assert [d.name for d in described] == asked
    for description in described:
        number = int(description.name[1:])
        assert description.partition_count == 1 + number % 3
        assert [p.partition for p in description.partitions] == list(range(1 + number % 3))
    assert len(await cluster.topics.describe_topics()) == 620
    with pytest.raises(UnknownTopicOrPartition, match="Topic 'nope' does not exist"):
        await cluster.topics.describe_topics(["t0001", "nope"])
