"""The backend contract: one suite of behaviours, run against every backend.

(a) ``EmbeddedBackend`` on a data file, (b) ``KafkaClientBackend`` on ``kplay serve`` on free
ports, (c) ``KafkaClientBackend`` on Tansu, a Kafka-compatible broker that is not ours. Where
Tansu deviates from Kafka the test says so (a strict xfail that still runs Kafka's check, so it
notices the day Tansu follows Kafka); kplay is never bent to Tansu.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, TypeVar

import pytest

from app.backends import Backend, Capability, ClusterUnreachable, EmbeddedBackend, ReadOnlyCluster
from app.backends.interface import (ChangeStream, GroupStateChanged, OffsetsCommitted, RecordConsumer, RecordsAppended,
                                    TopicCreated, TopicDeleted, TopicPartition)
from app.backends.kafka_client import KafkaClientBackend
from broker_core.errors import ElectionNotNeeded, GroupIdNotFound, OffsetOutOfRange, InvalidPartitions, TopicAlreadyExists, UnknownTopicOrPartition
from broker_core.partitioner import partition_for_key

from backend_support import (TANSU_DELETED_GROUP_EMPTY, TANSU_NO_BROKER_CONFIGS, TANSU_NO_DELETE_RECORDS, TANSU_NO_ELECT_LEADERS, TANSU_NO_CREATE_PARTITIONS, TANSU_NO_KIP848, TANSU_NO_GROUP_MEMBERS, TANSU_NO_OFFSETS_FOR_TIMES,  # noqa: F401
                             TANSU_NO_TOPIC_CONFIGS, TANSU_WRONG_END_OFFSETS, served, tansu, unique)

T = TypeVar("T")
BACKENDS = ["embedded", "serve", "tansu"]
#: Kafka's ConfigEntry.ConfigSource names.
KAFKA_CONFIG_SOURCES = {"DYNAMIC_TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG",
                        "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG", "DYNAMIC_BROKER_LOGGER_CONFIG", "UNKNOWN_CONFIG"}
#: Group timeouts: Tansu completes a join only after about half the session timeout.
GROUP_SETTINGS = {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 500}
#: A short interval for the Kafka-client backend's change feed, so the feed tests are quick.
POLL_INTERVAL_S = 0.2


@pytest.fixture(scope="module")
def embedded_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("backend-embedded")) / "cluster.db"


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, embedded_path: Path) -> AsyncIterator[Backend]:
    """Each backend in turn (servers are started once per module)."""
    opened: Backend
    if request.param == "embedded":
        opened = await EmbeddedBackend.open(embedded_path)
    else:
        bootstrap = (request.getfixturevalue("served").bootstrap if request.param == "serve"
                     else request.getfixturevalue("tansu").bootstrap)
        opened = await KafkaClientBackend.open({"bootstrap.servers": bootstrap}, name=request.param,
                                               poll_interval_s=POLL_INTERVAL_S)
    try:
        yield opened
    finally:
        await opened.close()


def on_tansu(backend: Backend) -> bool:
    return backend.name == "tansu"


async def eventually(check: Callable[[], Awaitable[T]], what: str, timeout: float = 20.0) -> T:
    """Call ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {result!r})")
        await asyncio.sleep(0.05)


class SeenEvents:
    """The events a change-feed subscription delivered so far."""

    def __init__(self, stream: ChangeStream) -> None:
        self.stream = stream
        self.events: list = []

    async def saw(self, kind: type, **fields: object) -> bool:
        """Whether an event of ``kind`` with these field values has arrived (taking in the new ones first)."""
        self.events.extend(self.stream.get_nowait())
        return any(isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items()) for e in self.events)


async def consume(consumer: RecordConsumer, count: int, timeout: float = 20.0) -> list:
    """Poll until ``count`` records arrived."""
    records: list = []

    async def more() -> bool:
        records.extend(await consumer.poll(timeout_ms=200))
        return len(records) >= count

    await eventually(more, f"{count} records", timeout)
    return records


# --- topics ---------------------------------------------------------------------------------

