"""``ConnectWorker``: Kafka Connect's worker and its REST-shaped API, over the data file.

Two roles, as in Kafka Connect's distributed mode:

* the API (what ``POST/GET /connectors``, ``/connectors/NAME/status``, ``/config``,
  ``/pause``, ``/resume``, ``/restart`` and ``DELETE`` do): it reads and writes the
  internal topics only, so it works from any process, with or without a running worker
  (``kplay connect --create`` uses it and exits);
* the worker proper, once ``start()``-ed: it follows ``connect-configs``, claims
  connectors through leases (see ``leases.py``), runs their tasks as asyncio tasks,
  reports their states to ``connect-status`` and heartbeats. Several workers (in several
  processes) share the connectors; a worker that dies loses its leases after
  ``session_timeout_ms`` and another takes over from the stored offsets.

    worker = ConnectWorker(cluster)
    await worker.create_connector({"name": "jdbc-source", "connector.class": "JdbcSourceConnector", ...})
    await worker.start()
    ...
    await worker.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping

import sqlalchemy

from ..errors import KafkaError, UnknownTopicOrPartition
from ..events import RecordsAppended, Resync
from .config import ConnectorConfig, connector_type, validate_connector_config
from .databases import open_engine, split_table_name
from .errors import ConnectError, ConnectorAlreadyExists, ConnectorConfigInvalid, ConnectorNotFound
from .internal_topics import (CONFIG_TOPIC, ConfigState, ConfigStore, OffsetStore, RestartRequest, StatusRecord,
                              StatusState, StatusStore)
from .jdbc_sink import JdbcSinkTask, sink_group, table_name_for
from .jdbc_source import JdbcSourceTask, LeaseLost, TaskStats, connect_with_retries, list_tables, source_task_configs
from .leases import ConnectorLeases, leases
from .sqlite_files import sqlite_directory

if TYPE_CHECKING:
    from ..cluster import Cluster

RUNNING, PAUSED, FAILED, UNASSIGNED, RESTARTING = "RUNNING", "PAUSED", "FAILED", "UNASSIGNED", "RESTARTING"
STOPPED = "STOPPED"
#: Kafka Connect's worker defaults: session.timeout.ms and heartbeat.interval.ms.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 3_000


@dataclass(frozen=True)
class ConnectorInfo:
    """``GET /connectors/NAME``: the config and the tasks of a connector."""

    name: str
    config: dict[str, str]
    tasks: list[int]
    type: str

    def to_json(self) -> dict[str, Any]:
        """The REST body."""
        return {"name": self.name, "config": dict(self.config),
                "tasks": [{"connector": self.name, "task": t} for t in self.tasks], "type": self.type}


@dataclass(frozen=True)
class TaskState:
    """One task's state in ``GET /connectors/NAME/status``."""

    id: int
    state: str
    worker_id: str
    trace: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The REST body."""
        body: dict[str, Any] = {"id": self.id, "state": self.state, "worker_id": self.worker_id}
        if self.trace:
            body["trace"] = self.trace
        return body


@dataclass(frozen=True)
class ConnectorStateInfo:
    """``GET /connectors/NAME/status``: the connector's and each task's state."""

    name: str
    state: str
    worker_id: str
    tasks: list[TaskState]
    type: str
    trace: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The REST body."""
        connector: dict[str, Any] = {"state": self.state, "worker_id": self.worker_id}
        if self.trace:
            connector["trace"] = self.trace
        return {"name": self.name, "connector": connector, "tasks": [t.to_json() for t in self.tasks],
                "type": self.type}


@dataclass(frozen=True)
class ConnectorOverview:
    """One connector in a view: state, records moved, offsets, table sizes (``trace``: the
    connector's, else the first failed task's)."""

    name: str
    type: str
    state: str
    task_states: tuple[str, ...]
    records: int
    offsets: tuple[str, ...]
    tables: tuple[tuple[str, int | None], ...]
    worker_id: str
    trace: str | None = None
    topics: tuple[str, ...] = ()


