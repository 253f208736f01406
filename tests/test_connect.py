"""Kafka Connect on SQLite: the tutorial's pipeline, every source mode, resume, control and failures."""

from __future__ import annotations

import asyncio
import json

import pytest

from broker_core import Cluster
from broker_core.connect import ConnectorConfigInvalid, ConnectorNotFound, ConnectWorker, DataGenerator
from broker_core.connect.internal_topics import CONFIG_TOPIC, OFFSET_TOPIC, STATUS_TOPIC, OffsetStore
from test_connect_support import (Database, connector_state, db_count, sink_config, source_config,  # noqa: F401
                                  sqlite_db, topic_ids, topic_values, wait_until, worker)

TOPIC = "db-iris_data"


async def insert(db: Database, count: int, table: str = "iris_data") -> None:
    """Insert ``count`` iris rows (the generator continues the cycle after the rows already there)."""
    generator = DataGenerator(db.url, table)
    try:
        await asyncio.to_thread(generator.insert, count)
    finally:
        generator.close()


async def run_tutorial_pipeline(cluster: Cluster, source: Database, target: Database) -> None:
    """generator -> source table -> source connector -> Avro topic -> sink connector -> target table."""
    await insert(source, 150)
    worker = ConnectWorker(cluster, worker_id="tutorial", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await worker.create_connector(source_config("jdbc-source", source.url))
    await worker.create_connector(sink_config("jdbc-sink", target.url, TOPIC))
    async with worker:
        await worker.start()
        await wait_until(lambda: db_count(target, "iris_copy"), "the first rows in the target")
        await wait_until(lambda: _equal_count(target, "iris_copy", 150), "150 rows in the target")
        # The generator keeps inserting while the pipeline runs.
        generator = DataGenerator(source.url, "iris_data")
        try:
            await generator.run(500.0, count=50)
        finally:
            generator.close()
        await wait_until(lambda: _equal_count(target, "iris_copy", 200), "200 rows in the target")
        assert await asyncio.to_thread(target.rows, "iris_copy") == await asyncio.to_thread(source.rows, "iris_data")
        # The topic holds Avro in Confluent's wire format: magic byte 0, the registered schema's id.
        values = await topic_values(cluster, TOPIC)
        latest = await cluster.schemas.get_latest_version(f"{TOPIC}-value")
        assert {v[0] for v in values} == {0}
        assert {int.from_bytes(v[1:5], "big") for v in values} == {latest.schema_id}
        assert json.loads(latest.schema)["name"] == "iris_data"
        assert await topic_ids(cluster, TOPIC) == list(range(1, 201))  # every row once, in order
        status = await worker.connector_status("jdbc-sink")
        assert (status.state, [t.state for t in status.tasks]) == ("RUNNING", ["RUNNING"])


async def _equal_count(db: Database, table: str, wanted: int) -> bool:
    return await db_count(db, table) == wanted


async def test_tutorial_pipeline_on_sqlite(cluster: Cluster, sqlite_db: Database) -> None:
    await run_tutorial_pipeline(cluster, sqlite_db, sqlite_db)


async def test_internal_topics_are_compacted_and_hold_kafka_connects_keys(
        cluster: Cluster, worker: ConnectWorker, sqlite_db: Database) -> None:
    await insert(sqlite_db, 3)
    await worker.create_connector(source_config("jdbc-source", sqlite_db.url))
    await wait_until(lambda: _topic_count(cluster, TOPIC, 3), "3 records")
    for topic, partitions in ((CONFIG_TOPIC, 1), (OFFSET_TOPIC, 25), (STATUS_TOPIC, 5)):
        description = await cluster.topics.describe_topic(topic)
        assert description.config == {"cleanup.policy": "compact"}
        assert description.partition_count == partitions
    config_keys = [r.key for r in (await cluster.logs.read(CONFIG_TOPIC, 0, 0)).records]
    assert b"connector-jdbc-source" in config_keys and b"commit-jdbc-source" in config_keys
    offsets = await OffsetStore(cluster).read("jdbc-source", {"table": "iris_data"})
    assert offsets == {"incrementing": 3}
    assert await worker.connector_offsets("jdbc-source") == [
        {"partition": {"table": "iris_data"}, "offset": {"incrementing": 3}}]


async def _topic_count(cluster: Cluster, topic: str, wanted: int, at_least: bool = False) -> bool:
    try:
        count = (await cluster.topics.describe_topic(topic)).record_count
    except Exception:
        return False
    return count >= wanted if at_least else count == wanted


@pytest.mark.parametrize("mode", ["incrementing", "timestamp", "timestamp+incrementing"])
async def test_incremental_modes_publish_each_new_row_once(cluster: Cluster, worker: ConnectWorker,
                                                           sqlite_db: Database, mode: str) -> None:
    await insert(sqlite_db, 20)
    await worker.create_connector(source_config("src", sqlite_db.url, mode=mode))
    await wait_until(lambda: _topic_count(cluster, TOPIC, 20), "the first 20 rows")
    await insert(sqlite_db, 10)
    await wait_until(lambda: _topic_count(cluster, TOPIC, 30), "10 more rows")
    assert await topic_ids(cluster, TOPIC) == list(range(1, 31))
    [stored] = await worker.connector_offsets("src")
    assert stored["partition"] == {"table": "iris_data"}
    expected_keys = {"incrementing": {"incrementing"}, "timestamp": {"timestamp", "timestamp_nanos"},
                     "timestamp+incrementing": {"timestamp", "timestamp_nanos", "incrementing"}}[mode]
    assert set(stored["offset"]) == expected_keys
    if "timestamp" in mode:
        # A row whose timestamp moves (an update) is published again: the timestamp modes see changes.
        sqlite_db.execute("UPDATE iris_data SET species='changed', created_at="
                          "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000' WHERE id=5")
        await wait_until(lambda: _topic_count(cluster, TOPIC, 31), "the updated row")
        assert (await topic_ids(cluster, TOPIC))[-1] == 5


async def test_bulk_mode_publishes_the_whole_table_every_poll(cluster: Cluster, worker: ConnectWorker,
                                                              sqlite_db: Database) -> None:
    await insert(sqlite_db, 5)
    await worker.create_connector(source_config("src", sqlite_db.url, mode="bulk"))
    await wait_until(lambda: _topic_count(cluster, TOPIC, 10, at_least=True), "two snapshots of the table")
    await insert(sqlite_db, 2)
    await wait_until(lambda: _ends_with_snapshot(cluster, 7), "a snapshot with the new rows")
    ids = await topic_ids(cluster, TOPIC)
    # Whole-table snapshots one after another: each run counts up from 1.
    runs = [[]]
    for value in ids:
        if value == 1 and runs[-1]:
            runs.append([])
        runs[-1].append(value)
    assert all(run == list(range(1, len(run) + 1)) for run in runs)
    assert {len(run) for run in runs} <= {5, 7} and runs[0] == [1, 2, 3, 4, 5]
    assert await worker.connector_offsets("src") == []  # bulk keeps no offset


async def _ends_with_snapshot(cluster: Cluster, size: int) -> bool:
    ids = await topic_ids(cluster, TOPIC)
    return ids[-size:] == list(range(1, size + 1))


async def test_restart_and_a_new_worker_resume_without_duplicates_or_gaps(cluster: Cluster, sqlite_db: Database) -> None:
    await insert(sqlite_db, 40)
    first = ConnectWorker(cluster, worker_id="first", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await first.create_connector(source_config("jdbc-source", sqlite_db.url))
    await first.create_connector(sink_config("jdbc-sink", sqlite_db.url, TOPIC))
    await first.start()
    try:
        await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 40), "40 rows copied")
        await first.restart_connector("jdbc-source", include_tasks=True)
        await first.restart_connector("jdbc-sink", include_tasks=True)
        await insert(sqlite_db, 20)
        await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 60), "60 rows after the restart")
    finally:
        await first.stop()
    assert (await connector_state(first, "jdbc-source"))[0] == "UNASSIGNED"
    await insert(sqlite_db, 20)  # written while no worker runs
    second = ConnectWorker(cluster, worker_id="second", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    async with second:
        await second.start()
        await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 80), "80 rows with the new worker")
        status = await second.connector_status("jdbc-source")
        assert (status.state, status.worker_id) == ("RUNNING", "second")
    assert await topic_ids(cluster, TOPIC) == list(range(1, 81))
    assert sqlite_db.rows("iris_copy") == sqlite_db.rows("iris_data")


