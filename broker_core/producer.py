"""``Producer``: Kafka's producer, batching single sends into few transactions.

Like Kafka's ``KafkaProducer``, ``send`` only adds the record to an open batch for its
partition and returns a future; a background sender appends a batch when it reaches
``batch_size`` bytes or has waited ``linger_ms``, all ready batches in one transaction.
Many single sends therefore cost a few commits, not one each (PERF.md: one commit per
record caps at a few thousand records/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Sequence

from .errors import InvalidRecord, KafkaError, RecordTooLarge, UnknownTopicOrPartition
from .log import BatchRequest, parse_acks
from .partitioner import BuiltInPartitioner
from .record_batch import load_compiled_builder
from .record_future import BatchOutcome, RecordFuture
from .records import BATCH_OVERHEAD, RECORD_OVERHEAD, AppendResult, RecordMetadata, record_size

if TYPE_CHECKING:
    from .cluster import Cluster

#: How long a topic's partition count is trusted before it is read again.
METADATA_MAX_AGE_S = 1.0
#: Errors about one record that refuse its whole request before anything is written.
_RECORD_ERRORS = (RecordTooLarge, InvalidRecord)
#: Builds a NamedTuple from a ready tuple, skipping its keyword-handling ``__new__``: about
#: 3x cheaper, which counts on paths that run once per record.


@dataclass(slots=True)
class _Batch:
    topic: str
    partition: int
    created: float
    #: Resolved once for the whole batch (Kafka's ProduceRequestResult): each record's
    #: ``RecordFuture`` is a view on it.
    ack: asyncio.Future[BatchOutcome]
    records: list[tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...], int | None]] = \
        field(default_factory=list)
    size: int = BATCH_OVERHEAD


def _resolve(waiter: asyncio.Future[None]) -> None:
    """End the sender's wait (linger.ms passed), unless a wake already did."""
    if not waiter.done():
        waiter.set_result(None)


