"""Confluent's JDBC sink connector: consume topics, write rows into tables.

Each task reads its share of the topics' partitions (kplay gives a connector's tasks its
partitions itself, as the connector is leased to one worker; the offsets are committed
for the group ``connect-NAME``, as Kafka Connect's sink tasks commit them) and writes
each batch in one database transaction, then commits the offsets. The target table is
``table.name.format`` with ``${topic}`` replaced; with ``auto.create`` it is created
from the record schema, with ``auto.evolve`` missing columns are added (a new field
must be optional or have a default). ``insert.mode=upsert`` inserts or updates on the
primary key from ``pk.mode``, which makes a replayed batch harmless.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import sqlalchemy
from sqlalchemy.schema import CreateColumn

from ..consumer import Consumer
from ..errors import KafkaError, UnknownTopicOrPartition
from ..records import ConsumerRecord, TopicPartition
from .config import KAFKA_PK_FIELDS, ConnectorConfig
from .converters import ConnectData, converter_for
from .data import Field, StructSchema, column_type
from .databases import open_engine, split_table_name
from .dead_letter_queue import DeadLetterQueue
from .errors import ConnectError
from .jdbc_source import LeaseLost, TaskStats, connect_with_retries
from .transforms import ConnectRecord, TransformChain

if TYPE_CHECKING:
    from ..cluster import Cluster

_log = logging.getLogger("kplay.connect")

#: How long one poll waits for records before the task looks at its partitions again.
POLL_TIMEOUT_MS = 500


@dataclass(frozen=True)
class SinkRecord:
    """A consumed record, converted: where it came from, its key and value as Connect data."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: ConnectData
    value: ConnectData


def sink_group(connector: str) -> str:
    """The consumer group of a sink connector's tasks (Kafka's ``connect-<name>``)."""
    return f"connect-{connector}"


def table_name_for(config: ConnectorConfig, topic: str) -> str:
    """``table.name.format`` with ``${topic}`` replaced."""
    return config["table.name.format"].replace("${topic}", topic)


