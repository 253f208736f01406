"""Partition assignors: Kafka's own known results, and properties that must hold for any group.

Expected assignments marked "Kafka:" are taken from Kafka's Java unit tests (RangeAssignorTest,
RoundRobinAssignorTest, AbstractStickyAssignorTest, CooperativeStickyAssignorTest) or from the
assignors' javadoc, with the same member ids and topic names, since member ids decide the order.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker_core.assignors import (
    ASSIGNORS,
    DEFAULT_ASSIGNOR,
    CooperativeStickyAssignor,
    RangeAssignor,
    RoundRobinAssignor,
    StickyAssignor,
    Subscription,
    get_assignor,
)

RANGE = RangeAssignor()
ROUND_ROBIN = RoundRobinAssignor()
STICKY = StickyAssignor()
COOPERATIVE = CooperativeStickyAssignor()
ALL_NAMES = ["range", "roundrobin", "sticky", "cooperative-sticky"]
COMPLETE_NAMES = ["range", "roundrobin", "sticky"]  # cooperative-sticky may withhold partitions


def parts(*names: str) -> list[tuple[str, int]]:
    """parts("topic1-0", "topic2-1") -> [("topic1", 0), ("topic2", 1)], sorted like the assignors' output."""
    out = []
    for name in names:
        topic, partition = name.rsplit("-", 1)
        out.append((topic, int(partition)))
    return sorted(out)


def sub(*topics: str, owned: tuple[str, ...] = (), generation: int = -1) -> Subscription:
    return Subscription(topics, tuple(parts(*owned)), generation)


def expected(**members: tuple[str, ...]) -> dict[str, list[tuple[str, int]]]:
    return {member: parts(*names) for member, names in members.items()}


def subscribed_partitions(
    partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
) -> set[tuple[str, int]]:
    wanted = {t for s in subscriptions.values() for t in s.topics}
    return {(t, p) for t, n in partitions_per_topic.items() if t in wanted for p in range(n)}


def assert_valid(partitions_per_topic, subscriptions, result, withheld=()) -> None:
    """Every member listed; each subscribed partition exactly once, to a member subscribed to its topic."""
    assert list(result) == list(subscriptions)
    handed_out = [tp for partitions in result.values() for tp in partitions]
    assert len(handed_out) == len(set(handed_out)), "a partition was given to two members"
    assert not set(handed_out) & set(withheld)
    assert set(handed_out) | set(withheld) == subscribed_partitions(partitions_per_topic, subscriptions)
    for member, partitions in result.items():
        assert partitions == sorted(partitions)
        assert all(topic in subscriptions[member].topics for topic, _ in partitions), member


def spread(result: Mapping[str, list]) -> int:
    sizes = [len(partitions) for partitions in result.values()]
    return max(sizes) - min(sizes)


# --- range ---

def test_range_gives_first_member_the_extra_partition_of_each_topic() -> None:
    # Kafka: RangeAssignor javadoc / RangeAssignorTest.testTwoConsumersTwoTopicsSixPartitions
    subscriptions = {"consumer1": sub("topic1", "topic2"), "consumer2": sub("topic1", "topic2")}
    result = RANGE.assign({"topic1": 3, "topic2": 3}, subscriptions)
    assert result == expected(
        consumer1=("topic1-0", "topic1-1", "topic2-0", "topic2-1"), consumer2=("topic1-2", "topic2-2"),
    )


def test_range_splits_each_topic_among_its_own_subscribers() -> None:
    # Kafka: RangeAssignorTest.testMultipleConsumersMixedTopics
    subscriptions = {"consumer1": sub("topic1"), "consumer2": sub("topic1", "topic2"), "consumer3": sub("topic1")}
    result = RANGE.assign({"topic1": 3, "topic2": 2}, subscriptions)
    assert result == expected(
        consumer1=("topic1-0",), consumer2=("topic1-1", "topic2-0", "topic2-1"), consumer3=("topic1-2",),
    )


def test_range_orders_member_ids_like_java_strings() -> None:
    # Java compares UTF-16 code units, so U+10000 (a surrogate pair, 0xD800...) sorts before U+FFFF.
    subscriptions = {"\uffff": sub("t"), "\U00010000": sub("t")}
    result = RANGE.assign({"t": 3}, subscriptions)
    assert result == {"\uffff": parts("t-2"), "\U00010000": parts("t-0", "t-1")}


# --- roundrobin ---

def test_roundrobin_deals_partitions_in_turn() -> None:
    # Kafka: RoundRobinAssignorTest.testTwoDynamicConsumersTwoTopicsSixPartitions
    subscriptions = {"consumer1": sub("topic1", "topic2"), "consumer2": sub("topic1", "topic2")}
    result = ROUND_ROBIN.assign({"topic1": 3, "topic2": 3}, subscriptions)
    assert result == expected(
        consumer1=("topic1-0", "topic1-2", "topic2-1"), consumer2=("topic1-1", "topic2-0", "topic2-2"),
    )