async def test_pause_stops_the_tasks_and_resume_carries_on(cluster: Cluster, worker: ConnectWorker,
                                                           sqlite_db: Database) -> None:
    await insert(sqlite_db, 10)
    await worker.create_connector(source_config("src", sqlite_db.url))
    await wait_until(lambda: _topic_count(cluster, TOPIC, 10), "10 records")
    await worker.pause_connector("src")
    await wait_until(lambda: _state_is(worker, "src", ("PAUSED", ("PAUSED",))), "PAUSED")
    # A paused connector's tasks are stopped before PAUSED is reported: nothing more is read.
    assert worker.task_stats("src") == {}
    await insert(sqlite_db, 5)
    assert (await cluster.topics.describe_topic(TOPIC)).record_count == 10
    await worker.resume_connector("src")
    await wait_until(lambda: _topic_count(cluster, TOPIC, 15), "the rows inserted while paused")
    assert await connector_state(worker, "src") == ("RUNNING", ("RUNNING",))
    assert await topic_ids(cluster, TOPIC) == list(range(1, 16))


async def _state_is(worker: ConnectWorker, name: str, wanted: tuple) -> bool:
    return await connector_state(worker, name) == wanted


async def test_delete_stops_the_connector_and_keeps_its_offsets(cluster: Cluster, worker: ConnectWorker,
                                                                sqlite_db: Database) -> None:
    await insert(sqlite_db, 10)
    await worker.create_connector(source_config("src", sqlite_db.url))
    await wait_until(lambda: _topic_count(cluster, TOPIC, 10), "10 records")
    await worker.delete_connector("src")
    assert await worker.list_connectors() == []
    with pytest.raises(ConnectorNotFound, match="No status found for connector src"):
        await worker.connector_status("src")
    await wait_until(lambda: "src" not in worker.connectors_run_here(), "the tasks to stop")
    await insert(sqlite_db, 5)
    assert (await cluster.topics.describe_topic(TOPIC)).record_count == 10
    # As in Kafka, offsets outlive the connector: the same name resumes where it stopped.
    await worker.create_connector(source_config("src", sqlite_db.url))
    await wait_until(lambda: _topic_count(cluster, TOPIC, 15), "only the 5 new rows")
    assert await topic_ids(cluster, TOPIC) == list(range(1, 16))
    with pytest.raises(ConnectorNotFound, match="Connector nope not found"):
        await worker.delete_connector("nope")


