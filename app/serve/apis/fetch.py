"""Fetch: records out, read from each partition's leader.

A Fetch with nothing to return yet is held (Kafka's fetch purgatory) until records
arrive on one of its partitions or ``max_wait_ms`` passes; the change feed says when
records arrive, from this process or another. There are no transactions in kplay, so
the last stable offset is the high watermark and read_committed reads what
read_uncommitted reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from kafka.protocol.consumer import FetchResponse

from broker_core.errors import FencedLeaderEpoch, KafkaError
from broker_core.log import PartitionOffsets, ReadRequest
from broker_core.topics import PartitionDescription

from ..fetch_sessions import (FINAL_EPOCH, INITIAL_EPOCH, INVALID_SESSION_ID, SESSION_VERSION, CachedPartition,
                              FetchSession, PartitionKey, SessionError, next_epoch)
from .context import RequestContext, WireError, error_code, topic_names

TopicData = FetchResponse.FetchableTopicResponse
PartitionData = TopicData.PartitionData
#: Kafka's INVALID_HIGH_WATERMARK etc.: what an error partition carries instead of offsets.
UNKNOWN_OFFSET = -1
#: A client's "I do not know the leader epoch" (current_leader_epoch before Fetch v9).
NO_EPOCH = -1
#: Feed events after which a held Fetch looks again: records arrived, the high watermark
#: moved (followers caught up), or the partition changed hands or went away.
WAKE_EVENTS = ("records", "replica_progress", "isr_changed", "leader_elected", "topic_deleted")
#: The first Fetch version that names topics by id (KIP-516).
TOPIC_ID_VERSION = 13
#: A partition's tagged fields (v12+), set to their defaults rather than left unset: kafka-python's
#: encoder then finds them in their slots, not through ``__getattr__`` (a 10,000-partition
#: response encodes in half the time; the bytes are the same).
NO_TAGS = {"diverging_epoch": None, "current_leader": None, "snapshot_id": None}
#: Batches read from the core per partition per fetch, at most (bytes limit the rest).
MAX_RECORDS_PER_PARTITION = 10_000


class UnknownLeaderEpoch(KafkaError):
    """The client knows a newer leader epoch than this broker does (its metadata is ahead)."""

    name, code, retriable = "UNKNOWN_LEADER_EPOCH", 75, True


def check_epoch(requested: int, partition: PartitionDescription) -> None:
    if requested == NO_EPOCH or requested == partition.leader_epoch:
        return
    if requested < partition.leader_epoch:
        raise FencedLeaderEpoch(f"The leader epoch in the request ({requested}) is older than the broker's "
                                f"({partition.leader_epoch})")
    raise UnknownLeaderEpoch(f"The leader epoch in the request ({requested}) is newer than the broker's "
                             f"({partition.leader_epoch})")


#: Fetch's isolation_level for read_committed (0 is read_uncommitted).
READ_COMMITTED = 1
AbortedTransaction = FetchResponse.FetchableTopicResponse.PartitionData.AbortedTransaction
#: One partition's answer, with what the request (or the session) asked of it.
Answer = tuple[CachedPartition, PartitionData]


@dataclass
class _Read:
    """What one pass over the chosen partitions found, in the order they were chosen."""

    answers: list[Answer] = field(default_factory=list)
    bytes_read: int = 0
    errors: int = 0


async def handle_fetch(ctx: RequestContext, request) -> FetchResponse:
    """Fetch: records from each requested offset up to the high watermark (read_committed: the
    last stable offset, with the aborted transactions listed), held until ``min_bytes`` are
    there or ``max_wait_ms`` has passed; within a fetch session (v7+, KIP-227) the request names
    only what changed and the response only partitions with something new."""
    by_id = ctx.version >= TOPIC_ID_VERSION
    # From v13 topics are named by id: unknown ids are answered UNKNOWN_TOPIC_ID, the rest by name.
    names, _ = await topic_names(ctx, request.topics, by_id=by_id)
    asked = [CachedPartition(name, topic.topic_id if by_id else None, p.partition, p.fetch_offset,
                             p.partition_max_bytes, p.current_leader_epoch if ctx.version >= 9 else NO_EPOCH)
             for name, topic in zip(names, request.topics) for p in topic.partitions]
    # isolation_level (v4+): 1 is read_committed, below the last stable offset.
    read_committed = request.isolation_level == READ_COMMITTED
    session_id, epoch = ((request.session_id, request.session_epoch) if ctx.version >= SESSION_VERSION
                         else (INVALID_SESSION_ID, FINAL_EPOCH))
    cache = ctx.server.fetch_sessions.of(ctx.broker_id)
    if epoch in (INITIAL_EPOCH, FINAL_EPOCH):  # a full fetch: any session named is closed
        if session_id != INVALID_SESSION_ID:
            cache.remove(session_id)
        # Where a session created here starts taking changes (a sessionless fetch needs none).
        seen = await _seen(ctx) if epoch == INITIAL_EPOCH else (-1, -1)
        answers = await _serve(ctx, request, read_committed, lambda: _all(asked), asked)
        if epoch == FINAL_EPOCH:
            return _response(ctx, WireError.NONE, INVALID_SESSION_ID, answers)
        session = cache.create(by_id, {(_topic_key(part, by_id), part.partition): part for part, _ in answers})
        if session is not None:
            session.change_number, session.leadership_generation = seen
            for part, data in answers:
                part.must_respond(len(data.records), data.high_watermark, data.log_start_offset, data.error_code)
                _note_pending(session, (_topic_key(part, by_id), part.partition), part, data, read_committed)
        return _response(ctx, WireError.NONE, INVALID_SESSION_ID if session is None else session.id, answers)
    session = cache.get(session_id)
    if session is None:
        return _response(ctx, SessionError.FETCH_SESSION_ID_NOT_FOUND, INVALID_SESSION_ID, [])
    if session.epoch != epoch:
        return _response(ctx, SessionError.INVALID_FETCH_SESSION_EPOCH, INVALID_SESSION_ID, [])
    if session.uses_topic_ids != by_id:
        return _response(ctx, SessionError.FETCH_SESSION_TOPIC_ID_ERROR, INVALID_SESSION_ID, [])
    forgotten = [(topic.topic_id if by_id else topic.topic, partition)
                 for topic in request.forgotten_topics_data or () for partition in topic.partitions]
    named = session.update(asked, forgotten)
    if not session.partitions:  # every partition forgotten: the session ends
        cache.remove(session.id)
        answers = await _serve(ctx, request, read_committed, lambda: _all(asked), asked)
        return _response(ctx, WireError.NONE, INVALID_SESSION_ID, answers)
    cache.touch(session)
    session.epoch = next_epoch(session.epoch)
    expected = session.epoch
    answers = await _serve(ctx, request, read_committed,
                           lambda: _changed(ctx, session, named, read_committed), list(session.partitions.values()))
    if session.epoch != expected:  # another request of this session was answered meanwhile
        # What this one took from the change log is answered to no one: compare every partition next time.
        session.change_number = -1
        return _response(ctx, SessionError.INVALID_FETCH_SESSION_EPOCH, session.id, [])
    kept = []
    for part, data in answers:
        key = (_topic_key(part, by_id), part.partition)
        if key not in session.partitions:
            continue  # forgotten by a request answered while this one waited
        _note_pending(session, key, part, data, read_committed)
        if part.must_respond(len(data.records), data.high_watermark, data.log_start_offset, data.error_code):
            kept.append((part, data))
            if data.records:
                session.moved_to_end(key)
    return _response(ctx, WireError.NONE, session.id, kept)


def _topic_key(part: CachedPartition, by_id: bool) -> Any:
    return part.topic_id if by_id else part.topic


async def _seen(ctx: RequestContext) -> tuple[int, int]:
    """Where a session's next look at changes starts: the partition change log's number, with
    every commit so far taken in, and the leadership view's generation (-1: unknown)."""
    number = await ctx.server.partition_changes.catch_up()
    return (number, ctx.server.leadership.generation) if number >= 0 else (-1, -1)


