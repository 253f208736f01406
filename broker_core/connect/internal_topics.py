"""Kafka Connect's internal topics: connector configs, source offsets and statuses, in the broker.

Like Kafka Connect in distributed mode, kplay keeps its state in three compacted topics,
created on first use, so every worker (in any process on the data file) reads the same
state, a restarted worker resumes where the last one stopped, and a learner can read
them with ``kplay console-consumer --topic connect-offsets --from-beginning``:

* ``connect-configs`` (1 partition): ``connector-NAME`` -> ``{"properties": {...}}``,
  ``task-NAME-N``, ``commit-NAME``, ``target-state-NAME`` -> ``{"state": "PAUSED"}``,
  ``restart-connector-NAME``; a deleted connector leaves tombstones.
* ``connect-offsets`` (25 partitions): ``["NAME",{"table":"iris_data"}]`` -> the source
  offset, e.g. ``{"incrementing":150}``.
* ``connect-status`` (5 partitions): ``status-connector-NAME`` and
  ``status-task-NAME-N`` -> ``{"state": "RUNNING", "trace": null, "worker_id": ..., "generation": N}``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import KafkaError, OffsetOutOfRange, TopicAlreadyExists, UnknownTopicOrPartition
from ..log import EARLIEST, BatchRequest
from ..partitioner import partition_for_key
from ..records import ConsumerRecord, ProducerRecord

if TYPE_CHECKING:
    from ..cluster import Cluster

CONFIG_TOPIC = "connect-configs"
OFFSET_TOPIC = "connect-offsets"
STATUS_TOPIC = "connect-status"
#: Kafka Connect's defaults: config.storage (must be 1), offset.storage and status.storage partitions.
TOPIC_PARTITIONS = {CONFIG_TOPIC: 1, OFFSET_TOPIC: 25, STATUS_TOPIC: 5}
INTERNAL_TOPICS = tuple(TOPIC_PARTITIONS)
#: Records read per fetch while replaying an internal topic.
READ_PAGE = 5_000


def encode_json(value: Any) -> bytes:
    """Compact JSON bytes, as Kafka's schemaless JsonConverter writes internal records."""
    return json.dumps(value, separators=(",", ":")).encode()


