"""An incremental Fetch looks only at the partitions that changed since the session's last look
(the partition change log), yet stays exact: what another process commits is answered by the
next fetch, although the server's change feed is slowed here to once a minute, so that only
the fetch's own catch-up with the data file can have found it; a log start moved by
delete-records, a new leader and a deleted topic are answered too."""

from __future__ import annotations

from typing import Any

from broker_core.events import LeaderElected, RecordsAppended, Subscription, TopicDeleted
from app.serve.partition_changes import PartitionChangeLog
from test_serve_fetch_sessions import answered, fetch, partition
from test_serve_offsets_snapshot import in_another_process
from test_serve_protocol import Client, produce, produce_batch
from test_serve_support import ServedCluster, quiet_feed, served, served_one_broker, wait_for  # noqa: F401

NOT_LEADER_OR_FOLLOWER = 6
UNKNOWN_TOPIC_OR_PARTITION = 3
PARTITIONS = 50


def test_another_processs_append_to_a_partition_not_named_is_answered(served_one_broker: ServedCluster) -> None:
    cluster = served_one_broker
    cluster.create_topic("c_append", partitions=PARTITIONS)
    client = Client(cluster)
    try:
        session = fetch(client, 0, 0, {"c_append": [partition(p, 0) for p in range(PARTITIONS)]}).session_id
        assert answered(fetch(client, session, 1, {})) == {}
        with quiet_feed(cluster):
            in_another_process(cluster.data_path, "await cluster.logs.append('c_append', 17, "
                                                  "[ProducerRecord(None, b'x') for _ in range(3)], acks=1)")
            news = fetch(client, session, 2, {})
            assert sorted(answered(news)) == [17]
            assert answered(news)[17].high_watermark == 3 and answered(news)[17].records
            # Taken once: the next fetch (the client moved on) answers nothing.
            assert answered(fetch(client, session, 3, {"c_append": [partition(17, 3)]})) == {}
    finally:
        client.close()


def test_another_processs_delete_records_is_answered_with_the_new_log_start(
        served_one_broker: ServedCluster) -> None:
    cluster = served_one_broker
    cluster.create_topic("c_delete", partitions=PARTITIONS)
    client = Client(cluster)
    try:
        produce(client, "c_delete", 9, produce_batch((None, b"a"), (None, b"b"), (None, b"c")))
        full = fetch(client, 0, 0, {"c_delete": [partition(p, 3 if p == 9 else 0) for p in range(PARTITIONS)]})
        assert answered(fetch(client, full.session_id, 1, {})) == {}
        with quiet_feed(cluster):
            in_another_process(cluster.data_path, "await delete_records(cluster.storage, cluster.clock, "
                                                  "'c_delete', {9: 2})")
            moved = fetch(client, full.session_id, 2, {})
            assert sorted(answered(moved)) == [9]
            assert answered(moved)[9].log_start_offset == 2 and not answered(moved)[9].records
    finally:
        client.close()


def test_a_deleted_topic_is_answered_as_unknown(served_one_broker: ServedCluster) -> None:
    cluster = served_one_broker
    cluster.create_topic("c_gone", partitions=3)
    client = Client(cluster)
    try:
        session = fetch(client, 0, 0, {"c_gone": [partition(p, 0) for p in range(3)]}).session_id
        with quiet_feed(cluster):
            in_another_process(cluster.data_path, "await cluster.topics.delete_topic('c_gone')")
            gone = fetch(client, session, 1, {})
            assert {p: a.error_code for p, a in answered(gone).items()} == {p: UNKNOWN_TOPIC_OR_PARTITION
                                                                          for p in range(3)}
    finally:
        client.close()