def _note_pending(session: FetchSession, key: PartitionKey, part: CachedPartition, data: PartitionData,
                  read_committed: bool) -> None:
    """Remember whether this partition would answer something even if nothing is committed:
    an error, or records from its fetch offset (Kafka reads every session partition each
    time; here those are the only ones read while the data file stays as it is)."""
    upto = data.last_stable_offset if read_committed else data.high_watermark
    if data.error_code or part.fetch_offset < upto or part.fetch_offset < data.log_start_offset:
        session.pending.add(key)
    else:
        session.pending.discard(key)


async def _all(asked: list[CachedPartition]) -> list[CachedPartition]:
    return asked


async def _changed(ctx: RequestContext, session: FetchSession, named: list[PartitionKey],
                   read_committed: bool) -> list[CachedPartition]:
    """The session's partitions that may answer something, in session order: those the request
    named, those pending, and those the partition change log lists since the session last
    looked; every partition is compared with the log (one query) only when the change log
    cannot say (a whole-topic change, a gap) or the leadership view changed."""
    keys = set(named) | session.pending
    number, generation = await _seen(ctx)
    changed = (ctx.server.partition_changes.since(session.change_number)
               if number >= 0 and generation == session.leadership_generation else None)
    if changed is not None:
        for topic, partition in changed:
            key = session.key_of(topic, partition)
            if key is not None:
                keys.add(key)
    else:
        keys |= await _compared(ctx, session, read_committed)
    session.change_number, session.leadership_generation = number, generation
    if len(keys) == len(session.partitions):
        return list(session.partitions.values())
    return [part for key, part in session.partitions.items() if key in keys]