@dataclass
class _Running:
    """A connector this worker runs."""

    name: str
    raw: dict[str, str]
    generation: int
    config: ConnectorConfig | None = None
    #: PAUSED or STOPPED while the connector is held in that state (None: running).
    held_state: str | None = None
    failed: bool = False
    task_configs: list[dict[str, str]] = field(default_factory=list)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    task_objects: dict[int, JdbcSourceTask | JdbcSinkTask] = field(default_factory=dict)
    task_states: dict[int, str] = field(default_factory=dict)
    #: The connector's own start (or instance restart) while it runs: it may wait long on
    #: its database, so it runs apart from the worker's loop and every other connector.
    starter: asyncio.Task[None] | None = None
    #: The starter's wait on the database (``taskConfigs``): the one part cancelled on a stop,
    #: since cancelling a write to the internal topics half-way is not safe.
    probe: asyncio.Future[list[dict[str, str]]] | None = None
    #: Set once the connector is stopped: the starter then leaves everything as it is.
    stopped: bool = False


def error_trace(exc: BaseException) -> str:
    """A trace as Kafka Connect reports one: the error first, then where it came from."""
    headline = traceback.format_exception_only(exc)[-1].strip()
    return headline + "\n" + "".join(traceback.format_exception(exc)).rstrip()