def test_roundrobin_skips_members_not_subscribed_to_the_topic() -> None:
    # Kafka: RoundRobinAssignor javadoc, the unbalanced mixed-subscription example
    subscriptions = {"C0": sub("t0"), "C1": sub("t0", "t1"), "C2": sub("t0", "t1", "t2")}
    result = ROUND_ROBIN.assign({"t0": 1, "t1": 2, "t2": 3}, subscriptions)
    assert result == expected(C0=("t0-0",), C1=("t1-0",), C2=("t1-1", "t2-0", "t2-1", "t2-2"))


def test_roundrobin_mixed_topics() -> None:
    # Kafka: RoundRobinAssignorTest.testMultipleConsumersMixedTopics
    subscriptions = {"consumer1": sub("topic1"), "consumer2": sub("topic1", "topic2"), "consumer3": sub("topic1")}
    result = ROUND_ROBIN.assign({"topic1": 3, "topic2": 2}, subscriptions)
    assert result == expected(
        consumer1=("topic1-0",), consumer2=("topic1-1", "topic2-0", "topic2-1"), consumer3=("topic1-2",),
    )


# --- behaviour shared by every assignor ---

@pytest.mark.parametrize("name", ALL_NAMES)
def test_more_members_than_partitions_leaves_members_idle(name: str) -> None:
    subscriptions = {f"c{i}": sub("t") for i in range(4)}
    result = get_assignor(name).assign({"t": 2}, subscriptions)
    assert result == {"c0": parts("t-0"), "c1": parts("t-1"), "c2": [], "c3": []}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_missing_and_unsubscribed_topics_are_ignored(name: str) -> None:
    # Kafka: testOneConsumerNonexistentTopic / testOnlyAssignsPartitionsFromSubscribedTopics
    subscriptions = {"consumer": sub("topic", "missing"), "idle": sub("missing")}
    result = get_assignor(name).assign({"topic": 3, "other": 3}, subscriptions)
    assert result == {"consumer": parts("topic-0", "topic-1", "topic-2"), "idle": []}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_an_empty_group_gets_an_empty_assignment(name: str) -> None:
    assert get_assignor(name).assign({"t": 3}, {}) == {}


def test_assignors_are_registered_under_kafkas_names() -> None:
    assert list(ASSIGNORS) == ALL_NAMES
    assert DEFAULT_ASSIGNOR == "range"
    java_name = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
    assert get_assignor(java_name) is ASSIGNORS["cooperative-sticky"]
    assert get_assignor("RoundRobinAssignor") is ASSIGNORS["roundrobin"]
    assert {a.rebalance_protocol for a in ASSIGNORS.values() if a.name != "cooperative-sticky"} == {"eager"}
    assert COOPERATIVE.rebalance_protocol == "cooperative"


def test_unknown_assignor_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError) as raised:
        get_assignor("random")
    message = str(raised.value)
    assert "'random'" in message
    assert all(name in message for name in ALL_NAMES)


def test_subscription_normalises_its_input() -> None:
    subscription = Subscription(["a", "b", "a"], [("a", 1), ("a", 1)], 3)
    assert subscription.topics == ("a", "b")
    assert subscription.owned_partitions == (("a", 1),)
    with pytest.raises(TypeError):
        Subscription("orders")  # type: ignore[arg-type]


def test_records_topic_partitions_work_as_owned_partitions() -> None:
    from broker_core.records import TopicPartition

    owned = (TopicPartition("t", 1), TopicPartition("t", 0))
    result = STICKY.assign({"t": 3}, {"c0": Subscription(["t"], owned, 1), "c1": sub("t")})
    assert result["c0"] == [TopicPartition("t", 0), TopicPartition("t", 1)]


# --- sticky: Kafka's known results ---