async def _compared(ctx: RequestContext, session: FetchSession, read_committed: bool) -> set[PartitionKey]:
    """The session's partitions whose log or leadership differs from what it last answered."""
    keys = set()
    topics = {part.topic for part in session.partitions.values() if part.topic is not None}
    offsets = await ctx.cluster.logs.partition_offsets(sorted(topics))
    leaders = {topic: await ctx.server.leadership.topic(topic) for topic in topics}
    for key, part in session.partitions.items():
        state = offsets.get((part.topic, part.partition)) if part.topic is not None else None
        if state is None:
            keys.add(key)
            continue
        start, end, high_watermark, stable = state
        upto = stable if read_committed else high_watermark
        description = leaders.get(part.topic)
        led = (description.partitions[part.partition]
               if description is not None and part.partition < len(description.partitions) else None)
        if (part.high_watermark != high_watermark or part.log_start_offset != start
                or part.fetch_offset < upto or part.fetch_offset > end or part.fetch_offset < start
                or led is None or led.leader != ctx.broker_id
                or part.leader_epoch not in (NO_EPOCH, led.leader_epoch)):
            keys.add(key)
    return keys


async def _serve(ctx: RequestContext, request, read_committed: bool,
                 choose: Callable[[], Awaitable[list[CachedPartition]]],
                 watched: list[CachedPartition]) -> list[Answer]:
    """Read the partitions ``choose`` picks, again each time records may have arrived on one of
    ``watched``, until ``min_bytes`` are there, an error, or ``max_wait_ms`` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0, request.max_wait_ms) / 1000
    feed = ctx.cluster.feed
    # Subscribe before the first read, so that records appended in between are not missed.
    arrivals = feed.subscribe(*WAKE_EVENTS) if watched else None
    watched_keys: set[tuple[str, int]] | None = None
    try:
        while True:
            found = await _read(ctx, await choose(), request.max_bytes, read_committed)
            remaining = deadline - loop.time()
            if found.bytes_read >= request.min_bytes or found.errors or remaining <= 0 or arrivals is None:
                break
            if watched_keys is None:  # once: a session may hold 10,000 partitions
                watched_keys = {(w.topic, w.partition) for w in watched if w.topic}
            if not await _arrival(arrivals, watched_keys, remaining):
                found = await _read(ctx, await choose(), request.max_bytes, read_committed)
                break
    finally:
        if arrivals is not None:
            arrivals.close()
    return found.answers


def _response(ctx: RequestContext, error: int, session_id: int, answers: list[Answer]) -> FetchResponse:
    """The response, its partitions grouped by topic in the order answered."""
    responses: list[TopicData] = []
    by_id = ctx.version >= TOPIC_ID_VERSION
    last: Any = object()
    for part, data in answers:
        key = _topic_key(part, by_id)
        if key != last or not responses:
            responses.append(TopicData(topic=part.topic, topic_id=part.topic_id if by_id else None, partitions=[]))
            last = key
        responses[-1].partitions.append(data)
    return FetchResponse(version=ctx.version, throttle_time_ms=0, error_code=int(error), session_id=session_id,
                         responses=responses)


def _unknown_id(partition: int) -> PartitionData:
    return PartitionData(partition_index=partition, error_code=WireError.UNKNOWN_TOPIC_ID,
                         high_watermark=UNKNOWN_OFFSET, last_stable_offset=UNKNOWN_OFFSET,
                         log_start_offset=UNKNOWN_OFFSET, aborted_transactions=None, preferred_read_replica=-1,
                         records=b"")


async def _arrival(arrivals, partitions: set[tuple[str, int]], timeout_s: float) -> bool:
    """Wait until an event concerns one of ``partitions``; False when ``timeout_s`` passed first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (remaining := deadline - loop.time()) > 0:
        getter = asyncio.ensure_future(arrivals.get())
        try:
            done, _ = await asyncio.wait({getter}, timeout=remaining)
        finally:
            getter.cancel()
        if not done:
            return False
        event = getter.result()
        if event.kind in ("resync", "replica_progress"):
            return True  # no partition named: look again
        if (getattr(event, "topic", ""), getattr(event, "partition", -1)) in partitions \
                or (event.kind == "topic_deleted" and any(event.topic == t for t, _ in partitions)):
            return True
    return False