class ConnectWorker:
    """A Kafka Connect worker on the cluster (its API works without ``start()``)."""

    def __init__(self, cluster: "Cluster", *, worker_id: str | None = None, base_dir: Path | None = None,
                 session_timeout_ms: int = SESSION_TIMEOUT_MS,
                 heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS) -> None:
        if heartbeat_interval_ms >= session_timeout_ms:
            raise ValueError(f"heartbeat.interval.ms ({heartbeat_interval_ms}) must be lower than "
                             f"session.timeout.ms ({session_timeout_ms})")
        self.cluster = cluster
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        #: The directory connectors' ``jdbc:sqlite:`` files are confined to (see ``sqlite_files``).
        self.base_dir = base_dir if base_dir is not None else sqlite_directory(cluster.path)
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._configs = ConfigStore(cluster)
        self._statuses = StatusStore(cluster)
        self._offsets = OffsetStore(cluster)
        self._leases = ConnectorLeases(cluster, self.worker_id, session_timeout_ms)
        self._state = ConfigState()
        self._running: dict[str, _Running] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._engines: dict[tuple[str, str, str], sqlalchemy.Engine] = {}
        self._lock = asyncio.Lock()
        self._lost: set[str] = set()
        #: The last error a worker round survived (None if none): for diagnosing a stuck worker.
        self.last_error: str | None = None

    # -- the REST-shaped API -------------------------------------------------------------------
    async def list_connectors(self) -> list[str]:
        """``GET /connectors``: every connector's name."""
        state, _ = await self._configs.read()
        return sorted(state.connectors)

    async def create_connector(self, config: Mapping[str, Any], name: str | None = None) -> ConnectorInfo:
        """``POST /connectors``: validate and store a new connector; a worker picks it up.

        Raises ConnectorConfigInvalid (naming the key) or ConnectorAlreadyExists.
        """
        checked = validate_connector_config(config, name)
        state, _ = await self._configs.read()
        if checked.name in state.connectors:
            raise ConnectorAlreadyExists(f"Connector {checked.name} already exists")
        await self._configs.put_connector_config(checked.name, checked.raw)
        return ConnectorInfo(checked.name, dict(checked.raw), [], checked.connector_type)

    async def put_connector_config(self, name: str, config: Mapping[str, Any]) -> tuple[ConnectorInfo, bool]:
        """``PUT /connectors/NAME/config``: create or replace; returns the info and whether it was created."""
        checked = validate_connector_config(config, name)
        state, _ = await self._configs.read()
        created = name not in state.connectors
        if not created and state.connectors[name].get("connector.class") is not None:
            old = connector_type(state.connectors[name]["connector.class"])
            if old != checked.connector_type:
                raise ConnectorConfigInvalid(f"Connector {name} is a {old} connector; its type cannot change")
        await self._configs.put_connector_config(name, checked.raw)
        tasks = [] if created else list(range(len(state.task_configs.get(name, []))))
        return ConnectorInfo(name, dict(checked.raw), tasks, checked.connector_type), created

    async def connector_info(self, name: str) -> ConnectorInfo:
        """``GET /connectors/NAME``."""
        state = await self._existing(name)
        raw = state.connectors[name]
        return ConnectorInfo(name, dict(raw), list(range(len(state.task_configs.get(name, [])))), _type_of(raw))

    async def connector_config(self, name: str) -> dict[str, str]:
        """``GET /connectors/NAME/config``."""
        return dict((await self._existing(name)).connectors[name])

    async def connector_status(self, name: str) -> ConnectorStateInfo:
        """``GET /connectors/NAME/status``: the connector's and its tasks' states.

        A connector no live worker holds is UNASSIGNED, whatever its last status said
        (its worker stopped or died).
        """
        try:
            state = await self._existing(name)
        except ConnectorNotFound:
            raise ConnectorNotFound(f"No status found for connector {name}") from None
        return self._status_of(name, state, await self._statuses.read(), await leases(self.cluster))

    def _status_of(self, name: str, state: ConfigState, statuses: StatusState, held: Mapping[str, Any]) -> ConnectorStateInfo:
        lease = held.get(name)
        live = lease is not None and lease.live(self.cluster.clock.now_ms())
        record = statuses.connectors.get(name)
        kind = _type_of(state.connectors[name])
        if record is None or not live:
            worker = record.worker_id if record is not None else ""
            tasks = [TaskState(i, UNASSIGNED, worker) for i in range(len(state.task_configs.get(name, [])))]
            return ConnectorStateInfo(name, UNASSIGNED, worker, tasks, kind)
        tasks = []
        if record.state != FAILED:
            for i in range(len(state.task_configs.get(name, []))):
                task = statuses.tasks.get((name, i))
                tasks.append(TaskState(i, task.state, task.worker_id, task.trace) if task is not None
                             else TaskState(i, UNASSIGNED, record.worker_id))
        return ConnectorStateInfo(name, record.state, record.worker_id, tasks, kind, record.trace)

    async def connector_offsets(self, name: str) -> list[dict[str, Any]]:
        """``GET /connectors/NAME/offsets``: source partitions and offsets, or a sink's committed offsets."""
        state = await self._existing(name)
        if _type_of(state.connectors[name]) == "source":
            return [{"partition": p, "offset": o} for p, o in await self._offsets.read_all(name)]
        try:
            rows = await self.cluster.groups.group_lag(sink_group(name))
        except KafkaError:
            return []
        return [{"partition": {"kafka_topic": r.topic, "kafka_partition": r.partition},
                 "offset": {"kafka_offset": r.committed}} for r in rows if r.committed is not None]

    async def pause_connector(self, name: str) -> None:
        """``PUT /connectors/NAME/pause``: its tasks stop; its offsets stay."""
        await self._existing(name)
        await self._configs.put_target_state(name, PAUSED)

    async def resume_connector(self, name: str) -> None:
        """``PUT /connectors/NAME/resume``."""
        await self._existing(name)
        await self._configs.put_target_state(name, "STARTED")

    async def stop_connector(self, name: str) -> None:
        """``PUT /connectors/NAME/stop`` (KIP-875): its tasks stop and their configs are dropped."""
        await self._existing(name)
        await self._configs.put_target_state(name, STOPPED)

    async def restart_task(self, name: str, task: int) -> None:
        """``POST /connectors/NAME/tasks/T/restart``: the worker running it restarts that task."""
        state = await self._existing(name)
        if not 0 <= task < len(state.task_configs.get(name, [])):
            raise ConnectorNotFound(f"Unknown task: {name}-{task}")
        await self._configs.request_task_restart(name, task)

    async def connector_topics(self, name: str) -> list[str]:
        """``GET /connectors/NAME/topics``: the topics its tasks have used (KIP-558)."""
        await self._existing(name)
        return sorted((await self._statuses.read()).topics.get(name, set()))

    async def reset_connector_topics(self, name: str) -> None:
        """``PUT /connectors/NAME/topics/reset``."""
        await self._existing(name)
        await self._statuses.reset_topics(name, (await self._statuses.read()).topics.get(name, set()))

    async def restart_connector(self, name: str, *, include_tasks: bool = False, only_failed: bool = False) -> None:
        """``POST /connectors/NAME/restart[?includeTasks=&onlyFailed=]`` (Kafka's defaults: the
        connector instance only). The worker running it restarts it from its stored offsets."""
        await self._existing(name)
        await self._configs.request_restart(name, include_tasks, only_failed)

    async def delete_connector(self, name: str) -> None:
        """``DELETE /connectors/NAME``: its tasks stop; its source offsets stay (as in Kafka)."""
        state = await self._existing(name)
        count = len(state.task_configs.get(name, []))
        await self._configs.remove_connector(name, count)
        statuses = await self._statuses.read()
        tasks = {i for (n, i) in statuses.tasks if n == name} | set(range(count))
        await self._statuses.remove(name, sorted(tasks))

    async def _existing(self, name: str) -> ConfigState:
        state, _ = await self._configs.read()
        if name not in state.connectors:
            raise ConnectorNotFound(f"Connector {name} not found")
        return state

    # -- a view for panes and the CLI ------------------------------------------------------
    async def describe_connectors(self) -> list[ConnectorOverview]:
        """Every connector with its state, records moved, offsets and its tables' row counts.

        Records: for a source, those in its topics; for a sink, those its group committed.
        Tables: a source's tables, a sink's target tables, each with its row count now.
        """
        state, _ = await self._configs.read()
        statuses = await self._statuses.read()
        held = await leases(self.cluster)
        out = []
        for name in sorted(state.connectors):
            raw = state.connectors[name]
            status = self._status_of(name, state, statuses, held)
            try:
                config = validate_connector_config(raw)
            except ConnectError:
                out.append(ConnectorOverview(name, status.type, status.state, (), 0, (), (), status.worker_id,
                                             status.trace))
                continue
            if config.connector_type == "source":
                records, offsets, tables = await self._source_figures(config, state)
                topics = tuple(config["topic.prefix"] + split_table_name(t)[1] for t, _ in tables)
            else:
                records, offsets, tables = await self._sink_figures(config)
                topics = tuple(config["topics"])
            trace = status.trace or next((t.trace for t in status.tasks if t.trace), None)
            out.append(ConnectorOverview(name, config.connector_type, status.state,
                                         tuple(t.state for t in status.tasks), records, offsets, tables,
                                         status.worker_id, trace, topics))
        return out

    async def _source_figures(self, config: ConnectorConfig, state: ConfigState) -> tuple[int, tuple[str, ...], tuple]:
        tables = list(config["table.whitelist"])
        if not tables:
            tables = [t for task in state.task_configs.get(config.name, []) for t in task.get("tables", "").split(",") if t]
        records = 0
        for table in tables:
            try:
                description = await self.cluster.topics.describe_topic(config["topic.prefix"] + split_table_name(table)[1])
                records += description.record_count
            except UnknownTopicOrPartition:
                pass
        offsets = tuple(f"{p.get('table', p)}: " + ", ".join(f"{k}={v}" for k, v in o.items() if k != "timestamp_nanos")
                        for p, o in await self._offsets.read_all(config.name))
        counts = tuple([(t, await self.count_rows(config, t)) for t in tables])
        return records, offsets, counts

    async def _sink_figures(self, config: ConnectorConfig) -> tuple[int, tuple[str, ...], tuple]:
        try:
            rows = await self.cluster.groups.group_lag(sink_group(config.name))
        except KafkaError:
            rows = []
        records = sum(r.committed or 0 for r in rows)
        offsets = tuple(f"{r.topic}-{r.partition}: {r.committed}" + (f" (lag {r.lag})" if r.lag else "")
                        for r in rows if r.committed is not None)
        tables = [table_name_for(config, topic) for topic in config["topics"]]
        counts = tuple([(t, await self.count_rows(config, t)) for t in tables])
        return records, offsets, counts

    async def count_rows(self, config: ConnectorConfig, table: str) -> int | None:
        """Rows in a table of the connector's database now (None if it is missing or unreachable)."""
        key = (config["connection.url"], config["connection.user"], config["connection.password"])
        engine = self._engines.get(key)
        if engine is None:
            try:
                engine = open_engine(*key, base_dir=self.base_dir)
            except ValueError:
                return None
            self._engines[key] = engine
        try:
            return await asyncio.to_thread(count_table_rows, engine, table)
        except sqlalchemy.exc.SQLAlchemyError:
            return None

    # -- running connectors ----------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the worker has been started (and not stopped)."""
        return self._loop_task is not None and not self._loop_task.done()

    def connectors_run_here(self) -> list[str]:
        """The connectors this worker holds now."""
        return sorted(self._running)

    def task_stats(self, name: str) -> dict[int, TaskStats]:
        """In-process figures of the tasks this worker runs for ``name`` (empty elsewhere)."""
        running = self._running.get(name)
        return {} if running is None else {i: t.stats for i, t in running.task_objects.items()}

    async def start(self) -> None:
        """Start following configs, claiming connectors and running their tasks."""
        if self.running:
            return
        await self.cluster.start_feed()
        for store in (self._configs, self._statuses, self._offsets):
            await store.topic.ensure()
        # Restart requests already in the topic were meant for workers before this one.
        self._state, _ = await self._configs.read()
        events = self.cluster.feed.subscribe("records", "resync")
        self._loop_task = asyncio.create_task(self._run(events), name=f"kplay-connect-worker-{self.worker_id}")

    async def stop(self) -> None:
        """Stop every task (status UNASSIGNED) and give up the leases, so another worker can take over."""
        if self._loop_task is not None:
            # Cancel until it ends: a connector start awaited inside the loop treats a
            # cancellation as its own stop and returns, which once left the loop running and
            # stop() waiting for ever.
            while not self._loop_task.done():
                self._loop_task.cancel()
                await asyncio.wait({self._loop_task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                self._loop_task.result()
            self._loop_task = None
        async with self._lock:
            for name in list(self._running):
                await self._stop_connector(name, status=UNASSIGNED)
        for engine in self._engines.values():
            await asyncio.to_thread(engine.dispose)
        self._engines.clear()

    async def __aenter__(self) -> "ConnectWorker":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run(self, events: Any) -> None:
        """Reconcile at once, then on every config change and every heartbeat interval.

        Lease renewal runs in its own task, so a connector that takes long to start (its
        database retrying connections) never costs this worker its other leases.
        """
        loop = asyncio.get_running_loop()
        beating = asyncio.create_task(self._heartbeats(), name=f"kplay-connect-heartbeat-{self.worker_id}")
        try:
            while True:
                async with self._lock, self._surviving():
                    await self._drop_lost()
                    await self._reconcile()
                deadline = loop.time() + self.heartbeat_interval_ms / 1000
                while (remaining := deadline - loop.time()) > 0:
                    # asyncio.wait, not wait_for: Python 3.11's wait_for can swallow the
                    # cancellation stop() sends, which left stop() waiting for ever.
                    getting = asyncio.ensure_future(events.get())
                    try:
                        done, _ = await asyncio.wait({getting}, timeout=remaining)
                    finally:
                        getting.cancel()
                    if not done:
                        break
                    batch = [getting.result(), *events.get_nowait()]
                    if any(isinstance(e, Resync) or (isinstance(e, RecordsAppended) and e.topic == CONFIG_TOPIC)
                           for e in batch):
                        async with self._lock, self._surviving():
                            self._state, changes = await self._configs.read(self._state)
                            await self._reconcile()
                            for _, request in changes:
                                if request is not None:
                                    await self._restart(request)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            events.close()

    async def _heartbeats(self) -> None:
        """Renew this worker's leases every heartbeat interval; note the ones lost."""
        while True:
            names = list(self._running)
            async with self._surviving():
                held = await self._leases.renew(names)
                self._lost.update(n for n in names if n not in held and n in self._running)
            await asyncio.sleep(self.heartbeat_interval_ms / 1000)

    @contextlib.asynccontextmanager
    async def _surviving(self) -> AsyncIterator[None]:
        """Keep the worker alive through a failed round (a busy data file, an offline partition):
        the error is kept in ``last_error`` and the next round tries again."""
        try:
            yield
        except (KafkaError, sqlite3.Error, OSError) as exc:
            self.last_error = error_trace(exc)

    async def _drop_lost(self) -> None:
        """Stop the connectors another worker has taken over (their leases lapsed)."""
        lost, self._lost = self._lost, set()
        for name in lost:
            if name in self._running and not await self._leases.holds(name):
                await self._stop_connector(name, status=None, release=False)

    async def _reconcile(self) -> None:
        """Make what runs here match the configs: claim, start, reconfigure, pause, stop."""
        held = await leases(self.cluster)
        now = self.cluster.clock.now_ms()
        for name, raw in self._state.connectors.items():
            running = self._running.get(name)
            if running is None:
                lease = held.get(name)
                if lease is not None and lease.worker_id != self.worker_id and lease.live(now):
                    continue  # another worker runs it: no write transaction needed to learn that
                generation = await self._leases.claim(name)
                if generation is not None:
                    await self._start_connector(name, raw, generation)
                continue
            if running.raw != raw:
                generation = running.generation
                await self._stop_connector(name, status=None, release=False)
                await self._start_connector(name, raw, generation)
                continue
            target = self._state.target_states.get(name)
            if target in (PAUSED, STOPPED) and running.held_state != target:
                await (self._pause(running) if target == PAUSED else self._stop_all(running))
            elif target not in (PAUSED, STOPPED) and running.held_state is not None:
                await self._stop_connector(name, status=None, release=False)
                await self._start_connector(name, raw, running.generation)
        for name in [n for n in self._running if n not in self._state.connectors]:
            await self._stop_connector(name, status=None)  # deleted: the API wrote its tombstones

    async def _put_status(self, running: _Running, task: int | None, state: str, trace: str | None = None) -> None:
        if task is not None:
            running.task_states[task] = state
        with contextlib.suppress(KafkaError):
            await self._statuses.put(running.name, task, StatusRecord(state, self.worker_id, trace, running.generation))

    async def _start_connector(self, name: str, raw: dict[str, str], generation: int) -> None:
        """Take ``name`` on and start it in the background: its start may wait on its database
        (``connection.attempts`` x ``connection.backoff.ms``) without holding up the others."""
        running = _Running(name, dict(raw), generation)
        self._running[name] = running
        try:
            running.config = validate_connector_config(raw)
        except ConnectError as exc:
            running.failed = True
            await self._put_status(running, None, FAILED, error_trace(exc))
            return
        running.starter = asyncio.create_task(self._start_instance(running), name=f"kplay-connect-start-{name}")

    async def _start_instance(self, running: _Running) -> None:
        """The connector's ``start()`` and ``taskConfigs()``, then its tasks (or PAUSED)."""
        name = running.name
        assert running.config is not None
        if self._state.target_states.get(name) == STOPPED:
            await self._stop_all(running)
            return
        paused = self._state.target_states.get(name) == PAUSED
        stored = list(self._state.task_configs.get(name, []))
        if paused and stored:
            running.task_configs = stored
            await self._pause(running)
            return
        try:
            # Created paused (KIP-980 initial_state), the connector still generates its
            # task configs, so its tasks exist and show PAUSED.
            task_configs = await self._probe(running)
        except asyncio.CancelledError:
            if running.stopped:
                return
            raise
        except Exception as exc:  # the connector itself failed to start (bad URL, ...)
            if not running.stopped:
                running.failed = True
                await self._put_status(running, None, FAILED, error_trace(exc))
            return
        if running.stopped:
            return
        running.task_configs = task_configs
        running.failed = False
        if running.task_configs != self._state.task_configs.get(name):
            await self._configs.put_task_configs(name, running.task_configs)
            self._state.task_configs[name] = list(running.task_configs)
        if paused or self._state.target_states.get(name) == PAUSED:
            await self._pause(running)
            return
        await self._put_status(running, None, RUNNING)
        if not running.stopped:
            for task_id in range(len(running.task_configs)):
                self._start_task(running, task_id)

    async def _restart_instance(self, running: _Running, old_configs: list[dict[str, str]]) -> None:
        """The connector instance alone: its tasks restart only if their configs change."""
        try:
            task_configs = await self._probe(running)
        except asyncio.CancelledError:
            if running.stopped:
                return
            raise
        except Exception as exc:
            if not running.stopped:
                running.failed = True
                await self._stop_tasks(running)
                await self._put_status(running, None, FAILED, error_trace(exc))
            return
        if running.stopped:
            return
        running.task_configs = task_configs
        await self._put_status(running, None, RUNNING)
        if running.task_configs != old_configs and not running.stopped:
            await self._stop_tasks(running)
            await self._configs.put_task_configs(running.name, running.task_configs)
            self._state.task_configs[running.name] = list(running.task_configs)
            if not running.stopped:
                for task_id in range(len(running.task_configs)):
                    self._start_task(running, task_id)

    async def _probe(self, running: _Running) -> list[dict[str, str]]:
        """``_task_configs`` as a future a stop can cancel (see ``_Running.probe``)."""
        assert running.config is not None
        running.probe = asyncio.ensure_future(self._task_configs(running.config))
        try:
            return await running.probe
        finally:
            running.probe = None

    @staticmethod
    async def _finish_starter(running: _Running) -> None:
        """Stop ``running``'s start: its database wait is cancelled, its writes are let finish."""
        running.stopped = True
        if running.probe is not None:
            running.probe.cancel()
        starter, running.starter = running.starter, None
        if starter is not None and starter is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starter

    async def _task_configs(self, config: ConnectorConfig) -> list[dict[str, str]]:
        """The connector's ``start()`` and ``taskConfigs()``: a source checks its database first."""
        if config.connector_type == "sink":
            return [dict(config.raw) for _ in range(config["tasks.max"])]
        engine = open_engine(config["connection.url"], config["connection.user"], config["connection.password"],
                             self.base_dir)
        try:
            await connect_with_retries(engine, config["connection.attempts"], config["connection.backoff.ms"])
            tables = list(config["table.whitelist"]) or await asyncio.to_thread(list_tables, engine)
        finally:
            await asyncio.to_thread(engine.dispose)
        return source_task_configs(config, tables)

    def _start_task(self, running: _Running, task_id: int) -> None:
        config = running.config
        assert config is not None
        name = running.name

        async def lease_check() -> bool:
            return await self._leases.holds(name)

        async def topic_used(topic: str) -> None:
            with contextlib.suppress(KafkaError):
                await self._statuses.put_topic(name, topic, task_id, self.cluster.clock.now_ms())

        if config.connector_type == "source":
            tables = [t for t in running.task_configs[task_id].get("tables", "").split(",") if t]
            task: JdbcSourceTask | JdbcSinkTask = JdbcSourceTask(self.cluster, config, tables, base_dir=self.base_dir,
                                                                 lease_check=lease_check, topic_used=topic_used)
        else:
            task = JdbcSinkTask(self.cluster, config, task_id, len(running.task_configs), base_dir=self.base_dir,
                                lease_check=lease_check, topic_used=topic_used)
        running.task_objects[task_id] = task
        running.task_states[task_id] = UNASSIGNED
        running.tasks[task_id] = asyncio.create_task(self._run_task(running, task_id, task),
                                                     name=f"kplay-connect-{name}-{task_id}")

    async def _run_task(self, running: _Running, task_id: int, task: JdbcSourceTask | JdbcSinkTask) -> None:
        try:
            await task.start()
            await self._put_status(running, task_id, RUNNING)
            await task.run()
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            running.task_states[task_id] = UNASSIGNED
        except Exception as exc:
            await self._put_status(running, task_id, FAILED, error_trace(exc))
        finally:
            with contextlib.suppress(Exception):
                await task.stop()

    async def _stop_tasks(self, running: _Running, task_ids: list[int] | None = None) -> None:
        ids = list(running.tasks) if task_ids is None else [i for i in task_ids if i in running.tasks]
        tasks = [running.tasks.pop(i) for i in ids]
        for task_id in ids:
            running.task_objects.pop(task_id, None)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _pause(self, running: _Running) -> None:
        await self._stop_tasks(running)
        running.held_state = PAUSED
        await self._put_status(running, None, PAUSED)
        for task_id in range(len(running.task_configs)):
            await self._put_status(running, task_id, PAUSED)

    async def _stop_all(self, running: _Running) -> None:
        """STOPPED (KIP-875): no tasks run, and none are configured, until it is resumed."""
        await self._stop_tasks(running)
        running.held_state = STOPPED
        statuses = await self._statuses.read()
        await self._statuses.remove_tasks(running.name, sorted(i for (n, i) in statuses.tasks if n == running.name))
        running.task_configs = []
        if self._state.task_configs.get(running.name):
            await self._configs.put_task_configs(running.name, [])
            self._state.task_configs[running.name] = []
        await self._put_status(running, None, STOPPED)

    async def _stop_connector(self, name: str, *, status: str | None, release: bool = True) -> None:
        running = self._running.pop(name, None)
        if running is None:
            return
        await self._finish_starter(running)
        await self._stop_tasks(running)
        if status is not None:
            await self._put_status(running, None, status)
            for task_id in range(len(running.task_configs)):
                await self._put_status(running, task_id, status)
        if release:
            with contextlib.suppress(KafkaError):
                await self._leases.release([name])

    async def _restart(self, request: RestartRequest) -> None:
        """Carry out a restart request for a connector this worker runs (others ignore it)."""
        running = self._running.get(request.connector)
        if running is None or running.held_state is not None:
            return
        if request.task is not None:
            if request.task < len(running.task_configs):
                await self._stop_tasks(running, [request.task])
                await self._put_status(running, request.task, RESTARTING)
                self._start_task(running, request.task)
            return
        if not request.only_failed or running.failed:
            await self._put_status(running, None, RESTARTING)
            old_configs = list(running.task_configs)
            starting = running.starter is not None and not running.starter.done()
            if request.include_tasks or running.failed or running.config is None or starting:
                await self._stop_connector(running.name, status=None, release=False)
                await self._start_connector(running.name, running.raw, running.generation)
                return
            running.starter = asyncio.create_task(self._restart_instance(running, old_configs),
                                                  name=f"kplay-connect-restart-{running.name}")
            return
        if request.include_tasks:
            failed = [i for i, s in running.task_states.items() if s == FAILED]
            await self._stop_tasks(running, failed)
            for task_id in failed:
                await self._put_status(running, task_id, RESTARTING)
                self._start_task(running, task_id)


def _type_of(raw: Mapping[str, str]) -> str:
    try:
        return connector_type(raw.get("connector.class", ""))
    except ConnectError:
        return "unknown"


def count_table_rows(engine: sqlalchemy.Engine, table: str) -> int | None:
    """``SELECT count(*)`` of a table (None if it does not exist)."""
    schema, name = split_table_name(table)
    with engine.connect() as conn:
        if not sqlalchemy.inspect(conn).has_table(name, schema=schema):
            return None
        reflected = sqlalchemy.Table(name, sqlalchemy.MetaData(), schema=schema)
        return conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(reflected)).scalar_one()
