"""KIP-848's server-side assignors (uniform, range): Kafka's known results and properties on random layouts.

Expected assignments marked "Kafka:" are from Kafka's group-coordinator unit tests
(RangeAssignorTest, UniformHeterogeneousAssignmentBuilderTest at apache/kafka 1eb7644) with
the same member ids, topic names and topic ids. The properties are those
tests/test_assignors.py checks for the classic assignors: every subscribed partition goes
to exactly one subscriber; uniform is balanced and sticky where range reshuffles.
"""

from __future__ import annotations

from collections.abc import Mapping

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker_core.server_assignors import MemberSpec, PartitionAssignorError, TopicSpec, assign, uniform_heterogeneous

FAST = settings(max_examples=80, deadline=None)
MEMBER_IDS = ["A", "B", "C", "c10", "m-ü", "z\U0001f600", "qJ8lXw2TQ2yZ0iGdG1C3ag", "b"]
TOPICS = ["t0", "t1", "t2", "orders"]


def spec(*topics: str, instance: str | None = None, **assigned: tuple[int, ...]) -> MemberSpec:
    return MemberSpec(frozenset(topics), instance, {t: frozenset(p) for t, p in assigned.items()})


def topics(**counts: int) -> dict[str, TopicSpec]:
    return {name: TopicSpec(count, bytes([i + 1]) * 16) for i, (name, count) in enumerate(counts.items())}


def flat(result: Mapping[str, Mapping[str, set[int]]]) -> dict[str, set[tuple[str, int]]]:
    return {m: {(t, p) for t, parts in a.items() for p in parts} for m, a in result.items()}


# --- Kafka's own cases ---

def test_range_three_members_three_topics_different_subscriptions() -> None:
    # Kafka: RangeAssignorTest.testFirstAssignmentThreeMembersThreeTopicsDifferentSubscriptions
    result = assign("range", {"A": spec("topic1", "topic2"), "B": spec("topic3"), "C": spec("topic2", "topic3")},
                    topics(topic1=3, topic2=3, topic3=2))
    assert result == {"A": {"topic1": {0, 1, 2}, "topic2": {0, 1}}, "B": {"topic3": {0}},
                      "C": {"topic2": {2}, "topic3": {1}}}


def test_range_two_members_two_topics_same_subscriptions() -> None:
    # Kafka: RangeAssignorTest.testFirstAssignmentTwoMembersTwoTopicsSameSubscriptions
    result = assign("range", {"A": spec("topic1", "topic3"), "B": spec("topic1", "topic3")},
                    topics(topic1=3, topic3=2))
    assert result == {"A": {"topic1": {0, 1}, "topic3": {0}}, "B": {"topic1": {2}, "topic3": {1}}}


def test_range_more_members_than_partitions_leaves_the_last_idle() -> None:
    # Kafka: RangeAssignorTest.testFirstAssignmentNumMembersGreaterThanNumPartitions
    result = assign("range", {"A": spec("topic1"), "B": spec("topic1"), "C": spec("topic1")}, topics(topic1=2))
    assert result == {"A": {"topic1": {0}}, "B": {"topic1": {1}}, "C": {}}


def test_range_orders_static_members_by_instance_id_first() -> None:
    # Kafka: RangeAssignorTest.testStaticMembership - a static member back under a new
    # member id gets the same partitions; static members sort before dynamic ones.
    first = assign("range", {"A": spec("t", instance="instanceA"), "B": spec("t", instance="instanceB")}, topics(t=3))
    again = assign("range", {"A1": spec("t", instance="instanceA"), "B": spec("t", instance="instanceB")},
                   topics(t=3))
    assert first["A"] == again["A1"] and first["B"] == again["B"]
    mixed = assign("range", {"a": spec("t"), "Z": spec("t", instance="i")}, topics(t=3))
    assert mixed == {"Z": {"t": {0, 1}}, "a": {"t": {2}}}


def test_uniform_keeps_what_members_own_up_to_their_quota() -> None:
    first = assign("uniform", {"A": spec("t"), "B": spec("t")}, topics(t=4))
    assert sorted(len(a["t"]) for a in first.values()) == [2, 2]
    owned = {m: spec("t", t=tuple(a["t"])) for m, a in first.items()}
    grown = assign("uniform", {**owned, "C": spec("t")}, topics(t=6))
    for member in ("A", "B"):
        assert first[member]["t"] <= grown[member]["t"]
    assert sorted(len(a.get("t", ())) for a in grown.values()) == [2, 2, 2]


# --- Kafka's UniformHeterogeneousAssignmentBuilderTest ---
# Its test group spec iterates members sorted (A, B, C), which is also the order Java's HashMap
# gives those ids, so kplay numbers the members as Kafka's test does. Ties between topics are
# broken by topic id, so the ids are Kafka's.