class Producer:
    """Sends records to topics; ``await producer.send(...)`` returns a future for the ack.

    ``acks``: 0 (fire and forget: the future resolves at once with offset -1 and errors
    are not reported), 1 (the leader appended it) or "all" (every in-sync replica has
    it; Kafka's default). ``linger_ms`` and ``batch_size`` control batching as in Kafka;
    ``max_request_size`` (Kafka's ``max.request.size``) bounds what one transaction carries.
    """

    def __init__(self, cluster: "Cluster", *, acks: int | str = "all", linger_ms: float = 5.0,
                 batch_size: int = 16_384, buffer_memory: int = 32 * 1024 * 1024,
                 partitioner: BuiltInPartitioner | None = None, client_id: str = "kplay-producer",
                 auto_create_topics: bool = False, max_request_size: int = 1_048_576) -> None:
        self._cluster = cluster
        self.acks = parse_acks(acks)
        self.linger_s = max(0.0, linger_ms) / 1000
        self.batch_size = batch_size
        self.buffer_memory = buffer_memory
        self.max_request_size = max_request_size
        self.client_id = client_id
        self.auto_create_topics = auto_create_topics
        self._partitioner = partitioner or BuiltInPartitioner(batch_size)
        # Batches are built with aiokafka's compiled builder: imported now (once, ~35 ms), not
        # in the first append.
        load_compiled_builder()
        self._metadata: dict[str, tuple[int, float]] = {}
        #: Per topic, the partitions that have a running leader (refreshed with the count).
        self._available: dict[str, tuple[int, ...]] = {}
        self._open: dict[tuple[str, int], _Batch] = {}
        self._ready: deque[_Batch] = deque()
        #: The sender's wait for work, while it waits: send and flush resolve it.
        self._wakeup: asyncio.Future[None] | None = None
        self._drained = asyncio.Event()
        self._buffered = 0
        self._flushing = 0
        self._closed = False
        self._sender: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Records written per transaction, for the perf tools.
        self.transactions = 0
        self.records_sent = 0

    async def __aenter__(self) -> "Producer":
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def partitions_for(self, topic: str) -> int:
        """The topic's partition count (cached for a second, like Kafka's metadata)."""
        cached = self._metadata.get(topic)
        now = time.monotonic()
        if cached is not None and now - cached[1] < METADATA_MAX_AGE_S:
            return cached[0]
        try:
            count = await self._cluster.logs.partition_count(topic)
        except UnknownTopicOrPartition:
            if not self.auto_create_topics:
                raise
            # auto.create.topics.enable: Kafka's broker creates it with num.partitions=1, RF 1.
            with contextlib.suppress(KafkaError):
                await self._cluster.topics.create_topic(topic, 1, 1)
            count = await self._cluster.logs.partition_count(topic)
        rows = await self._cluster.storage.fetchall(
            "SELECT p.partition FROM partitions p JOIN topics t ON t.id=p.topic_id JOIN brokers b ON b.id=p.leader"
            " WHERE t.name=? AND b.alive=1 ORDER BY p.partition", (topic,))
        self._available[topic] = tuple(r[0] for r in rows)
        self._metadata[topic] = (count, now)
        return count

    def _queue_sizes(self, topic: str) -> dict[int, int]:
        """Batches queued per partition of ``topic`` (RecordAccumulator's deque sizes)."""
        sizes: dict[int, int] = {}
        for batch in (*self._ready, *self._open.values()):
            if batch.topic == topic:
                sizes[batch.partition] = sizes.get(batch.partition, 0) + 1
        return sizes

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                   partition: int | None = None, headers: Sequence[tuple[str, bytes]] = (),
                   timestamp: int | None = None) -> RecordFuture | asyncio.Future[RecordMetadata]:
        """Queue one record and return a future resolving to its ``RecordMetadata`` (a
        ``RecordFuture``: an asyncio future in all but its cost, see ``record_future``).

        Raises at once for an unknown topic or partition; append errors (RecordTooLarge,
        NotEnoughReplicas, ...) arrive through the future, as with Kafka's producer.
        """
        if self._closed:
            raise RuntimeError("Cannot send after the producer is closed.")
        # This runs once per record: the metadata cache is read inline (no coroutine call)
        # and the record's size computed once, since per-record costs bound throughput.
        now = time.monotonic()
        cached = self._metadata.get(topic)
        if cached is not None and now - cached[1] < METADATA_MAX_AGE_S:
            count = cached[0]
        else:
            count = await self.partitions_for(topic)
        sticky = False
        if partition is None and count == 1:
            # Every partitioner (keyed or sticky) picks the one partition, with nothing to weigh
            # or count: skipping it saves a sixth of a send.
            partition = 0
        elif partition is None:
            sticky = key is None
            # The queue sizes only weigh a choice between partitions.
            queue_sizes = lambda: self._queue_sizes(topic)  # noqa: E731
            partition = self._partitioner.partition(topic, key, count, self._available.get(topic), queue_sizes)
        elif not 0 <= partition < count:
            raise UnknownTopicOrPartition(
                f"Partition {partition} of topic '{topic}' with partition count {count} is not present in metadata")
        if headers:
            headers = tuple(headers)
            size = record_size(key, value, headers)
        else:
            headers = ()
            size = RECORD_OVERHEAD + (len(key) if key else 0) + (len(value) if value else 0)  # record_size's sum
        record = (key, value, headers, timestamp)  # ProducerRecord's fields, as a plain tuple (see BatchRequest)
        while self._buffered > self.buffer_memory:
            self._drained.clear()
            await self._drained.wait()
        # The loop, once: a Producer lives on one loop (its Event binds to it), and asking for
        # the running loop costs a system call (getpid) on every send.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        batch = self._open.get((topic, partition))
        if batch is not None and batch.size + size > self.batch_size and batch.records:
            self._close_batch(batch, count)
            batch = None
        wake = opened = batch is None
        if batch is None:
            batch = _Batch(topic, partition, now, loop.create_future())
            self._open[(topic, partition)] = batch
        future = RecordFuture(batch.ack, len(batch.records))
        batch.records.append(record)
        batch.size += size
        self._buffered += size
        full = batch.size >= self.batch_size
        if full:
            self._close_batch(batch, count)
            wake = True
        if sticky:
            # A new batch's header counts, as in Kafka's estimatedSizeInBytes.
            self._partitioner.on_append(topic, size + (BATCH_OVERHEAD if opened else 0), full, count,
                                        self._available.get(topic), queue_sizes)
        if wake:  # the sender only needs to look again when a batch opened or became ready
            self._wake_sender()
        if self.acks == 0:
            # acks=0: no acknowledgement, so nothing to wait for and no offset to report.
            ack = loop.create_future()
            ack.set_result(RecordMetadata(topic, partition, -1, timestamp or -1))
            return ack
        return future

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                            partition: int | None = None, headers: Sequence[tuple[str, bytes]] = (),
                            timestamp: int | None = None) -> RecordMetadata:
        """Send one record and wait for its acknowledgement."""
        future = await self.send(topic, value, key, partition=partition, headers=headers, timestamp=timestamp)
        await self.flush()
        return await future

    def _close_batch(self, batch: _Batch, count: int) -> None:
        del self._open[(batch.topic, batch.partition)]
        self._ready.append(batch)

    def _wake_sender(self) -> None:
        """Start the sender, or end its wait: there is a batch to look at."""
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._run(), name="kplay-producer-sender")
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait_for_work(self, timeout_s: float | None = None) -> None:
        """Wait until send or flush wakes the sender, or ``timeout_s`` passes.

        A bare future (and a timer for linger.ms) rather than an Event: this runs once per
        transaction, and an Event's wait costs more (for a timeout, a task and
        ``asyncio.wait`` besides). A cancellation always ends the wait.
        """
        loop = asyncio.get_running_loop()
        waiter = self._wakeup = loop.create_future()
        timer = None if timeout_s is None else loop.call_later(timeout_s, _resolve, waiter)
        try:
            await waiter
        finally:
            self._wakeup = None
            if timer is not None:
                timer.cancel()

    async def flush(self) -> None:
        """Send every queued record now and wait until all are acknowledged (or failed)."""
        if not self._open and not self._ready and self._buffered == 0:
            return
        self._flushing += 1
        try:
            self._wake_sender()
            while self._open or self._ready or self._buffered:
                self._drained.clear()
                await self._drained.wait()
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Flush and stop the sender."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    async def _run(self) -> None:
        while True:
            if not self._open and not self._ready:
                await self._wait_for_work()
                continue
            if not self._ready and not self._flushing:
                oldest = min(b.created for b in self._open.values())
                delay = oldest + self.linger_s - time.monotonic()
                if delay > 0:
                    await self._wait_for_work(delay)
                    continue
            # One request carries at most max_request_size bytes (always at least one batch),
            # so a backlog goes as several transactions and the write lock is never held for
            # long: another process's writer waits one bounded transaction, not the backlog.
            batches = []
            size = 0
            while self._ready and (not batches or size + self._ready[0].size <= self.max_request_size):
                batch = self._ready.popleft()
                batches.append(batch)
                size += batch.size
            now = time.monotonic()
            for key, batch in list(self._open.items()):
                if batches and size + batch.size > self.max_request_size:
                    break
                if self._flushing or now - batch.created >= self.linger_s:
                    size += batch.size
                    del self._open[key]
                    batches.append(batch)
            if batches:
                await self._send_batches(batches)
            self._drained.set()

    async def _send_batches(self, batches: list[_Batch]) -> None:
        # Every request costs the log several thread hops whatever its size, so the ready
        # batches of one partition go as one request: a backlog of small batches sent one
        # request each cost far more than their records (the default 16 KB batches ran at a
        # third of the speed of 1000-record ones).
        if len(batches) == 1:  # the usual case at one record per transaction: no grouping
            batch = batches[0]
            results = await self._append([BatchRequest(batch.topic, batch.partition, batch.records)])
            self._complete(batch, results[0], 0)
            return
        groups: dict[tuple[str, int], list[_Batch]] = {}
        for batch in batches:
            groups.setdefault((batch.topic, batch.partition), []).append(batch)
        requests = [BatchRequest(topic, partition, group[0].records if len(group) == 1 else
                                 [record for batch in group for record in batch.records])
                    for (topic, partition), group in groups.items()]
        results = await self._append(requests)
        for group, result in zip(groups.values(), results):
            if len(group) > 1 and isinstance(result, _RECORD_ERRORS):
                # One record refused the merged request, and nothing of it was written:
                # resend its batches separately so that, as in Kafka, only that batch fails.
                for batch, own in zip(group, await self._append(
                        [BatchRequest(b.topic, b.partition, b.records) for b in group])):
                    self._complete(batch, own, 0)
                continue
            start = 0
            for batch in group:
                self._complete(batch, result, start)
                start += len(batch.records)

    async def _append(self, requests: list[BatchRequest]) -> list[AppendResult | BaseException]:
        try:
            results: list[AppendResult | BaseException] = list(
                await self._cluster.logs.append_batches(requests, self.acks))
        except Exception as exc:  # the data file itself failed: every record in flight fails
            results = [exc] * len(requests)
        self.transactions += 1
        return results

    def _complete(self, batch: _Batch, result: AppendResult | BaseException, start: int) -> None:
        """Resolve ``batch``'s records from ``result``, where its records start at index ``start``."""
        self._buffered -= batch.size - BATCH_OVERHEAD
        ack = batch.ack
        if ack.done():  # cancelled: the producer was closed without it
            return
        if isinstance(result, BaseException):
            if isinstance(result, UnknownTopicOrPartition):
                self._metadata.pop(batch.topic, None)
            ack.set_exception(result)
            if self.acks == 0:
                ack.exception()  # acks=0 reports nothing; mark it retrieved
            return
        self.records_sent += len(batch.records)
        ack.set_result((batch.topic, batch.partition, result.base_offset + start,
                        result.timestamps[start:start + len(batch.records)]))

    @property
    def pending(self) -> int:
        """Records queued but not yet acknowledged."""
        return sum(len(b.records) for b in self._open.values()) + sum(len(b.records) for b in self._ready)