async def test_a_created_topic_is_listed_and_described_with_its_partitions(backend: Backend) -> None:
    topic = unique("created")
    await backend.create_topic(topic, 3, 1)
    assert topic in await backend.list_topics()
    described = await backend.describe_topic(topic)
    assert described.name == topic and described.partition_count == 3 and described.replication_factor == 1
    assert len(described.topic_id) == 22  # Kafka's URL-safe base64 UUID
    for number, partition in enumerate(described.partitions):
        assert partition.partition == number
        assert partition.leader in partition.replicas and set(partition.isr) <= set(partition.replicas)
        assert (partition.log_start_offset, partition.high_watermark) == (0, 0)
    brokers = {b.broker_id for b in await backend.brokers()}
    assert {p.leader for p in described.partitions} <= brokers


async def test_creating_an_existing_topic_and_describing_a_missing_one_fail_with_kafkas_errors(
        backend: Backend) -> None:
    topic = unique("twice")
    await backend.create_topic(topic, 1, 1)
    with pytest.raises(TopicAlreadyExists):
        await backend.create_topic(topic, 1, 1)
    with pytest.raises(UnknownTopicOrPartition):
        await backend.describe_topic(unique("missing"))


async def test_a_deleted_topic_is_gone(backend: Backend) -> None:
    topic = unique("deleted")
    await backend.create_topic(topic, 1, 1)
    await backend.delete_topic(topic)

    async def gone() -> bool:
        return topic not in await backend.list_topics()

    await eventually(gone, f"{topic} to disappear")
    with pytest.raises(UnknownTopicOrPartition):
        await backend.describe_topic(topic)


async def test_partitions_grow_and_never_shrink(backend: Backend, request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_CREATE_PARTITIONS, strict=True))
    topic = unique("grown")
    await backend.create_topic(topic, 1, 1)
    await backend.create_partitions(topic, 3)
    assert (await backend.describe_topic(topic)).partition_count == 3
    with pytest.raises(InvalidPartitions):
        await backend.create_partitions(topic, 2)


async def test_a_config_override_is_described_with_its_source(backend: Backend,
                                                              request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_TOPIC_CONFIGS, strict=True))
    topic = unique("configured")
    await backend.create_topic(topic, 1, 1, {"cleanup.policy": "compact"})
    await backend.alter_config(topic, {"retention.ms": "3600000"})
    entries = {entry.name: entry for entry in await backend.describe_config(topic)}
    assert (entries["retention.ms"].value, entries["retention.ms"].source) == ("3600000", "DYNAMIC_TOPIC_CONFIG")
    assert entries["cleanup.policy"].value == "compact"
    assert entries["segment.bytes"].source != "DYNAMIC_TOPIC_CONFIG"
    await backend.alter_config(topic, delete=["retention.ms"])
    overrides = (await backend.describe_topic(topic)).config
    assert "retention.ms" not in overrides and str(overrides["cleanup.policy"]) == "compact"


async def test_describing_the_configs_of_a_missing_topic_fails(backend: Backend,
                                                               request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_TOPIC_CONFIGS, strict=True))
    with pytest.raises(UnknownTopicOrPartition):
        await backend.describe_config(unique("missing"))


async def test_a_brokers_configs_are_described_and_the_default_entity_holds_only_cluster_wide_ones(
        backend: Backend, request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_BROKER_CONFIGS, strict=True))
    broker = str(min(b.broker_id for b in await backend.brokers()))
    entries = await backend.describe_broker_config(broker)
    names = [entry.name for entry in entries]
    assert names and names == sorted(set(names))
    assert all(entry.source in KAFKA_CONFIG_SOURCES for entry in entries)
    defaults = await backend.describe_broker_config("")
    assert all(entry.source == "DYNAMIC_DEFAULT_BROKER_CONFIG" for entry in defaults)


async def test_deleted_records_are_gone_and_the_low_watermark_is_answered(backend: Backend,
                                                                          request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_DELETE_RECORDS, strict=True))
    topic = unique("trimmed")
    await backend.create_topic(topic, 1, 1)
    await send_all(backend, topic, [(b"k", f"v{i}".encode()) for i in range(4)])
    tp = TopicPartition(topic, 0)
    outcomes = await backend.delete_records({tp: 3})
    assert outcomes == {tp: 3}
    assert (await backend.watermarks([tp]))[tp].log_start_offset == 3
    assert [r.value for r in await backend.read(topic, 0, 3)] == [b"v3"]
    far = await backend.delete_records({tp: 99})
    assert isinstance(far[tp], OffsetOutOfRange)