KAFKA_TOPIC_IDS = {"topic1": "T1-A4s3VTwiI5CTbEp6POw", "topic2": "T2-B4s3VTwiI5YHbPp6YUe",
                   "topic3": "T3-CU8fVTLCz5YMkLoDQsa", "topic4": "T4-Tw9fVTLCz5HbPp6YQsa"}


def kafka_topics(**counts: int) -> dict[str, TopicSpec]:
    """Topics with the Uuids Kafka's test uses (``Uuid.fromString``: url-safe base64, no padding)."""
    return {name: TopicSpec(count, base64.urlsafe_b64decode(KAFKA_TOPIC_IDS[name] + "=="))
            for name, count in counts.items()}


def test_heterogeneous_two_members_no_topic_subscription() -> None:
    # Kafka: testTwoMembersNoTopicSubscription
    result = uniform_heterogeneous({"A": spec(), "B": spec()}, kafka_topics(topic1=3))
    assert result == {"A": {}, "B": {}}


def test_heterogeneous_two_members_subscribed_to_nonexistent_topics() -> None:
    # Kafka: testTwoMembersSubscribedToNonexistentTopics
    with pytest.raises(PartitionAssignorError, match="doesn't exist in the topic metadata"):
        uniform_heterogeneous({"A": spec("topic3"), "B": spec("topic2")}, kafka_topics(topic1=3))


def test_heterogeneous_first_assignment_two_members_two_topics() -> None:
    # Kafka: testFirstAssignmentTwoMembersTwoTopics
    members = {"A": spec("topic1", "topic3"), "B": spec("topic3")}
    expected = {"A": {"topic1": {0, 1, 2}, "topic3": {4}}, "B": {"topic3": {0, 1, 2, 3, 5}}}
    assert uniform_heterogeneous(members, kafka_topics(topic1=3, topic3=6)) == expected
    assert assign("uniform", members, kafka_topics(topic1=3, topic3=6)) == expected


def test_heterogeneous_first_assignment_more_members_than_partitions() -> None:
    # Kafka: testFirstAssignmentNumMembersGreaterThanTotalNumPartitions
    members = {"A": spec("topic3"), "B": spec("topic3"), "C": spec("topic1")}
    assert assign("uniform", members, kafka_topics(topic3=1, topic1=2)) == {
        "A": {"topic3": {0}}, "B": {}, "C": {"topic1": {0, 1}}}


def test_heterogeneous_reassignment_three_members_three_topics_unbalanced_previous() -> None:
    # Kafka: testReassignmentForTwoMembersThreeTopicsGivenUnbalancedPrevAssignment
    members = {"A": spec("topic1", topic1=(0, 1, 2)),
               "B": spec("topic1", "topic2", topic1=(3,), topic2=(0,)),
               "C": spec("topic1", "topic2", "topic3", topic1=(4, 5), topic2=(1, 2, 3), topic3=(0, 1, 2, 3))}
    assert assign("uniform", members, kafka_topics(topic1=6, topic2=4, topic3=4)) == {
        "A": {"topic1": {0, 1, 2, 5}},
        "B": {"topic1": {3}, "topic2": {0, 1, 2, 3}},
        "C": {"topic1": {4}, "topic3": {0, 1, 2, 3}}}


def test_heterogeneous_reassignment_when_partitions_are_added() -> None:
    # Kafka: testReassignmentWhenPartitionsAreAddedForTwoMembers
    members = {"A": spec("topic1", "topic3", topic1=(0, 1, 2, 3), topic3=(0, 1)),
               "B": spec("topic1", "topic2", "topic3", "topic4", topic2=(0, 1, 2), topic4=(0, 1, 2))}
    assert assign("uniform", members, kafka_topics(topic1=6, topic2=5, topic3=3, topic4=3)) == {
        "A": {"topic1": {0, 1, 2, 3, 4, 5}, "topic3": {0, 1, 2}},
        "B": {"topic2": {0, 1, 2, 3, 4}, "topic4": {0, 1, 2}}}


def test_heterogeneous_reassignment_when_a_member_joins_and_partitions_are_added() -> None:
    # Kafka: testReassignmentWhenOneMemberAddedAndPartitionsAddedTwoMembersTwoTopics
    # (A still holds topic2-0 from before it unsubscribed: it is revoked.)
    members = {"A": spec("topic1", topic1=(0, 2), topic2=(0,)),
               "B": spec("topic1", "topic2", topic1=(1,), topic2=(1, 2)),
               "C": spec("topic1", "topic2")}
    assert assign("uniform", members, kafka_topics(topic1=6, topic2=7)) == {
        "A": {"topic1": {0, 2, 3, 4, 5}},
        "B": {"topic1": {1}, "topic2": {1, 2, 6}},
        "C": {"topic2": {0, 3, 4, 5}}}


