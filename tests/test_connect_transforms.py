"""Connect's framework keys (issue 15 item 5): transforms, predicates, topic creation, errors.tolerance.

Connectors run in a started worker over SQLite; what they publish or write is read back.
The REST cases go through HTTP (httpx on the Connect app).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from app.serve.connect_api import connect_app
from broker_core import Cluster
from broker_core.connect import ConnectorConfigInvalid, ConnectWorker, DataGenerator
from broker_core.connect.data import ConnectData
from broker_core.connect.transforms import ConnectRecord, TransformChain
from broker_core.log import BatchRequest
from broker_core.records import ProducerRecord
from test_connect_support import Database, sink_config, source_config, sqlite_db, wait_until , worker  # noqa: F401

T = "org.apache.kafka.connect.transforms."
JSON_VALUES = {"value.converter": "org.apache.kafka.connect.json.JsonConverter",
               "value.converter.schemas.enable": "false"}


async def rows_in(db: Database, count: int) -> None:
    generator = DataGenerator(db.url, "iris_data")
    try:
        await asyncio.to_thread(generator.insert, count)
    finally:
        generator.close()


async def records(cluster: Cluster, topic: str, count: int) -> list[Any]:
    async def read() -> list[Any] | None:
        try:
            found = []
            for partition in range(await cluster.logs.partition_count(topic)):
                found += (await cluster.logs.read(topic, partition, 0, max_records=1000)).records
        except Exception:
            return None
        return found if len(found) >= count else None

    return await wait_until(read, f"{count} records in {topic}")


async def test_a_source_routes_keys_casts_masks_and_filters(worker: ConnectWorker, cluster: Cluster,
                                                           sqlite_db: Database) -> None:
    await rows_in(sqlite_db, 3)
    config = source_config("src", sqlite_db.url, **JSON_VALUES, **{
        "transforms": "route,key,id,cast,mask,drop,insert,drop_setosa",
        "transforms.route.type": T + "RegexRouter", "transforms.route.regex": "db-(.*)_data",
        "transforms.route.replacement": "flowers-$1",
        "transforms.key.type": T + "ValueToKey", "transforms.key.fields": "id",
        "transforms.id.type": T + "ExtractField$Key", "transforms.id.field": "id",
        "transforms.cast.type": T + "Cast$Value", "transforms.cast.spec": "sepal_length:int32,petal_width:string",
        "transforms.mask.type": T + "MaskField$Value", "transforms.mask.fields": "sepal_width",
        "transforms.drop.type": T + "ReplaceField$Value", "transforms.drop.exclude": "created_at",
        "transforms.drop.renames": "species:kind",
        "transforms.insert.type": T + "InsertField$Value", "transforms.insert.topic.field": "from",
        "transforms.insert.static.field": "origin", "transforms.insert.static.value": "lab",
        "transforms.drop_setosa.type": T + "Filter", "transforms.drop_setosa.predicate": "notFlowers",
        "predicates": "notFlowers",
        "predicates.notFlowers.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.notFlowers.pattern": "db-.*",
        "topic.creation.default.partitions": "2", "topic.creation.default.replication.factor": "1",
    })
    await worker.create_connector(config)
    found = await records(cluster, "flowers-iris", 3)
    assert (await cluster.topics.describe_topic("flowers-iris")).partition_count == 2
    by_key = {r.key: json.loads(r.value) for r in found}
    assert sorted(by_key) == [b"1", b"2", b"3"]
    assert by_key[b"1"] == {"id": 1, "sepal_length": 5, "sepal_width": 0.0, "petal_length": 1.4,
                            "petal_width": "0.2", "kind": "setosa", "from": "flowers-iris", "origin": "lab"}


def envelope(**payload: Any) -> bytes:
    """A JsonConverter record with its schema (what the JDBC sink needs to make rows)."""
    kinds = {int: "int64", str: "string", float: "float64"}
    fields = [{"type": kinds[type(v)], "optional": False, "field": k} for k, v in payload.items()]
    return json.dumps({"schema": {"type": "struct", "fields": fields, "optional": False, "name": "r"},
                       "payload": payload}).encode()


SCHEMA_VALUES = {"value.converter": "org.apache.kafka.connect.json.JsonConverter"}


async def test_a_predicate_filters_tombstones_before_the_sink_sees_them(worker: ConnectWorker, cluster: Cluster,
                                                                       sqlite_db: Database) -> None:
    await cluster.topics.create_topic("events", 1, 1)
    payloads = [envelope(id=1, name="a"), None, envelope(id=2, name="b")]
    await cluster.logs.append_batches([BatchRequest("events", 0, [ProducerRecord(b"k", p) for p in payloads])], "all")
    config = sink_config("sink", sqlite_db.url, "events", table="events_copy", **SCHEMA_VALUES, **{
        "transforms": "skipTombstones,rename", "transforms.skipTombstones.type": T + "Filter",
        "transforms.skipTombstones.predicate": "tomb",
        "transforms.rename.type": T + "ReplaceField$Value", "transforms.rename.renames": "name:label",
        "predicates": "tomb", "predicates.tomb.type": "RecordIsTombstone"})
    await worker.create_connector(config)
    await wait_until(lambda: _count(sqlite_db, "events_copy", 2), "two rows copied")
    assert sqlite_db.rows("events_copy") == [(1, "a"), (2, "b")]
    assert (await worker.connector_status("sink")).tasks[0].state == "RUNNING"


async def test_errors_tolerance_all_sends_bad_records_to_the_dead_letter_queue(
        worker: ConnectWorker, cluster: Cluster, sqlite_db: Database, caplog: pytest.LogCaptureFixture) -> None:
    await cluster.topics.create_topic("orders", 1, 1)
    payloads = [envelope(id=1, qty=2), b"not json", envelope(id=3, qty=4)]
    await cluster.logs.append_batches([BatchRequest("orders", 0, [ProducerRecord(None, p) for p in payloads])], "all")
    config = sink_config("sink", sqlite_db.url, "orders", table="orders_copy", **SCHEMA_VALUES, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq-orders",
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true", "errors.log.enable": "true"})
    await worker.create_connector(config)
    await wait_until(lambda: _count(sqlite_db, "orders_copy", 2), "the good rows")
    [dead] = await records(cluster, "dlq-orders", 1)
    assert dead.value == b"not json"
    headers = dict(dead.headers)
    assert headers["__connect.errors.offset"] == b"1" and headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert (await worker.connector_status("sink")).tasks[0].state == "RUNNING"
    assert any("at stage VALUE_CONVERTER" in r.getMessage() for r in caplog.records if r.name == "kplay.connect")


def test_flatten_hoist_and_timestamps_follow_kafkas_rules() -> None:
    chain = TransformChain({
        "transforms": "flat,ts,hoist",
        "transforms.flat.type": T + "Flatten$Value", "transforms.flat.delimiter": "_",
        "transforms.ts.type": T + "TimestampConverter$Value", "transforms.ts.field": "at",
        "transforms.ts.target.type": "string", "transforms.ts.format": "yyyy-MM-dd'T'HH:mm:ss.SSS",
        "transforms.hoist.type": T + "HoistField$Key", "transforms.hoist.field": "k"})
    record = ConnectRecord("t", 0, ConnectData(None, 7), ConnectData(None, {"a": {"b": 1}, "at": 1_700_000_000_123}),
                           0)
    out = chain.apply(record)
    assert out is not None
    assert out.value.value == {"a_b": 1, "at": "2023-11-14T22:13:20.123"}
    assert out.key.value == {"k": 7}


def _count(db: Database, table: str, want: int) -> bool:
    try:
        return db.count(table) >= want
    except Exception:
        return False


def test_bad_transform_settings_are_refused_one_error_each() -> None:
    config = source_config("src", "jdbc:sqlite:x.db", **{
        "transforms": "a,b,c", "transforms.a.type": T + "Cast$Value", "transforms.a.spec": "id:blob",
        "transforms.b.type": T + "NoSuchTransform", "transforms.c.type": T + "ExtractField",
        "transforms.c.field": "id", "predicates.p.type": "RecordIsTombstone", "errors.tolerance": "some"})
    with pytest.raises(ConnectorConfigInvalid) as refused:
        from broker_core.connect.config import validate_connector_config
        validate_connector_config(config)
    assert refused.value.errors == (
        "Invalid value some for configuration errors.tolerance: String must be one of: none, all",
        'Unknown configuration "predicates.p.type": predicate "p" is not listed in predicates',
        "Invalid value id:blob for configuration transforms.a.spec: Invalid type found in casting spec: blob",
        f"Invalid value {T}NoSuchTransform for configuration transforms.b.type: "
        f"Class {T}NoSuchTransform could not be found.",
        f"Invalid value {T}ExtractField for configuration transforms.c.type: "
        f"Class {T}ExtractField could not be found.")


async def test_rest_accepts_framework_keys_and_lists_errors_one_a_line(worker: ConnectWorker) -> None:
    transport = httpx.ASGITransport(app=connect_app(worker))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        config = source_config("ok", "jdbc:sqlite:x.db", **{
            "transforms": "r", "transforms.r.type": T + "RegexRouter", "transforms.r.regex": "(.*)",
            "transforms.r.replacement": "x-$1", "errors.tolerance": "all", "header.converter":
            "org.apache.kafka.connect.storage.SimpleHeaderConverter", "topic.creation.default.partitions": "1",
            "topic.creation.default.replication.factor": "-1"})
        created = await http.put("/connectors/ok/config", json=config)
        assert created.status_code == 201, created.text
        bad = dict(config, **{"transforms.r.regex": "(", "errors.tolerance": "most"})
        refused = await http.put("/connectors/ok/config", json=bad)
        assert refused.status_code == 400
        assert refused.json()["message"].splitlines()[1:] == [
            "Invalid value most for configuration errors.tolerance: String must be one of: none, all",
            "Invalid value ( for configuration transforms.r.regex: Invalid regex: missing ), unterminated "
            "subpattern at position 0",
            "You can also find the above list of errors at the endpoint "
            "`/connector-plugins/{connectorType}/config/validate`"]
        report = (await http.put("/connector-plugins/JdbcSourceConnector/config/validate", json=bad)).json()
        assert report["error_count"] == 2
        assert {c["value"]["name"]: c["value"]["errors"] for c in report["configs"] if c["value"]["errors"]} == {
            "errors.tolerance": [refused.json()["message"].splitlines()[1]],
            "transforms.r.regex": [refused.json()["message"].splitlines()[2]]}


async def test_task_restart_topics_and_stop_endpoints(worker: ConnectWorker, cluster: Cluster,
                                                      sqlite_db: Database) -> None:
    await rows_in(sqlite_db, 2)
    transport = httpx.ASGITransport(app=connect_app(worker))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        assert (await http.put("/connectors/src/config", json=source_config("src", sqlite_db.url))).status_code == 201
        await records(cluster, "db-iris_data", 2)

        async def topics() -> Any:
            body = (await http.get("/connectors/src/topics")).json()
            return body if body["src"]["topics"] else None

        assert await wait_until(topics, "the active topics") == {"src": {"topics": ["db-iris_data"]}}
        assert (await http.put("/connectors/src/topics/reset")).status_code == 202
        assert (await http.get("/connectors/src/topics")).json() == {"src": {"topics": []}}
        assert (await http.post("/connectors/src/tasks/0/restart")).status_code == 204
        missing = await http.post("/connectors/src/tasks/7/restart")
        assert missing.status_code == 404 and missing.json()["message"] == "Unknown task: src-7"
        assert (await http.put("/connectors/src/stop")).status_code == 202

        async def stopped() -> Any:
            body = (await http.get("/connectors/src/status")).json()
            return body if body["connector"]["state"] == "STOPPED" else None

        assert (await wait_until(stopped, "STOPPED"))["tasks"] == []
        assert (await http.get("/connectors/src/tasks")).json() == []
        assert (await http.put("/connectors/src/resume")).status_code == 202
        await wait_until(lambda: _state_is(http, "RUNNING"), "RUNNING again")


async def _state_is(http: httpx.AsyncClient, state: str) -> bool:
    body = (await http.get("/connectors/src/status")).json()
    return body["connector"]["state"] == state and [t["state"] for t in body["tasks"]] == [state]


async def test_the_registry_mode_can_be_read_only(cluster: Cluster) -> None:
    from app.serve.schema_registry_api import schema_registry_app

    transport = httpx.ASGITransport(app=schema_registry_app(cluster.schemas))
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        assert (await http.get("/mode")).json() == {"mode": "READWRITE"}
        assert (await http.put("/mode", json={"mode": "READONLY"}, headers=headers)).json() == {"mode": "READONLY"}
        refused = await http.post("/subjects/s/versions", json={"schema": '"string"'}, headers=headers)
        assert refused.status_code == 422 and refused.json()["error_code"] == 42205
        assert (await http.get("/mode/s")).json()["error_code"] == 40409
        assert (await http.put("/mode/s", json={"mode": "READWRITE"}, headers=headers)).status_code == 200
        assert (await http.post("/subjects/s/versions", json={"schema": '"string"'}, headers=headers)).json() == {"id": 1}
        bad = await http.put("/mode", json={"mode": "SOMETIMES"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["error_code"] == 42204


async def test_without_a_converter_values_are_json_with_their_schema(worker: ConnectWorker, cluster: Cluster,
                                                                    sqlite_db: Database) -> None:
    await rows_in(sqlite_db, 1)
    config = source_config("plain", sqlite_db.url)
    for key in ("value.converter", "value.converter.schema.registry.url"):
        config.pop(key)
    await worker.create_connector(config)
    [record] = await records(cluster, "db-iris_data", 1)
    envelope = json.loads(record.value)
    assert set(envelope) == {"schema", "payload"}
    assert envelope["schema"]["type"] == "struct" and envelope["payload"]["id"] == 1
    assert await cluster.schemas.get_subjects() == []  # the registry is not involved
