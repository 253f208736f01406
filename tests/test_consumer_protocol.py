"""Consumer-protocol bytes: the same as a real Kafka client's, so both can share a group.

The golden bytes were produced by kafka-python 3.0.12, whose encoders are generated from
Kafka's own JSON schemas (ConsumerProtocolSubscription / ConsumerProtocolAssignment).
"""

from __future__ import annotations

import pytest

from broker_core.consumer_protocol import (ConsumerProtocolAssignment, ConsumerProtocolError,
                                           ConsumerProtocolSubscription, decode_assignment,
                                           decode_cooperative_user_data, decode_sticky_user_data,
                                           decode_subscription, encode_assignment, encode_cooperative_user_data,
                                           encode_sticky_user_data, encode_subscription)
from broker_core.records import TopicPartition

SUBSCRIPTION = ConsumerProtocolSubscription(
    ("t1", "orders"), b"ud", (TopicPartition("t1", 0), TopicPartition("t1", 2)), 5, None)

GOLDEN_SUBSCRIPTIONS = {
    0: "0000" "00000002" "00027431" "00066f7264657273" "000000027564",
    1: "0001" "00000002" "00027431" "00066f7264657273" "000000027564"
       "00000001" "00027431" "00000002" "00000000" "00000002",
    2: "0002" "00000002" "00027431" "00066f7264657273" "000000027564"
       "00000001" "00027431" "00000002" "00000000" "00000002" "00000005",
    3: "0003" "00000002" "00027431" "00066f7264657273" "000000027564"
       "00000001" "00027431" "00000002" "00000000" "00000002" "00000005" "ffff",
}


@pytest.mark.parametrize("version", sorted(GOLDEN_SUBSCRIPTIONS))
def test_subscription_bytes_match_kafkas_schema(version: int) -> None:
    assert encode_subscription(SUBSCRIPTION, version).hex() == GOLDEN_SUBSCRIPTIONS[version]


@pytest.mark.parametrize("version", sorted(GOLDEN_SUBSCRIPTIONS))
def test_subscription_decodes_the_fields_its_version_carries(version: int) -> None:
    decoded = decode_subscription(bytes.fromhex(GOLDEN_SUBSCRIPTIONS[version]))
    assert decoded.version == version
    assert decoded.topics == ("t1", "orders")
    assert decoded.user_data == b"ud"
    assert decoded.owned_partitions == (SUBSCRIPTION.owned_partitions if version >= 1 else ())
    assert decoded.generation_id == (5 if version >= 2 else -1)
    assert decoded.rack_id is None


def test_a_newer_subscription_version_is_read_as_far_as_known() -> None:
    # A future client adds fields after rack_id; Kafka's decoder reads what it knows.
    data = bytes.fromhex("0004" + GOLDEN_SUBSCRIPTIONS[3][4:]) + b"\x00\x01future"
    decoded = decode_subscription(data)
    assert decoded.topics == ("t1", "orders")
    assert decoded.generation_id == 5


def test_assignment_bytes_match_kafkas_schema_and_round_trip() -> None:
    assignment = ConsumerProtocolAssignment((TopicPartition("t1", 3), TopicPartition("t1", 1)))
    data = encode_assignment(assignment, 1)
    assert data.hex() == "0001" "00000001" "00027431" "00000002" "00000001" "00000003" "ffffffff"
    assert decode_assignment(data).partitions == (TopicPartition("t1", 1), TopicPartition("t1", 3))


def test_an_empty_assignment_is_no_partitions() -> None:
    # The coordinator gives a member the leader left out empty bytes.
    assert decode_assignment(b"").partitions == ()


def test_sticky_user_data_is_kafkas_unversioned_v1_layout() -> None:
    data = encode_sticky_user_data([("t1", 2), ("t1", 0)], 7)
    assert data.hex() == "00000001" "00027431" "00000002" "00000000" "00000002" "00000007"
    assert decode_sticky_user_data(data) == ((TopicPartition("t1", 0), TopicPartition("t1", 2)), 7)
    # Version 0 had no generation.
    assert decode_sticky_user_data(data[:-4]) == ((TopicPartition("t1", 0), TopicPartition("t1", 2)), -1)
    assert decode_sticky_user_data(None) == ((), -1)


def test_cooperative_user_data_carries_the_generation() -> None:
    assert encode_cooperative_user_data(12) == b"\x00\x00\x00\x0c"
    assert decode_cooperative_user_data(encode_cooperative_user_data(12)) == 12
    assert decode_cooperative_user_data(None) == -1


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x01\x00\x00\x00\x05\x00\x02t", b"\xff\xff"])
def test_malformed_subscriptions_raise_a_clear_error(data: bytes) -> None:
    with pytest.raises(ConsumerProtocolError, match="ConsumerProtocolSubscription"):
        decode_subscription(data)