def test_heterogeneous_reassignment_when_a_member_leaves() -> None:
    # Kafka: testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersThreeTopics
    members = {"A": spec("topic1", "topic3", topic1=(0, 1, 2), topic3=(0, 1)),
               "B": spec("topic2", topic2=(3, 4, 5, 6))}
    assert assign("uniform", members, kafka_topics(topic1=3, topic2=8, topic3=3)) == {
        "A": {"topic1": {0, 1, 2}, "topic3": {0, 1, 2}},
        "B": {"topic2": {0, 1, 2, 3, 4, 5, 6, 7}}}


def test_heterogeneous_reassignment_when_a_subscription_is_removed() -> None:
    # Kafka: testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics
    members = {"A": spec("topic1", topic1=(0, 2), topic2=(1, 3)),
               "B": spec("topic1", "topic2", topic1=(1,), topic2=(0, 2, 4))}
    assert assign("uniform", members, kafka_topics(topic1=3, topic2=5)) == {
        "A": {"topic1": {0, 1, 2}}, "B": {"topic2": {0, 1, 2, 3, 4}}}


def test_heterogeneous_reassignment_when_topic_partitions_run_out() -> None:
    # Kafka: testReassignmentWhenTopicPartitionsRunOutAndMembersHaveNoPartitions - the
    # subscriptions match, but Kafka's test runs the heterogeneous builder on them.
    members = {"A": spec("topic1", "topic2", "topic3", topic1=(0, 1), topic2=(0, 1), topic3=(0, 1)),
               "B": spec("topic1", "topic2", "topic3")}
    assert uniform_heterogeneous(members, kafka_topics(topic1=2, topic2=2, topic3=2)) == {
        "A": {"topic2": {0}, "topic3": {0, 1}}, "B": {"topic1": {0, 1}, "topic2": {1}}}


def test_heterogeneous_first_assignment_with_a_member_without_subscriptions() -> None:
    # Kafka: testFirstAssignmentWithTwoMembersIncludingOneWithoutSubscriptions
    members = {"A": spec("topic1"), "B": spec()}
    assert assign("uniform", members, kafka_topics(topic1=3)) == {"A": {"topic1": {0, 1, 2}}, "B": {}}


def test_uniform_homogeneous_keeps_topics_in_kafkas_hashmap_order_when_over_quota() -> None:
    # Kafka's homogeneous builder walks a member's old assignment as a HashMap<Uuid, ...>:
    # topic2's id hashes to bucket 1, topic1's to bucket 10, so A keeps topic2 and frees topic1,
    # whatever order kplay stored them in. Expected result printed by Kafka's own
    # UniformHomogeneousAssignmentBuilder (apache/kafka 1eb7644) run on this layout.
    members = {"A": spec("topic1", "topic2", topic1=(0, 1), topic2=(0, 1)), "B": spec("topic1", "topic2")}
    assert assign("uniform", members, kafka_topics(topic1=2, topic2=2)) == {
        "A": {"topic2": {0, 1}}, "B": {"topic1": {0, 1}}}


# --- properties on random layouts ---

@st.composite
def groups(draw, same_topics: bool = False):
    counts = draw(st.lists(st.integers(1, 6), min_size=1, max_size=len(TOPICS)))
    layout = topics(**dict(zip(TOPICS, counts)))
    members = draw(st.lists(st.sampled_from(MEMBER_IDS), min_size=1, max_size=6, unique=True))
    names = sorted(layout)
    shared = frozenset(draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)))
    return layout, {m: MemberSpec(shared if same_topics else frozenset(
        draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)))) for m in members}


@st.composite
def rebalanced_groups(draw, same_topics: bool = False):
    """A group after one uniform assignment, then some members leave, some join, topics may grow."""
    layout, members = draw(groups(same_topics))
    previous = assign("uniform", members, layout)
    stay = [m for m in members if draw(st.booleans())] or list(members)[:1]
    joining = [m for m in draw(st.lists(st.sampled_from(MEMBER_IDS), max_size=3, unique=True)) if m not in members]
    shared = next(iter(members.values())).topics
    group = {m: MemberSpec(members[m].topics, None, {t: frozenset(p) for t, p in previous[m].items()})
             for m in stay}
    for member in joining:
        group[member] = MemberSpec(shared if same_topics else frozenset(
            draw(st.lists(st.sampled_from(sorted(layout)), min_size=1, max_size=3, unique=True))))
    grown = {t: TopicSpec(s.partitions + draw(st.integers(0, 2)), s.topic_id) for t, s in layout.items()}
    return grown, group