class CompactedTopic:
    """One internal topic: created on first use with ``cleanup.policy=compact``; keyed writes."""

    def __init__(self, cluster: "Cluster", name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.partitions = TOPIC_PARTITIONS.get(name, 1)
        self._ensured = False

    async def ensure(self) -> None:
        """Create the topic if it does not exist (replicated on up to 3 brokers, as Kafka's default)."""
        if self._ensured:
            return
        try:
            self.partitions = await self.cluster.logs.partition_count(self.name)
        except UnknownTopicOrPartition:
            live = len(await self.cluster.topics.live_brokers())
            with contextlib.suppress(TopicAlreadyExists):
                await self.cluster.topics.create_topic(self.name, self.partitions, max(1, min(3, live)),
                                                       {"cleanup.policy": "compact"})
            self.partitions = await self.cluster.logs.partition_count(self.name)
        self._ensured = True

    def partition_of(self, key: bytes) -> int:
        """The partition a key lands on (Kafka's default partitioner)."""
        return partition_for_key(key, self.partitions)

    def batch(self, entries: Iterable[tuple[bytes, bytes | None]], timestamp: int | None = None) -> list[BatchRequest]:
        """Batches writing ``entries`` (key, value or None for a tombstone), one per partition."""
        by_partition: dict[int, list[ProducerRecord]] = {}
        for key, value in entries:
            by_partition.setdefault(self.partition_of(key), []).append(ProducerRecord(key, value, (), timestamp))
        return [BatchRequest(self.name, p, records) for p, records in sorted(by_partition.items())]

    async def write(self, entries: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Append ``entries`` with acks=all in one transaction; raise the first batch's error."""
        await self.ensure()
        batches = self.batch(entries, self.cluster.clock.now_ms())
        if batches:
            for result in await self.cluster.logs.append_batches(batches, "all"):
                if isinstance(result, KafkaError):
                    raise result

    async def read_partition(self, partition: int, start: int = 0) -> tuple[list[ConsumerRecord], int]:
        """Every record of one partition from ``start`` up to the high watermark, and where reading ended."""
        await self.ensure()
        records: list[ConsumerRecord] = []
        position = start
        while True:
            try:
                result = await self.cluster.logs.read(self.name, partition, position, max_records=READ_PAGE)
            except OffsetOutOfRange:
                earliest = await self.cluster.logs.list_offset(self.name, partition, EARLIEST)
                if earliest is None or earliest <= position:
                    return records, position
                position = earliest  # retention or compaction moved the log start past us
                continue
            if not result.records:
                return records, max(position, min(result.high_watermark, result.log_end_offset))
            records.extend(result.records)
            position = result.records[-1].offset + 1

    async def latest(self) -> dict[bytes, bytes | None]:
        """The newest value of every key (compaction's view; a tombstone removes the key)."""
        values: dict[bytes, bytes | None] = {}
        for partition in range(self.partitions if self._ensured else (await self._partitions())):
            records, _ = await self.read_partition(partition)
            for record in records:
                if record.key is None:
                    continue
                if record.value is None:
                    values.pop(record.key, None)
                else:
                    values[record.key] = record.value
        return values

    async def _partitions(self) -> int:
        await self.ensure()
        return self.partitions


# -- configs ------------------------------------------------------------------------------------

@dataclass
class RestartRequest:
    """A restart asked for through ``POST /connectors/NAME/restart``."""

    connector: str
    include_tasks: bool
    only_failed: bool
    offset: int
    #: ``POST /connectors/NAME/tasks/T/restart``: that task alone.
    task: int | None = None


@dataclass
class ConfigState:
    """What ``connect-configs`` says: every connector's config, target state and task configs."""

    connectors: dict[str, dict[str, str]] = field(default_factory=dict)
    target_states: dict[str, str] = field(default_factory=dict)
    task_configs: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    position: int = 0

    def apply(self, record: ConsumerRecord) -> tuple[str | None, RestartRequest | None]:
        """Apply one record; returns the connector it touched and a restart request, if it is one."""
        key = (record.key or b"").decode("utf-8", errors="replace")
        value = json.loads(record.value) if record.value is not None else None
        self.position = record.offset + 1
        if key.startswith("connector-"):
            name = key[len("connector-"):]
            if value is None:
                self.connectors.pop(name, None)
                self.task_configs.pop(name, None)
                self.target_states.pop(name, None)
            else:
                self.connectors[name] = dict(value.get("properties", {}))
            return name, None
        if key.startswith("target-state-"):
            name = key[len("target-state-"):]
            if value is None:
                self.target_states.pop(name, None)
            else:
                self.target_states[name] = value.get("state.v2", value.get("state", "STARTED"))
            return name, None
        if key.startswith("commit-") and value is not None:
            # The commit record says how many task configs are current (later ones are stale).
            name = key[len("commit-"):]
            count = int(value.get("tasks", 0))
            tasks = self.task_configs.get(name, [])[:count]
            self.task_configs[name] = tasks + [{} for _ in range(count - len(tasks))]
            return name, None
        if key.startswith("task-") and value is not None:
            name, _, number = key[len("task-"):].rpartition("-")
            if number.isdigit():
                tasks = self.task_configs.setdefault(name, [])
                index = int(number)
                tasks.extend({} for _ in range(index + 1 - len(tasks)))
                tasks[index] = dict(value.get("properties", {}))
            return name, None
        if key.startswith("restart-task-") and value is not None:
            name = str(value.get("connector", ""))
            return name, RestartRequest(name, True, False, record.offset, int(value.get("task", 0)))
        if key.startswith("restart-connector-") and value is not None:
            name = key[len("restart-connector-"):]
            return name, RestartRequest(name, bool(value.get("include-tasks", False)),
                                        bool(value.get("only-failed", False)), record.offset)
        return None, None


class ConfigStore:
    """Reads and writes ``connect-configs`` (Kafka's ``KafkaConfigBackingStore``)."""

    def __init__(self, cluster: "Cluster") -> None:
        self.topic = CompactedTopic(cluster, CONFIG_TOPIC)

    async def read(self, state: ConfigState | None = None) -> tuple[ConfigState, list[tuple[str, RestartRequest | None]]]:
        """Bring ``state`` (a fresh one when None) up to date; returns it and what changed."""
        state = state or ConfigState()
        records, end = await self.topic.read_partition(0, state.position)
        changes = []
        for record in records:
            name, restart = state.apply(record)
            if name is not None:
                changes.append((name, restart))
        state.position = max(state.position, end)
        return state, changes

    async def put_connector_config(self, name: str, config: dict[str, str], *, paused: bool = False) -> None:
        """Store a connector's config (and, for a new connector, its target state first)."""
        entries = []
        if paused:
            entries.append((f"target-state-{name}".encode(), encode_json({"state": "PAUSED", "state.v2": "PAUSED"})))
        entries.append((f"connector-{name}".encode(), encode_json({"properties": config})))
        await self.topic.write(entries)

    async def put_task_configs(self, name: str, tasks: list[dict[str, str]]) -> None:
        """Store the task configs a connector computed, then the commit record naming their count."""
        entries = [(f"task-{name}-{i}".encode(), encode_json({"properties": task})) for i, task in enumerate(tasks)]
        entries.append((f"commit-{name}".encode(), encode_json({"tasks": len(tasks)})))
        await self.topic.write(entries)

    async def put_target_state(self, name: str, state: str) -> None:
        """``STARTED`` or ``PAUSED``."""
        legacy = "PAUSED" if state == "PAUSED" else "STARTED"
        await self.topic.write([(f"target-state-{name}".encode(), encode_json({"state": legacy, "state.v2": state}))])

    async def request_restart(self, name: str, include_tasks: bool, only_failed: bool) -> None:
        """Ask the worker running ``name`` to restart it."""
        await self.topic.write([(f"restart-connector-{name}".encode(),
                                 encode_json({"include-tasks": include_tasks, "only-failed": only_failed}))])

    async def request_task_restart(self, name: str, task: int) -> None:
        """Ask the worker running ``name`` to restart its task ``task``."""
        await self.topic.write([(f"restart-task-{name}-{task}".encode(),
                                 encode_json({"connector": name, "task": task}))])

    async def remove_connector(self, name: str, task_count: int) -> None:
        """Tombstones for the connector, its target state and its tasks."""
        entries: list[tuple[bytes, bytes | None]] = [(f"connector-{name}".encode(), None),
                                                     (f"target-state-{name}".encode(), None)]
        entries.extend((f"task-{name}-{i}".encode(), None) for i in range(task_count))
        entries.append((f"commit-{name}".encode(), None))
        await self.topic.write(entries)


# -- statuses -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusRecord:
    """One connector's or task's last reported state."""

    state: str
    worker_id: str
    trace: str | None = None
    generation: int = 0

    def to_json(self) -> bytes:
        """The record's value in ``connect-status``."""
        return encode_json({"state": self.state, "trace": self.trace, "worker_id": self.worker_id,
                            "generation": self.generation})


@dataclass
class StatusState:
    """What ``connect-status`` says: connector and task states by name."""

    connectors: dict[str, StatusRecord] = field(default_factory=dict)
    tasks: dict[tuple[str, int], StatusRecord] = field(default_factory=dict)
    #: Each connector's active topics (KIP-558): the topics its tasks produced to or consumed from.
    topics: dict[str, set[str]] = field(default_factory=dict)


class StatusStore:
    """Reads and writes ``connect-status`` (Kafka's ``KafkaStatusBackingStore``)."""

    def __init__(self, cluster: "Cluster") -> None:
        self.topic = CompactedTopic(cluster, STATUS_TOPIC)

    async def put(self, name: str, task: int | None, status: StatusRecord) -> None:
        """Record a connector's (``task`` None) or a task's state."""
        await self.topic.write([(_status_key(name, task), status.to_json())])

    async def remove_tasks(self, name: str, tasks: Iterable[int]) -> None:
        """Tombstones for a connector's task statuses (a STOPPED connector has no tasks)."""
        if tasks:
            await self.topic.write([(_status_key(name, t), None) for t in tasks])

    async def put_topic(self, name: str, topic: str, task: int, now_ms: int) -> None:
        """Record that a task of connector ``name`` used ``topic`` (Kafka's ``topic-TOPIC-CONNECTOR`` record)."""
        value = {"topic": {"name": topic, "connector": name, "task": task, "discoverTimestamp": now_ms}}
        await self.topic.write([(f"topic-{topic}-{name}".encode(), json.dumps(value).encode())])

    async def reset_topics(self, name: str, topics: Iterable[str]) -> None:
        """Forget a connector's active topics (``PUT /connectors/NAME/topics/reset``)."""
        await self.topic.write([(f"topic-{topic}-{name}".encode(), None) for topic in topics])

    async def remove(self, name: str, tasks: Iterable[int]) -> None:
        """Tombstones for a deleted connector's statuses."""
        await self.topic.write([(_status_key(name, None), None), *((_status_key(name, t), None) for t in tasks)])

    async def read(self) -> StatusState:
        """Every status now."""
        state = StatusState()
        for key, value in (await self.topic.latest()).items():
            if value is None:
                continue
            text = key.decode("utf-8", errors="replace")
            data = json.loads(value)
            if text.startswith("topic-") and isinstance(data.get("topic"), dict):
                used = data["topic"]
                state.topics.setdefault(str(used.get("connector")), set()).add(str(used.get("name")))
                continue
            record = StatusRecord(data.get("state", "UNASSIGNED"), data.get("worker_id", ""),
                                  data.get("trace"), int(data.get("generation", 0)))
            if text.startswith("status-connector-"):
                state.connectors[text[len("status-connector-"):]] = record
            elif text.startswith("status-task-"):
                name, _, number = text[len("status-task-"):].rpartition("-")
                if number.isdigit():
                    state.tasks[(name, int(number))] = record
        return state


def _status_key(name: str, task: int | None) -> bytes:
    return (f"status-connector-{name}" if task is None else f"status-task-{name}-{task}").encode()


# -- offsets ------------------------------------------------------------------------------------

class OffsetStore:
    """Source offsets in ``connect-offsets`` (Kafka's ``KafkaOffsetBackingStore``)."""

    def __init__(self, cluster: "Cluster") -> None:
        self.topic = CompactedTopic(cluster, OFFSET_TOPIC)

    @staticmethod
    def key(connector: str, partition: dict[str, Any]) -> bytes:
        """The record key: ``["NAME",{"table":"iris_data"}]``."""
        return encode_json([connector, partition])

    async def batch(self, connector: str, partition: dict[str, Any], offset: dict[str, Any] | None,
                    timestamp: int) -> BatchRequest:
        """The batch that stores one source offset, to append together with the data it covers."""
        await self.topic.ensure()
        value = None if offset is None else encode_json(offset)
        return self.topic.batch([(self.key(connector, partition), value)], timestamp)[0]

    async def read(self, connector: str, partition: dict[str, Any]) -> dict[str, Any] | None:
        """The newest stored offset of one source partition (None if there is none)."""
        await self.topic.ensure()
        key = self.key(connector, partition)
        records, _ = await self.topic.read_partition(self.topic.partition_of(key))
        found: dict[str, Any] | None = None
        for record in records:
            if record.key == key:
                found = None if record.value is None else json.loads(record.value)
        return found

    async def read_all(self, connector: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every (source partition, offset) stored for ``connector``."""
        out = []
        for key, value in (await self.topic.latest()).items():
            try:
                name, partition = json.loads(key)
            except (ValueError, TypeError):
                continue
            if name == connector and value is not None:
                out.append((partition, json.loads(value)))
        return sorted(out, key=lambda item: json.dumps(item[0], sort_keys=True))
