"""Kafka's default partitioner: murmur2 for keyed records, sticky for null keys.

``BuiltInPartitioner`` is Kafka 3.3+'s (KIP-794), which the producer uses;
``StickyPartitioner`` is the older KIP-480 one (switch after every batch, over all
partitions), still used by callers that count batches themselves.

``murmur2`` is a bit-for-bit port of ``org.apache.kafka.common.utils.Utils.murmur2`` so a
key lands on the same partition number here as in real Kafka.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Callable, Mapping, Sequence

#: Queue sizes per partition, or a function giving them when a switch needs them.
QueueSizes = Mapping[int, int] | Callable[[], Mapping[int, int]] | None

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
    """Kafka 2.4-3.2's default partitioner (KIP-480 sticky for null keys).

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


class BuiltInPartitioner:
    """Kafka 3.3+'s partitioner for the producer (KIP-794, ``BuiltInPartitioner``).

    Keyed records hash with murmur2; an explicit partition always wins (the caller's).
    Records without a key stick to one partition until ``batch_size`` bytes were produced
    to it, then switch (``updatePartitionInfo``): at once if the partition's last batch is
    full, otherwise only after twice ``batch_size``, so linger-sized batches are not cut in
    two. The next partition is chosen only among partitions that have a leader, weighted
    by how few batches each has queued (adaptive partitioning: ``updatePartitionLoadStats``'s
    cumulative frequency table), uniformly when the queues are equal. One difference: a
    sticky partition that lost its leader is left at once here, where Kafka's producer
    would queue records for it until its leader is back or they time out.
    """

    def __init__(self, batch_size: int = 16_384, seed: int | None = None) -> None:
        self.batch_size = batch_size
        self._random = random.Random(seed)
        #: Per topic: the sticky partition and the bytes produced to it since it was chosen.
        self._sticky: dict[str, list[int]] = {}

    def partition(self, topic: str, key: bytes | None, num_partitions: int,
                  available: Sequence[int] | None = None, queue_sizes: QueueSizes = None) -> int:
        """The partition for one record; ``available``: the partitions that have a leader."""
        if key is not None:
            return partition_for_key(key, num_partitions)
        current = self._sticky.get(topic)
        if (current is None or current[0] >= num_partitions
                or (available is not None and available and current[0] not in available)):
            current = [self.next_partition(num_partitions, available, queue_sizes), 0]
            self._sticky[topic] = current
        return current[0]

    def on_append(self, topic: str, appended_bytes: int, batch_full: bool, num_partitions: int,
                  available: Sequence[int] | None = None, queue_sizes: QueueSizes = None) -> None:
        """Count bytes appended for a keyless record; switch partition when enough were."""
        current = self._sticky.get(topic)
        if current is None:
            return
        current[1] += appended_bytes
        if (current[1] >= self.batch_size and batch_full) or current[1] >= 2 * self.batch_size:
            self._sticky[topic] = [self.next_partition(num_partitions, available, queue_sizes), 0]

    def next_partition(self, num_partitions: int, available: Sequence[int] | None = None,
                       queue_sizes: QueueSizes = None) -> int:
        """``BuiltInPartitioner.nextPartition``: weighted by queue sizes when they differ."""
        if callable(queue_sizes):
            queue_sizes = queue_sizes()
        draw = self._random.getrandbits(31)  # Utils.toPositive(nextInt())
        candidates = list(available) if available else []
        if queue_sizes is not None and len(candidates) >= 1 and num_partitions >= 2:
            sizes = [queue_sizes.get(p, 0) for p in candidates]
            if not (len(set(sizes)) == 1 and len(candidates) == num_partitions):
                top = max(sizes) + 1
                table = list(itertools.accumulate(top - size for size in sizes))
                return candidates[bisect.bisect_right(table, draw % table[-1])]
        if candidates:
            return candidates[draw % len(candidates)]
        return draw % num_partitions