def assert_valid(layout: Mapping[str, TopicSpec], members: Mapping[str, MemberSpec], result) -> None:
    assert set(result) == set(members)
    owners: dict[tuple[str, int], str] = {}
    for member, partitions in flat(result).items():
        for tp in partitions:
            assert tp[0] in members[member].topics, f"{member} got {tp} without subscribing"
            assert tp not in owners, f"{tp} assigned twice"
            owners[tp] = member
    wanted = {(t, p) for m in members.values() for t in m.topics for p in range(layout[t].partitions)}
    assert set(owners) == wanted


@FAST
@given(group=st.one_of(groups(), rebalanced_groups()), name=st.sampled_from(["uniform", "range"]))
def test_every_subscribed_partition_goes_to_exactly_one_subscriber(group, name: str) -> None:
    layout, members = group
    assert_valid(layout, members, assign(name, members, layout))


@FAST
@given(group=st.one_of(groups(same_topics=True), rebalanced_groups(same_topics=True)))
def test_uniform_balances_within_one_when_subscriptions_match(group) -> None:
    layout, members = group
    sizes = [len(p) for p in flat(assign("uniform", members, layout)).values()]
    assert max(sizes) - min(sizes) <= 1


@FAST
@given(group=rebalanced_groups(same_topics=True))
def test_uniform_members_keep_their_share_of_what_they_owned(group) -> None:
    layout, members = group
    result = flat(assign("uniform", members, layout))
    total = sum(layout[t].partitions for t in next(iter(members.values())).topics)
    quota = total // len(members)
    for member, member_spec in members.items():
        owned = {(t, p) for t, parts in member_spec.assignment.items() for p in parts}
        assert len(owned & result[member]) >= min(len(owned), quota), member


@FAST
@given(group=st.one_of(groups(), rebalanced_groups()))
def test_uniform_leaves_no_partition_that_a_less_loaded_subscriber_should_take(group) -> None:
    # With different subscriptions: no partition sits with a member holding 2+ more than
    # another subscriber of its topic (the balance Kafka's heterogeneous builder reaches).
    layout, members = group
    result = flat(assign("uniform", members, layout))
    load = {m: len(parts) for m, parts in result.items()}
    for member, parts in result.items():
        for topic, _ in parts:
            subscribers = [m for m, s in members.items() if topic in s.topics]
            assert all(load[member] - load[other] <= 1 for other in subscribers), (topic, member, load)


@FAST
@given(group=rebalanced_groups(same_topics=True))
def test_uniform_takes_partitions_only_from_members_above_their_quota(group) -> None:
    # Sticky: a partition changes owner only if its owner held more than the most anyone may hold.
    layout, members = group
    result = flat(assign("uniform", members, layout))
    total = sum(layout[t].partitions for t in next(iter(members.values())).topics)
    ceiling = -(-total // len(members))
    for owner, member_spec in members.items():
        owned = {(t, p) for t, parts in member_spec.assignment.items() for p in parts}
        if owned - result[owner]:
            assert len(owned) > ceiling - (1 if total % len(members) else 0), (owner, owned, result[owner])


@FAST
@given(group=st.one_of(groups(), rebalanced_groups(), groups(same_topics=True)))
def test_heterogeneous_builder_keeps_a_balanced_assignment_as_it_is(group) -> None:
    # Sticky: run again on its own result (nobody joined or left), Kafka's builder moves nothing.
    layout, members = group
    first = uniform_heterogeneous(members, layout)
    assert_valid(layout, members, first)
    again = {m: MemberSpec(s.topics, None, {t: frozenset(p) for t, p in first[m].items()}) for m, s in members.items()}
    assert uniform_heterogeneous(again, layout) == first


@FAST
@given(group=rebalanced_groups())
def test_heterogeneous_takes_partitions_only_from_members_that_end_no_lower(group) -> None:
    # Balance before stickiness, but no further: a member loses a partition it had (of a topic
    # it still subscribes to) only to a less loaded subscriber, so it never ends below the
    # least loaded subscriber of that topic (ties between the most loaded are Kafka's to break).
    layout, members = group
    result = flat(uniform_heterogeneous(members, layout))
    load = {m: len(parts) for m, parts in result.items()}
    for owner, member_spec in members.items():
        kept = {(t, p) for t, parts in member_spec.assignment.items() if t in member_spec.topics for p in parts}
        for topic, partition in kept - result[owner]:
            subscribers = [m for m, s in members.items() if topic in s.topics]
            assert load[owner] >= min(load[m] for m in subscribers), (owner, topic, partition, load)
