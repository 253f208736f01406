"""Which group member owns each partition of a topic, and the group's committed offset there.

Read through the group coordinator's public API (``cluster.groups``), so the partition
view shows owners from every process on the data file, as a broker would report them.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker_core import Cluster
from broker_core.errors import KafkaError


@dataclass(frozen=True, slots=True)
class PartitionOwner:
    """The member of ``group`` assigned a partition (None if none is), and the group's committed offset."""

    group: str
    member: str | None
    committed: int | None


async def read_owners(cluster: Cluster, topic: str) -> dict[int, PartitionOwner]:
    """Owners of ``topic``'s partitions, by partition number.

    When several groups read the topic, a group with a member on the partition wins over
    one that only has a committed offset there.
    """
    owners: dict[int, PartitionOwner] = {}
    try:
        listings = await cluster.groups.list_groups()
    except KafkaError:
        return owners
    for listing in listings:
        try:
            rows = await cluster.groups.group_lag(listing.group_id)
        except KafkaError:
            continue  # the group went away between the two calls
        for row in rows:
            if row.topic != topic:
                continue
            member = row.client_id or row.member_id
            current = owners.get(row.partition)
            if current is None or (current.member is None and member is not None):
                owners[row.partition] = PartitionOwner(listing.group_id, member, row.committed)
    return owners