async def test_a_preferred_election_where_the_preferred_replica_leads_is_not_needed(
        backend: Backend, request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_ELECT_LEADERS, strict=True))
    topic = unique("elect")
    await backend.create_topic(topic, 2, 1)
    asked = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    outcomes = await backend.elect_leaders("preferred", asked)
    assert set(outcomes) == set(asked)
    assert all(isinstance(error, ElectionNotNeeded) for error in outcomes.values())


# --- records --------------------------------------------------------------------------------

async def send_all(backend: Backend, topic: str, sent: list[tuple[bytes, bytes]]) -> list:
    """Produce ``sent`` (key, value) pairs in batches and return where each landed."""
    producer = backend.producer(acks="all", linger_ms=5)
    try:
        futures = [await producer.send(topic, value, key, headers=(("h", b"1"),)) for key, value in sent]
        return [await future for future in futures]
    finally:
        await producer.close()


async def test_keyed_records_land_on_javas_partition_and_are_consumed_in_order(backend: Backend) -> None:
    topic = unique("keyed")
    await backend.create_topic(topic, 3, 1)
    sent = [(f"key-{i % 5}".encode(), f"value-{i}".encode()) for i in range(20)]
    landed = await send_all(backend, topic, sent)
    for (key, _), where in zip(sent, landed):
        assert where.partition == partition_for_key(key, 3)  # Kafka's murmur2, as Java's client
    consumer = backend.consumer(auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        records = await consume(consumer, len(sent))
    finally:
        await consumer.close()
    for p in range(3):
        expected = [value for key, value in sent if partition_for_key(key, 3) == p]
        read = [r for r in records if r.partition == p]
        assert [r.value for r in read] == expected
        assert [r.offset for r in read] == list(range(len(expected)))
        assert all(r.headers == (("h", b"1"),) for r in read)


async def test_the_high_watermark_counts_every_record_and_bounds_a_read(backend: Backend,
                                                                        request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_WRONG_END_OFFSETS, strict=True))
    topic = unique("counted")
    await backend.create_topic(topic, 1, 1)
    sent = [(b"k", f"value-{i}".encode()) for i in range(12)]
    await send_all(backend, topic, sent)
    tp = TopicPartition(topic, 0)
    assert (await backend.watermarks([tp]))[tp].high_watermark == 12
    assert [r.value for r in await backend.read(topic, 0, 4, max_records=100)] == [v for _, v in sent[4:]]
    assert [r.offset for r in await backend.read(topic, 0, 10, max_records=1)] == [10]
    assert await backend.read(topic, 0, 12) == []


async def test_a_standalone_consumer_reads_from_an_offset_and_from_the_end(backend: Backend) -> None:
    topic = unique("standalone")
    await backend.create_topic(topic, 1, 1)
    tp = TopicPartition(topic, 0)
    for i in range(5):
        await backend.produce(topic, f"r{i}".encode(), partition=0)
    consumer = backend.consumer(auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        consumer.assign([tp])
        consumer.seek(tp, 2)
        assert [r.value for r in await consume(consumer, 3)] == [b"r2", b"r3", b"r4"]
        assert await consumer.position(tp) == 5
        await consumer.seek_to_beginning(tp)
        assert (await consume(consumer, 5))[0].offset == 0
        await consumer.seek_to_end(tp)
        assert await consumer.position(tp) == 5
        await backend.produce(topic, b"after", partition=0)
        assert [r.value for r in await consume(consumer, 1)] == [b"after"]
    finally:
        await consumer.close()


async def test_offsets_for_times_finds_the_first_record_at_or_after(backend: Backend,
                                                                   request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_OFFSETS_FOR_TIMES, strict=True))
    topic = unique("timed")
    await backend.create_topic(topic, 1, 1)
    producer = backend.producer()
    try:
        for i, stamp in enumerate((1_000_000, 2_000_000, 3_000_000)):
            await producer.send_and_wait(topic, f"t{i}".encode(), partition=0, timestamp=stamp)
    finally:
        await producer.close()
    tp = TopicPartition(topic, 0)
    found = await backend.offsets_for_times({tp: 1_500_000})
    assert found[tp] == 1
    assert (await backend.offsets_for_times({tp: 9_000_000}))[tp] is None


async def test_a_consumer_refuses_an_offset_reset_or_isolation_level_kafka_refuses(backend: Backend) -> None:
    with pytest.raises(ValueError, match="^Invalid value smallest for configuration auto.offset.reset: String must "
                                         "be one of: latest, earliest, none$"):
        backend.consumer(auto_offset_reset="smallest")
    with pytest.raises(ValueError, match="^Invalid value read_most for configuration isolation.level: String must "
                                         "be one of: read_committed, read_uncommitted$"):
        backend.consumer(isolation_level="read_most")


