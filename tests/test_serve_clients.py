"""Real Kafka clients against ``kplay serve``: kafka-python, aiokafka and confluent-kafka.

Each library produces (with and without keys and headers, with every compression codec),
consumes from the beginning, consumes in a group and commits, and shares a topic between
two members of one group. What they write is checked in the core too: the TUI shows what
the core holds, so values must arrive decompressed with their keys and headers.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import pytest

from broker_core.records import TopicPartition
from test_serve_support import KITS, ClientKit, ConsumerHandle, Got, Sent, ServedCluster, wait_for, served  # noqa: F401 (a fixture)

CODECS = ("gzip", "snappy", "lz4", "zstd")


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest, served: ServedCluster) -> Iterator[ClientKit]:
    """Each client library in turn, pointed at the served cluster."""
    made = KITS[request.param](served.bootstrap)
    try:
        yield made
    finally:
        made.close()


def slug(kit: ClientKit) -> str:
    return kit.name.replace("-", "_")


def mixed_records(count: int) -> list[Sent]:
    """Keyed records with headers, keyed without, unkeyed with, unkeyed without."""
    records = []
    for i in range(count):
        key = f"key-{i % 5}".encode() if i % 2 == 0 else None
        headers = (("trace", f"t{i}".encode()), ("source", b"test")) if i % 4 < 2 else ()
        records.append(Sent(key, f"value-{i}".encode(), headers))
    return records


def consume_until(consumer: ConsumerHandle, count: int, timeout: float = 30) -> list[Got]:
    got: list[Got] = []
    wait_for(lambda: len(got) >= count, f"{count} records", timeout, step=lambda: got.extend(consumer.poll(0.2)))
    return got


def test_produce_with_and_without_keys_and_headers_then_consume_from_the_beginning(
        served: ServedCluster, kit: ClientKit) -> None:
    topic = f"mixed_{slug(kit)}"
    served.create_topic(topic, partitions=2, replication_factor=2)
    records = mixed_records(24)
    placed = kit.produce(topic, records)

    # Keyed records land where Kafka's partitioner puts them; offsets are dense per partition.
    by_partition = Counter(partition for partition, _ in placed)
    assert sum(by_partition.values()) == 24
    for partition, count in by_partition.items():
        assert sorted(offset for p, offset in placed if p == partition) == list(range(count))
    same_key = {placed[i][0] for i in range(0, 24, 10)}  # key-0 at i = 0, 10, 20
    assert len(same_key) == 1

    consumer = kit.consumer(topic)
    try:
        got = consume_until(consumer, 24)
    finally:
        consumer.close()
    expected = {place: (r.key, r.value, r.headers) for place, r in zip(placed, records)}
    assert {(g.partition, g.offset): (g.key, g.value, g.headers) for g in got} == expected
    assert len(got) == 24

    # The core holds the same records (what the TUI shows).
    stored = {(r.partition, r.offset): (r.key, r.value, tuple(r.headers))
              for p in range(2) for r in served.log(topic, p)}
    assert stored == expected


def test_consume_in_a_group_and_commit(served: ServedCluster, kit: ClientKit) -> None:
    topic, group = f"grouped_{slug(kit)}", f"group_{slug(kit)}"
    served.create_topic(topic, partitions=3)
    kit.produce(topic, [Sent(f"k{i}".encode(), f"v{i}".encode()) for i in range(30)])
    consumer = kit.consumer(topic, group)
    try:
        got = consume_until(consumer, 30)
        consumer.commit()
        ends = {p: len(served.log(topic, p)) for p in range(3)}
        assert {p: consumer.committed(topic, p) or 0 for p in range(3)} == ends
    finally:
        consumer.close()
    assert sorted(g.value for g in got) == sorted(f"v{i}".encode() for i in range(30))
    committed = served.call(served.core.groups.fetch_offsets(group))
    assert committed == {TopicPartition(topic, p): end for p, end in ends.items() if end}

    # A new member of the group starts where the group committed: it reads only what came after.
    kit.produce(topic, [Sent(b"late", f"late-{i}".encode()) for i in range(5)])
    again = kit.consumer(topic, group)
    try:
        later = consume_until(again, 5)
    finally:
        again.close()
    assert sorted(g.value for g in later) == [f"late-{i}".encode() for i in range(5)]


def test_two_members_of_one_group_split_a_topic(served: ServedCluster, kit: ClientKit) -> None:
    topic, group = f"split_{slug(kit)}", f"splitters_{slug(kit)}"
    served.create_topic(topic, partitions=4)
    everything = {(topic, p) for p in range(4)}
    first = kit.consumer(topic, group)
    second: ConsumerHandle | None = None
    got: list[Got] = []
    try:
        wait_for(lambda: first.assignment() == everything, "the first member to own every partition",
                 step=lambda: got.extend(first.poll(0.1)))
        second = kit.consumer(topic, group)
        members = (first, second)

        def split() -> bool:
            a, b = first.assignment(), second.assignment()
            return bool(a) and bool(b) and not a & b and a | b == everything

        wait_for(split, "the two members to split the partitions",
                 step=lambda: [got.extend(member.poll(0.1)) for member in members])
        owners = {tp: index for index, member in enumerate(members) for tp in member.assignment()}
        kit.produce(topic, [Sent(f"k{i}".encode(), f"v{i}".encode()) for i in range(40)])
        by_member: dict[int, list[Got]] = {0: [], 1: []}

        def poll_both() -> None:
            for index, member in enumerate(members):
                by_member[index].extend(member.poll(0.1))

        wait_for(lambda: sum(map(len, by_member.values())) >= 40, "40 records between the two members",
                 step=poll_both)
    finally:
        first.close()
        if second is not None:
            second.close()
    assert not got  # nothing was produced before the split
    for index, records in by_member.items():
        assert records, f"member {index} read nothing"
        assert all(owners[(g.topic, g.partition)] == index for g in records)
    values = sorted(g.value for records in by_member.values() for g in records)
    assert values == sorted(f"v{i}".encode() for i in range(40))


@pytest.mark.parametrize("codec", CODECS)
def test_every_compression_codec_arrives_decompressed(served: ServedCluster, kit: ClientKit, codec: str) -> None:
    topic = f"codec_{codec}_{slug(kit)}"
    served.create_topic(topic)
    # Repetitive values, so that the client really sends a compressed batch.
    records = [Sent(f"k{i}".encode(), (f"{codec} value {i} " * 20).encode(), (("codec", codec.encode()),))
               for i in range(20)]
    kit.produce(topic, records, compression=codec)
    stored = served.log(topic, 0)
    assert [(r.key, r.value, tuple(r.headers)) for r in stored] == [(r.key, r.value, r.headers) for r in records]
    consumer = kit.consumer(topic)
    try:
        got = consume_until(consumer, 20)
    finally:
        consumer.close()
    assert [g.value for g in sorted(got, key=lambda g: g.offset)] == [r.value for r in records]
