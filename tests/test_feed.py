"""The change feed: writes from another OS process arrive as events, with no explicit refresh."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker_core import Cluster, ProducerRecord
from broker_core.events import Event, RecordsAppended, Subscription, TopicCreated

HELPER = Path(__file__).with_name("proc_producer.py")


async def _collect_until(subscription: Subscription, done, timeout_s: float) -> list[Event]:  # type: ignore[no-untyped-def]
    """Events from ``subscription`` until ``done(event)`` is true; fails after ``timeout_s``."""
    events: list[Event] = []

    async def collect() -> None:
        while True:
            event = await subscription.get()
            events.append(event)
            if done(event):
                return

    try:
        await asyncio.wait_for(collect(), timeout_s)
    except asyncio.TimeoutError:
        raise AssertionError(f"no final event within {timeout_s}s; got {events[-5:]}") from None
    return events


@pytest.mark.slow
async def test_writes_from_another_process_arrive_as_events(cluster: Cluster, data_path: Path) -> None:
    await cluster.start_feed()
    subscription = cluster.feed.subscribe()
    count = 300
    started_ms = time.time() * 1000
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HELPER), str(data_path), "remote", "--create-topic", "3", "--partition", "1",
        "--count", str(count), "--batch-records", "20", "--sync",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        events = await _collect_until(
            subscription, lambda e: isinstance(e, RecordsAppended) and e.end_offset == count, timeout_s=60)
    finally:
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()

    assert [e.seq for e in events] == sorted(e.seq for e in events)
    created = [e for e in events if isinstance(e, TopicCreated)]
    assert [(e.topic, e.partitions, e.replication_factor) for e in created] == [("remote", 3, 1)]
    appended = [e for e in events if isinstance(e, RecordsAppended)]
    assert events.index(created[0]) < events.index(appended[0])
    assert {(e.topic, e.partition) for e in appended} == {("remote", 1)}
    ends = [e.end_offset for e in appended]
    assert ends == sorted(set(ends)) and ends[-1] == count
    # --sync with 20-record batches: one transaction, hence one event, per batch.
    assert len(appended) == count // 20
    assert all(e.high_watermark == e.end_offset for e in appended)  # replication factor 1
    # ``at`` is the writer's clock: the other process's wall time at the commit.
    assert all(started_ms - 1000 <= e.at <= time.time() * 1000 + 1000 for e in events)
    # And what the events announce is really there to read.
    fetched = await cluster.logs.read("remote", 1, 0, max_records=count)
    assert [r.offset for r in fetched.records] == list(range(count))


async def test_writes_from_this_process_arrive_as_the_same_events(cluster: Cluster) -> None:
    await cluster.start_feed()
    subscription = cluster.feed.subscribe()
    await cluster.topics.create_topic("local", partitions=2, replication_factor=2)
    await cluster.logs.append("local", 0, [ProducerRecord(b"k", b"v")] * 5)
    events = await _collect_until(subscription, lambda e: isinstance(e, RecordsAppended), timeout_s=10)
    assert [type(e) for e in events] == [TopicCreated, RecordsAppended]
    assert (events[0].topic, events[0].partitions, events[0].replication_factor) == ("local", 2, 2)  # type: ignore[attr-defined]
    assert (events[1].topic, events[1].partition, events[1].end_offset, events[1].high_watermark) == (  # type: ignore[attr-defined]
        "local", 0, 5, 5)


async def test_a_subscription_for_some_kinds_gets_only_those(cluster: Cluster) -> None:
    await cluster.start_feed()
    only_topics = cluster.feed.subscribe(TopicCreated.kind)
    everything = cluster.feed.subscribe()
    await cluster.topics.create_topic("a")
    await cluster.logs.append("a", 0, [ProducerRecord(None, b"v")])
    await cluster.topics.create_topic("b")
    await _collect_until(everything, lambda e: isinstance(e, TopicCreated) and e.topic == "b", timeout_s=10)
    got = await _collect_until(only_topics, lambda e: isinstance(e, TopicCreated) and e.topic == "b", timeout_s=10)
    assert [(type(e), e.topic) for e in got] == [(TopicCreated, "a"), (TopicCreated, "b")]  # type: ignore[attr-defined]


async def test_each_append_is_one_event_at_the_writers_clock_even_between_two_polls(
        cluster: Cluster, clock) -> None:  # type: ignore[no-untyped-def]
    await cluster.topics.create_topic("t", partitions=2, replication_factor=2)
    await cluster.start_feed()
    subscription = cluster.feed.subscribe("records")
    clock.set(1_800_000_000_000)
    # Three appends in one write-lock-holding burst: the feed may see them in one poll.
    for size in (1, 3, 2):
        await cluster.logs.append("t", 1, [ProducerRecord(None, b"v")] * size, acks=1)
    events = await _collect_until(subscription, lambda e: e.end_offset == 6, timeout_s=10)  # type: ignore[attr-defined]
    assert [(e.topic, e.partition, e.end_offset, e.high_watermark) for e in events] == [  # type: ignore[attr-defined]
        ("t", 1, 1, 1), ("t", 1, 4, 4), ("t", 1, 6, 6)]
    assert {e.at for e in events} == {1_800_000_000_000}  # the writer's (manual) clock, not the wall's


async def test_a_feed_started_after_appends_reports_only_later_ones(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", partitions=1, replication_factor=1)
    await cluster.logs.append("t", 0, [ProducerRecord(None, b"old")] * 4)
    await cluster.start_feed()
    subscription = cluster.feed.subscribe("records")
    await cluster.logs.append("t", 0, [ProducerRecord(None, b"new")])
    events = await _collect_until(subscription, lambda e: True, timeout_s=10)
    assert [(e.end_offset, e.high_watermark) for e in events] == [(5, 5)]  # type: ignore[attr-defined]


async def test_this_processs_appends_arrive_at_once_between_scans_of_every_partition(cluster: Cluster) -> None:
    from broker_core.events import ChangeFeed

    await cluster.topics.create_topic("t", partitions=3, replication_factor=1)
    # A feed that scans every partition's log end at most once an hour: this process's own
    # appends still reach it at once, looked up by partition.
    feed = ChangeFeed(cluster.path, poll_interval_s=3600, appended=cluster.storage.appended)
    cluster.storage.after_commit.append(feed.wake)
    await feed.start()
    try:
        subscription = feed.subscribe("records")
        for end in (1, 2, 3):
            await cluster.logs.append("t", 2, [ProducerRecord(None, b"v")])
            event = await asyncio.wait_for(subscription.get(), 10)
            assert (event.topic, event.partition, event.end_offset) == ("t", 2, end)  # type: ignore[attr-defined]
    finally:
        await feed.stop()


async def test_catch_up_publishes_another_connections_commit_without_waiting_for_a_poll(cluster: Cluster) -> None:
    from broker_core.events import ChangeFeed

    await cluster.topics.create_topic("t", partitions=3, replication_factor=1)
    # A feed that looks for other connections' commits once an hour and is never woken: only
    # ``catch_up`` can find the append (a reader that must be exact calls it when ``behind()``).
    feed = ChangeFeed(cluster.path, poll_interval_s=3600)
    await feed.start()
    try:
        subscription = feed.subscribe("records")
        assert not feed.behind()
        ends = []
        for size in (2, 1):  # the second within the poll interval of the first one's scan
            await cluster.logs.append("t", 1, [ProducerRecord(None, b"v")] * size)
            assert feed.behind()
            # Twice at once, as a fetch may while the poller polls: one poll at a time, each batch once.
            await asyncio.gather(feed.catch_up(), feed.catch_up())
            assert not feed.behind()
            ends += [(e.topic, e.partition, e.end_offset) for e in subscription.get_nowait()]  # type: ignore[attr-defined]
        assert ends == [("t", 1, 2), ("t", 1, 3)]
    finally:
        await feed.stop()