T12 = ("topic1", "topic2")
STICKY_CASES = {
    # Kafka: AbstractStickyAssignorTest.testTwoConsumersTwoTopicsSixPartitions (fresh, same topics)
    "fresh-same-topics": (
        {"topic1": 3, "topic2": 3},
        {"consumer1": sub(*T12), "consumer2": sub(*T12)},
        expected(consumer1=("topic1-0", "topic1-2", "topic2-1"), consumer2=("topic1-1", "topic2-0", "topic2-2")),
    ),
    # Kafka: testMultipleConsumersMixedTopicSubscriptions (fresh, general path)
    "fresh-mixed-topics": (
        {"topic1": 3, "topic2": 2},
        {"consumer1": sub("topic1"), "consumer2": sub(*T12), "consumer3": sub("topic1")},
        expected(consumer1=("topic1-0", "topic1-2"), consumer2=("topic2-0", "topic2-1"), consumer3=("topic1-1",)),
    ),
    # Kafka: testPoorRoundRobinAssignmentScenario, the sticky result in its javadoc
    "poor-roundrobin-scenario": (
        {"topic1": 2, "topic2": 1, "topic3": 2, "topic4": 1, "topic5": 2},
        {
            "consumer1": sub("topic1", "topic2", "topic3", "topic4", "topic5"),
            "consumer2": sub("topic1", "topic3", "topic5"),
            "consumer3": sub("topic1", "topic3", "topic5"),
            "consumer4": sub("topic1", "topic2", "topic3", "topic4", "topic5"),
        },
        expected(
            consumer1=("topic2-0", "topic3-0"), consumer2=("topic1-0", "topic3-1"),
            consumer3=("topic1-1", "topic5-0"), consumer4=("topic4-0", "topic5-1"),
        ),
    ),
    # Kafka: testConsumerOwningMinQuotaExpectedMaxQuota
    "owner-of-min-quota-takes-the-extra": (
        {"topic1": 2, "topic2": 3},
        {"consumer1": sub(*T12, owned=("topic1-0", "topic2-1"), generation=1),
         "consumer2": sub(*T12, owned=("topic1-1", "topic2-2"), generation=1)},
        expected(consumer1=("topic1-0", "topic2-1", "topic2-0"), consumer2=("topic1-1", "topic2-2")),
    ),
    # Kafka: testAllConsumersAreUnderMinQuota
    "all-under-min-quota": (
        {"topic1": 2, "topic2": 3},
        {"consumer1": sub(*T12, owned=("topic1-0",), generation=1),
         "consumer2": sub(*T12, owned=("topic1-1",), generation=1),
         "consumer3": sub(*T12, generation=1)},
        expected(consumer1=("topic1-0", "topic2-1"), consumer2=("topic1-1", "topic2-2"), consumer3=("topic2-0",)),
    ),
    # Kafka: testAllConsumersReachExpectedQuotaAndAreConsideredFilled
    "all-reach-quota": (
        {"topic": 4},
        {"consumer1": sub("topic", owned=("topic-0", "topic-1"), generation=1),
         "consumer2": sub("topic", owned=("topic-2",), generation=1),
         "consumer3": sub("topic", generation=1)},
        expected(consumer1=("topic-0", "topic-1"), consumer2=("topic-2",), consumer3=("topic-3",)),
    ),
    # Kafka: testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration
    "stale-generation-loses-its-claim": (
        {"topic": 3, "topic2": 3},
        {"consumer1": sub("topic", "topic2", owned=("topic-0", "topic-2", "topic2-1"), generation=10),
         "consumer2": sub("topic", "topic2", owned=("topic-0", "topic-2", "topic2-1"), generation=9)},
        expected(consumer1=("topic-0", "topic-2", "topic2-1"), consumer2=("topic-1", "topic2-0", "topic2-2")),
    ),
    # Kafka: testEnsurePartitionsAssignedToHighestGeneration
    "highest-generation-wins": (
        {"topic": 3, "topic2": 3, "topic3": 3},
        {"consumer1": sub("topic", "topic2", "topic3", owned=("topic-0", "topic2-0", "topic3-0"), generation=10),
         "consumer2": sub("topic", "topic2", "topic3", owned=("topic-1", "topic2-1", "topic3-1"), generation=9),
         "consumer3": sub("topic", "topic2", "topic3", owned=("topic2-1", "topic3-0", "topic3-2"), generation=8)},
        expected(consumer1=("topic-0", "topic2-0", "topic3-0"), consumer2=("topic-1", "topic2-1", "topic3-1"),
                 consumer3=("topic-2", "topic2-2", "topic3-2")),
    ),
}


@pytest.mark.parametrize("name", ["sticky", "cooperative-sticky"])
@pytest.mark.parametrize("case", list(STICKY_CASES))
def test_sticky_matches_kafka(name: str, case: str) -> None:
    partitions_per_topic, subscriptions, want = STICKY_CASES[case]
    assert get_assignor(name).assign(partitions_per_topic, subscriptions) == want


def test_sticky_extra_partition_follows_javas_hashmap_order() -> None:
    # Kafka: testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers. Both consumer1 and consumer2
    # own two partitions but only one may keep two: Java's HashMap visits consumer2 first.
    subscriptions = {
        "consumer1": sub(*T12, owned=("topic1-0", "topic2-0"), generation=1),
        "consumer2": sub(*T12, owned=("topic1-1", "topic2-1"), generation=1),
        "consumer3": sub(*T12, generation=1),
    }
    want = expected(consumer1=("topic1-0",), consumer2=("topic1-1", "topic2-1"), consumer3=("topic2-0",))
    assert STICKY.assign({"topic1": 2, "topic2": 2}, subscriptions) == want
    # The same group listed in another order gives the same answer: the hash decides, not the order.
    assert STICKY.assign({"topic1": 2, "topic2": 2}, dict(reversed(subscriptions.items()))) == want