async def test_a_bad_connection_url_fails_the_connector_with_its_trace(worker: ConnectWorker) -> None:
    config = source_config("src", "jdbc:postgresql://127.0.0.1:1/nowhere?user=nobody", **{"connection.attempts": "1"})
    await worker.create_connector(config)
    status = await wait_until(lambda: _status_if(worker, "src", "FAILED"), "FAILED")
    assert status.tasks == []
    assert status.trace is not None and "Could not connect to the database 127.0.0.1:1" in status.trace.splitlines()[0]
    assert "Traceback" in status.trace
    assert status.to_json()["connector"]["trace"] == status.trace


async def _status_if(worker: ConnectWorker, name: str, state: str):  # type: ignore[no-untyped-def]
    status = await worker.connector_status(name)
    return status if status.state == state else None


async def test_a_failed_task_shows_its_trace_and_restarts_once_fixed(cluster: Cluster, worker: ConnectWorker,
                                                                      sqlite_db: Database) -> None:
    await insert(sqlite_db, 10)
    await worker.create_connector(source_config("src", sqlite_db.url))
    await worker.create_connector(sink_config("sink", sqlite_db.url, TOPIC, **{"auto.create": "false"}))
    await wait_until(lambda: _state_is(worker, "sink", ("RUNNING", ("FAILED",))), "the sink task FAILED")
    status = await worker.connector_status("sink")
    assert 'Table "iris_copy" is missing and auto-creation is disabled' in (status.tasks[0].trace or "")
    sqlite_db.execute("CREATE TABLE iris_copy (id INTEGER PRIMARY KEY, sepal_length REAL NOT NULL, "
                      "sepal_width REAL NOT NULL, petal_length REAL NOT NULL, petal_width REAL NOT NULL, "
                      "species TEXT NOT NULL, created_at TIMESTAMP NOT NULL)")
    await worker.restart_connector("sink", include_tasks=True, only_failed=True)
    await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 10), "the rows after the restart")
    assert await connector_state(worker, "sink") == ("RUNNING", ("RUNNING",))


