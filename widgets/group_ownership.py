"""Which group member owns each partition of a topic, and the group's committed offset there.

Read through the cluster's group coordinator (the backend's group verbs), so the partition
view shows owners from every process on the data file, as a broker would report them.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker_core.errors import KafkaError

from .cluster_source import ClusterSource


@dataclass(frozen=True, slots=True)
class PartitionOwner:
    """The member of ``group`` assigned a partition (None if none is), and the group's committed offset."""

    group: str
    member: str | None
    committed: int | None


async def read_owners(source: ClusterSource, topic: str) -> dict[int, PartitionOwner]:
    """Owners of ``topic``'s partitions, by partition number.

    When several groups read the topic, a group with a member on the partition wins over
    one that only has a committed offset there.
    """
    owners: dict[int, PartitionOwner] = {}
    try:
        listings = await source.list_groups()
    except KafkaError:
        return owners
    for listing in listings:
        try:
            rows = await source.group_lag(listing.group_id)
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
