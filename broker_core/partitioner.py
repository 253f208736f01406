"""Kafka's default partitioner: murmur2 for keyed records, sticky for null keys.

``murmur2`` is a bit-for-bit port of ``org.apache.kafka.common.utils.Utils.murmur2`` so a
key lands on the same partition number here as in real Kafka.
"""

from __future__ import annotations

import random

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 hash of ``data``, as a signed Java int."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    tail = length & ~3
    for i in range(0, tail, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    left = length & 3
    if left == 3:
        h ^= data[tail + 2] << 16
    if left >= 2:
        h ^= data[tail + 1] << 8
    if left >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Kafka's ``Utils.toPositive``: clear the sign bit (not ``abs``)."""
    return number & 0x7FFFFFFF


def partition_for_key(key: bytes, num_partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a non-null key."""
    return to_positive(murmur2(key)) % num_partitions


class StickyPartitioner:
    """Kafka's default partitioner (KIP-480 sticky for null keys).

    Keyed records hash with murmur2. Records without a key stick to one partition
    until the batch for it is sent, then move to another, so null-key traffic still
    forms full batches instead of one tiny batch per partition.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._sticky: dict[str, int] = {}

    def partition(self, topic: str, key: bytes | None, num_partitions: int) -> int:
        """Choose the partition for one record."""
        if key is not None:
            return partition_for_key(key, num_partitions)
        current = self._sticky.get(topic)
        if current is None or current >= num_partitions:
            current = self._random.randrange(num_partitions)
            self._sticky[topic] = current
        return current

    def on_new_batch(self, topic: str, num_partitions: int, previous: int) -> None:
        """A batch for ``previous`` was sent: stick to a different partition next."""
        if num_partitions <= 1:
            self._sticky[topic] = 0
            return
        choice = self._random.randrange(num_partitions - 1)
        self._sticky[topic] = choice if choice < previous else choice + 1
