"""Shared pieces of the Kafka Connect tests: databases, connector configs, waiting with deadlines.

The PostgreSQL fixture is the one place that decides what a missing server means: a skip
with the reason on a developer's machine, a failure under CI (``CI=true``), where the
server is part of the machine and its absence is a broken environment.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest
import sqlalchemy

from broker_core import Cluster
from broker_core.connect import ConnectWorker
from broker_core.connect.databases import open_engine

#: Where the machines' PostgreSQL listens (trust auth); KPLAY_TEST_POSTGRES overrides it.
POSTGRES_URL = os.environ.get("KPLAY_TEST_POSTGRES", "jdbc:postgresql://127.0.0.1:5432/test?user=postgres")
#: A short poll interval so pipelines move within a test's patience.
FAST_POLL_MS = "100"


@dataclass
class Database:
    """A database for one test: the ``connection.url`` connectors get, and an engine to look inside."""

    url: str
    engine: sqlalchemy.Engine

    def rows(self, table: str, order_by: str = "id") -> list[tuple]:
        """Every row of ``table`` in ``order_by`` order ([] if the table does not exist)."""
        with self.engine.connect() as conn:
            if not sqlalchemy.inspect(conn).has_table(table):
                return []
            reflected = sqlalchemy.Table(table, sqlalchemy.MetaData(), autoload_with=conn)
            query = sqlalchemy.select(reflected).order_by(reflected.c[order_by])
            return [tuple(row) for row in conn.execute(query)]

    def count(self, table: str) -> int:
        """Rows in ``table`` (0 if it does not exist)."""
        return len(self.rows(table))

    def execute(self, sql: str) -> None:
        """Run one statement and commit."""
        with self.engine.begin() as conn:
            conn.execute(sqlalchemy.text(sql))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite file, as ``jdbc:sqlite:PATH``."""
    url = f"jdbc:sqlite:{tmp_path / 'pipeline.db'}"
    engine = open_engine(url)
    yield Database(url, engine)
    engine.dispose()


@pytest.fixture
def postgres_db() -> Iterator[Database]:
    """A schema of its own on the machine's PostgreSQL, dropped afterwards.

    No server: skipped with the reason, except under CI (``CI=true``), where it fails.
    """
    admin = open_engine(POSTGRES_URL)
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        reason = f"no PostgreSQL server answers at {POSTGRES_URL} ({str(exc).splitlines()[0]})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI the server is required")
        pytest.skip(reason)
    schema = f"kplay_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}currentSchema={schema}"
    engine = open_engine(url)
    try:
        yield Database(url, engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def source_config(name: str, url: str, *, mode: str = "incrementing", table: str = "iris_data",
                  prefix: str = "db-", **extra: str) -> dict[str, str]:
    """A JDBC source config as the tutorial writes one (Avro values through the registry)."""
    config = {
        "name": name,
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": url,
        "table.whitelist": table,
        "mode": mode,
        "topic.prefix": prefix,
        "poll.interval.ms": FAST_POLL_MS,
        "tasks.max": "1",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": "http://schema-registry:8081",
    }
    if "incrementing" in mode:
        config["incrementing.column.name"] = "id"
    if "timestamp" in mode:
        config["timestamp.column.name"] = "created_at"
    config.update(extra)
    return config


def sink_config(name: str, url: str, topic: str, *, table: str = "iris_copy", **extra: str) -> dict[str, str]:
    """A JDBC sink config: upsert on the value's id, the table created from the record schema."""
    config = {
        "name": name,
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": url,
        "topics": topic,
        "table.name.format": table,
        "auto.create": "true",
        "auto.evolve": "true",
        "insert.mode": "upsert",
        "pk.mode": "record_value",
        "pk.fields": "id",
        "tasks.max": "1",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": "http://schema-registry:8081",
    }
    config.update(extra)
    return config


async def wait_until(condition: Callable[[], Any | Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """Poll ``condition`` (sync or async) until it is truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = condition()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(0.02)


async def db_count(db: Database, table: str) -> int:
    """``db.count`` off the event loop (the worker keeps running meanwhile)."""
    return await asyncio.to_thread(db.count, table)


async def topic_values(cluster: Cluster, topic: str) -> list[bytes | None]:
    """Every value in partition 0 of ``topic``, in offset order."""
    values: list[bytes | None] = []
    offset = 0
    while True:
        result = await cluster.logs.read(topic, 0, offset, max_records=1000)
        if not result.records:
            return values
        values.extend(r.value for r in result.records)
        offset = result.records[-1].offset + 1


async def topic_ids(cluster: Cluster, topic: str) -> list[int]:
    """The ``id`` of every record in ``topic`` (values decoded through the Schema Registry)."""
    from broker_core.avro_serde import AvroDeserializer

    deserializer = AvroDeserializer(cluster.schemas)
    ids = []
    for value in await topic_values(cluster, topic):
        decoded = await deserializer.deserialize(value, topic)
        assert decoded is not None
        ids.append(decoded.value["id"])
    return ids


async def connector_state(worker: Any, name: str) -> tuple[str, tuple[str, ...]]:
    """(connector state, task states) as ``GET /connectors/NAME/status`` reports them."""
    status = await worker.connector_status(name)
    return status.state, tuple(t.state for t in status.tasks)


@pytest.fixture
async def worker(cluster: Cluster) -> AsyncIterator[ConnectWorker]:
    """A started worker with a fast heartbeat, stopped afterwards."""
    connect = ConnectWorker(cluster, worker_id="worker-a", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await connect.start()
    try:
        yield connect
    finally:
        await connect.stop()
