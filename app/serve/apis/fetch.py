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

from kafka.protocol.consumer import FetchResponse

from broker_core.errors import FencedLeaderEpoch, KafkaError
from broker_core.log import ReadRequest
from broker_core.topics import PartitionDescription

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


@dataclass
class _Wanted:
    topic: str
    partition: int
    offset: int
    max_bytes: int
    epoch: int


#: Fetch's isolation_level for read_committed (0 is read_uncommitted).
READ_COMMITTED = 1
AbortedTransaction = FetchResponse.FetchableTopicResponse.PartitionData.AbortedTransaction


@dataclass
class _Read:
    """What one pass over the requested partitions found."""

    parts: dict[str, list] = field(default_factory=dict)
    bytes_read: int = 0
    errors: int = 0


async def handle_fetch(ctx: RequestContext, request) -> FetchResponse:
    """Fetch: records from each requested offset up to the high watermark (read_committed: the
    last stable offset, with the aborted transactions listed), held until ``min_bytes`` are
    there or ``max_wait_ms`` has passed."""
    # From v13 topics are named by id: unknown ids are answered UNKNOWN_TOPIC_ID, the rest by name.
    names, unknown = await topic_names(ctx, request.topics, by_id=ctx.version >= TOPIC_ID_VERSION)
    wanted = [_Wanted(name, p.partition, p.fetch_offset, p.partition_max_bytes,
                      p.current_leader_epoch if ctx.version >= 9 else NO_EPOCH)
              for name, topic in zip(names, request.topics) if name is not None for p in topic.partitions]
    # isolation_level (v4+): 1 is read_committed, below the last stable offset.
    read_committed = request.isolation_level == READ_COMMITTED
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0, request.max_wait_ms) / 1000
    feed = ctx.cluster.feed
    # Subscribe before the first read, so that records appended in between are not missed.
    arrivals = feed.subscribe(*WAKE_EVENTS) if wanted else None
    try:
        while True:
            found = await _read(ctx, wanted, request.max_bytes, read_committed)
            remaining = deadline - loop.time()
            if found.bytes_read >= request.min_bytes or found.errors or remaining <= 0 or arrivals is None:
                break
            if not await _arrival(arrivals, {(w.topic, w.partition) for w in wanted}, remaining):
                found = await _read(ctx, wanted, request.max_bytes, read_committed)
                break
    finally:
        if arrivals is not None:
            arrivals.close()
    ids = {name: topic.topic_id for name, topic in zip(names, request.topics) if ctx.version >= TOPIC_ID_VERSION}
    responses = [TopicData(topic=name, topic_id=ids.get(name), partitions=parts) for name, parts in found.parts.items()]
    responses.extend(TopicData(topic_id=topic.topic_id, partitions=[_unknown_id(p.partition) for p in topic.partitions])
                     for topic in unknown)
    return FetchResponse(version=ctx.version, throttle_time_ms=0, error_code=WireError.NONE, session_id=0,
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


async def _read(ctx: RequestContext, wanted: list[_Wanted], max_bytes: int, read_committed: bool) -> _Read:
    """Every wanted partition in one read of the core: partitions with nothing new cost a
    lookup, not a query (a consumer names all its partitions in every Fetch)."""
    found = _Read()
    budget = max_bytes if max_bytes > 0 else 2**31 - 1
    led: list[tuple[_Wanted, PartitionDescription | KafkaError]] = []
    requests: list[ReadRequest] = []
    for want in wanted:
        try:
            partition = await ctx.server.leadership.led_by(ctx.broker_id, want.topic, want.partition)
            check_epoch(want.epoch, partition)
        except KafkaError as error:
            led.append((want, error))
            continue
        led.append((want, partition))
        requests.append(ReadRequest(want.topic, want.partition, want.offset, MAX_RECORDS_PER_PARTITION,
                                    max(1, min(want.max_bytes, budget)), read_committed))
    results = iter(await ctx.cluster.logs.read_many(requests, max_total_bytes=budget, as_batches=True))
    for want, partition in led:
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
                                 preferred_read_replica=-1, records=records)
            found.bytes_read += len(records)
            budget -= len(records)
        found.parts.setdefault(want.topic, []).append(part)
    return found


def _error_partition(want: _Wanted, error: KafkaError) -> PartitionData:
    # librdkafka cannot parse a null record set: an error partition carries empty records.
    return PartitionData(partition_index=want.partition, error_code=error_code(error),
                         high_watermark=UNKNOWN_OFFSET, last_stable_offset=UNKNOWN_OFFSET,
                         log_start_offset=UNKNOWN_OFFSET, aborted_transactions=None,
                         preferred_read_replica=-1, records=b"")