async def _read(ctx: RequestContext, wanted: list[CachedPartition], max_bytes: int, read_committed: bool) -> _Read:
    """Every wanted partition in one read of the core: partitions with nothing new cost a
    lookup, not a query."""
    found = _Read()
    budget = max_bytes if max_bytes > 0 else 2**31 - 1
    led: list[tuple[CachedPartition, PartitionDescription | KafkaError | PartitionData | None]] = []
    requests: list[ReadRequest] = []
    snapshots = await _snapshots(ctx, wanted) if len(wanted) >= SNAPSHOT_MIN_PARTITIONS else {}
    for want in wanted:
        if want.topic is None:  # a topic id no topic has
            led.append((want, None))
            continue
        try:
            partition = await ctx.server.leadership.led_by(ctx.broker_id, want.topic, want.partition)
            check_epoch(want.leader_epoch, partition)
        except KafkaError as error:
            led.append((want, error))
            continue
        snapshot = snapshots.get(want.topic)
        state = snapshot.get(want.partition) if snapshot is not None else None
        if state is not None and state.log_start_offset <= want.fetch_offset <= state.log_end_offset \
                and want.fetch_offset >= (state.last_stable_offset if read_committed else state.high_watermark):
            # Nothing to read at this offset (the snapshot is as of the last commit): answered without the log.
            led.append((want, PartitionData(
                partition_index=want.partition, error_code=WireError.NONE, high_watermark=state.high_watermark,
                last_stable_offset=state.last_stable_offset, log_start_offset=state.log_start_offset,
                aborted_transactions=[] if read_committed else None, preferred_read_replica=-1, records=b"",
                **NO_TAGS)))
            continue
        led.append((want, partition))
        requests.append(ReadRequest(want.topic, want.partition, want.fetch_offset, MAX_RECORDS_PER_PARTITION,
                                    max(1, min(want.max_bytes, budget)), read_committed))
    results = iter(await ctx.cluster.logs.read_many(requests, max_total_bytes=budget, as_batches=True)
                   if requests else ())
    for want, partition in led:
        if partition is None:
            found.answers.append((want, _unknown_id(want.partition)))
            found.errors += 1
            continue
        if isinstance(partition, PartitionData):
            found.answers.append((want, partition))
            continue
        result = partition if isinstance(partition, KafkaError) else next(results)
        if isinstance(result, KafkaError):
            part = _error_partition(want, result)
            found.errors += 1
        else:
            assert isinstance(partition, PartitionDescription)
            # The stored batches as they are (Kafka's zero-copy fetch): no record is decoded or encoded.
            records = result.batches if budget > 0 else b""
            part = PartitionData(partition_index=want.partition, error_code=WireError.NONE,
                                 high_watermark=result.high_watermark, last_stable_offset=result.last_stable_offset,
                                 log_start_offset=result.log_start_offset,
                                 aborted_transactions=[AbortedTransaction(producer_id=a.producer_id,
                                                                          first_offset=a.first_offset)
                                                       for a in result.aborted] if read_committed else None,
                                 preferred_read_replica=-1, records=records, **NO_TAGS)
            found.bytes_read += len(records)
            budget -= len(records)
        found.answers.append((want, part))
    return found


#: A Fetch over at least this many partitions answers those with nothing to read from the
#: topics' offsets snapshot (``OffsetsSnapshots``) instead of the log.
SNAPSHOT_MIN_PARTITIONS = 64


async def _snapshots(ctx: RequestContext, wanted: list[CachedPartition]) -> dict[str, dict[int, PartitionOffsets]]:
    """The wanted topics' offsets as of the last commit, where a snapshot is to be had."""
    found = {}
    for topic in {want.topic for want in wanted if want.topic is not None}:
        description = await ctx.server.leadership.topic(topic)
        if description is not None:
            snapshot = await ctx.server.offsets_snapshots.of(topic, len(description.partitions))
            if snapshot is not None:
                found[topic] = snapshot
    return found


def _error_partition(want: CachedPartition, error: KafkaError) -> PartitionData:
    # librdkafka cannot parse a null record set: an error partition carries empty records.
    return PartitionData(partition_index=want.partition, error_code=error_code(error),
                         high_watermark=UNKNOWN_OFFSET, last_stable_offset=UNKNOWN_OFFSET,
                         log_start_offset=UNKNOWN_OFFSET, aborted_transactions=None,
                         preferred_read_replica=-1, records=b"", **NO_TAGS)
