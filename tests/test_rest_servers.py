"""``start_rest`` end to end on loopback: real clients against the running servers.

confluent-kafka's ``SchemaRegistryClient`` with its ``AvroSerializer`` and
``AvroDeserializer``, unchanged, for a register/serialize/deserialize round trip; and the
tutorial's verbatim ``curl -X POST ... -d @source_connector.json`` creating a JDBC source
(and a sink) whose rows arrive in the topic and in the target table. Ports are 0 (free
ones picked by the system). The synchronous clients run in threads or subprocesses so
the servers keep running in this event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from app.serve.rest import RestServers, start_rest
from broker_core import Cluster
from broker_core.avro_serde import AvroDeserializer as KplayAvroDeserializer
from broker_core.connect import DataGenerator
from broker_core.connect.databases import open_engine
from test_connect_support import Database, topic_values, wait_until

ORDER_V1 = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "int"}, {"name": "item", "type": "string"}]})
ORDER_V2 = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "int"}, {"name": "item", "type": "string"},
    {"name": "quantity", "type": "int", "default": 1}]})
#: A new field without a default: BACKWARD (the default level) refuses it.
ORDER_BREAKING = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "id", "type": "int"}, {"name": "item", "type": "string"}, {"name": "price", "type": "double"}]})
TOPIC = "sqlite-source-iris_data"


@pytest.fixture
async def servers(cluster: Cluster, tmp_path: Path) -> AsyncIterator[RestServers]:
    """Both REST servers on free loopback ports, with relative SQLite paths taken from ``tmp_path``."""
    started = await start_rest(cluster, host="127.0.0.1", schema_registry_port=0, connect_port=0, base_dir=tmp_path)
    try:
        yield started
    finally:
        await started.stop()


def confluent_round_trip(url: str) -> dict[str, Any]:
    """What an application does with confluent-kafka: serialize with one client, read with another."""
    context = SerializationContext("orders", MessageField.VALUE)
    producer_side = SchemaRegistryClient({"url": url})
    first = AvroSerializer(producer_side, ORDER_V1)({"id": 7, "item": "kettle"}, context)
    second = AvroSerializer(producer_side, ORDER_V2)({"id": 8, "item": "cup", "quantity": 6}, context)
    consumer_side = SchemaRegistryClient({"url": url})  # a fresh cache: it must fetch schemas by id
    read = AvroDeserializer(consumer_side)
    # A reader on the newer schema reads old data with the field's default (Avro's resolution).
    read_as_v2 = AvroDeserializer(consumer_side, ORDER_V2)
    try:
        AvroSerializer(producer_side, ORDER_BREAKING)({"id": 9, "item": "pan", "price": 2.5}, context)
        refusal = None
    except SchemaRegistryError as exc:
        refusal = (exc.http_status_code, exc.error_code, exc.error_message)
    return {
        "first": first, "second": second, "decoded": [read(first, context), read(second, context)],
        "first_as_v2": read_as_v2(first, context), "refusal": refusal,
        "subjects": consumer_side.get_subjects(), "latest": consumer_side.get_latest_version("orders-value").version,
        "level": consumer_side.get_compatibility(),
        "v2_compatible": consumer_side.test_compatibility("orders-value", Schema(ORDER_V2, "AVRO")),
    }


async def test_confluent_kafkas_avro_serde_works_unchanged(servers: RestServers, cluster: Cluster) -> None:
    result = await asyncio.to_thread(confluent_round_trip, servers.schema_registry_url)
    assert result["decoded"] == [{"id": 7, "item": "kettle"}, {"id": 8, "item": "cup", "quantity": 6}]
    assert result["first_as_v2"] == {"id": 7, "item": "kettle", "quantity": 1}
    status, code, message = result["refusal"]
    assert (status, code) == (409, 409) and "price" in message
    assert result["subjects"] == ["orders-value"] and result["latest"] == 2
    assert result["level"] == "BACKWARD" and result["v2_compatible"] is True
    # Confluent's wire format: magic byte 0, then the id the registry in the data file gave.
    versions = [await cluster.schemas.get_version("orders-value", v) for v in (1, 2)]
    for data, version in zip((result["first"], result["second"]), versions):
        assert data[0] == 0 and int.from_bytes(data[1:5], "big") == version.schema_id
    # kplay's own deserializer reads what confluent-kafka wrote.
    decoded = await KplayAvroDeserializer(cluster.schemas).deserialize(result["second"], "orders")
    assert decoded is not None and decoded.value == {"id": 8, "item": "cup", "quantity": 6}


def tutorial_connector_files(directory: Path, registry_url: str) -> None:
    """``source_connector.json`` and ``sink_connector.json`` shaped like the tutorial's (SQLite files)."""
    converters = {"key.converter": "org.apache.kafka.connect.storage.StringConverter",
                  "value.converter": "io.confluent.connect.avro.AvroConverter",
                  "value.converter.schema.registry.url": registry_url}
    source = {"name": "sqlite-source-connector", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": "jdbc:sqlite:source.db",
        "table.whitelist": "iris_data",
        "mode": "incrementing",
        "incrementing.column.name": "id",
        "topic.prefix": "sqlite-source-",
        "poll.interval.ms": "200",
        "tasks.max": "1",
        **converters}}
    sink = {"name": "sqlite-sink-connector", "config": {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "connection.url": "jdbc:sqlite:target.db",
        "topics": TOPIC,
        "table.name.format": "iris_data",
        "auto.create": "true",
        "auto.evolve": "true",
        "insert.mode": "upsert",
        "pk.mode": "record_value",
        "pk.fields": "id",
        "tasks.max": "1",
        **converters}}
    (directory / "source_connector.json").write_text(json.dumps(source, indent=2))
    (directory / "sink_connector.json").write_text(json.dumps(sink, indent=2))


