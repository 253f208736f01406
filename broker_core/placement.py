"""Where a topic's replicas go: Kafka's rack-unaware replica placement.

Leaders are spread round-robin over the brokers and each partition's followers sit on
the brokers after its leader, with Kafka's shift every full round so that followers of
consecutive rounds do not pile onto the same brokers.
"""

from __future__ import annotations

from typing import Sequence


def assign_replicas(brokers: Sequence[int], partitions: int, replication_factor: int, *,
                    start_index: int = 0, first_partition: int = 0) -> list[list[int]]:
    """Replica lists (preferred leader first) for ``partitions`` new partitions.

    Mirrors ``AdminUtils.assignReplicasToBrokersRackUnaware``: partition ``p`` is led by
    broker ``(p + start) % n``, and its followers follow with a shift that grows by one
    each time every broker has led one partition. ``first_partition`` continues the
    pattern when partitions are added to an existing topic.
    """
    ordered = sorted(brokers)
    n = len(ordered)
    if replication_factor > n:
        raise ValueError("replication factor larger than the number of brokers")
    result: list[list[int]] = []
    shift = 0
    current = start_index % n
    for p in range(first_partition, first_partition + partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (current + p) % n
        replicas = [ordered[first]]
        for j in range(replication_factor - 1):
            replicas.append(ordered[_follower_index(first, shift, j, n)])
        result.append(replicas)
    return result


def _follower_index(first: int, shift: int, j: int, n: int) -> int:
    offset = 1 + (shift + j) % (n - 1)
    return (first + offset) % n
