"""Kafka's default partitioner: murmur2 bit-for-bit, stable keyed placement, sticky null keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import groupby
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker_core import Cluster, Producer
from broker_core.partitioner import murmur2, partition_for_key, to_positive
from broker_core.records import BATCH_OVERHEAD, RECORD_OVERHEAD

# org.apache.kafka.common.utils.UtilsTest#testMurmur2
KAFKA_UTILS_TEST_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
# akka-cluster-sharding-typed Murmur2Spec, checked there against Kafka's implementation.
AKKA_MURMUR2_SPEC_VECTORS = {
    b"1": -1993445489,
    b"12": 126087238,
    b"123": -267702483,
    b"1234": -1614185708,
    b"12345": -1188365604,
}


@pytest.mark.parametrize("data, expected", [*KAFKA_UTILS_TEST_VECTORS.items(), *AKKA_MURMUR2_SPEC_VECTORS.items()])
def test_murmur2_matches_kafkas_known_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def test_to_positive_clears_the_sign_bit_instead_of_taking_abs() -> None:
    # Kafka uses toPositive, not Math.abs: abs(Integer.MIN_VALUE) would stay negative.
    assert to_positive(-2**31) == 0
    assert to_positive(-1) == 2**31 - 1
    assert to_positive(-973932308) == -973932308 & 0x7FFFFFFF


@pytest.mark.parametrize("data, expected", [*KAFKA_UTILS_TEST_VECTORS.items(), *AKKA_MURMUR2_SPEC_VECTORS.items()])
@pytest.mark.parametrize("partitions", [1, 3, 7, 12, 100])
def test_partition_for_key_is_to_positive_murmur2_mod_partitions(data: bytes, expected: int, partitions: int) -> None:
    assert partition_for_key(data, partitions) == (expected & 0x7FFFFFFF) % partitions


@given(keys=st.lists(st.binary(min_size=0, max_size=64), min_size=1, max_size=30),
       partitions=st.integers(min_value=1, max_value=64))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_same_key_lands_on_the_same_partition_from_independent_producers(
        tmp_path: Path, keys: list[bytes], partitions: int) -> None:
    data = tmp_path / f"hyp-{os.urandom(6).hex()}.db"
    async with await Cluster.open(data) as cluster:
        await cluster.topics.create_topic("keyed", partitions=partitions)
        placed: list[list[int]] = []
        for seed in (1, 2):  # two producers, each with its own sticky-partitioner randomness
            async with Producer(cluster, linger_ms=0) as producer:
                futures = [await producer.send("keyed", b"v", key) for key in keys]
                await producer.flush()
                placed.append([(await f).partition for f in futures])
    assert placed[0] == placed[1] == [partition_for_key(k, partitions) for k in keys]


async def test_same_key_lands_on_the_same_partition_in_another_process(data_path: Path) -> None:
    keys = [f"user-{i}".encode() for i in range(200)] + [bytes([i, 255 - i, 0]) for i in range(56)]
    async with await Cluster.open(data_path) as cluster:
        await cluster.topics.create_topic("keyed", partitions=12)
        async with Producer(cluster) as producer:
            futures = [await producer.send("keyed", b"here", key) for key in keys]
            await producer.flush()
            here = [(await f).partition for f in futures]
    script = (
        "import asyncio, json, sys\n"
        "from broker_core import Cluster, Producer\n"
        "async def main():\n"
        "    keys = [bytes.fromhex(k) for k in json.loads(sys.stdin.read())]\n"
        "    async with await Cluster.open(sys.argv[1]) as cluster:\n"
        "        async with Producer(cluster) as producer:\n"
        "            futures = [await producer.send('keyed', b'there', k) for k in keys]\n"
        "            await producer.flush()\n"
        "            print(json.dumps([(await f).partition for f in futures]))\n"
        "asyncio.run(main())\n")
    # A different hash seed proves nothing depends on Python's per-process str/bytes hashing.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", script, str(data_path)], input=json.dumps([k.hex() for k in keys]),
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    there = json.loads(done.stdout)
    assert there == here == [partition_for_key(k, 12) for k in keys]


async def test_explicit_partition_wins_over_the_key(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=5)
    key = b"foobar"
    hashed = partition_for_key(key, 5)
    explicit = (hashed + 2) % 5
    async with Producer(cluster) as producer:
        meta = await producer.send_and_wait("orders", b"v", key, partition=explicit)
        keyed = await producer.send_and_wait("orders", b"v", key)
    assert meta.partition == explicit != hashed
    assert keyed.partition == hashed


async def test_null_keys_stick_to_one_partition_per_full_batch_then_switch(cluster: Cluster) -> None:
    await cluster.topics.create_topic("events", partitions=4)
    value = b"x" * 10
    per_batch = 10
    # A batch is full after exactly ``per_batch`` records of this size; linger never fires.
    batch_size = BATCH_OVERHEAD + per_batch * (RECORD_OVERHEAD + len(value))
    async with Producer(cluster, linger_ms=60_000, batch_size=batch_size) as producer:
        futures = [await producer.send("events", value) for _ in range(per_batch * 12)]
        await producer.flush()
        partitions = [(await f).partition for f in futures]
    runs = [(p, len(list(group))) for p, group in groupby(partitions)]
    # Kafka 3.3+ (KIP-794) switches after each full batch (batch.size bytes), and may pick the
    # same partition again: every run is whole batches, and over 12 batches more than one is used.
    assert all(length % per_batch == 0 for _, length in runs)
    assert sum(length for _, length in runs) == per_batch * 12
    assert len({p for p, _ in runs}) > 1


async def test_null_keys_on_a_single_partition_topic_all_go_to_partition_0(cluster: Cluster) -> None:
    await cluster.topics.create_topic("single", partitions=1)
    async with Producer(cluster, batch_size=200) as producer:
        futures = [await producer.send("single", b"v" * 20) for _ in range(40)]
        await producer.flush()
        assert {(await f).partition for f in futures} == {0}
