"""Incremental fetch sessions (KIP-227) in ``kplay serve``, as Kafka's FetchSession.scala keeps them.

Raw requests (kafka-python's generated classes on a plain socket) check each rule: a full
fetch creates a session and answers every partition; an incremental one answers only
partitions with records, a moved high watermark or log start, or an error; forgotten
partitions are no longer answered; a wrong epoch, an unknown session id or a switch between
topic names and ids is refused at the top level; epoch -1 closes the session; a full cache
evicts only as Kafka does. Then kafka-python, which sends sessions, consumes through one,
including after its session epoch was made stale.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from kafka.protocol.consumer import FetchRequest, FetchResponse

from broker_core.delete_records import delete_records
from app.serve.fetch_sessions import FetchSessionCache
from test_serve_protocol import Client, produce, produce_batch
from test_serve_support import ServedCluster, served_one_broker as served, wait_for  # noqa: F401

FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71
FETCH_SESSION_TOPIC_ID_ERROR = 106
VERSION = 12  # by name; 13+ by topic id




def partition(index: int, offset: int, epoch: int = -1) -> Any:
    return FetchRequest.FetchTopic.FetchPartition(partition=index, current_leader_epoch=epoch, fetch_offset=offset,
                                                  last_fetched_epoch=-1, log_start_offset=-1,
                                                  partition_max_bytes=1 << 20)


def fetch(client: Client, session_id: int, epoch: int, topics: dict[Any, list[Any]],
          forgotten: dict[Any, list[int]] | None = None, version: int = VERSION, max_wait_ms: int = 0) -> Any:
    """One Fetch; ``topics`` and ``forgotten`` keyed by topic name (v12-) or topic id (v13+)."""
    key = "topic_id" if version >= 13 else "topic"
    return client.call(
        FetchRequest, FetchResponse, version, replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=1, max_bytes=1 << 24,
        isolation_level=0, session_id=session_id, session_epoch=epoch,
        topics=[FetchRequest.FetchTopic(**{key: topic}, partitions=parts) for topic, parts in topics.items()],
        forgotten_topics_data=[FetchRequest.ForgottenTopic(**{key: topic}, partitions=parts)
                               for topic, parts in (forgotten or {}).items()],
        rack_id="")


def answered(response: Any) -> dict[int, Any]:
    """Partition index -> its answer (the tests fetch one topic)."""
    return {p.partition_index: p for topic in response.responses for p in topic.partitions}


def topic_id(served: ServedCluster, name: str) -> Any:
    from app.serve.topic_ids import wire_topic_id
    description = served.call(served.core.topics.describe_topic(name))
    return wire_topic_id(description.topic_id)


def test_an_incremental_fetch_answers_only_partitions_that_changed(served: ServedCluster) -> None:
    served.create_topic("s_changes", partitions=4)
    client = Client(served)
    try:
        produce(client, "s_changes", 1, produce_batch((None, b"a"), (None, b"b")))
        full = fetch(client, 0, 0, {"s_changes": [partition(p, 0) for p in range(4)]})
        assert full.error_code == 0 and full.session_id != 0
        assert sorted(answered(full)) == [0, 1, 2, 3]  # a full response answers every partition
        assert answered(full)[1].high_watermark == 2 and answered(full)[1].records
        session = full.session_id

        # Nothing new: the client names only partition 1 (its position moved); nothing is answered.
        quiet = fetch(client, session, 1, {"s_changes": [partition(1, 2)]})
        assert (quiet.error_code, quiet.session_id, answered(quiet)) == (0, session, {})

        # Records on partition 3 (not named in the request): only it is answered.
        produce(client, "s_changes", 3, produce_batch((None, b"c")))
        news = fetch(client, session, 2, {})
        assert sorted(answered(news)) == [3]
        assert answered(news)[3].high_watermark == 1 and answered(news)[3].records

        # The client moves past it; the records are not answered twice, nor is anything else.
        after = fetch(client, session, 3, {"s_changes": [partition(3, 1)]})
        assert answered(after) == {}
    finally:
        client.close()


def test_a_moved_log_start_is_answered_without_records(served: ServedCluster) -> None:
    served.create_topic("s_logstart", partitions=2)
    client = Client(served)
    try:
        produce(client, "s_logstart", 0, produce_batch((None, b"a"), (None, b"b")))
        full = fetch(client, 0, 0, {"s_logstart": [partition(0, 2), partition(1, 0)]})
        session = full.session_id
        served.call(delete_records(served.core.storage, served.core.clock, "s_logstart", {0: 1}))
        moved = fetch(client, session, 1, {})
        assert sorted(answered(moved)) == [0]
        assert answered(moved)[0].log_start_offset == 1 and not answered(moved)[0].records
    finally:
        client.close()


def test_a_forgotten_partition_is_no_longer_answered(served: ServedCluster) -> None:
    served.create_topic("s_forget", partitions=2)
    client = Client(served)
    try:
        full = fetch(client, 0, 0, {"s_forget": [partition(0, 0), partition(1, 0)]})
        session = full.session_id
        fetch(client, session, 1, {}, forgotten={"s_forget": [0]})
        produce(client, "s_forget", 0, produce_batch((None, b"gone")))
        produce(client, "s_forget", 1, produce_batch((None, b"kept")))
        later = fetch(client, session, 2, {})
        assert sorted(answered(later)) == [1]
        # Forgetting the last partition ends the session: answered without one.
        last = fetch(client, session, 3, {}, forgotten={"s_forget": [1]})
        assert (last.error_code, last.session_id) == (0, 0)
        gone = fetch(client, session, 4, {})
        assert gone.error_code == FETCH_SESSION_ID_NOT_FOUND
    finally:
        client.close()


def test_a_wrong_epoch_or_an_unknown_session_is_refused_and_a_full_fetch_recovers(served: ServedCluster) -> None:
    served.create_topic("s_epoch", partitions=1)
    client = Client(served)
    try:
        full = fetch(client, 0, 0, {"s_epoch": [partition(0, 0)]})
        session = full.session_id
        assert fetch(client, session, 1, {}).error_code == 0
        replayed = fetch(client, session, 1, {})  # a duplicate: epoch 2 was expected
        assert (replayed.error_code, replayed.session_id, replayed.responses) == (INVALID_FETCH_SESSION_EPOCH, 0, [])
        assert fetch(client, session, 2, {}).error_code == 0  # the session itself is intact
        assert fetch(client, 12345, 1, {}).error_code == FETCH_SESSION_ID_NOT_FOUND
        # The client's answer to either: a full fetch naming the old session closes it and opens another.
        again = fetch(client, session, 0, {"s_epoch": [partition(0, 0)]})
        assert again.error_code == 0 and again.session_id not in (0, session)
        assert fetch(client, session, 3, {}).error_code == FETCH_SESSION_ID_NOT_FOUND
    finally:
        client.close()


def test_epoch_minus_one_closes_the_session_and_answers_without_one(served: ServedCluster) -> None:
    served.create_topic("s_final", partitions=1)
    client = Client(served)
    try:
        session = fetch(client, 0, 0, {"s_final": [partition(0, 0)]}).session_id
        closing = fetch(client, session, -1, {"s_final": [partition(0, 0)]})
        assert (closing.error_code, closing.session_id, sorted(answered(closing))) == (0, 0, [0])
        assert fetch(client, session, 1, {}).error_code == FETCH_SESSION_ID_NOT_FOUND
    finally:
        client.close()


def test_a_session_by_topic_id_answers_by_id_and_refuses_names(served: ServedCluster) -> None:
    served.create_topic("s_ids", partitions=2)
    ident = topic_id(served, "s_ids")
    client = Client(served)
    try:
        full = fetch(client, 0, 0, {ident: [partition(0, 0), partition(1, 0)]}, version=13)
        assert full.session_id != 0 and [t.topic_id for t in full.responses] == [ident]
        produce(client, "s_ids", 1, produce_batch((None, b"x")))
        news = fetch(client, full.session_id, 1, {}, version=13)
        assert [t.topic_id for t in news.responses] == [ident] and sorted(answered(news)) == [1]
        mixed = fetch(client, full.session_id, 2, {}, version=12)
        assert mixed.error_code == FETCH_SESSION_TOPIC_ID_ERROR
    finally:
        client.close()


def test_an_error_partition_is_answered_in_every_incremental_response(served: ServedCluster) -> None:
    served.create_topic("s_error", partitions=1)
    client = Client(served)
    try:
        full = fetch(client, 0, 0, {"s_error": [partition(0, 0), partition(7, 0)]})
        assert answered(full)[7].error_code != 0
        for epoch in (1, 2):
            again = fetch(client, full.session_id, epoch, {})
            assert sorted(answered(again)) == [7] and answered(again)[7].error_code != 0
    finally:
        client.close()


def test_a_held_incremental_fetch_returns_when_records_arrive(served: ServedCluster) -> None:
    served.create_topic("s_held", partitions=3)
    client = Client(served)
    writer = Client(served)
    try:
        session = fetch(client, 0, 0, {"s_held": [partition(p, 0) for p in range(3)]}).session_id
        correlation = client.correlation + 1
        client.send(FetchRequest, VERSION, replica_id=-1, max_wait_ms=20_000, min_bytes=1, max_bytes=1 << 24,
                    isolation_level=0, session_id=session, session_epoch=1, topics=[], forgotten_topics_data=[],
                    rack_id="")
        started = time.monotonic()
        produce(writer, "s_held", 2, produce_batch((None, b"late")))
        response = client.receive(FetchResponse, VERSION)
        assert response.header.correlation_id == correlation
        assert sorted(answered(response)) == [2] and time.monotonic() - started < 15
    finally:
        client.close()
        writer.close()


def test_a_full_cache_evicts_only_a_stale_or_smaller_settled_session() -> None:
    now = [0]
    cache = FetchSessionCache(max_entries=2, eviction_ms=1000, clock=lambda: now[0])
    first = cache.create(False, {("t", 0): None, ("t", 1): None})  # type: ignore[dict-item]
    second = cache.create(False, {("t", 0): None})  # type: ignore[dict-item]
    assert first is not None and second is not None
    assert cache.create(False, {}) is None  # both fresh: no room
    now[0] = 500
    cache.touch(first)
    now[0] = 1200  # second unused for 1,200 ms > 1,000: stale, it goes
    third = cache.create(False, {("t", 0): None})  # type: ignore[dict-item]
    assert third is not None and cache.get(second.id) is None and cache.get(first.id) is first
    now[0] = 1300
    cache.touch(first)
    cache.touch(third)
    # None is stale; first (used 1,300 ms after it was made) is settled: a larger session takes its slot,
    # a smaller one does not.
    assert cache.create(False, {}) is None
    assert cache.create(False, {("t", p): None for p in range(3)}) is not None  # type: ignore[misc]
    assert cache.get(first.id) is None and cache.evictions == 2


def test_kafka_python_consumes_through_a_session_and_recovers_from_a_stale_epoch(
        served: ServedCluster, caplog: pytest.LogCaptureFixture) -> None:
    from kafka import KafkaConsumer, TopicPartition

    served.create_topic("s_kafka_python", partitions=20)
    writer = Client(served)
    consumer = KafkaConsumer(bootstrap_servers=served.bootstrap, enable_auto_commit=False, group_id=None,
                             fetch_max_wait_ms=100)
    try:
        consumer.assign([TopicPartition("s_kafka_python", p) for p in range(20)])
        consumer.seek_to_beginning()
        got: list[tuple[int, int, bytes]] = []

        def drain() -> None:
            for records in consumer.poll(timeout_ms=100).values():
                got.extend((r.partition, r.offset, r.value) for r in records)

        for p in (0, 7, 19):
            produce(writer, "s_kafka_python", p, produce_batch((None, b"first-%d" % p)))
        wait_for(lambda: len(got) >= 3, "the first records", step=drain)
        # The consumer fetches through one session (the other tests' sessions hold other topics).
        [session] = [s for s in served.server.fetch_sessions.of(0)._sessions.values()
                     if any(key[0] == "s_kafka_python" for key in s.partitions)]
        # Make the client's next epoch stale, as a lost response would: it must start over and go on.
        session.epoch += 5
        with caplog.at_level(logging.INFO, logger="kafka"):
            produce(writer, "s_kafka_python", 7, produce_batch((None, b"second")))
            wait_for(lambda: len(got) >= 4, "a record after the stale epoch", step=drain)
        assert any("InvalidFetchSessionEpoch" in r.getMessage() for r in caplog.records)
        assert sorted(got) == [(0, 0, b"first-0"), (7, 0, b"first-7"), (7, 1, b"second"), (19, 0, b"first-19")]
    finally:
        consumer.close()
        writer.close()