@pytest.mark.parametrize("change, named", [
    ({"connection.url": None}, 'Missing required configuration "connection.url" which has no default value.'),
    ({"mode": None}, 'Missing required configuration "mode"'),
    ({"topic.prefix": None}, 'Missing required configuration "topic.prefix"'),
    ({"colour": "red"}, 'Unknown configuration "colour" for JdbcSourceConnector'),
    ({"mode": "sometimes"}, "Invalid value sometimes for configuration mode: String must be one of: bulk,"),
    ({"tasks.max": "0"}, "Invalid value 0 for configuration tasks.max: Value must be at least 1"),
    ({"poll.interval.ms": "soon"}, "Invalid value soon for configuration poll.interval.ms: Not a number"),
    ({"mode": "timestamp"}, 'Missing required configuration "timestamp.column.name" for mode timestamp'),
    ({"value.converter": "com.example.Mine"}, "Invalid value com.example.Mine for configuration value.converter"),
    ({"value.converter.colour": "red"}, 'Unknown configuration "value.converter.colour"'),
    ({"connector.class": "com.example.Nope"}, "Failed to find any class that implements Connector and which "
                                              "name matches com.example.Nope"),
    ({"connector.class": None}, 'Missing required configuration "connector.class"'),
])
async def test_bad_source_configs_are_refused_naming_the_key(worker: ConnectWorker, change: dict, named: str) -> None:
    config = source_config("src", "jdbc:sqlite:x.db")
    for key, value in change.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    with pytest.raises(ConnectorConfigInvalid) as refused:
        await worker.create_connector(config)
    assert named in str(refused.value)
    assert await worker.list_connectors() == []


@pytest.mark.parametrize("change, named", [
    ({"topics": None}, 'Missing required configuration "topics"'),
    ({"insert.mode": "upsert", "pk.mode": "none", "pk.fields": None}, "configuration insert.mode: upsert needs a primary key"),
    ({"pk.mode": "record"}, "Invalid value record for configuration pk.mode"),
    ({"auto.create": "maybe"}, "Invalid value maybe for configuration auto.create: Expected value to be either true or false"),
    ({"table.whitelist": "x"}, 'Unknown configuration "table.whitelist" for JdbcSinkConnector'),
])
async def test_bad_sink_configs_are_refused_naming_the_key(worker: ConnectWorker, change: dict, named: str) -> None:
    config = sink_config("sink", "jdbc:sqlite:x.db", TOPIC)
    for key, value in change.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    with pytest.raises(ConnectorConfigInvalid) as refused:
        await worker.create_connector(config)
    assert named in str(refused.value)


async def test_a_connector_name_can_be_taken_only_once(cluster: Cluster) -> None:
    worker = ConnectWorker(cluster)  # the API alone: no worker runs the connectors here
    await worker.create_connector(source_config("src", "jdbc:sqlite:x.db"))
    with pytest.raises(Exception, match="Connector src already exists"):
        await worker.create_connector(source_config("src", "jdbc:sqlite:y.db"))
    info, created = await worker.put_connector_config("src", source_config("src", "jdbc:sqlite:y.db"))
    assert not created and info.config["connection.url"] == "jdbc:sqlite:y.db"
    assert (await worker.connector_config("src"))["connection.url"] == "jdbc:sqlite:y.db"


async def test_json_converter_with_schemas_carries_the_schema_in_each_value(cluster: Cluster, worker: ConnectWorker,
                                                                           sqlite_db: Database) -> None:
    json_values = {"value.converter": "org.apache.kafka.connect.json.JsonConverter",
                   "value.converter.schemas.enable": "true"}
    await insert(sqlite_db, 12)
    source = source_config("src", sqlite_db.url, **json_values)
    source.pop("value.converter.schema.registry.url")
    sink = sink_config("sink", sqlite_db.url, TOPIC, **json_values)
    sink.pop("value.converter.schema.registry.url")
    await worker.create_connector(source)
    await worker.create_connector(sink)
    await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 12), "12 rows copied")
    envelope = json.loads((await topic_values(cluster, TOPIC))[0])
    assert envelope["schema"]["type"] == "struct" and envelope["schema"]["name"] == "iris_data"
    assert {"field": "created_at", "type": "int64", "optional": False, "name": "org.apache.kafka.connect.data.Timestamp",
            "version": 1} in envelope["schema"]["fields"]
    assert envelope["payload"]["id"] == 1 and envelope["payload"]["species"] == "setosa"
    assert sqlite_db.rows("iris_copy") == sqlite_db.rows("iris_data")


