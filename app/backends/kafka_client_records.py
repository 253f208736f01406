"""Producing and consuming on a real cluster: librdkafka's producer and consumer behind the core's verbs.

``KafkaClientProducer`` queues records with ``produce()`` (a local enqueue that never waits for
the cluster, so it runs on the caller's loop) and a thread of its own serves delivery reports,
resolving each record's asyncio future. The default partitioner is ``murmur2_random``: keyed
records land where Java's (and the core's) partitioner puts them, not where librdkafka's own
default (CRC32) would.

``KafkaClientConsumer`` gives each consumer one thread: every librdkafka call (assign, seek,
consume, commit, close) runs there, in order, so ``poll()`` waiting for records never blocks the
event loop and calls never race. ``assign``, ``seek``, ``pause`` and ``resume`` are remembered and
applied by the next call that reaches the thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import KafkaError as ClientError
from confluent_kafka import TopicPartition as ClientTopicPartition

from broker_core.consumer import check_consumer_settings
from broker_core.errors import InvalidGroupId
from broker_core.log import parse_acks

from .interface import ConsumerRecord, Headers, RecordMetadata, TopicPartition
from .kafka_errors import as_kafka_error

if TYPE_CHECKING:
    from .kafka_client import KafkaClientBackend

#: How long the producer's delivery thread waits in one poll (also how soon it notices close()).
DELIVERY_POLL_S = 0.05
#: Kafka's delivery.timeout.ms is 120 s; a playground tool should give up sooner on a vanished
#: cluster. A profile's own message.timeout.ms wins.
MESSAGE_TIMEOUT_MS = 30_000
#: What the core's assignor names are called in librdkafka (it has no eager "sticky").
ASSIGNORS = {"range": "range", "roundrobin": "roundrobin", "cooperative-sticky": "cooperative-sticky"}
_NO_GROUP_ID = ("To use the group management or offset commit APIs, you must provide a valid group.id "
                "in the consumer configuration.")


class KafkaClientProducer:
    """The core ``Producer``'s verbs over librdkafka's producer."""

    def __init__(self, backend: "KafkaClientBackend", *, acks: int | str, linger_ms: float, batch_size: int,
                 buffer_memory: int, client_id: str) -> None:
        self.client_id = client_id
        self._producer = Producer(backend.client_config(**{
            "acks": str(parse_acks(acks)), "linger.ms": linger_ms, "batch.size": max(1, batch_size),
            "queue.buffering.max.kbytes": max(1, buffer_memory // 1024), "client.id": client_id,
            "partitioner": "murmur2_random",
            "message.timeout.ms": backend.properties.get("message.timeout.ms", MESSAGE_TIMEOUT_MS)}))
        self._stop = threading.Event()
        self._deliveries = threading.Thread(target=self._serve_deliveries, name="kplay-producer-deliveries",
                                            daemon=True)
        self._deliveries.start()
        self._closed = False

    def _serve_deliveries(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(DELIVERY_POLL_S)

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                   partition: int | None = None, headers: Headers = (),
                   timestamp: int | None = None) -> asyncio.Future[RecordMetadata]:
        """Queue one record; the future resolves when the cluster acknowledges it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RecordMetadata] = loop.create_future()

        def delivered(error: ClientError | None, message: Any) -> None:  # on the delivery thread
            outcome: Any = as_kafka_error(error) if error is not None else RecordMetadata(
                message.topic(), message.partition(), message.offset(), message.timestamp()[1])
            loop.call_soon_threadsafe(_settle, future, outcome)

        options: dict[str, Any] = {"on_delivery": delivered}
        if partition is not None:
            options["partition"] = partition
        if headers:
            options["headers"] = list(headers)
        if timestamp is not None:
            options["timestamp"] = timestamp
        while True:
            try:
                self._producer.produce(topic, value, key, **options)
                return future
            except BufferError:  # buffer.memory is full: wait for deliveries to make room
                await asyncio.sleep(DELIVERY_POLL_S)
            except KafkaException as error:
                raise as_kafka_error(error) from None

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: bytes | None = None, *,
                            partition: int | None = None, headers: Headers = (),
                            timestamp: int | None = None) -> RecordMetadata:
        """Send one record and wait for its acknowledgement."""
        future = await self.send(topic, value, key, partition=partition, headers=headers, timestamp=timestamp)
        return await future

    async def flush(self) -> None:
        """Wait (off the loop) until every queued record is delivered or failed."""
        while await asyncio.to_thread(self._producer.flush, DELIVERY_POLL_S * 4) > 0:
            pass

    async def close(self) -> None:
        """Flush, then stop the delivery thread."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
        finally:
            self._stop.set()
            await asyncio.to_thread(self._deliveries.join)

    async def __aenter__(self) -> "KafkaClientProducer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _settle(future: asyncio.Future[RecordMetadata], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class KafkaClientConsumer:
    """The core ``Consumer``'s verbs over librdkafka's consumer (one thread per consumer)."""

    def __init__(self, backend: "KafkaClientBackend", *, group_id: str | None, client_id: str,
                 auto_offset_reset: str, enable_auto_commit: bool, isolation_level: str,
                 max_poll_records: int = 500, session_timeout_ms: int | None = None,
                 heartbeat_interval_ms: int | None = None, max_poll_interval_ms: int | None = None,
                 auto_commit_interval_ms: int | None = None,
                 partition_assignment_strategy: str | Sequence[str] | None = None,
                 group_protocol: str | None = None, group_remote_assignor: str | None = None) -> None:
        check_consumer_settings(auto_offset_reset, isolation_level)
        self._backend = backend
        self.group_id = group_id
        self.client_id = client_id
        self.auto_offset_reset = auto_offset_reset
        self.max_poll_records = max_poll_records
        self.enable_auto_commit = enable_auto_commit and group_id is not None
        #: Called with (revoked, assigned) whenever a group rebalance changes the assignment.
        self.rebalance_listeners: list[Callable[[set[TopicPartition], set[TopicPartition]], Any]] = []
        config: dict[str, Any] = {
            # librdkafka needs a group id even to assign(); a standalone consumer gets one of its
            # own that never joins a group and never commits, so it starts from auto.offset.reset.
            "group.id": group_id if group_id is not None else f"kplay-standalone-{uuid.uuid4().hex[:12]}",
            "client.id": client_id,
            "auto.offset.reset": "error" if auto_offset_reset == "none" else auto_offset_reset,
            "enable.auto.commit": self.enable_auto_commit,
            "isolation.level": isolation_level,
            "enable.partition.eof": False,
        }
        for key, value in (("session.timeout.ms", session_timeout_ms),
                           ("heartbeat.interval.ms", heartbeat_interval_ms),
                           ("max.poll.interval.ms", max_poll_interval_ms),
                           ("auto.commit.interval.ms", auto_commit_interval_ms)):
            if value is not None:
                config[key] = value
        if partition_assignment_strategy is not None:
            names = ([s.strip() for s in partition_assignment_strategy.split(",") if s.strip()]
                     if isinstance(partition_assignment_strategy, str) else list(partition_assignment_strategy))
            unknown = [name for name in names if name not in ASSIGNORS]
            if unknown:
                raise ValueError(f"partition.assignment.strategy {unknown[0]} is not available with librdkafka "
                                 f"(it has {', '.join(ASSIGNORS)})")
            config["partition.assignment.strategy"] = ",".join(ASSIGNORS[name] for name in names)
        # librdkafka 2.4+ speaks KIP-848 itself: group.protocol=consumer, group.remote.assignor.
        for key, value in (("group.protocol", group_protocol), ("group.remote.assignor", group_remote_assignor)):
            if value is not None:
                config[key] = value
        self._consumer = Consumer(backend.client_config(**config))
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kplay-consumer")
        self._mode = "none"
        self._subscription: tuple[str, ...] = ()
        self._assigned: list[TopicPartition] = []
        self._group_assignment: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._seeks: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._ops: list[Callable[[], None]] = []
        self._rebalances: list[tuple[set[TopicPartition], set[TopicPartition]]] = []
        self._member_id = ""
        self._closed = False

    # --- running on the consumer's thread ---------------------------------------------------

    async def _run(self, function: Callable[[], Any]) -> Any:
        def in_thread() -> Any:
            self._apply_ops()
            return function()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, in_thread)
        except KafkaException as error:
            raise as_kafka_error(error) from None

    def _apply_ops(self) -> None:
        ops, self._ops = self._ops, []
        for op in ops:
            op()
        if self._seeks and self._mode == "subscribe":
            for tp, offset in list(self._seeks.items()):
                if tp in self._group_assignment:
                    try:
                        self._consumer.seek(ClientTopicPartition(tp.topic, tp.partition, offset))
                        del self._seeks[tp]
                    except KafkaException:
                        pass  # not fetching yet: try again on the next call

    def _assign_now(self) -> None:
        partitions = []
        for tp in self._assigned:
            offset = self._seeks.pop(tp, self._positions.get(tp, -1000))  # -1000: OFFSET_STORED
            partitions.append(ClientTopicPartition(tp.topic, tp.partition, offset))
        self._consumer.assign(partitions)
        paused = [ClientTopicPartition(tp.topic, tp.partition) for tp in self._paused if tp in self._assigned]
        if paused:
            self._consumer.pause(paused)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        added = {TopicPartition(p.topic, p.partition) for p in partitions}
        self._group_assignment |= added
        self._rebalances.append((set(), added))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = {TopicPartition(p.topic, p.partition) for p in partitions}
        self._group_assignment -= revoked
        for tp in revoked:
            self._positions.pop(tp, None)
        self._rebalances.append((revoked, set()))

    # --- the Consumer verbs -----------------------------------------------------------------

    @property
    def member_id(self) -> str:
        """The member id the group coordinator gave (empty outside a group)."""
        return self._member_id

    @property
    def generation(self) -> int:
        """Unknown on a librdkafka consumer: -1."""
        return -1

    @property
    def rebalancing(self) -> bool:
        """librdkafka rebalances inside poll(); never seen in progress from outside."""
        return False

    def subscription(self) -> set[str]:
        """The subscribed topics."""
        return set(self._subscription)

    def assign(self, partitions: Sequence[TopicPartition] | Sequence[tuple[str, int]]) -> None:
        """Read exactly these partitions."""
        self._mode = "assign"
        self._assigned = sorted(TopicPartition(*tp) for tp in partitions)
        self._ops.append(self._assign_now)

    def subscribe(self, topics: Sequence[str] | str) -> None:
        """Join ``group_id`` for ``topics``."""
        if self.group_id is None:
            raise InvalidGroupId(_NO_GROUP_ID)
        self._mode = "subscribe"
        self._subscription = (topics,) if isinstance(topics, str) else tuple(topics)
        subscription = list(self._subscription)
        self._ops.append(lambda: self._consumer.subscribe(subscription, on_assign=self._on_assign,
                                                          on_revoke=self._on_revoke, on_lost=self._on_revoke))

    def unsubscribe(self) -> None:
        """Leave the group's assignment."""
        self._mode = "none"
        self._subscription = ()
        self._ops.append(self._consumer.unsubscribe)

    def assignment(self) -> set[TopicPartition]:
        """The partitions read now."""
        return set(self._assigned) if self._mode == "assign" else set(self._group_assignment)

    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        """Read ``tp`` from ``offset`` next."""
        tp = TopicPartition(*tp)
        self._positions[tp] = offset
        self._seeks[tp] = offset
        if self._mode == "assign":
            self._ops.append(self._assign_now)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        """Seek to each partition's log start offset."""
        for tp, mark in (await self._backend.watermarks(list(partitions) or sorted(self.assignment()))).items():
            self.seek(tp, mark.log_start_offset)

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        """Seek to each partition's high watermark."""
        for tp, mark in (await self._backend.watermarks(list(partitions) or sorted(self.assignment()))).items():
            self.seek(tp, mark.high_watermark)

    async def position(self, tp: TopicPartition | tuple[str, int]) -> int:
        """The next offset ``poll`` returns; resolved (committed offset, else auto.offset.reset) and fixed."""
        tp = TopicPartition(*tp)
        if tp in self._positions:
            return self._positions[tp]
        committed = await self.committed(tp) if self.group_id is not None and self._mode == "subscribe" else None
        if committed is not None:
            offset = committed
        else:
            mark = (await self._backend.watermarks([tp]))[tp]
            offset = mark.log_start_offset if self.auto_offset_reset == "earliest" else mark.high_watermark
        self.seek(tp, offset)
        return offset

    def known_position(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        """The position if known, without asking the cluster."""
        return self._positions.get(TopicPartition(*tp))

    def high_watermark(self, tp: TopicPartition) -> int | None:
        """The high watermark the last fetch saw."""
        return self._high_watermarks.get(TopicPartition(*tp))

    def pause(self, *partitions: TopicPartition) -> None:
        """Stop fetching these partitions."""
        chosen = [TopicPartition(*tp) for tp in partitions]
        self._paused.update(chosen)
        self._ops.append(lambda: self._consumer.pause([ClientTopicPartition(t, p) for t, p in chosen]))

    def resume(self, *partitions: TopicPartition) -> None:
        """Fetch these partitions again."""
        chosen = [TopicPartition(*tp) for tp in partitions]
        self._paused.difference_update(chosen)
        self._ops.append(lambda: self._consumer.resume([ClientTopicPartition(t, p) for t, p in chosen]))

    def paused(self) -> set[TopicPartition]:
        """The paused partitions."""
        return set(self._paused)

    async def poll(self, timeout_ms: int = 0) -> list[ConsumerRecord]:
        """Records that arrived within ``timeout_ms`` (the wait happens on the consumer's thread)."""
        limit = max(1, self.max_poll_records)

        def consume() -> tuple[list[Any], list[tuple[set[TopicPartition], set[TopicPartition]]]]:
            if self._mode == "none":
                return [], []
            messages = self._consumer.consume(num_messages=limit, timeout=max(0, timeout_ms) / 1000)
            self._member_id = self._consumer.memberid() or "" if self._mode == "subscribe" else ""
            for tp in self.assignment():
                low, high = self._consumer.get_watermark_offsets(ClientTopicPartition(tp.topic, tp.partition),
                                                                 cached=True)
                if high >= 0:
                    self._high_watermarks[tp] = high
            rebalances, self._rebalances = self._rebalances, []
            return messages, rebalances

        messages, rebalances = await self._run(consume)
        records = []
        failure: BaseException | None = None
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != ClientError._PARTITION_EOF and failure is None:
                    failure = as_kafka_error(error)
                continue
            kind, stamp = message.timestamp()
            tp = TopicPartition(message.topic(), message.partition())
            self._positions[tp] = message.offset() + 1
            records.append(ConsumerRecord(tp.topic, tp.partition, message.offset(), stamp, message.key(),
                                          message.value(), tuple(message.headers() or ()),
                                          "LogAppendTime" if kind == 2 else "CreateTime"))
        for revoked, assigned in rebalances:
            await self._notify(revoked, assigned)
        if failure is not None and not records:
            raise failure
        return records

    async def _notify(self, revoked: set[TopicPartition], assigned: set[TopicPartition]) -> None:
        for listener in list(self.rebalance_listeners):
            outcome = listener(set(revoked), set(assigned))
            if inspect.isawaitable(outcome):
                await outcome

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (the positions consumed so far when None), synchronously."""
        if self.group_id is None:
            raise InvalidGroupId(_NO_GROUP_ID)
        chosen = dict(offsets) if offsets is not None else {tp: self._positions[tp] for tp in self.assignment()
                                                            if tp in self._positions}
        if not chosen:
            return
        partitions = [ClientTopicPartition(tp.topic, tp.partition, offset) for tp, offset in sorted(chosen.items())]
        await self._run(lambda: self._consumer.commit(offsets=partitions, asynchronous=False))

    async def committed(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        """The group's committed offset for ``tp`` (None when none)."""
        tp = TopicPartition(*tp)
        if self.group_id is None:
            return None
        timeout = self._backend.request_timeout_s
        found = await self._run(lambda: self._consumer.committed([ClientTopicPartition(tp.topic, tp.partition)],
                                                                  timeout=timeout))
        return found[0].offset if found and found[0].offset >= 0 else None

    async def close(self) -> None:
        """Leave the group (committing first with auto-commit on) and stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._ops.clear()
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._consumer.close)
        except KafkaException:
            pass  # a consumer whose cluster vanished still closes
        finally:
            self._thread.shutdown(wait=False)

    async def __aenter__(self) -> "KafkaClientConsumer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