# --- groups ---------------------------------------------------------------------------------

async def test_a_group_member_consumes_commits_and_the_group_reports_its_lag(backend: Backend) -> None:
    topic, group = unique("grouped"), unique("group")
    await backend.create_topic(topic, 2, 1)
    for i in range(6):
        await backend.produce(topic, f"v{i}".encode(), f"k{i}".encode())
    consumer = backend.consumer(group_id=group, client_id="contract", auto_offset_reset="earliest",
                                enable_auto_commit=False, **GROUP_SETTINGS)
    try:
        consumer.subscribe([topic])
        assert len(await consume(consumer, 6)) == 6
        assert consumer.assignment() == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
        await consumer.commit()
        assert sum((await backend.committed_offsets(group)).values()) == 6
        assert await consumer.committed(TopicPartition(topic, 0)) is not None
        described = await backend.describe_group(group)
        assert described.state == "Stable" and described.protocol_type == "consumer"
        assert group in {g.group_id for g in await backend.list_groups()}
        rows = await backend.group_lag(group)
        assert [(r.topic, r.partition, r.lag) for r in rows] == [(topic, 0, 0), (topic, 1, 0)]
    finally:
        await consumer.close()

    async def empty() -> bool:
        return (await backend.describe_group(group)).state == "Empty"

    await eventually(empty, f"{group} to be Empty after its member left")
    await backend.reset_offsets(group, {TopicPartition(topic, 0): 0})
    assert (await backend.committed_offsets(group))[TopicPartition(topic, 0)] == 0
    lag = {r.partition: r.lag for r in await backend.group_lag(group)}
    marks = await backend.watermarks([TopicPartition(topic, 0)])
    assert lag[0] == marks[TopicPartition(topic, 0)].high_watermark
    await backend.delete_group(group)
    assert group not in {g.group_id for g in await backend.list_groups()}


async def test_a_deleted_group_is_described_as_dead(backend: Backend, request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_DELETED_GROUP_EMPTY, strict=True))
    topic, group = unique("dead"), unique("dead-group")
    await backend.create_topic(topic, 1, 1)
    await backend.produce(topic, b"x", partition=0)
    await backend.reset_offsets(group, {TopicPartition(topic, 0): 1})  # creates the group, as Kafka's tool can
    assert (await backend.describe_group(group)).state == "Empty"
    await backend.delete_group(group)
    assert (await backend.describe_group(group)).state == "Dead"
    with pytest.raises(GroupIdNotFound):
        await backend.group_lag(group)


