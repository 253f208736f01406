"""Which group member owns each partition of a topic, and the group's committed offset there.

Read through the group coordinator's public API (``cluster.groups``), so the partition
view shows owners from every process on the data file, as a broker would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker_core import Cluster
from broker_core.errors import KafkaError


@dataclass(frozen=True, slots=True)
class PartitionOwner:
    """The member of ``group`` assigned a partition, and the group's committed offset for it."""

    group: str
    member: str
    committed: int | None


async def read_owners(cluster: Cluster, topic: str) -> dict[int, PartitionOwner]:
    """Owners of ``topic``'s partitions, by partition number (empty without consumer groups)."""
    groups = getattr(cluster, "groups", None)
    if groups is None:
        return {}
    owners: dict[int, PartitionOwner] = {}
    try:
        listed = await groups.list_groups()
    except KafkaError:
        return {}
    for listing in listed:
        group_id = _group_id(listing)
        try:
            description = await groups.describe_group(group_id)
            lags = await groups.group_lag(group_id)
        except KafkaError:
            continue
        committed = {(lag.topic, lag.partition): lag.committed_offset for lag in lags}
        for member in getattr(description, "members", ()):
            for tp in getattr(member, "assignment", ()):
                tp_topic, partition = tp[0], tp[1]
                if tp_topic == topic:
                    owners[partition] = PartitionOwner(
                        group_id, getattr(member, "client_id", "") or member.member_id,
                        committed.get((topic, partition)))
        for (lag_topic, partition), offset in committed.items():
            if lag_topic == topic and partition not in owners and offset is not None:
                owners[partition] = PartitionOwner(group_id, "(no member)", offset)
    return owners


def _group_id(listing: Any) -> str:
    return listing if isinstance(listing, str) else getattr(listing, "group_id")