def test_sticky_keeps_partitions_of_current_members() -> None:
    # Kafka: testNoReassignmentOnCurrentMembers
    topics = ("topic", "topic2", "topic3", "topic1")
    subscriptions = {
        "consumer1": sub(*topics),
        "consumer2": sub(*topics, owned=("topic-0", "topic2-0", "topic1-0"), generation=9),
        "consumer3": sub(*topics, owned=("topic3-2", "topic2-2", "topic1-1"), generation=8),
        "consumer4": sub(*topics, owned=("topic3-1", "topic-1", "topic-2"), generation=7),
    }
    result = STICKY.assign({t: 3 for t in topics}, subscriptions)
    assert result["consumer1"] == parts("topic1-2", "topic2-1", "topic3-0")


def test_sticky_add_then_remove_two_members() -> None:
    # Kafka: testAddRemoveTwoConsumersTwoTopics, all three generations
    partitions_per_topic = {"topic1": 3, "topic2": 4}
    first = STICKY.assign(partitions_per_topic, {"consumer1": sub(*T12), "consumer2": sub(*T12)})
    assert first == expected(
        consumer1=("topic1-0", "topic1-2", "topic2-1", "topic2-3"), consumer2=("topic1-1", "topic2-0", "topic2-2"),
    )
    grown = {
        "consumer1": Subscription(T12, tuple(first["consumer1"]), 1),
        "consumer2": Subscription(T12, tuple(first["consumer2"]), 1),
        "consumer3": Subscription(T12, (), 1),
        "consumer4": Subscription(T12, (), 1),
    }
    second = STICKY.assign(partitions_per_topic, grown)
    assert second == expected(
        consumer1=("topic1-0", "topic2-1"), consumer2=("topic2-0", "topic1-1"),
        consumer3=("topic1-2", "topic2-3"), consumer4=("topic2-2",),
    )
    shrunk = {m: Subscription(T12, tuple(second[m]), 1) for m in ("consumer3", "consumer4")}
    assert STICKY.assign(partitions_per_topic, shrunk) == expected(
        consumer3=("topic1-2", "topic2-3", "topic1-0", "topic2-1"), consumer4=("topic2-2", "topic1-1", "topic2-0"),
    )


def test_sticky_moves_only_the_departed_members_partitions_where_range_reshuffles() -> None:
    members = ("c0", "c1", "c2")
    before = STICKY.assign({"t": 6}, {m: sub("t") for m in members})
    after = STICKY.assign({"t": 6}, {m: Subscription(("t",), tuple(before[m]), 1) for m in ("c1", "c2")})
    for member in ("c1", "c2"):
        assert set(before[member]) <= set(after[member])
    assert set(after["c1"]) | set(after["c2"]) == set(before["c1"]) | set(before["c2"]) | set(before["c0"])
    # range, by contrast, recomputes the ranges: c1 loses a partition it was reading.
    range_before = RANGE.assign({"t": 6}, {m: sub("t") for m in members})
    range_after = RANGE.assign({"t": 6}, {m: sub("t") for m in ("c1", "c2")})
    assert not set(range_before["c1"]) <= set(range_after["c1"])


def test_sticky_keeps_ownership_with_mixed_subscriptions() -> None:
    partitions_per_topic = {"a": 4, "b": 2}
    topics = {"c1": ("a",), "c2": ("a", "b"), "c3": ("a", "b")}
    before = STICKY.assign(partitions_per_topic, {m: sub(*t) for m, t in topics.items()})
    survivors = {m: Subscription(topics[m], tuple(before[m]), 1) for m in ("c1", "c2")}
    after = STICKY.assign(partitions_per_topic, survivors)
    assert set(before["c1"]) <= set(after["c1"]) and set(before["c2"]) <= set(after["c2"])
    assert_valid(partitions_per_topic, {m: sub(*topics[m]) for m in ("c1", "c2")}, after)


def test_sticky_new_member_takes_only_what_balance_needs() -> None:
    members = ("c0", "c1", "c2")
    before = STICKY.assign({"t": 6}, {m: sub("t") for m in members})
    joined = {m: Subscription(("t",), tuple(before[m]), 1) for m in members} | {"c3": sub("t")}
    after = STICKY.assign({"t": 6}, joined)
    assert spread(after) == 1
    for member in members:
        assert set(after[member]) <= set(before[member])
    moved = sum(len(set(before[m]) - set(after[m])) for m in members)
    assert moved == len(after["c3"]) == 1