async def test_a_new_column_reaches_the_target_through_auto_evolve(cluster: Cluster, worker: ConnectWorker,
                                                                   sqlite_db: Database) -> None:
    await insert(sqlite_db, 5)
    await worker.create_connector(source_config("src", sqlite_db.url))
    await worker.create_connector(sink_config("sink", sqlite_db.url, TOPIC))
    await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 5), "5 rows copied")
    sqlite_db.execute("ALTER TABLE iris_data ADD COLUMN colour TEXT")
    await insert(sqlite_db, 2)
    sqlite_db.execute("UPDATE iris_data SET colour='violet' WHERE id > 5")
    await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 7), "the rows with the new column")
    assert sqlite_db.rows("iris_copy") == sqlite_db.rows("iris_data")
    assert [row[-1] for row in sqlite_db.rows("iris_copy")] == [None] * 5 + ["violet"] * 2
    # The optional new field is a BACKWARD-compatible second version of the subject.
    assert await cluster.schemas.get_versions(f"{TOPIC}-value") == [1, 2]


async def test_two_workers_never_run_one_connector_and_the_other_takes_over(cluster: Cluster,
                                                                             sqlite_db: Database) -> None:
    await insert(sqlite_db, 10)
    one = ConnectWorker(cluster, worker_id="one", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    two = ConnectWorker(cluster, worker_id="two", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await one.create_connector(source_config("src", sqlite_db.url))
    await one.start()
    await two.start()
    try:
        await wait_until(lambda: _topic_count(cluster, TOPIC, 10), "10 records")
        owners = [w for w in (one, two) if "src" in w.connectors_run_here()]
        assert len(owners) == 1
        owner, other = owners[0], (two if owners[0] is one else one)
        await owner.stop()  # a clean stop gives the lease up at once
        await wait_until(lambda: "src" in other.connectors_run_here(), "the other worker to take over")
        await insert(sqlite_db, 5)
        await wait_until(lambda: _topic_count(cluster, TOPIC, 15), "15 records")
        assert (await other.connector_status("src")).worker_id == other.worker_id
        assert await topic_ids(cluster, TOPIC) == list(range(1, 16))
    finally:
        await one.stop()
        await two.stop()


async def test_fewer_tasks_after_a_config_change_leave_no_stale_task(cluster: Cluster, worker: ConnectWorker,
                                                                      sqlite_db: Database) -> None:
    await insert(sqlite_db, 3)
    await insert(sqlite_db, 3, table="other")
    both = source_config("src", sqlite_db.url, table="iris_data,other", **{"tasks.max": "2"})
    await worker.create_connector(both)
    await wait_until(lambda: _state_is(worker, "src", ("RUNNING", ("RUNNING", "RUNNING"))), "two tasks")
    await worker.put_connector_config("src", source_config("src", sqlite_db.url))
    await wait_until(lambda: _state_is(worker, "src", ("RUNNING", ("RUNNING",))), "one task")
    assert (await worker.connector_info("src")).tasks == [0]


async def test_an_offline_partition_is_waited_out_not_failed(cluster: Cluster, worker: ConnectWorker,
                                                             sqlite_db: Database) -> None:
    await insert(sqlite_db, 5)
    await worker.create_connector(source_config("src", sqlite_db.url))
    await worker.create_connector(sink_config("sink", sqlite_db.url, TOPIC))
    await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 5), "5 rows copied")
    leader = (await cluster.topics.describe_topic(TOPIC)).partitions[0].leader
    await cluster.controller.stop_broker(leader)  # the topic has one replica: now it has no leader
    await insert(sqlite_db, 5)
    await wait_until(lambda: worker.task_stats("src")[0].retries > 0, "the source to retry")
    assert await connector_state(worker, "src") == ("RUNNING", ("RUNNING",))
    await cluster.controller.start_broker(leader)
    await wait_until(lambda: _equal_count(sqlite_db, "iris_copy", 10), "the rows after the broker is back")
    assert await topic_ids(cluster, TOPIC) == list(range(1, 11))
    assert await connector_state(worker, "sink") == ("RUNNING", ("RUNNING",))