async def shell(command: str, cwd: Path) -> str:
    """Run ``command`` as a user types it; its standard output."""
    process = await asyncio.create_subprocess_shell(command, cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def insert_iris(directory: Path, count: int) -> None:
    generator = DataGenerator("jdbc:sqlite:source.db", "iris_data", base_dir=directory)
    try:
        await asyncio.to_thread(generator.insert, count)
    finally:
        generator.close()


def database(directory: Path, name: str) -> Database:
    url = f"jdbc:sqlite:{directory / name}"
    return Database(url, open_engine(url))


async def same_rows(source: Database, target: Database, count: int) -> bool:
    rows = await asyncio.to_thread(target.rows, "iris_data")
    return len(rows) == count and rows == await asyncio.to_thread(source.rows, "iris_data")


async def test_the_tutorials_curl_creates_connectors_that_move_rows(servers: RestServers, cluster: Cluster,
                                                                    tmp_path: Path) -> None:
    await insert_iris(tmp_path, 20)
    tutorial_connector_files(tmp_path, servers.schema_registry_url)
    port = servers.connect_port
    created = json.loads(await shell(f'curl -X POST http://localhost:{port}/connectors -H "Content-Type: '
                                     f'application/json" -d @source_connector.json', tmp_path))
    assert created["name"] == "sqlite-source-connector" and created["type"] == "source"
    assert created["config"]["connection.url"] == "jdbc:sqlite:source.db"

    async def records_in_topic() -> int:
        return len(await topic_values(cluster, TOPIC)) if TOPIC in await cluster.topics.list_topics() else 0

    await wait_until(lambda: _equals(records_in_topic, 20), "the 20 source rows in the topic", timeout=30)
    # The values are Avro through the registry: confluent-kafka's deserializer reads them over REST.
    first = (await topic_values(cluster, TOPIC))[0]
    row = await asyncio.to_thread(_confluent_read, servers.schema_registry_url, first, TOPIC)
    assert row["id"] == 1 and row["species"] == "setosa"

    sink = json.loads(await shell(f'curl -X POST http://localhost:{port}/connectors -H "Content-Type: '
                                  f'application/json" -d @sink_connector.json', tmp_path))
    assert sink["name"] == "sqlite-sink-connector" and sink["type"] == "sink"
    source_db, target_db = database(tmp_path, "source.db"), database(tmp_path, "target.db")
    try:
        await wait_until(lambda: same_rows(source_db, target_db, 20), "the target table equal to the source",
                         timeout=30)
        await insert_iris(tmp_path, 10)  # the generator keeps inserting while the pipeline runs
        await wait_until(lambda: same_rows(source_db, target_db, 30), "the 10 new rows in the target", timeout=30)
    finally:
        source_db.engine.dispose()
        target_db.engine.dispose()
    listed = json.loads(await shell(f"curl -s http://localhost:{port}/connectors/", tmp_path))
    assert listed == ["sqlite-sink-connector", "sqlite-source-connector"]
    status = json.loads(await shell(f"curl -s http://localhost:{port}/connectors/sqlite-sink-connector/status",
                                    tmp_path))
    assert status["connector"]["state"] == "RUNNING" and [t["state"] for t in status["tasks"]] == ["RUNNING"]


async def _equals(count: Any, wanted: int) -> bool:
    return await count() == wanted


def _confluent_read(url: str, data: bytes, topic: str) -> dict[str, Any]:
    return AvroDeserializer(SchemaRegistryClient({"url": url}))(data, SerializationContext(topic, MessageField.VALUE))


async def test_errors_over_the_wire_keep_each_apis_shape(servers: RestServers, tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"name": "x", "config": {"connector.class": ')
    answer = await shell(f'curl -s -X POST {servers.connect_url}/connectors -H "Content-Type: application/json" '
                         f"-d @broken.json", tmp_path)
    body = json.loads(answer)
    assert body["error_code"] == 500 and "Malformed JSON" in body["message"]
    async with httpx.AsyncClient() as http:
        missing = await http.get(f"{servers.connect_url}/connectors/nothing/status")
        assert (missing.status_code, missing.json()) == (
            404, {"error_code": 404, "message": "No status found for connector nothing"})
        subject = await http.get(f"{servers.schema_registry_url}/subjects/nothing/versions")
        assert (subject.status_code, subject.json()["error_code"]) == (404, 40401)
        assert subject.headers["content-type"] == "application/vnd.schemaregistry.v1+json"


async def test_a_port_in_use_is_a_clear_error(servers: RestServers, cluster: Cluster) -> None:
    with pytest.raises(OSError, match=f"Cannot serve Schema Registry on 127.0.0.1:{servers.schema_registry_port}"):
        await start_rest(cluster, host="127.0.0.1", schema_registry_port=servers.schema_registry_port,
                         connect_port=0)
    with pytest.raises(OSError, match=f"Cannot serve Kafka Connect on 127.0.0.1:{servers.connect_port}"):
        await start_rest(cluster, host="127.0.0.1", schema_registry_port=0, connect_port=servers.connect_port)


async def test_stop_closes_the_ports_and_stops_the_worker(cluster: Cluster) -> None:
    started = await start_rest(cluster, host="127.0.0.1", schema_registry_port=0, connect_port=0)
    assert started.worker.running
    await started.stop()
    assert not started.worker.running
    for port in (started.schema_registry_port, started.connect_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