class TableWriter:
    """Writes converted records into their tables: create, evolve, insert or upsert (blocking)."""

    def __init__(self, engine: sqlalchemy.Engine, config: ConnectorConfig) -> None:
        self.engine = engine
        self.config = config
        self._tables: dict[str, sqlalchemy.Table] = {}

    def write(self, records: list[SinkRecord]) -> int:
        """Write every record in one transaction; returns the rows written."""
        by_table: dict[str, list[dict[str, Any]]] = {}
        shapes: dict[str, tuple[StructSchema, list[str]]] = {}
        for record in records:
            table_name = table_name_for(self.config, record.topic)
            schema, row, keys = self._row(record)
            shapes[table_name] = (schema, keys)
            by_table.setdefault(table_name, []).append(row)
        written = 0
        with self.engine.begin() as conn:
            for table_name, rows in by_table.items():
                table = self._table(conn, table_name, *shapes[table_name])
                written += self._insert(conn, table, [{k: v for k, v in row.items() if k in table.columns}
                                                      for row in rows])
        return written

    def _row(self, record: SinkRecord) -> tuple[StructSchema, dict[str, Any], list[str]]:
        """The columns of one record, by pk.mode (Confluent's ``FieldsMetadata``)."""
        value = record.value
        if value.value is None or value.schema is None:
            kind = "null" if value.value is None else type(value.value).__name__
            raise ConnectError(
                f"Sink connector '{self.config.name}' is configured with 'delete.enabled=false' and "
                f"'pk.mode={self.config['pk.mode']}' and therefore requires records with a non-null Struct value "
                f"and non-null Struct schema, but found record at (topic='{record.topic}',partition="
                f"{record.partition},offset={record.offset},timestamp={record.timestamp}) with a {kind} value "
                f"and {'null' if value.schema is None else 'struct'} value schema.")
        fields = list(value.schema.fields)
        row = dict(value.value)
        key_names: list[str] = []
        mode = self.config["pk.mode"]
        if mode == "kafka":
            names = self.config["pk.fields"] or KAFKA_PK_FIELDS
            kafka_fields = [Field(names[0], "string"), Field(names[1], "int32"), Field(names[2], "int64")]
            fields = kafka_fields + [f for f in fields if f.name not in names]
            row.update({names[0]: record.topic, names[1]: record.partition, names[2]: record.offset})
        elif mode == "record_key":
            key = record.key
            if key.value is None:
                raise ConnectError(f"Sink connector '{self.config.name}' is configured with pk.mode=record_key "
                                   f"but the record at {record.topic}-{record.partition}@{record.offset} has a null key")
            if key.schema is not None:
                wanted = self.config["pk.fields"] or tuple(key.schema.field_names)
                key_fields = [f for f in key.schema.fields if f.name in wanted]
                row.update({f.name: key.value.get(f.name) for f in key_fields})
            else:
                if len(self.config["pk.fields"]) != 1:
                    raise ConnectError("Need exactly one PK column defined since the key schema for records is a "
                                       "primitive type, defined columns are: " + ",".join(self.config["pk.fields"]))
                name = self.config["pk.fields"][0]
                kind = "int64" if isinstance(key.value, int) else "float64" if isinstance(key.value, float) else "string"
                key_fields = [Field(name, kind)]
                row[name] = key.value
            key_names = [f.name for f in key_fields]
            fields = key_fields + [f for f in fields if f.name not in key_names]
        schema = StructSchema(value.schema.name, tuple(fields))
        return schema, row, self.primary_key(schema, key_names)

    def primary_key(self, schema: StructSchema, key_fields: list[str]) -> list[str]:
        """The primary key columns pk.mode asks for (``key_fields``: the key's, for record_key)."""
        mode = self.config["pk.mode"]
        if mode == "none":
            return []
        if mode == "kafka":
            return list(self.config["pk.fields"] or KAFKA_PK_FIELDS)
        if mode == "record_key":
            return key_fields
        wanted = self.config["pk.fields"] or tuple(schema.field_names)
        missing = [name for name in wanted if schema.field(name) is None]
        if missing:
            raise ConnectError(f"PK mode for table is RECORD_VALUE with configured PK fields {list(wanted)}, "
                               f"but record value schema does not contain field: {missing[0]}")
        return list(wanted)

    def _table(self, conn: sqlalchemy.Connection, table_name: str, schema: StructSchema,
               keys: list[str]) -> sqlalchemy.Table:
        table = self._tables.get(table_name)
        if table is not None and all(name in table.columns for name in schema.field_names):
            return table
        schema_name, name = split_table_name(table_name)
        if not sqlalchemy.inspect(conn).has_table(name, schema=schema_name):
            if not self.config["auto.create"]:
                raise ConnectError(f'Table "{table_name}" is missing and auto-creation is disabled')
            self._create(conn, name, schema_name, schema, keys)
        table = sqlalchemy.Table(name, sqlalchemy.MetaData(), schema=schema_name, autoload_with=conn)
        missing = [f for f in schema.fields if f.name not in table.columns]
        if missing:
            if not self.config["auto.evolve"]:
                raise ConnectError(f'Table "{table_name}" is missing fields ({", ".join(f.name for f in missing)}) '
                                   "and auto-evolution is disabled")
            self._evolve(conn, table, missing)
            table = sqlalchemy.Table(name, sqlalchemy.MetaData(), schema=schema_name, autoload_with=conn)
        self._tables[table_name] = table
        return table

    def _create(self, conn: sqlalchemy.Connection, name: str, schema_name: str | None, schema: StructSchema,
                keys: list[str]) -> None:
        columns = [sqlalchemy.Column(f.name, column_type(f), primary_key=f.name in keys,
                                     nullable=f.optional and f.name not in keys, autoincrement=False)
                   for f in schema.fields]
        sqlalchemy.Table(name, sqlalchemy.MetaData(), *columns, schema=schema_name).create(conn)

    def _evolve(self, conn: sqlalchemy.Connection, table: sqlalchemy.Table, missing: list[Field]) -> None:
        for item in missing:
            if not item.optional and item.default is None:
                raise ConnectError(f'Cannot ALTER TABLE "{table.name}" to add missing field {item.name}, as the '
                                   "field is not optional and does not have a default value")
        preparer = conn.dialect.identifier_preparer
        for item in missing:
            column = sqlalchemy.Column(item.name, column_type(item), nullable=True)
            definition = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(sqlalchemy.text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {definition}"))

    def _insert(self, conn: sqlalchemy.Connection, table: sqlalchemy.Table, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        if self.config["insert.mode"] == "insert":
            conn.execute(table.insert(), rows)
            return len(rows)
        keys = [c.name for c in table.primary_key.columns]
        if not keys:
            raise ConnectError(f'Table "{table.name}" has no primary key, which insert.mode=upsert needs')
        # One statement may not touch a row twice (PostgreSQL refuses): keep each key's last row.
        latest: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            latest[tuple(row.get(k) for k in keys)] = row
        unique = list(latest.values())
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            raise ConnectError(f"insert.mode=upsert is not supported by kplay for {dialect}")
        statement = dialect_insert(table)
        others = {name: statement.excluded[name] for name in unique[0] if name not in keys}
        statement = (statement.on_conflict_do_update(index_elements=keys, set_=others) if others
                     else statement.on_conflict_do_nothing(index_elements=keys))
        conn.execute(statement, unique)
        return len(unique)


class JdbcSinkTask:
    """One sink task: its partitions of the topics, written to the database batch by batch."""

    def __init__(self, cluster: "Cluster", config: ConnectorConfig, task_id: int, task_count: int, *,
                 base_dir: Path | None = None, lease_check: Callable[[], Awaitable[bool]] | None = None,
                 topic_used: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.cluster = cluster
        self.config = config
        self.task_id = task_id
        self.task_count = task_count
        self.base_dir = base_dir
        self.stats = TaskStats()
        self._lease_check = lease_check
        #: Reports each topic the task first uses (the connector's active topics, KIP-558).
        self._topic_used = topic_used
        self._topics_seen: set[str] = set()
        self._value_converter = converter_for(config, "value", cluster)
        self._key_converter = converter_for(config, "key", cluster)
        self._transforms = TransformChain(config.raw)
        self._dead_letters = DeadLetterQueue(cluster, config, task_id)
        self._engine: sqlalchemy.Engine | None = None
        self._writer: TableWriter | None = None
        self._consumer: Consumer | None = None
        self._shape: dict[str, int] = {}

    async def start(self) -> None:
        """Connect to the database and make the group's consumer."""
        self._engine = open_engine(self.config["connection.url"], self.config["connection.user"],
                                   self.config["connection.password"], self.base_dir)
        await connect_with_retries(self._engine, self.config["connection.attempts"],
                                   self.config["connection.backoff.ms"])
        self._writer = TableWriter(self._engine, self.config)
        self._consumer = Consumer(self.cluster, group_id=sink_group(self.config.name),
                                  client_id=f"connector-consumer-{self.config.name}-{self.task_id}",
                                  auto_offset_reset="earliest", enable_auto_commit=False,
                                  max_poll_records=self.config["batch.size"])

    async def _assign(self) -> None:
        """This task's share of every existing partition of the topics (index modulo task count)."""
        assert self._consumer is not None
        shape: dict[str, int] = {}
        for topic in self.config["topics"]:
            try:
                shape[topic] = await self.cluster.logs.partition_count(topic)
            except UnknownTopicOrPartition:
                continue
        if shape == self._shape:
            return
        self._shape = shape
        for topic in shape:
            await self._note_topic(topic)
        every = [TopicPartition(t, p) for t in sorted(shape) for p in range(shape[t])]
        self._consumer.assign([tp for i, tp in enumerate(every) if i % self.task_count == self.task_id])

    async def run(self) -> None:
        """Consume and write until cancelled; a failure propagates (the worker marks the task FAILED)."""
        assert self._consumer is not None and self._writer is not None
        await self.cluster.start_feed()
        while True:
            await self._assign()
            if not self._consumer.assignment():
                await self.cluster.feed.wait_for_change(POLL_TIMEOUT_MS / 1000)
                continue
            try:
                records = await self._consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
            except KafkaError as error:
                if not error.retriable:
                    raise
                self.stats.retries += 1  # e.g. a partition without a leader: wait for one, as a consumer does
                await self.cluster.feed.wait_for_change(POLL_TIMEOUT_MS / 1000)
                continue
            if records:
                await self.put(records)

    async def put(self, records: list[ConsumerRecord]) -> None:
        """Convert, write in one transaction, then commit the offsets after them."""
        assert self._consumer is not None and self._writer is not None
        if self._lease_check is not None and not await self._lease_check():
            raise LeaseLost(f"connector {self.config.name} is now run by another worker")
        converted = []
        for record in records:
            sink_record = await self._converted(record)
            if sink_record is not None:
                converted.append(sink_record)
        if converted:
            await asyncio.to_thread(self._writer.write, converted)
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        await self._consumer.commit(offsets)
        self.stats.records += len(records)
        self.stats.offsets.update({f"{tp.topic}-{tp.partition}": offset for tp, offset in offsets.items()})
        self.stats.last_poll_ms = self.cluster.clock.now_ms()

    async def _converted(self, record: ConsumerRecord) -> SinkRecord | None:
        """The record through the converters and transforms (None: dropped by a transform, or
        skipped by ``errors.tolerance=all`` and sent to the dead letter queue)."""
        stage, stage_class = "KEY_CONVERTER", self.config["key.converter"]
        try:
            key = await self._key_converter.to_connect(record.topic, record.key)
            stage, stage_class = "VALUE_CONVERTER", self.config["value.converter"]
            value = await self._value_converter.to_connect(record.topic, record.value)
            stage, stage_class = "TRANSFORMATION", "transforms"
            transformed: ConnectRecord | None = ConnectRecord(record.topic, record.partition, key, value,
                                                              record.timestamp, tuple(record.headers), record.offset)
            if self._transforms:
                transformed = self._transforms.apply(transformed)  # type: ignore[arg-type]
        except ConnectError as error:
            if self.config["errors.tolerance"] != "all":
                raise
            self.stats.skipped += 1
            if self.config["errors.log.enable"]:
                where = (f" (topic {record.topic}, partition {record.partition}, offset {record.offset})"
                         if self.config["errors.log.include.messages"] else "")
                _log.error("Error encountered in task %s-%d at stage %s%s: %s", self.config.name, self.task_id,
                           stage, where, error)
            await self._dead_letters.report(record, stage, stage_class, error)
            return None
        if transformed is None:
            return None
        return SinkRecord(transformed.topic, record.partition, record.offset, record.timestamp,
                          transformed.key, transformed.value)

    async def _note_topic(self, topic: str) -> None:
        if topic not in self._topics_seen and self._topic_used is not None:
            self._topics_seen.add(topic)
            await self._topic_used(topic)

    async def stop(self) -> None:
        """Close the consumer and the database connections."""
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.close()
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.dispose)
