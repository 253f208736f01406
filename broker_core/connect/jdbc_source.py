"""Confluent's JDBC source connector: poll tables, publish new rows, remember how far it got.

Each task polls its tables every ``poll.interval.ms`` and publishes the rows it has not
published yet to ``<topic.prefix><table>``, as Confluent's ``JdbcSourceTask`` does, by
``mode``:

* ``incrementing``: rows whose incrementing column is above the last one published;
* ``timestamp``: rows whose timestamp is after the last one and before the database's
  now minus ``timestamp.delay.interval.ms``;
* ``timestamp+incrementing``: ordered by (timestamp, id), so rows sharing a timestamp are
  neither lost nor repeated;
* ``bulk``: the whole table on every poll (no offset).

A batch of rows and the offset that covers it are appended in ONE broker transaction
(records and ``connect-offsets`` together), so a task killed at any moment resumes
exactly after the last batch it published: no duplicates, no gaps (Kafka's
exactly-once source support, KIP-618, gives the same guarantee with transactions).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import sqlalchemy
from sqlalchemy import func, select

from ..errors import KafkaError, TopicAlreadyExists, UnknownTopicOrPartition
from ..log import BatchRequest
from ..partitioner import StickyPartitioner
from ..records import ProducerRecord
from .config import ConnectorConfig
from .converters import ConnectData, converter_for
from .data import StructSchema, row_value, schema_for_table, to_epoch_ms, utc_naive
from .databases import open_engine, split_table_name
from .errors import ConnectError
from .topic_creation import TopicCreation
from .transforms import ConnectRecord, TransformChain
from .internal_topics import OffsetStore

if TYPE_CHECKING:
    from ..cluster import Cluster

_log = logging.getLogger("kplay.connect")

#: Kafka's producer delivery.timeout.ms: how long a batch is retried before the task fails.
DELIVERY_TIMEOUT_S = 120.0
#: Kafka's retry.backoff.ms, doubled per retry up to retry.backoff.max.ms.
RETRY_BACKOFF_S = 0.1
MAX_RETRY_BACKOFF_S = 1.0


class LeaseLost(ConnectError):
    """Another worker took the connector over: this task must stop without publishing."""


@dataclass
class TaskStats:
    """What a task has done, for status views: records moved and its newest offset."""

    records: int = 0
    offsets: dict[str, Any] = field(default_factory=dict)
    last_poll_ms: int = 0
    #: Retriable errors waited out (an offline partition, too few in-sync replicas).
    retries: int = 0
    #: Records skipped by errors.tolerance=all (a transform or converter failed on them).
    skipped: int = 0


class DatabaseUnreachable(ConnectError):
    """No connection to a network database after every attempt; deliberately says no more."""


async def connect_with_retries(engine: sqlalchemy.Engine, attempts: int, backoff_ms: int) -> None:
    """Open one connection, trying ``connection.attempts`` times (Confluent's connection provider).

    A network database that cannot be reached fails with one message whatever the
    reason: the driver's words (refused, timed out, no such host) would let anyone who
    can create a connector scan ports through this process.
    """
    for attempt in range(1, attempts + 1):
        try:
            await asyncio.to_thread(_ping, engine)
            return
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == attempts:
                if engine.url.get_backend_name() == "sqlite":
                    raise
                raise DatabaseUnreachable(
                    f"Could not connect to the database {engine.url.host or 'localhost'}"
                    f"{':' + str(engine.url.port) if engine.url.port else ''} after {attempts} attempt(s)") from None
            await asyncio.sleep(backoff_ms / 1000)


def _ping(engine: sqlalchemy.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(select(1))


def list_tables(engine: sqlalchemy.Engine) -> list[str]:
    """User tables of the database (for an empty ``table.whitelist``)."""
    inspector = sqlalchemy.inspect(engine)
    return sorted(name for name in inspector.get_table_names() if not name.startswith("sqlite_"))


def source_task_configs(config: ConnectorConfig, tables: list[str]) -> list[dict[str, str]]:
    """Split the tables over at most ``tasks.max`` tasks (Confluent's ``taskConfigs``)."""
    if not tables:
        return []
    count = min(config["tasks.max"], len(tables))
    groups: list[list[str]] = [[] for _ in range(count)]
    for index, table in enumerate(tables):
        groups[index % count].append(table)
    return [{**config.raw, "tables": ",".join(group)} for group in groups]


def database_now(conn: sqlalchemy.Connection) -> dt.datetime:
    """The database's current time as a naive UTC datetime (the timestamp modes' upper bound)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        text = conn.execute(select(func.strftime("%Y-%m-%d %H:%M:%f", "now"))).scalar_one()
        return dt.datetime.fromisoformat(text)
    if dialect == "postgresql":
        return utc_naive(conn.execute(select(func.now())).scalar_one())
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def offset_timestamp(offset: dict[str, Any]) -> dt.datetime | None:
    """The timestamp an offset records (``timestamp`` ms plus ``timestamp_nanos``), naive UTC."""
    if "timestamp" not in offset:
        return None
    seconds = int(offset["timestamp"]) // 1000
    nanos = int(offset.get("timestamp_nanos", (int(offset["timestamp"]) % 1000) * 1_000_000))
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)


def timestamp_offset(value: dt.datetime) -> dict[str, int]:
    """Confluent's offset fields for a timestamp."""
    return {"timestamp": to_epoch_ms(value), "timestamp_nanos": utc_naive(value).microsecond * 1000}


class TableQuerier:
    """One table's query for the configured mode, and the offset it has reached."""

    def __init__(self, table_name: str, config: ConnectorConfig, offset: dict[str, Any] | None) -> None:
        self.table_name = table_name
        self.schema_name, self.name = split_table_name(table_name)
        self.mode: str = config["mode"]
        self.incrementing_column: str = config["incrementing.column.name"]
        self.timestamp_columns: tuple[str, ...] = config["timestamp.column.name"]
        self.delay = dt.timedelta(milliseconds=config["timestamp.delay.interval.ms"])
        self.validate_non_null: bool = config["validate.non.null"]
        self.offset: dict[str, Any] = dict(offset or {})
        self._table: sqlalchemy.Table | None = None

    @property
    def partition(self) -> dict[str, str]:
        """The source partition, the key of this table's offset."""
        return {"table": self.table_name}

    def reflect(self, conn: sqlalchemy.Connection) -> sqlalchemy.Table | None:
        """Read the table's columns again (None while the table does not exist)."""
        if not sqlalchemy.inspect(conn).has_table(self.name, schema=self.schema_name):
            self._table = None
            return None
        self._table = sqlalchemy.Table(self.name, sqlalchemy.MetaData(), schema=self.schema_name, autoload_with=conn)
        if self.mode in ("incrementing", "timestamp+incrementing") and not self.incrementing_column:
            self.incrementing_column = self._detect_incrementing(self._table)
        for name in self._offset_columns():
            column = self._table.columns.get(name)
            if column is None:
                raise ConnectError(f"Column {name} does not exist in table {self.table_name}")
            if self.validate_non_null and column.nullable and not column.primary_key:
                raise ConnectError(
                    f"Cannot make incremental queries using column {name} on {self.table_name} because this "
                    "column is nullable.")
        return self._table

    def _offset_columns(self) -> list[str]:
        names = []
        if self.mode in ("incrementing", "timestamp+incrementing"):
            names.append(self.incrementing_column)
        if "timestamp" in self.mode:
            names.extend(self.timestamp_columns)
        return names

    def _detect_incrementing(self, table: sqlalchemy.Table) -> str:
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, sqlalchemy.Integer):
            return keys[0].name
        raise ConnectError(
            f"Cannot find an autoincrement column in table {self.table_name}: set incrementing.column.name")

    def fetch(self, conn: sqlalchemy.Connection, limit: int | None) -> tuple[StructSchema | None, list[dict[str, Any]]]:
        """The next rows after the offset (all rows in bulk mode), in offset order."""
        table = self.reflect(conn)
        if table is None:
            return None, []
        schema = schema_for_table(table)
        query = select(table)
        if self.mode != "bulk":
            query = self._incremental(conn, table, query)
        if limit is not None and self.mode != "bulk":
            query = query.limit(limit)
        rows = conn.execute(query).mappings().all()
        return schema, [{f.name: row_value(f, row[f.name]) for f in schema.fields} for row in rows]

    def _incremental(self, conn: sqlalchemy.Connection, table: sqlalchemy.Table, query: sqlalchemy.Select) -> sqlalchemy.Select:
        order: list[Any] = []
        conditions: list[Any] = []
        inc = table.columns[self.incrementing_column] if "incrementing" in self.mode else None
        ts: Any = None
        if "timestamp" in self.mode:
            columns = [table.columns[name] for name in self.timestamp_columns]
            ts = columns[0] if len(columns) == 1 else func.coalesce(*columns)
            aware = any(getattr(c.type, "timezone", False) for c in columns)
            upper = database_now(conn) - self.delay
            last = offset_timestamp(self.offset) or dt.datetime(1970, 1, 1)
            if aware:
                upper, last = upper.replace(tzinfo=dt.timezone.utc), last.replace(tzinfo=dt.timezone.utc)
            conditions.append(ts < upper)
            if inc is not None:
                last_inc = int(self.offset.get("incrementing", -1))
                conditions.append(sqlalchemy.or_(ts > last, sqlalchemy.and_(ts == last, inc > last_inc)))
            else:
                conditions.append(ts > last)
            order.append(ts)
        if inc is not None:
            if ts is None:
                conditions.append(inc > int(self.offset.get("incrementing", -1)))
            order.append(inc)
        return query.where(*conditions).order_by(*order)

    def advance(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The offset after publishing ``rows`` (None in bulk mode, which keeps none)."""
        if self.mode == "bulk" or not rows:
            return None
        last = rows[-1]
        offset: dict[str, Any] = {}
        if "timestamp" in self.mode:
            values = [last.get(name) for name in self.timestamp_columns]
            stamp = next((v for v in values if v is not None), None)
            if stamp is not None:
                offset.update(timestamp_offset(stamp))
        if "incrementing" in self.mode:
            offset["incrementing"] = int(last[self.incrementing_column])
        return offset


class JdbcSourceTask:
    """One source task: polls its tables and publishes new rows with their offsets atomically."""

    def __init__(self, cluster: "Cluster", config: ConnectorConfig, tables: list[str], *,
                 base_dir: Path | None = None, lease_check: Callable[[], Awaitable[bool]] | None = None,
                 topic_used: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.cluster = cluster
        self.config = config
        self.tables = tables
        self.base_dir = base_dir
        self.stats = TaskStats()
        self._lease_check = lease_check
        #: Reports each topic the task first uses (the connector's active topics, KIP-558).
        self._topic_used = topic_used
        self._topics_seen: set[str] = set()
        self._offsets = OffsetStore(cluster)
        self._converter = converter_for(config, "value", cluster)
        self._key_converter = converter_for(config, "key", cluster)
        self._partitioner = StickyPartitioner()
        self._engine: sqlalchemy.Engine | None = None
        self._queriers: list[TableQuerier] = []
        self._transforms = TransformChain(config.raw)
        self._topic_creation = TopicCreation(config.raw)

    def topic_for(self, table: str) -> str:
        """``<topic.prefix><table>`` (the table name as given in table.whitelist, schema dropped)."""
        return f"{self.config['topic.prefix']}{split_table_name(table)[1]}"

    async def start(self) -> None:
        """Connect to the database and read each table's stored offset."""
        self._engine = open_engine(self.config["connection.url"], self.config["connection.user"],
                                   self.config["connection.password"], self.base_dir)
        await connect_with_retries(self._engine, self.config["connection.attempts"],
                                   self.config["connection.backoff.ms"])
        self._queriers = []
        for table in self.tables:
            querier = TableQuerier(table, self.config, None)
            querier.offset = await self._offsets.read(self.config.name, querier.partition) or {}
            if querier.offset:
                self.stats.offsets[table] = dict(querier.offset)
            self._queriers.append(querier)

    async def run(self) -> None:
        """Poll until cancelled; a failure propagates (the worker marks the task FAILED)."""
        assert self._engine is not None, "start() first"
        batch_max = self.config["batch.max.rows"]
        interval = self.config["poll.interval.ms"] / 1000
        while True:
            more = False
            for querier in self._queriers:
                more |= await self.poll_table(querier, batch_max)
            self.stats.last_poll_ms = self.cluster.clock.now_ms()
            if not more:
                await asyncio.sleep(interval)

    async def poll_table(self, querier: TableQuerier, batch_max: int) -> bool:
        """Publish one batch of ``querier``'s new rows; True if more may be waiting."""
        assert self._engine is not None
        schema, rows = await asyncio.to_thread(self._fetch, querier, batch_max)
        if schema is None or not rows:
            return False
        for start in range(0, len(rows), batch_max):
            await self._publish(querier, schema, rows[start:start + batch_max])
        return querier.mode != "bulk" and len(rows) >= batch_max

    def _fetch(self, querier: TableQuerier, batch_max: int) -> tuple[StructSchema | None, list[dict[str, Any]]]:
        assert self._engine is not None
        with self._engine.connect() as conn:
            return querier.fetch(conn, batch_max)

    async def _publish(self, querier: TableQuerier, schema: StructSchema, rows: list[dict[str, Any]]) -> None:
        if self._lease_check is not None and not await self._lease_check():
            raise LeaseLost(f"connector {self.config.name} is now run by another worker")
        topic = self.topic_for(querier.table_name)
        now = self.cluster.clock.now_ms()
        by_topic: dict[str, list[ProducerRecord]] = {}
        for row in rows:
            produced = await self._converted(ConnectRecord(topic, None, ConnectData(None, None),
                                                           ConnectData(schema, row), now))
            if produced is not None:
                by_topic.setdefault(produced[0], []).append(produced[1])
        batches = []
        for out_topic, records in by_topic.items():
            partitions = await self._ensure_topic(out_topic)
            await self._note_topic(out_topic)
            by_partition: dict[int, list[ProducerRecord]] = {}
            sticky = self._partitioner.partition(out_topic, None, partitions)
            for record in records:
                partition = sticky if record.key is None else self._partitioner.partition(out_topic, record.key,
                                                                                         partitions)
                by_partition.setdefault(partition, []).append(record)
            self._partitioner.on_new_batch(out_topic, partitions, sticky)
            batches += [BatchRequest(out_topic, p, chunk) for p, chunk in sorted(by_partition.items())]
        previous = dict(querier.offset) if querier.offset else None
        offset = querier.advance(rows)
        offset_batch = (await self._offsets.batch(self.config.name, querier.partition, offset, now)
                        if offset is not None else None)
        await self._append_with_retries(batches, offset_batch, querier, previous)
        self.stats.records += sum(len(records) for records in by_topic.values())
        if offset is not None:
            querier.offset = offset
            self.stats.offsets[querier.table_name] = dict(offset)

    async def _converted(self, record: ConnectRecord) -> tuple[str, ProducerRecord] | None:
        """The row through the transforms and converters: (topic, record), or None if dropped.

        With ``errors.tolerance=all`` a row a transform or converter fails on is skipped
        (Kafka's source tasks have no dead letter queue); else the task fails.
        """
        try:
            transformed = self._transforms.apply(record) if self._transforms else record
            if transformed is None:
                return None
            key = await self._key_converter.from_connect(transformed.topic, transformed.key)
            value = await self._converter.from_connect(transformed.topic, transformed.value)
        except ConnectError:
            if self.config["errors.tolerance"] == "all":
                self.stats.skipped += 1
                if self.config["errors.log.enable"]:
                    _log.error("Error encountered in task of %s transforming or converting a row of %s: %s",
                               self.config.name, record.topic, error)
                return None
            raise
        return transformed.topic, ProducerRecord(key, value, (), record.timestamp or 0)

    async def _append_with_retries(self, data: list[BatchRequest], offset: BatchRequest | None,
                                   querier: TableQuerier, previous: dict[str, Any] | None) -> None:
        """Append the rows and their offset in one transaction, retrying retriable errors
        (an offline partition, too few in-sync replicas) for up to ``DELIVERY_TIMEOUT_S``, as
        Kafka's producer does; another error, or running out of time, fails the task."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        backoff = RETRY_BACKOFF_S
        pending = [*data] if offset is None else [*data, offset]
        while pending:
            results = await self.cluster.logs.append_batches(pending, "all")
            failed = [batch for batch, result in zip(pending, results) if isinstance(result, KafkaError)]
            error = next((r for r in results if isinstance(r, KafkaError)), None)
            if error is None:
                return
            rows_failed = any(batch is not offset for batch in failed)
            if rows_failed and offset is not None and any(b is offset for b in pending) \
                    and not any(b is offset for b in failed):
                # The offset moved past rows that were not written: put it back first.
                rewind = await self._offsets.batch(self.config.name, querier.partition, previous,
                                                   self.cluster.clock.now_ms())
                await self.cluster.logs.append_batches([rewind], "all")
                failed.append(offset)
            pending = failed  # the rows that are in stay in: only what failed is tried again
            if not error.retriable or time.monotonic() + backoff > deadline:
                raise error
            self.stats.retries += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_RETRY_BACKOFF_S)

    async def _ensure_topic(self, topic: str) -> int:
        try:
            return await self.cluster.logs.partition_count(topic)
        except UnknownTopicOrPartition:
            settings = self._topic_creation.settings_for(topic)
            try:
                if settings is None:
                    # As a broker with auto.create.topics.enable does it: num.partitions=1, RF 1.
                    await self.cluster.topics.create_topic(topic, 1, 1)
                else:
                    await self.cluster.topics.create_topic(topic, settings.partitions, settings.replication_factor,
                                                           settings.configs or None)
            except TopicAlreadyExists:
                pass
            return await self.cluster.logs.partition_count(topic)

    async def _note_topic(self, topic: str) -> None:
        if topic not in self._topics_seen and self._topic_used is not None:
            self._topics_seen.add(topic)
            await self._topic_used(topic)

    async def stop(self) -> None:
        """Close the database connections."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.dispose)
