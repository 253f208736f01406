"""Kafka Connect against the machine's PostgreSQL: the tutorial's pipeline, across databases, resume."""

from __future__ import annotations

import asyncio

from broker_core import Cluster
from broker_core.connect import ConnectWorker
from test_connect import TOPIC, _equal_count, insert, run_tutorial_pipeline
from test_connect_support import (Database, postgres_db, sink_config, source_config,  # noqa: F401
                                  sqlite_db, topic_ids, wait_until)


async def test_tutorial_pipeline_on_postgresql(cluster: Cluster, postgres_db: Database) -> None:
    await run_tutorial_pipeline(cluster, postgres_db, postgres_db)


async def test_postgresql_source_to_sqlite_target_in_timestamp_incrementing_mode(
        cluster: Cluster, postgres_db: Database, sqlite_db: Database) -> None:
    await insert(postgres_db, 30)
    worker = ConnectWorker(cluster, worker_id="pg", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await worker.create_connector(source_config("pg-source", postgres_db.url, mode="timestamp+incrementing"))
    await worker.create_connector(sink_config("sqlite-sink", sqlite_db.url, TOPIC))
    async with worker:
        await worker.start()
        await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 30), "30 rows in SQLite")
        await worker.restart_connector("pg-source", include_tasks=True)
        await insert(postgres_db, 15)
        await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 45), "45 rows after the restart")
    assert await topic_ids(cluster, TOPIC) == list(range(1, 46))
    source_rows = await asyncio.to_thread(postgres_db.rows, "iris_data")
    assert await asyncio.to_thread(sqlite_db.rows, "iris_copy") == source_rows


async def test_jdbc_url_forms_reach_the_same_postgresql(postgres_db: Database) -> None:
    from broker_core.connect.databases import sqlalchemy_url

    url = sqlalchemy_url("jdbc:postgresql://127.0.0.1:5432/test?user=postgres&password=secret&currentSchema=s1")
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "postgresql+psycopg", "127.0.0.1", 5432, "test", "postgres", "secret")
    assert url.query["options"] == "-csearch_path=s1"
    assert sqlalchemy_url("jdbc:postgresql:test", user="root").render_as_string(hide_password=False) == \
        "postgresql+psycopg://root@localhost:5432/test"
    assert sqlalchemy_url("postgresql://postgres@127.0.0.1/test").drivername == "postgresql+psycopg"