def test_sticky_newer_generation_wins_whichever_member_is_visited_first() -> None:
    # The stale-generation case above with the generations swapped: Java visits consumer2 first.
    subscriptions = {
        "consumer1": sub("topic", "topic2", owned=("topic-0", "topic-2", "topic2-1"), generation=9),
        "consumer2": sub("topic", "topic2", owned=("topic-0", "topic-2", "topic2-1"), generation=10),
    }
    result = STICKY.assign({"topic": 3, "topic2": 3}, subscriptions)
    assert result == expected(
        consumer1=("topic-1", "topic2-0", "topic2-2"), consumer2=("topic-0", "topic-2", "topic2-1"),
    )


def test_sticky_empty_subscription_gets_nothing() -> None:
    # Kafka would take a first member with no topics as "all subscriptions equal" and give it
    # partitions it never asked for; here it stays idle. "b" comes first in Java's HashMap order.
    subscriptions = {"consumer1": sub("t"), "b": Subscription(())}
    assert STICKY.assign({"t": 2}, subscriptions) == {"consumer1": parts("t-0", "t-1"), "b": []}


@pytest.mark.parametrize("all_equal", [True, False], ids=["same-topics", "mixed-topics"])
def test_sticky_multiple_generations_1(all_equal: bool) -> None:
    # Kafka: StickyAssignorTest.testAssignmentWithMultipleGenerations1
    every = ("topic", "topic2")
    c2_topics = every if all_equal else ("topic",)
    ppt = {"topic": 6, "topic2": 6}
    r1 = STICKY.assign(ppt, {"consumer1": sub(*every), "consumer2": sub(*c2_topics), "consumer3": sub(*every)})
    assert [len(r1[m]) for m in r1] == [4, 4, 4]
    r2 = STICKY.assign(ppt, {"consumer1": Subscription(every, tuple(r1["consumer1"]), 1),
                             "consumer2": Subscription(c2_topics, tuple(r1["consumer2"]), 1)})
    assert len(r2["consumer1"]) == len(r2["consumer2"]) == 6
    if all_equal:
        assert set(r1["consumer1"]) <= set(r2["consumer1"])
    assert set(r1["consumer2"]) <= set(r2["consumer2"])
    assert set(r2["consumer2"]) & set(r1["consumer3"])
    group = {"consumer2": Subscription(c2_topics, tuple(r2["consumer2"]), 2),
             "consumer3": Subscription(every, tuple(r1["consumer3"]), 1)}
    r3 = STICKY.assign(ppt, group)
    assert len(r3["consumer2"]) == len(r3["consumer3"]) == 6
    assert_valid(ppt, group, r3)


@pytest.mark.parametrize("all_equal", [True, False], ids=["same-topics", "mixed-topics"])
def test_sticky_multiple_generations_2(all_equal: bool) -> None:
    # Kafka: StickyAssignorTest.testAssignmentWithMultipleGenerations2
    every = ("topic", "topic2", "topic3")
    c1_topics = every if all_equal else ("topic",)
    c3_topics = every if all_equal else ("topic", "topic2")
    ppt = {"topic": 4, "topic2": 4, "topic3": 4}
    r1 = STICKY.assign(ppt, {"consumer1": sub(*c1_topics), "consumer2": sub(*every), "consumer3": sub(*c3_topics)})
    assert [len(r1[m]) for m in r1] == [4, 4, 4]
    r2 = STICKY.assign(ppt, {"consumer2": Subscription(every, tuple(r1["consumer2"]), 1)})
    assert len(r2["consumer2"]) == 12
    group = {"consumer1": Subscription(c1_topics, tuple(r1["consumer1"]), 1),
             "consumer2": Subscription(every, tuple(r2["consumer2"]), 2),
             "consumer3": Subscription(c3_topics, tuple(r1["consumer3"]), 1)}
    r3 = STICKY.assign(ppt, group)
    assert [len(r3[m]) for m in r3] == [4, 4, 4]
    assert_valid(ppt, group, r3)