async def test_a_described_group_names_its_members_and_their_partitions(backend: Backend,
                                                                        request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_GROUP_MEMBERS, strict=True))
    topic, group = unique("members"), unique("members-group")
    await backend.create_topic(topic, 2, 1)
    await backend.produce(topic, b"x", partition=0)
    consumer = backend.consumer(group_id=group, client_id="contract", auto_offset_reset="earliest",
                                enable_auto_commit=False, **GROUP_SETTINGS)
    try:
        consumer.subscribe([topic])
        await consume(consumer, 1)
        await consumer.commit()
        described = await backend.describe_group(group)
        [member] = described.members
        assert member.client_id == "contract" and member.member_id == consumer.member_id
        assert sorted(member.assignment) == [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        assert described.protocol == "range"
        rows = await backend.group_lag(group)
        assert {r.member_id for r in rows} == {member.member_id}
    finally:
        await consumer.close()


async def test_a_kip848_group_is_listed_and_described_as_a_consumer_protocol_group(
        backend: Backend, request: pytest.FixtureRequest) -> None:
    if on_tansu(backend):
        request.applymarker(pytest.mark.xfail(reason=TANSU_NO_KIP848, strict=True))
    topic, group = unique("kip848"), unique("kip848-group")
    await backend.create_topic(topic, 2, 1)
    await backend.produce(topic, b"x", partition=0)
    consumer = backend.consumer(group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                                group_protocol="consumer")
    try:
        consumer.subscribe([topic])
        await consume(consumer, 1, timeout=5)  # under a second on the playground and kplay serve
        await consumer.commit()
        [listing] = [g for g in await backend.list_groups() if g.group_id == group]
        assert listing.group_type == "consumer"
        described = await backend.describe_group(group)
        assert described.group_type == "consumer" and described.state == "Stable"
        assert [sorted(m.assignment) for m in described.members] == [[TopicPartition(topic, 0),
                                                                        TopicPartition(topic, 1)]]
    finally:
        await consumer.close()


# --- the change feed ------------------------------------------------------------------------

async def test_the_change_feed_reports_topics_records_and_commits(backend: Backend) -> None:
    topic, group = unique("fed"), unique("fed-group")
    stream = await backend.subscribe()
    seen = SeenEvents(stream)
    saw = seen.saw

    try:
        await backend.create_topic(topic, 1, 1)
        await eventually(lambda: saw(TopicCreated, topic=topic), "TopicCreated")
        await backend.produce(topic, b"one", partition=0)
        await backend.produce(topic, b"two", partition=0)
        await eventually(lambda: saw(RecordsAppended, topic=topic, partition=0, high_watermark=2), "RecordsAppended")
        consumer = backend.consumer(group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                                    **GROUP_SETTINGS)
        try:
            consumer.subscribe([topic])
            await consume(consumer, 2)
            await consumer.commit()
        finally:
            await consumer.close()
        await eventually(lambda: saw(OffsetsCommitted, group=group), "OffsetsCommitted")
        await eventually(lambda: saw(GroupStateChanged, group=group), "GroupStateChanged")
        await backend.delete_topic(topic)
        await eventually(lambda: saw(TopicDeleted, topic=topic), "TopicDeleted")
        assert [e.seq for e in seen.events] == sorted(e.seq for e in seen.events)
    finally:
        stream.close()


# --- what only the Kafka-client backend has -------------------------------------------------

async def test_a_read_only_profile_refuses_writes_before_sending_them(served) -> None:  # noqa: F811
    backend = await KafkaClientBackend.open({"bootstrap.servers": served.bootstrap}, name="prod", read_only=True)
    try:
        topic = unique("never")
        for attempt in (backend.create_topic(topic, 1, 1), backend.delete_topic("anything"),
                        backend.alter_config("anything", {"retention.ms": "1"}),
                        backend.reset_offsets("g", {TopicPartition("t", 0): 0}), backend.delete_group("g")):
            with pytest.raises(ReadOnlyCluster, match="Cluster 'prod' is read-only"):
                await attempt
        with pytest.raises(ReadOnlyCluster):
            backend.producer()
        assert topic not in await backend.list_topics()  # reads still work
    finally:
        await backend.close()


async def test_only_the_playground_exposes_its_simulated_core(backend: Backend) -> None:
    # A UI draws replica progress and uncommitted records from the core; a real cluster has none to give.
    if isinstance(backend, EmbeddedBackend):
        assert backend.cluster is not None and (await backend.cluster_id()) == backend.cluster.cluster_id
    else:
        assert backend.cluster is None
        assert backend.unsupported_reason(Capability.BROKER_CONTROL)


async def test_a_client_call_cancelled_as_its_answer_lands_stays_cancelled(served) -> None:  # noqa: F811
    # Closing the backend cancels the change feed's poll. On Python 3.11 asyncio.wait_for returned
    # an answer that landed in the same loop turn as the cancellation and dropped the cancellation,
    # so the poll loop went on and closing the app waited forever.
    backend = await KafkaClientBackend.open({"bootstrap.servers": served.bootstrap})
    try:
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(backend.answer(answer))
        await asyncio.sleep(0)  # the call now waits for its answer
        answer.set_result("metadata")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    finally:
        await backend.close()


async def test_a_poll_that_meets_a_topic_deleted_midway_is_dropped_and_the_feed_goes_on(served) -> None:  # noqa: F811
    # Seen in a full run: Metadata listed a topic, it was deleted, and ListOffsets for it failed with
    # UNKNOWN_TOPIC_OR_PARTITION; the poll raised, the feed's task ended, and the TUI never saw the
    # topic go. A poll meeting such a change is dropped; the next one sees the cluster whole.
    backend = await KafkaClientBackend.open({"bootstrap.servers": served.bootstrap}, poll_interval_s=0.1)
    try:
        stream = await backend.subscribe("topic_created")
        real_watermarks = backend.watermarks
        failures = 0

        async def deleted_midway(partitions):  # type: ignore[no-untyped-def]
            nonlocal failures
            if failures < 2:
                failures += 1
                raise UnknownTopicOrPartition("This server does not host this topic-partition.")
            return await real_watermarks(partitions)

        backend.watermarks = deleted_midway  # type: ignore[method-assign]
        name = f"after-a-failed-poll-{time.monotonic_ns()}"
        await backend.create_topic(name, partitions=1, replication_factor=1)
        deadline = time.monotonic() + 20
        seen: list[str] = []
        while name not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the feed stopped after its failed polls (events seen: {seen})"
            with contextlib.suppress(asyncio.TimeoutError):
                event = await asyncio.wait_for(stream.get(), min(remaining, 1.0))
                seen.append(getattr(event, "topic", ""))
        assert failures == 2
        stream.close()
    finally:
        await backend.close()


async def test_an_unreachable_cluster_fails_in_bounded_time_with_the_cause() -> None:
    from backend_support import free_port

    started = time.monotonic()
    with pytest.raises(ClusterUnreachable, match="Connection refused"):
        await KafkaClientBackend.open({"bootstrap.servers": f"127.0.0.1:{free_port()}"}, request_timeout_s=5)
    assert time.monotonic() - started < 7


async def test_the_feed_reports_a_lost_cluster_and_its_return(tmp_path: Path) -> None:
    from app.backends.interface import ClusterConnection, Resync
    from backend_support import TansuBroker

    broker = TansuBroker(tmp_path / "tansu.log")
    backend = await KafkaClientBackend.open({"bootstrap.servers": broker.bootstrap, "reconnect.backoff.max.ms": "200"},
                                            poll_interval_s=POLL_INTERVAL_S, request_timeout_s=1)
    stream = await backend.subscribe()
    seen = SeenEvents(stream)
    saw = seen.saw

    try:
        broker.stop(crash=True)  # a broker that dies (Tansu takes 5 s to stop gracefully)
        lost = await eventually(lambda: saw(ClusterConnection, connected=False), "the lost connection")
        assert lost
        [event] = [e for e in seen.events if isinstance(e, ClusterConnection)]
        assert "Cannot use cluster" in event.reason
        broker = TansuBroker(tmp_path / "tansu-again.log", port=broker.port)
        await eventually(lambda: saw(ClusterConnection, connected=True), "the connection back")
        await eventually(lambda: saw(Resync), "a Resync after reconnecting")
        topic = unique("after")
        await backend.create_topic(topic, 1, 1)
        await eventually(lambda: saw(TopicCreated, topic=topic), "events again after reconnecting")
    finally:
        stream.close()
        await backend.close()
        broker.stop(crash=True)


async def test_the_feed_turns_a_stopped_broker_and_moved_log_start_into_the_cores_events(tmp_path: Path) -> None:
    """What only the cluster itself can change (a broker goes down, records are deleted), seen by polling."""
    from app.backends.interface import BrokerStateChanged, LeaderElected, SegmentDeleted
    from broker_core.delete_records import delete_records
    from test_serve_support import ServedCluster

    served_here = ServedCluster(tmp_path / "cluster.db").start()
    try:
        served_here.create_topic("led", partitions=3, replication_factor=2)
        backend = await KafkaClientBackend.open({"bootstrap.servers": served_here.bootstrap},
                                                poll_interval_s=POLL_INTERVAL_S)
        try:
            for i in range(4):
                await backend.produce("led", f"r{i}".encode(), partition=0)
            stream = await backend.subscribe()
            seen = SeenEvents(stream)
            saw = seen.saw

            led_by_1 = [p.partition for p in (await backend.describe_topic("led")).partitions if p.leader == 1]
            assert led_by_1  # three partitions over three brokers: one is led by broker 1
            served_here.call(served_here.core.controller.stop_broker(1))
            await eventually(lambda: saw(BrokerStateChanged, broker=1, alive=False), "broker 1 down")
            for partition in led_by_1:
                await eventually(lambda: saw(LeaderElected, topic="led", partition=partition, previous=1),
                                 f"a new leader for led-{partition}")
            core = served_here.core
            served_here.call(delete_records(core.storage, core.clock, "led", {0: 2}))
            await eventually(lambda: saw(SegmentDeleted, topic="led", partition=0, log_start_offset=2),
                             "the log start moving to 2")
            served_here.call(served_here.core.controller.start_broker(1))
            await eventually(lambda: saw(BrokerStateChanged, broker=1, alive=True), "broker 1 back")
            stream.close()
        finally:
            await backend.close()
    finally:
        served_here.stop()