def test_a_new_leader_elected_by_another_process_is_answered_with_the_partitions_error(served: ServedCluster) -> None:
    served.create_topic("c_leader", partitions=1, replication_factor=3)
    preferred = served.leader("c_leader", 0)
    # Leadership moves away from the preferred replica, which then comes back in sync.
    served.call(served.core.controller.stop_broker(preferred))
    served.call(served.core.controller.start_broker(preferred))
    wait_for(lambda: preferred in served.call(served.core.topics.describe_topic("c_leader")).partitions[0].isr,
             "the preferred replica back in sync")
    interim = served.leader("c_leader", 0)
    assert interim != preferred
    client = Client(served, interim)
    try:
        session = fetch(client, 0, 0, {"c_leader": [partition(0, 0)]}).session_id
        assert answered(fetch(client, session, 1, {})) == {}
        with quiet_feed(served):
            in_another_process(served.data_path, "await cluster.controller.elect_preferred_leaders("
                                                 "[('c_leader', 0)])")
            moved = fetch(client, session, 2, {})
            assert {p: a.error_code for p, a in answered(moved).items()} == {0: NOT_LEADER_OR_FOLLOWER}
    finally:
        client.close()
    assert served.leader("c_leader", 0) == preferred


class _Feed:
    """Just enough of a ChangeFeed to hand events to the change log by hand."""

    running = True

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        sub = Subscription(self, None)
        self._subscriptions.add(sub)
        return sub

    def behind(self) -> bool:
        return False

    def offer(self, event: Any) -> None:
        for sub in self._subscriptions:
            sub.offer(event)


async def test_the_change_log_answers_changed_partitions_or_says_it_cannot() -> None:
    feed = _Feed()
    invalidated: list[bool] = []
    log = PartitionChangeLog(feed, on_leadership_change=lambda: invalidated.append(True), kept=3)  # type: ignore[arg-type]
    assert await log.catch_up() == -1  # not following the feed yet: every partition is compared
    log.start()
    start = await log.catch_up()
    assert log.since(start - 1) is None  # what came before it started is unknown
    feed.offer(RecordsAppended(1, 0, "t", 4, 1, 1))
    feed.offer(RecordsAppended(2, 0, "t", 5, 1, 1))
    after = await log.catch_up()
    assert log.since(start) == {("t", 4), ("t", 5)} and log.since(after) == set()
    feed.offer(LeaderElected(3, 0, "t", 4, 1, 0, 2, [1]))
    assert log.since(after) == set()  # not taken in until the next catch-up
    assert await log.catch_up() == after + 1 and log.since(after) == {("t", 4)} and invalidated == [True]
    for seq in range(4, 10):
        feed.offer(RecordsAppended(seq, 0, "t", seq, 1, 1))
    latest = await log.catch_up()
    assert log.since(start) is None  # trimmed: too far behind
    assert log.since(latest - 2) == {("t", 8), ("t", 9)}
    feed.offer(TopicDeleted(10, 0, "t"))
    assert log.since(latest) == set() and await log.catch_up() == latest + 1
    assert log.since(latest) is None  # a whole-topic change


def test_changes_taken_by_a_request_answered_too_late_are_answered_next(served_one_broker: ServedCluster) -> None:
    from kafka.protocol.consumer import FetchRequest, FetchResponse

    cluster = served_one_broker
    cluster.create_topic("c_late", partitions=3)
    held, other = Client(cluster), Client(cluster)
    try:
        session = fetch(held, 0, 0, {"c_late": [partition(p, 0) for p in range(3)]}).session_id
        cache = cluster.server.fetch_sessions.of(0)  # type: ignore[union-attr]
        # Epoch 1 waits for records; meanwhile epoch 2 is answered on another connection.
        held.send(FetchRequest, 12, replica_id=-1, max_wait_ms=20_000, min_bytes=1, max_bytes=1 << 24,
                  isolation_level=0, session_id=session, session_epoch=1, topics=[], forgotten_topics_data=[],
                  rack_id="")
        wait_for(lambda: cache.get(session).epoch == 2, "the held request to be taken in")
        assert answered(fetch(other, session, 2, {})) == {}
        produce(other, "c_late", 2, produce_batch((None, b"x")))
        # The held request wakes, takes the change, and is refused: the client's next fetch answers it.
        assert held.receive(FetchResponse, 12).error_code == 71  # INVALID_FETCH_SESSION_EPOCH
        news = fetch(other, session, 3, {})
        assert sorted(answered(news)) == [2] and answered(news)[2].records
    finally:
        held.close()
        other.close()