@pytest.mark.parametrize("all_equal", [True, False], ids=["same-topics", "mixed-topics"])
def test_sticky_conflicting_previous_generations(all_equal: bool) -> None:
    # Kafka: StickyAssignorTest.testAssignmentWithConflictingPreviousGenerations
    every = ("topic", "topic2", "topic3")
    c1_topics = every if all_equal else ("topic",)
    c2_topics = every if all_equal else ("topic", "topic2")
    c1_owned = ("topic-0", "topic-1", "topic-2", "topic2-2", "topic2-3", "topic3-0") if all_equal else (
        "topic-0", "topic-1", "topic-2", "topic-3")
    c2_owned = ("topic-0", "topic-1", "topic2-0", "topic2-1", "topic2-2", "topic2-3")
    c3_owned = ("topic-2", "topic-3", "topic3-0", "topic3-1", "topic3-2", "topic3-3")
    group = {"consumer1": sub(*c1_topics, owned=c1_owned, generation=1),
             "consumer2": sub(*c2_topics, owned=c2_owned, generation=2),
             "consumer3": sub(*every, owned=c3_owned, generation=2)}
    result = STICKY.assign({"topic": 4, "topic2": 4, "topic3": 4}, group)
    assert [len(result[m]) for m in result] == [4, 4, 4]
    assert set(result["consumer2"]) <= set(parts(*c2_owned))
    assert set(result["consumer3"]) <= set(parts(*c3_owned))


def test_sticky_member_back_from_an_older_generation_gets_its_partition_back() -> None:
    # General path (mixed topics), traced through AbstractStickyAssignor by hand: c3 rejoins with
    # generation 1 and still lists a-0; c1 (generation 2) owns everything. When a-0 has to move,
    # Kafka sends it to its previous owner c3 rather than to the lightest member c2.
    group = {
        "c1": sub("a", "b", owned=("a-0", "a-1", "a-2", "a-3", "b-0"), generation=2),
        "c2": sub("a"),
        "c3": sub("a", owned=("a-0",), generation=1),
    }
    assert STICKY.assign({"a": 4, "b": 1}, group) == expected(c1=("a-3", "b-0"), c2=("a-1", "a-2"), c3=("a-0",))


def test_sticky_subscription_change_rebalances_everything() -> None:
    # Traced by hand: c2 dropped t1 (it owned t1-0), so Kafka skips its "move only the new
    # partitions" pass and rebalances over all partitions; c1 ends up losing t0-0 as well.
    group = {
        "c1": sub("t0", "t1", owned=("t0-0",), generation=0),
        "c2": sub("t0", owned=("t1-0",), generation=0),
        "c3": sub("t1", generation=0),
    }
    assert STICKY.assign({"t0": 3, "t1": 3}, group) == expected(
        c1=("t0-2", "t1-2"), c2=("t0-0", "t0-1"), c3=("t1-0", "t1-1"),
    )


# --- cooperative-sticky: the two-phase hand-over ---

def test_cooperative_withholds_a_partition_claimed_twice() -> None:
    # Kafka: CooperativeStickyAssignorTest.testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultiple
    # ConsumersInSameGeneration{With,}EqualPartitionsPerConsumer
    for partitions, consumer1 in ((3, ("topic-1",)), (4, ("topic-1", "topic-3"))):
        subscriptions = {
            "consumer1": sub("topic", owned=("topic-0", "topic-1"), generation=1),
            "consumer2": sub("topic", owned=("topic-0", "topic-2"), generation=1),
            "consumer3": sub("topic", generation=1),
        }
        plan = COOPERATIVE.plan({"topic": partitions}, subscriptions)
        assert plan.assignment == expected(consumer1=consumer1, consumer2=("topic-2",), consumer3=())
        assert plan.withheld == {("topic", 0): "consumer3"}
        # The eager sticky assignor hands it over at once.
        assert STICKY.assign({"topic": partitions}, subscriptions)["consumer3"] == parts("topic-0")


def test_cooperative_hands_over_moving_partitions_one_generation_later() -> None:
    # Kafka: testAddRemoveTwoConsumersTwoTopics, second generation, under the cooperative protocol
    partitions_per_topic = {"topic1": 3, "topic2": 4}
    owned = expected(
        consumer1=("topic1-0", "topic1-2", "topic2-1", "topic2-3"), consumer2=("topic1-1", "topic2-0", "topic2-2"),
    )
    members = ("consumer1", "consumer2", "consumer3", "consumer4")
    group = {m: Subscription(T12, tuple(owned.get(m, ())), 1) for m in members}

    plan = COOPERATIVE.plan(partitions_per_topic, group)
    assert plan.assignment == expected(
        consumer1=("topic1-0", "topic2-1"), consumer2=("topic2-0", "topic1-1"), consumer3=(), consumer4=(),
    )
    assert plan.withheld == {("topic1", 2): "consumer3", ("topic2", 2): "consumer4", ("topic2", 3): "consumer3"}
    assert plan.revoked == expected(
        consumer1=("topic1-2", "topic2-3"), consumer2=("topic2-2",), consumer3=(), consumer4=(),
    )
    assert plan.needs_follow_up
    assert_valid(partitions_per_topic, group, plan.assignment, plan.withheld)

    # The revoking members rejoin with what they still own; now the partitions are free.
    follow_up = {m: Subscription(T12, tuple(plan.assignment[m]), 2) for m in group}
    second = COOPERATIVE.plan(partitions_per_topic, follow_up)
    assert second.withheld == {} and not second.needs_follow_up
    assert second.assignment == STICKY.assign(partitions_per_topic, group)


