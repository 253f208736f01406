"""Plays a parsed scenario against a cluster, step by step, on a manual clock.

The runner is the same for the headless transcript and for the TUI: what differs is the
``ScenarioObserver`` it reports to (print lines, or update panes) and how it paces steps.
Time comes from the scenario's ``ManualClock``, and random keys from its seed, so the same
scenario always gives the same transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from broker_core import Cluster, Consumer, ManualClock, TopicPartition
from broker_core.consumer_group_coordinator import ConsumerGroupHeartbeatRequest
from broker_core.coordinator_records import INTERNAL_TOPICS
from broker_core.errors import KafkaError
from broker_core.log import BatchRequest
from broker_core.partitioner import BuiltInPartitioner
from broker_core.records import BATCH_OVERHEAD, ProducerRecord, record_size

from .script import Condition, Scenario, ScenarioError, Step
from .transaction_steps import LessonTransactionalProducer, TransactionSteps

#: How long a ``wait`` step waits (real time) when it names no timeout.
DEFAULT_WAIT_MS = 10_000
#: Records a ``produce`` step builds and writes at a time: a step with a huge ``count=``
#: streams in batches of this size instead of holding every record in memory (the idea of
#: the producer's ``buffer.memory``).
PRODUCE_CHUNK = 1_000
#: Rows a ``generator`` step inserts per transaction, for the same reason.
GENERATOR_CHUNK = 1_000
#: Longest (real time) the runner waits for a consumer's poll loop to hold, or for a member
#: to be registered by the coordinator, while it opens or closes a join window.
JOIN_WINDOW_DEADLINE_S = 10.0
#: Advancing time with group members running is done in slices no longer than this, with
#: every live member heartbeating in between, so that only stopped members expire.
HEARTBEAT_SLICE_MS = 10_000
MAX_SLICES = 5_000
#: While a produce waits for acknowledgements the scenario clock moves in these steps.
ACK_WAIT_STEP_MS = 100
ACK_WAIT_LIMIT_MS = 60_000
#: Without a replication delay an acknowledgement needs no clock movement; this long (real
#: time) is waited for it before the clock is moved anyway.
ACK_REAL_WAIT_S = 5.0
_T = TypeVar("_T")
STATE_CHANGING = {"create-topic", "alter-topic", "delete-topic", "produce", "stop-broker",
                  "start-broker", "advance", "clean", "elect-preferred", "commit", "commit-transaction",
                  "abort-transaction"}


class ScenarioObserver(Protocol):
    """Receives what a running scenario does (a transcript printer, or the TUI)."""

    def step_started(self, step: Step, at_ms: int) -> None:
        """A step is about to run."""

    def narrate(self, step: Step, text: str) -> None:
        """Narration text for the viewer."""

    def report(self, step: Step, line: str) -> None:
        """One line of result or state after a step."""

    async def consumer_started(self, name: str, consumer: Consumer) -> None:
        """A scenario consumer was created (the TUI shows a view for it)."""

    async def consumer_stopped(self, name: str) -> None:
        """A scenario consumer stopped."""

    async def pace(self, seconds: float) -> None:
        """Let ``seconds`` of scenario time pass for a viewer (headless: return at once)."""


def _open_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


@dataclass
class ScenarioConsumer:
    """A consumer the scenario started, polled by a background task.

    ``polling`` is cleared to hold the poll loop between two polls (it then sets ``held``):
    a held group member neither heartbeats nor rejoins, so it has not noticed a rebalance yet.
    """

    name: str
    consumer: Consumer
    group: str | None
    read: int = 0
    #: Partitions taken from it by rebalances so far (the revoked side of its rebalance listener).
    revoked: int = 0
    task: asyncio.Task[None] | None = None
    error: str | None = None
    records: list[Any] = field(default_factory=list)
    polling: asyncio.Event = field(default_factory=_open_event)
    held: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class JoinWindow:
    """Consecutive ``consumer`` steps joining one group that already has running members.

    In Kafka the running members learn of a rebalance only from their next heartbeat
    (``heartbeat.interval.ms``, 3 s by default), and the join phase waits for every member
    to rejoin, so members that join in quick succession share one rebalance. The runner
    makes that the rule, whatever the pacing: the running members are held until every
    new member of the window has joined, then rejoin together (one generation).
    """

    group: str
    held: list[ScenarioConsumer]
    joining: list[ScenarioConsumer] = field(default_factory=list)


@dataclass
class RunResult:
    """How a scenario run ended."""

    passed: bool
    failures: list[str]
    steps_run: int


class ScenarioRunner(TransactionSteps):
    """Runs ``scenario`` on ``cluster`` (which must use ``clock``)."""

    def __init__(self, cluster: Cluster, clock: ManualClock, scenario: Scenario,
                 observer: ScenarioObserver) -> None:
        self.cluster = cluster
        self.clock = clock
        self.scenario = scenario
        self.observer = observer
        self.consumers: dict[str, ScenarioConsumer] = {}
        self.producers: dict[str, LessonTransactionalProducer] = {}
        self.failures: list[str] = []
        self._random = random.Random(scenario.seed)
        self._partitioner = BuiltInPartitioner(seed=scenario.seed)
        self._start_ms = clock.now_ms()
        self.connect: Any = None  # a ConnectWorker, started by the first connector step
        self._counter = 0
        self._window: JoinWindow | None = None
        self._next_step: Step | None = None

    def elapsed_ms(self) -> int:
        """Scenario time since the start."""
        return self.clock.now_ms() - self._start_ms

    async def run(self) -> RunResult:
        """Run every step; an ``expect`` that fails is recorded and the run goes on, any other
        failing step stops the run with a ``ScenarioError`` naming its line."""
        count = 0
        steps = self.scenario.steps
        try:
            for index, step in enumerate(steps):
                self._next_step = steps[index + 1] if index + 1 < len(steps) else None
                await self.run_step(step)
                count += 1
        finally:
            self._release_window()
            await self.stop_consumers()
            await self.stop_connect()
        return RunResult(not self.failures, list(self.failures), count)

    async def run_step(self, step: Step) -> None:
        """Run one step and report its result."""
        self.observer.step_started(step, self.elapsed_ms())
        handler = getattr(self, "_do_" + step.verb.replace("-", "_"))
        try:
            if "expect-error" in step.args and step.verb != "produce":
                await self._refused(step, handler)
            else:
                await handler(step)
        except ScenarioError:
            raise
        except KafkaError as exc:
            raise ScenarioError(self.scenario.source, step.line, f"{step.verb} failed: {type(exc).__name__}: {exc}") from None
        except (ValueError, LookupError) as exc:
            raise ScenarioError(self.scenario.source, step.line, f"{step.verb} failed: {exc}") from None
        except OSError as exc:  # a file a step names, a full disk: one line, never a traceback
            raise ScenarioError(self.scenario.source, step.line,
                                f"{step.verb} failed: {exc.strerror or exc}") from None
        if step.verb in STATE_CHANGING:
            topic = step.args.get("name") if step.verb.endswith("-topic") else step.args.get("topic")
            for line in await self.state_lines(topic):
                self.observer.report(step, line)

    async def _refused(self, step: Step, handler: Callable[[Step], Awaitable[None]]) -> None:
        """Run a step that should be refused with ``expect-error=NAME``: its refusal is
        reported, anything else (success or another error) is a failed expectation."""
        expected = step.args["expect-error"]
        try:
            await handler(step)
        except KafkaError as exc:
            if expected in _error_names(exc):
                self.observer.report(step, f"refused as expected: {type(exc).__name__}: {exc}")
                return
            got = type(exc).__name__
        else:
            got = "success"
        self.failures.append(f"{self.scenario.source}:{step.line}: expected {expected}, got {got}")
        self.observer.report(step, f"FAIL expected {expected}, got {got}")

    def _fail(self, step: Step, message: str) -> ScenarioError:
        return ScenarioError(self.scenario.source, step.line, message)

    # -- steps ------------------------------------------------------------------------
    async def _do_say(self, step: Step) -> None:
        self.observer.narrate(step, step.args["text"])

    async def _do_pause(self, step: Step) -> None:
        await self.observer.pace(step.args["duration"] / 1000)

    async def _do_create_topic(self, step: Step) -> None:
        a = step.args
        await self.cluster.topics.create_topic(a["name"], a.get("partitions", 1), a.get("replication", 1),
                                               a.get("config", {}))

    async def _do_alter_topic(self, step: Step) -> None:
        a = step.args
        # Check the configs before adding partitions so that a bad value changes nothing.
        if "config" in a:
            from broker_core.config import validate_topic_config
            validate_topic_config(a["config"])
        if "partitions" in a:
            await self.cluster.topics.create_partitions(a["name"], a["partitions"])
        if "config" in a:
            await self.cluster.topics.alter_config(a["name"], a["config"])

    async def _do_delete_topic(self, step: Step) -> None:
        await self.cluster.topics.delete_topic(step.args["name"])

    async def _do_produce(self, step: Step) -> None:
        a = step.args
        topic = a["topic"]
        count = a.get("count", 1)
        partitions = await self.cluster.logs.partition_count(topic)
        if "partition" in a and a["partition"] >= partitions:
            raise self._fail(step, f"produce: topic '{topic}' has no partition {a['partition']} "
                                   f"(it has {partitions})")
        acks = a.get("acks", "all")
        expected_error = a.get("expect-error")
        errors: list[KafkaError] = []
        spread: dict[int, int] = {}
        # Records are built and written PRODUCE_CHUNK at a time: memory stays bounded
        # whatever count= says, and a failure stops the step where it happened.
        for start in range(0, count, PRODUCE_CHUNK):
            records = [self._record(a, i) for i in range(start, min(count, start + PRODUCE_CHUNK))]
            if "transaction" in a:
                results = await self._produce_in_transaction(step, records, partitions)
            else:
                results = await self._produce_chunk(topic, partitions, records, acks, a)
            errors += [r for r in results if isinstance(r, KafkaError)]
            for r in results:
                if not isinstance(r, KafkaError):
                    spread[r.partition] = spread.get(r.partition, 0) + (r.last_offset - r.base_offset + 1)
            if errors:
                break
        if expected_error:
            names = {name for e in errors for name in _error_names(e)}
            if expected_error not in names:
                got = ", ".join(sorted({type(e).__name__ for e in errors})) or "success"
                self.failures.append(f"{self.scenario.source}:{step.line}: expected {expected_error}, got {got}")
                self.observer.report(step, f"FAIL expected {expected_error}, got {got}")
            else:
                self.observer.report(step, f"refused as expected: {type(errors[0]).__name__}: {errors[0]}")
            return
        if errors:
            raise errors[0]
        where = ", ".join(f"p{p}: {n}" for p, n in sorted(spread.items()))
        self.observer.report(step, f"produced {count} record{'s' if count != 1 else ''} to {topic} ({where})")

    async def _produce_chunk(self, topic: str, partitions: int, records: list[ProducerRecord], acks: str,
                             a: dict[str, Any]) -> list[Any]:
        """Write ``records`` (one step's chunk): paced one by one with ``rate=``, else one batch
        per partition; the append results (or KafkaErrors)."""
        rate = a.get("rate")
        targets = await self._targets(topic, partitions, records, a, paced=bool(rate))
        results: list[Any] = []
        if rate:
            for record, partition in zip(records, targets):
                await self.observer.pace(1 / rate)
                self.clock.advance(max(1, int(1000 / rate)))
                stamped = ProducerRecord(record.key, record.value, (), self.clock.now_ms())
                results += await self._while_time_passes(
                    self.cluster.logs.append_batches([BatchRequest(topic, partition, [stamped])], acks))
            return results
        by_partition: dict[int, list[ProducerRecord]] = {}
        for record, partition in zip(records, targets):
            by_partition.setdefault(partition, []).append(record)
        return await self._while_time_passes(self.cluster.logs.append_batches(
            [BatchRequest(topic, p, rs) for p, rs in sorted(by_partition.items())], acks))

    async def _targets(self, topic: str, partitions: int, records: list[ProducerRecord], a: dict[str, Any],
                       *, paced: bool) -> list[int]:
        """Each record's partition, as Kafka 3.3+'s producer picks it (KIP-794): an explicit
        partition= wins, a key hashes, records without a key stick to one partition (among
        those with a leader) until batch.size bytes went to it. Paced records (rate=) are
        sent one batch each, never full, as a producer with linger.ms=0 sends them."""
        if "partition" in a:
            return [a["partition"]] * len(records)
        available: list[int] | None = None
        if any(r.key is None for r in records):
            desc = await self.cluster.topics.describe_topic(topic)
            available = [p.partition for p in desc.partitions if p.leader >= 0]
        targets = []
        batch_bytes: dict[int, int] = {}
        for record in records:
            partition = self._partitioner.partition(topic, record.key, partitions, available)
            targets.append(partition)
            if record.key is None:
                size = record_size(record.key, record.value)
                opened = paced or partition not in batch_bytes
                batch_bytes[partition] = (0 if paced else batch_bytes.get(partition, 0)) + size
                full = not paced and batch_bytes[partition] >= self._partitioner.batch_size
                if full:
                    del batch_bytes[partition]  # the batch is sent; the next record opens another
                self._partitioner.on_append(topic, size + (BATCH_OVERHEAD if opened else 0), full,
                                            partitions, available)
        return targets

    async def _while_time_passes(self, work: Awaitable[_T]) -> _T:
        """Await ``work`` while the scenario clock moves on, as real time would.

        acks=all waits until the followers have copied the batch, which with a
        replication delay only happens once the clock has moved past it.
        """
        task = asyncio.ensure_future(work)
        if (await self.cluster.controller.replication_settings()).replication_delay_ms == 0:
            # Followers copy at once: the acknowledgement needs no clock movement, and moving
            # the clock only because the machine is slow would make transcripts differ.
            done, _ = await asyncio.wait({task}, timeout=ACK_REAL_WAIT_S)
            if done:
                return task.result()
        waited = 0
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.01)
            if done:
                return task.result()
            if waited >= ACK_WAIT_LIMIT_MS:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise ValueError(f"no acknowledgement after {ACK_WAIT_LIMIT_MS // 1000}s of scenario time")
            self.clock.advance(ACK_WAIT_STEP_MS)
            waited += ACK_WAIT_STEP_MS

    def _record(self, args: dict[str, Any], index: int) -> ProducerRecord:
        self._counter += 1
        key: str | None = args.get("key")
        pattern = args.get("keys")
        if pattern and pattern != "none":
            if pattern == "seq":
                key = f"key-{index}"
            elif pattern.startswith("random:"):
                key = f"key-{self._random.randrange(int(pattern.split(':')[1]))}"
            else:
                choices = pattern.split(",")
                key = choices[index % len(choices)]
        template = args.get("value", "record {n}")
        value = template.replace("{i}", str(index)).replace("{n}", str(self._counter)) \
                        .replace("{key}", key or "null")
        payload = None if args.get("tombstone") == "true" else value.encode()
        return ProducerRecord(key.encode() if key is not None else None, payload)

    async def _do_consumer(self, step: Step) -> None:
        a = step.args
        name = a["name"]
        if name in self.consumers:
            raise self._fail(step, f"consumer '{name}' is already running (stop it first)")
        start = a.get("from", "latest")
        group = a.get("group")
        protocol = a.get("protocol", "classic")
        assignor = a.get("assignor")
        if (assignor == "uniform" and protocol != "consumer") or (
                protocol == "consumer" and assignor not in (None, "uniform", "range")):
            raise self._fail(step, "consumer: protocol=consumer takes the broker's assignors uniform or range;"
                                   " the classic protocol the client's range, roundrobin, sticky or cooperative-sticky")
        assignors = ({"group_remote_assignor": assignor} if protocol == "consumer"
                     else {"partition_assignment_strategy": assignor} if assignor else {})
        consumer = Consumer(self.cluster, group_id=group, client_id=name,
                            auto_offset_reset=start if start in ("earliest", "latest") else "earliest",
                            enable_auto_commit=a.get("auto-commit", "true") == "true",
                            isolation_level=a.get("isolation", "read_uncommitted"),
                            group_protocol=protocol, **assignors)
        topics = a["topic"].split(",")
        for topic in topics:
            await self.cluster.logs.partition_count(topic)  # UnknownTopicOrPartition if missing
        if group:
            consumer.subscribe(topics)
        else:
            counts = {t: await self.cluster.logs.partition_count(t) for t in topics}
            wanted = a.get("partitions")
            tps = [TopicPartition(t, p) for t in topics for p in range(counts[t])
                   if wanted is None or p in wanted]
            if wanted and len(tps) != len(wanted) * len(topics):
                raise self._fail(step, f"consumer: partitions {wanted} do not all exist")
            consumer.assign(tps)
            for tp in tps:
                if start not in ("earliest", "latest"):
                    consumer.seek(tp, int(start))
                # Fix the starting position now, so records produced by the next step count.
                await consumer.position(tp)
        if group:
            await self._open_window(group)
        entry = ScenarioConsumer(name, consumer, group)

        def count_revoked(revoked: set[TopicPartition], assigned: set[TopicPartition]) -> None:
            entry.revoked += len(revoked)

        consumer.rebalance_listeners.append(count_revoked)
        entry.task = asyncio.create_task(self._poll_loop(entry), name=f"scenario-consumer-{name}")
        self.consumers[name] = entry
        if self._window is not None:
            self._window.joining.append(entry)
            following = self._next_step
            if following is None or following.verb != "consumer" or following.args.get("group") != group:
                await self._close_window()
        await self.observer.consumer_started(name, consumer)
        self.observer.report(step, f"consumer {name} started" + (f" in group {group}" if group else ""))

    async def _open_window(self, group: str) -> None:
        """Hold ``group``'s running members before a new member joins (see ``JoinWindow``)."""
        if self._window is not None and self._window.group == group:
            return
        await self._close_window()
        members = [c for c in self.consumers.values() if c.group == group]
        if not members:
            return  # nobody to hold: the first member's join completes at once
        for entry in members:
            entry.polling.clear()
        await _until(lambda: all(e.held.is_set() or e.task is None or e.task.done() for e in members))
        self._window = JoinWindow(group, members)

    async def _close_window(self) -> None:
        """Once every new member of the window is registered, let the held members rejoin."""
        window = self._window
        if window is None:
            return
        await _until(lambda: all(e.consumer.member_id or e.error or e.task is None or e.task.done()
                                 for e in window.joining))
        self._release_window()

    def _release_window(self) -> None:
        window, self._window = self._window, None
        if window is not None:
            for entry in window.held:
                entry.polling.set()

    async def _poll_loop(self, entry: ScenarioConsumer) -> None:
        while True:
            if not entry.polling.is_set():
                entry.held.set()
                await entry.polling.wait()
                entry.held.clear()
            try:
                records = await entry.consumer.poll(timeout_ms=100)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # shown by wait/expect; the loop keeps trying
                entry.error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.05)
                continue
            entry.error = None
            entry.read += len(records)
            entry.records.extend(records)
            del entry.records[:-1000]

    def _consumer(self, step: Step, name: str) -> ScenarioConsumer:
        entry = self.consumers.get(name)
        if entry is None:
            raise self._fail(step, f"no running consumer named '{name}' (start it with: consumer {name} topic=...)")
        return entry

    async def _do_stop_consumer(self, step: Step) -> None:
        entry = self._consumer(step, step.args["name"])
        await self._stop(entry, leave=True)
        self.observer.report(step, f"consumer {entry.name} stopped (read {entry.read})")

    async def _do_kill_consumer(self, step: Step) -> None:
        entry = self._consumer(step, step.args["name"])
        await self._stop(entry, leave=False)
        self.observer.report(step, f"consumer {entry.name} killed: no more heartbeats, its session will expire")

    async def _stop(self, entry: ScenarioConsumer, *, leave: bool) -> None:
        if entry.task is not None:
            entry.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await entry.task
        if leave:
            with contextlib.suppress(KafkaError):
                await entry.consumer.close()
        del self.consumers[entry.name]
        await self.observer.consumer_stopped(entry.name)

    async def stop_consumers(self) -> None:
        """Stop every scenario consumer (at the end of a run)."""
        for entry in list(self.consumers.values()):
            await self._stop(entry, leave=True)

    # -- Kafka Connect: databases live beside the data file; one worker runs the connectors --
    def _worker(self) -> Any:
        from broker_core.connect import ConnectWorker
        if self.connect is None:
            self.connect = ConnectWorker(self.cluster, worker_id="scenario", base_dir=self.cluster.path.parent,
                                         heartbeat_interval_ms=200)
        return self.connect

    async def stop_connect(self) -> None:
        """Stop the scenario's Connect worker (at the end of a run)."""
        if self.connect is not None:
            await self.connect.stop()

    async def _do_generator(self, step: Step) -> None:
        from broker_core.connect import DataGenerator
        a = step.args
        from sqlalchemy.exc import SQLAlchemyError
        generator = DataGenerator(a["db"], a["table"], base_dir=self.cluster.path.parent)
        try:
            if "rate" in a:
                for _ in range(a["count"]):
                    await self.observer.pace(1 / a["rate"])
                    await asyncio.to_thread(generator.insert, 1)
            else:
                for start in range(0, a["count"], GENERATOR_CHUNK):  # bounded memory per insert
                    await asyncio.to_thread(generator.insert, min(GENERATOR_CHUNK, a["count"] - start))
        except SQLAlchemyError as exc:
            raise ValueError(f"the database refused: {str(exc).splitlines()[0]}") from None
        finally:
            generator.close()
        self.observer.report(step, f"generator inserted {a['count']} rows into {a['table']} (last id {generator.last_id})")

    async def _do_create_connector(self, step: Step) -> None:
        import json
        from pathlib import Path
        config = dict(step.args.get("config", {}))
        if "file" in step.args:
            path = Path(self.scenario.source).parent / step.args["file"]
            try:
                body = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise self._fail(step, f"create-connector: cannot read file={step.args['file']} "
                                       f"({exc.strerror or exc})") from None
            except ValueError as exc:
                raise self._fail(step, f"create-connector: file={step.args['file']} is not JSON ({exc})") from None
            if not isinstance(body, dict):
                raise self._fail(step, f"create-connector: file={step.args['file']} must hold a JSON object")
            config = {**(body["config"] if isinstance(body.get("config"), dict) else body), **config}
        worker = self._worker()
        info = await worker.create_connector(config, step.args["name"])
        await worker.start()
        self.observer.report(step, f"{info.type} connector {info.name} created")

    async def _connector_action(self, step: Step, action: str, done: str) -> None:
        await getattr(self._worker(), action)(step.args["name"])
        self.observer.report(step, f"connector {step.args['name']} {done}")

    async def _do_pause_connector(self, step: Step) -> None:
        await self._connector_action(step, "pause_connector", "pause requested")

    async def _do_resume_connector(self, step: Step) -> None:
        await self._connector_action(step, "resume_connector", "resume requested")

    async def _do_restart_connector(self, step: Step) -> None:
        await self._worker().restart_connector(step.args["name"], include_tasks=True)
        self.observer.report(step, f"connector {step.args['name']} restart requested")

    async def _do_delete_connector(self, step: Step) -> None:
        await self._connector_action(step, "delete_connector", "deleted")

    async def _do_commit(self, step: Step) -> None:
        entry = self._consumer(step, step.args["name"])
        await entry.consumer.commit()
        self.observer.report(step, f"consumer {entry.name} committed its positions")

    async def _do_seek(self, step: Step) -> None:
        entry = self._consumer(step, step.args["name"])
        to = step.args.get("to", "beginning")
        consumer = entry.consumer
        if to == "beginning":
            await consumer.seek_to_beginning()
        elif to == "end":
            await consumer.seek_to_end()
        else:
            for tp in consumer.assignment():
                consumer.seek(tp, int(to))
        self.observer.report(step, f"consumer {entry.name} moved to {to}")

    async def _do_stop_broker(self, step: Step) -> None:
        change = await self.cluster.controller.stop_broker(step.args["broker"])
        for line in change.lines():
            self.observer.report(step, line)

    async def _do_start_broker(self, step: Step) -> None:
        change = await self.cluster.controller.start_broker(step.args["broker"])
        for line in change.lines():
            self.observer.report(step, line)

    async def _do_replication_delay(self, step: Step) -> None:
        await self.cluster.controller.set_replication_delay(step.args["duration"])

    async def _do_elect_preferred(self, step: Step) -> None:
        results = await self.cluster.controller.elect_preferred_leaders()
        moved = sorted(str(tp) for tp, error in results.items() if error is None)
        self.observer.report(step, f"preferred leaders elected for: {', '.join(moved) or 'no partition'}")

    async def _do_advance(self, step: Step) -> None:
        total = step.args["duration"]
        members = [c for c in self.consumers.values() if c.group]
        slices = 1 if not members else max(1, -(-total // HEARTBEAT_SLICE_MS))
        if slices > MAX_SLICES:
            raise self._fail(step, "advance: stop the group consumers before moving the clock this far "
                                   f"(at most {MAX_SLICES * HEARTBEAT_SLICE_MS // 1000}s while they run)")
        left = total
        for _ in range(slices):
            chunk = min(left, HEARTBEAT_SLICE_MS) if members else left
            self.clock.advance(chunk)
            left -= chunk
            for entry in members:
                consumer = entry.consumer
                with contextlib.suppress(KafkaError):
                    if consumer.protocol == "consumer":
                        await self.cluster.groups.consumer_group_heartbeat(ConsumerGroupHeartbeatRequest(
                            entry.group, consumer.member_id, consumer.generation,
                            owned_partitions=_by_topic(consumer.assignment())))
                    else:
                        await self.cluster.groups.heartbeat(entry.group, consumer.generation, consumer.member_id)
        self.observer.report(step, f"clock moved forward {step.text.split()[1]}")
        await self._background_work(step)

    async def _do_clean(self, step: Step) -> None:
        await self._background_work(step)

    async def _background_work(self, step: Step) -> None:
        """What the brokers do as time passes: expire sessions, replicate, apply retention."""
        expired = await self.cluster.groups.expire_members()
        for member in expired:
            self.observer.report(step, f"session timeout: member {self._member_name(member)} expired")
        await self.cluster.controller.fetcher.run_once()
        report = await self.cluster.cleaner.run_once()
        for line in _cleaner_lines(report):
            self.observer.report(step, line)

    def _member_name(self, member_id: str) -> str:
        for entry in self.consumers.values():
            if entry.consumer.member_id == member_id:
                return entry.name
        return member_id.split("-")[0] if "-" in member_id else member_id

    async def _do_wait(self, step: Step) -> None:
        condition = step.condition
        assert condition is not None
        deadline = time.monotonic() + step.args.get("timeout", DEFAULT_WAIT_MS) / 1000
        while True:
            try:
                actual = await self.probe(step, condition)
            except KafkaError as exc:  # e.g. the topic does not exist yet: keep waiting
                actual = f"{type(exc).__name__}: {exc}"
            if _holds(actual, condition):
                self.observer.report(step, f"ok: {condition} (now {actual})")
                return
            if time.monotonic() >= deadline:
                raise self._fail(step, f"wait: '{condition}' did not hold in time (last value: {actual})")
            await asyncio.sleep(0.02)

    async def _do_expect(self, step: Step) -> None:
        condition = step.condition
        assert condition is not None
        actual = await self.probe(step, condition)
        if _holds(actual, condition):
            self.observer.report(step, f"ok: {condition}")
        else:
            message = f"expected {condition}, got {actual}"
            self.failures.append(f"{self.scenario.source}:{step.line}: {message}")
            self.observer.report(step, f"FAIL {message}")

    # -- probes -----------------------------------------------------------------------
    async def probe(self, step: Step, condition: Condition) -> str:
        """The current value of a condition's quantity, as text."""
        q, target = condition.quantity, condition.target
        if q in ("leader", "isr", "replicas", "high-watermark", "end-offset", "log-start", "leader-epoch"):
            topic, partition = _topic_partition(step, target, self.scenario.source)
            part = await self._partition(step, topic, partition)
            return {
                "leader": str(part.leader), "isr": ",".join(map(str, part.isr)),
                "replicas": ",".join(map(str, part.replicas)), "high-watermark": str(part.high_watermark),
                "end-offset": str(part.log_end_offset), "log-start": str(part.log_start_offset),
                "leader-epoch": str(part.leader_epoch)}[q]
        if q in ("records", "partitions"):
            desc = await self.cluster.topics.describe_topic(target)
            return str(desc.record_count if q == "records" else desc.partition_count)
        if q == "partition-of":
            from broker_core.partitioner import partition_for_key
            topic, _, key = target.partition(":")
            return str(partition_for_key(key.encode(), await self.cluster.logs.partition_count(topic)))
        if q == "read":
            return str(self._consumer(step, target).read)
        if q == "keys":
            seen = {r.key.decode(errors="backslashreplace") for r in self._consumer(step, target).records
                    if r.key is not None}
            return ",".join(sorted(seen)) or "none"
        if q == "position":
            name, _, tp_text = target.partition("/")
            topic, partition = _topic_partition(step, tp_text, self.scenario.source)
            return str(await self._consumer(step, name).consumer.position(TopicPartition(topic, partition)))
        if q == "revoked":
            return str(self._consumer(step, target).revoked)
        if q == "assignment":
            tps = sorted(self._consumer(step, target).consumer.assignment())
            return ",".join(str(tp) for tp in tps) or "none"
        if q in ("lag", "committed"):
            group, _, tp_text = target.partition("/")
            rows = await self.cluster.groups.group_lag(group)
            if tp_text:
                topic, partition = _topic_partition(step, tp_text, self.scenario.source)
                rows = [r for r in rows if (r.topic, r.partition) == (topic, partition)]
                if not rows:
                    return "none"
            if q == "committed":
                return str(rows[0].committed) if rows[0].committed is not None else "none"
            return str(sum(r.lag or 0 for r in rows))
        if q == "last-stable-offset":
            topic, partition = _topic_partition(step, target, self.scenario.source)
            start = (await self._partition(step, topic, partition)).log_start_offset
            return str((await self.cluster.logs.read(topic, partition, start, max_records=0)).last_stable_offset)
        if q == "transaction":
            listed = {t.transactional_id: t.state for t in await self.cluster.transactions.list_transactions()}
            return listed.get(target, "none")
        if q in ("generation", "members", "state"):
            desc = await self.cluster.groups.describe_group(target)
            return {"generation": str(desc.generation), "members": str(len(desc.members)), "state": desc.state}[q]
        if q == "rows":
            from broker_core.connect.databases import open_engine
            from broker_core.connect.worker import count_table_rows
            db, _, table = target.rpartition("/")
            engine = open_engine(db, base_dir=self.cluster.path.parent)
            try:
                count = await asyncio.to_thread(count_table_rows, engine, table)
            finally:
                engine.dispose()
            return "none" if count is None else str(count)
        if q == "connector":
            return (await self._worker().connector_status(target)).state
        brokers = await self.cluster.controller.brokers()
        if q == "controller":
            return str(next((b.broker_id for b in brokers if b.is_controller), -1))
        if q == "live-brokers":
            return str(sum(1 for b in brokers if b.alive))
        if q == "topics":
            return str(len(await self.cluster.topics.list_topics()))
        raise self._fail(step, f"unknown quantity '{q}'")

    async def _partition(self, step: Step, topic: str, partition: int) -> Any:
        desc = await self.cluster.topics.describe_topic(topic)
        if not 0 <= partition < desc.partition_count:
            raise self._fail(step, f"topic '{topic}' has no partition {partition}")
        return desc.partitions[partition]

    async def state_lines(self, topic: str | None = None) -> list[str]:
        """A compact picture of ``topic``'s partitions (every topic's when None), for the transcript."""
        lines = []
        for desc in await self.cluster.topics.describe_topics():
            if (desc.name != topic) if topic is not None else desc.name in INTERNAL_TOPICS:
                continue  # __consumer_offsets' size follows commit timing: only when asked for
            parts = " ".join(
                f"p{p.partition}[leader {p.leader if p.leader >= 0 else 'none'} isr {','.join(map(str, p.isr)) or '-'}"
                f" log {p.log_start_offset}..{p.log_end_offset} hw {p.high_watermark}]"
                for p in desc.partitions)
            lines.append(f"state {desc.name}: {parts}")
        return lines


async def _until(condition: Callable[[], Any]) -> None:
    """Poll ``condition`` until it holds or JOIN_WINDOW_DEADLINE_S (real time) has passed."""
    deadline = time.monotonic() + JOIN_WINDOW_DEADLINE_S
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def _error_names(error: KafkaError) -> set[str]:
    """Every name ``expect-error=`` may use for ``error``: its class and the classes it
    refines (NoActiveController is a RequestTimedOut), and Kafka's error name."""
    names = {cls.__name__ for cls in type(error).__mro__ if issubclass(cls, KafkaError)}
    return names | {getattr(error, "name", "")}


def _by_topic(partitions: set[TopicPartition]) -> dict[str, tuple[int, ...]]:
    """Owned partitions as a KIP-848 heartbeat carries them: partition numbers by topic."""
    out: dict[str, tuple[int, ...]] = {}
    for tp in sorted(partitions):
        out[tp.topic] = out.get(tp.topic, ()) + (tp.partition,)
    return out


def _topic_partition(step: Step, text: str, source: str) -> tuple[str, int]:
    topic, sep, number = text.rpartition("-")
    if not sep or not number.isdigit() or not topic:
        raise ScenarioError(source, step.line, f"'{text}' is not TOPIC-PARTITION (e.g. orders-0)")
    return topic, int(number)


def _holds(actual: str, condition: Condition) -> bool:
    op, expected = condition.op, condition.value
    if op in ("==", "!="):
        same = actual == expected
        return same if op == "==" else not same
    try:
        a, b = float(actual), float(expected)
    except ValueError:
        return False
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]


def _cleaner_lines(report: Any) -> list[str]:
    lines = getattr(report, "lines", None)
    if callable(lines):
        return list(lines())
    return [str(item) for item in (getattr(report, "entries", None) or [])]