def test_cooperative_gives_a_departed_members_partitions_at_once() -> None:
    before = COOPERATIVE.assign({"t": 4}, {m: sub("t") for m in ("c0", "c1")})
    plan = COOPERATIVE.plan({"t": 4}, {"c1": Subscription(("t",), tuple(before["c1"]), 1)})
    assert plan.assignment == {"c1": parts("t-0", "t-1", "t-2", "t-3")}
    assert plan.withheld == {} and not plan.needs_follow_up


def test_cooperative_withholds_on_the_general_path_too() -> None:
    # Mixed subscriptions take Kafka's general path, where the moving set is derived afterwards.
    partitions_per_topic = {"a": 2, "b": 2}
    group = {"c1": sub("a", "b", owned=("a-0", "a-1", "b-0", "b-1"), generation=1), "c2": sub("a")}
    eager = STICKY.assign(partitions_per_topic, group)
    assert eager == expected(c1=("b-0", "b-1"), c2=("a-0", "a-1"))
    plan = COOPERATIVE.plan(partitions_per_topic, group)
    assert plan.assignment == expected(c1=("b-0", "b-1"), c2=())
    assert plan.withheld == {("a", 0): "c2", ("a", 1): "c2"}


# --- properties ---

MEMBER_IDS = ["consumer1", "consumer2", "consumer3", "c10", "C", "a", "m-ü", "z\U0001f600", "\uffff", "b"]
TOPICS = ["t0", "t1", "t2", "orders"]


@st.composite
def groups(draw, same_topics: bool = False):
    """A fresh group: topics with partition counts, members with their subscriptions."""
    counts = draw(st.lists(st.integers(1, 5), min_size=1, max_size=len(TOPICS)))
    partitions_per_topic = dict(zip(TOPICS, counts))
    if draw(st.booleans()):
        partitions_per_topic["unwatched"] = 2  # nobody subscribes to it
    members = draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True))
    shared = draw(topic_sets(partitions_per_topic))
    subscriptions = {
        m: Subscription(shared if same_topics else draw(topic_sets(partitions_per_topic))) for m in members
    }
    return partitions_per_topic, subscriptions


def topic_sets(partitions_per_topic: Mapping[str, int]):
    """Up to three topics to subscribe to, possibly including one that does not exist."""
    return st.lists(st.sampled_from([*partitions_per_topic, "ghost"]), max_size=3, unique=True)


@st.composite
def rejoined_groups(draw, same_topics: bool = False):
    """A group after one sticky rebalance, then some members leave, some join, topics may grow."""
    partitions_per_topic, subscriptions = draw(groups(same_topics))
    previous = STICKY.assign(partitions_per_topic, subscriptions)
    stay = [m for m in subscriptions if draw(st.booleans())]
    joining = draw(st.lists(st.sampled_from(MEMBER_IDS), max_size=3, unique=True))
    newcomers = [m for m in joining if m not in subscriptions]
    if not stay and not newcomers:
        stay = list(subscriptions)[:1]
    shared = next(iter(subscriptions.values())).topics
    generation = draw(st.integers(0, 5))
    group = {m: Subscription(subscriptions[m].topics, tuple(previous[m]), generation) for m in stay}
    for member in newcomers:
        group[member] = Subscription(shared if same_topics else draw(topic_sets(partitions_per_topic)))
    grown = {t: n + draw(st.integers(0, 2)) for t, n in partitions_per_topic.items()}
    return grown, group, previous


@st.composite
def messy_groups(draw, same_topics: bool = False):
    """Arbitrary, even conflicting, ownership claims with arbitrary generations."""
    partitions_per_topic, subscriptions = draw(groups(same_topics))
    universe = [(t, p) for t, n in partitions_per_topic.items() for p in range(n + 1)] + [("gone", 0)]
    group = {
        m: Subscription(s.topics, draw(st.lists(st.sampled_from(universe), max_size=6)), draw(st.integers(-1, 3)))
        for m, s in subscriptions.items()
    }
    return partitions_per_topic, group


FAST = settings(max_examples=60, deadline=None)


@FAST
@given(group=groups(), name=st.sampled_from(COMPLETE_NAMES))
def test_every_partition_goes_to_exactly_one_subscriber(group, name: str) -> None:
    partitions_per_topic, subscriptions = group
    assert_valid(partitions_per_topic, subscriptions, get_assignor(name).assign(partitions_per_topic, subscriptions))


@FAST
@given(group=st.one_of(rejoined_groups(), messy_groups()))
def test_sticky_stays_valid_with_previous_owners(group) -> None:
    partitions_per_topic, subscriptions = group[0], group[1]
    assert_valid(partitions_per_topic, subscriptions, STICKY.assign(partitions_per_topic, subscriptions))


@FAST
@given(group=st.one_of(groups(same_topics=True), rejoined_groups(same_topics=True), messy_groups(same_topics=True)))
def test_sticky_balances_within_one_when_subscriptions_match(group) -> None:
    partitions_per_topic, subscriptions = group[0], group[1]
    result = STICKY.assign(partitions_per_topic, subscriptions)
    assert spread(result) <= 1


@FAST
@given(group=rejoined_groups(same_topics=True))
def test_sticky_members_keep_their_share_of_what_they_owned(group) -> None:
    partitions_per_topic, subscriptions, _ = group
    result = STICKY.assign(partitions_per_topic, subscriptions)
    total = len(subscribed_partitions(partitions_per_topic, subscriptions))
    quota = total // len(subscriptions)
    for member, subscription in subscriptions.items():
        kept = set(subscription.owned_partitions) & set(result[member])
        assert len(kept) >= min(len(subscription.owned_partitions), quota), member


@FAST
@given(group=rejoined_groups())
def test_sticky_never_swaps_partitions_of_a_topic_between_two_members(group) -> None:
    # Kafka's isSticky(): no topic sees partitions move both from A to B and from B to A.
    partitions_per_topic, subscriptions, previous = group
    result = STICKY.assign(partitions_per_topic, subscriptions)
    moves = {
        (tp[0], old_owner, new_owner)
        for new_owner, partitions in result.items() for tp in partitions
        for old_owner, owned in previous.items()
        if old_owner in subscriptions and old_owner != new_owner and tp in owned
    }
    assert not {(topic, b, a) for topic, a, b in moves} & moves


def _rebalance_until_settled(partitions_per_topic, subscriptions, rounds: int = 4):
    """Run cooperative rebalances, members reporting what they own, until nothing is withheld."""
    group = dict(subscriptions)
    for generation in range(10, 10 + rounds):
        plan = COOPERATIVE.plan(partitions_per_topic, group)
        assert_valid(partitions_per_topic, group, plan.assignment, plan.withheld)
        for member, assigned in plan.assignment.items():
            owned = set(group[member].owned_partitions)
            others_revoking = {tp for m in group if m != member for tp in plan.revoked[m]}
            # Kafka's cooperative rule: never hand out a partition someone is still giving up.
            assert not (set(assigned) - owned) & others_revoking
        if not plan.needs_follow_up:
            return plan.assignment
        group = {m: Subscription(s.topics, tuple(plan.assignment[m]), generation) for m, s in group.items()}
    raise AssertionError(f"cooperative rebalancing did not settle in {rounds} rounds")


@FAST
@given(group=st.one_of(rejoined_groups(same_topics=True), messy_groups(same_topics=True)))
def test_cooperative_settles_balanced_without_double_ownership(group) -> None:
    partitions_per_topic, subscriptions = group[0], group[1]
    final = _rebalance_until_settled(partitions_per_topic, subscriptions)
    assert_valid(partitions_per_topic, subscriptions, final)
    assert spread(final) <= 1


@FAST
@given(group=st.one_of(rejoined_groups(), messy_groups()))
def test_cooperative_settles_with_mixed_subscriptions(group) -> None:
    partitions_per_topic, subscriptions = group[0], group[1]
    assert_valid(partitions_per_topic, subscriptions, _rebalance_until_settled(partitions_per_topic, subscriptions))


@FAST
@given(group=groups(), name=st.sampled_from(ALL_NAMES), data=st.data())
def test_fresh_assignment_is_deterministic_whatever_the_member_order(group, name: str, data) -> None:
    partitions_per_topic, subscriptions = group
    assignor = get_assignor(name)
    first = assignor.assign(partitions_per_topic, subscriptions)
    assert assignor.assign(partitions_per_topic, subscriptions) == first
    shuffled = dict(data.draw(st.permutations(list(subscriptions.items()))))
    assert assignor.assign(partitions_per_topic, shuffled) == {m: first[m] for m in shuffled}


@FAST
@given(group=st.one_of(rejoined_groups(), messy_groups()), name=st.sampled_from(ALL_NAMES))
def test_assignment_with_history_is_deterministic(group, name: str) -> None:
    partitions_per_topic, subscriptions = group[0], group[1]
    assignor = get_assignor(name)
    first = assignor.assign(partitions_per_topic, subscriptions)
    assert assignor.assign(partitions_per_topic, subscriptions) == first
