"""The Kafka Connect REST API: Kafka Connect's paths, bodies, statuses and error shapes.

The app runs in the test's own event loop through httpx's ASGI transport (the transport
Starlette's TestClient wraps; TestClient would run the app on a loop of its own in another
thread, away from the cluster's SQLite connection), over a started worker, so connectors
created through the API really run.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import httpx
import pytest

from app.serve.connect_api import connect_app
from broker_core import Cluster
from broker_core.connect import ConnectWorker, DataGenerator
from test_connect_support import Database, sink_config, source_config, sqlite_db, wait_until  # noqa: F401

JSON = {"Content-Type": "application/json"}
SOURCE_CLASS = "io.confluent.connect.jdbc.JdbcSourceConnector"
SINK_CLASS = "io.confluent.connect.jdbc.JdbcSinkConnector"


@pytest.fixture
async def worker(cluster: Cluster) -> AsyncIterator[ConnectWorker]:
    """A started worker with a fast heartbeat, stopped afterwards."""
    connect = ConnectWorker(cluster, worker_id="rest-worker", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await connect.start()
    try:
        yield connect
    finally:
        await connect.stop()


@pytest.fixture
async def client(worker: ConnectWorker) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the Connect app over the started worker."""
    transport = httpx.ASGITransport(app=connect_app(worker))
    async with httpx.AsyncClient(transport=transport, base_url="http://connect") as http:
        yield http


@pytest.fixture
async def source_db(sqlite_db: Database) -> Database:
    """The SQLite source database with a few iris rows."""
    generator = DataGenerator(sqlite_db.url, "iris_data")
    try:
        await asyncio.to_thread(generator.insert, 5)
    finally:
        generator.close()
    return sqlite_db


def create_body(name: str, url: str) -> dict[str, Any]:
    """``POST /connectors``'s body for a JDBC source: ``{"name", "config"}`` as the tutorial's file."""
    config = source_config(name, url)
    del config["name"]
    return {"name": name, "config": config}


def assert_error(response: httpx.Response, status: int, words: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"error_code": status, "message": body["message"]}
    assert words in body["message"]


async def states(client: httpx.AsyncClient, name: str) -> tuple[str, tuple[str, ...]]:
    """(connector state, task states) from ``GET /connectors/NAME/status``."""
    body = (await client.get(f"/connectors/{name}/status")).json()
    return body["connector"]["state"], tuple(task["state"] for task in body["tasks"])


async def running(client: httpx.AsyncClient, name: str) -> bool:
    return await states(client, name) == ("RUNNING", ("RUNNING",))


async def test_root_names_the_kafka_cluster(client: httpx.AsyncClient, cluster: Cluster) -> None:
    body = (await client.get("/")).json()
    assert body["kafka_cluster_id"] == cluster.cluster_id
    assert set(body) == {"version", "commit", "kafka_cluster_id"}


async def test_create_answers_201_with_the_connector_and_runs_it(client: httpx.AsyncClient,
                                                                 source_db: Database) -> None:
    response = await client.post("/connectors", json=create_body("jdbc-source", source_db.url))
    assert response.status_code == 201
    assert response.headers["location"] == "/connectors/jdbc-source"
    body = response.json()
    assert body["name"] == "jdbc-source" and body["type"] == "source" and body["tasks"] == []
    assert body["config"]["name"] == "jdbc-source"
    assert body["config"]["connector.class"] == SOURCE_CLASS
    await wait_until(lambda: running(client, "jdbc-source"), "the connector and its task RUNNING")
    status = (await client.get("/connectors/jdbc-source/status")).json()
    assert status["name"] == "jdbc-source" and status["type"] == "source"
    assert status["connector"]["worker_id"] == "rest-worker"
    assert status["tasks"][0]["id"] == 0
    info = (await client.get("/connectors/jdbc-source")).json()
    assert info["tasks"] == [{"connector": "jdbc-source", "task": 0}]
    tasks = (await client.get("/connectors/jdbc-source/tasks")).json()
    assert [task["id"] for task in tasks] == [{"connector": "jdbc-source", "task": 0}]
    assert tasks[0]["config"]["tables"] == "iris_data"
    task = (await client.get("/connectors/jdbc-source/tasks/0/status")).json()
    assert task == {"id": 0, "state": "RUNNING", "worker_id": "rest-worker"}
    assert_error(await client.get("/connectors/jdbc-source/tasks/3/status"), 404,
                 "No status found for task jdbc-source-3")
    offsets = await wait_until(lambda: _offsets(client, "jdbc-source"), "the source's stored offset")
    assert offsets == [{"partition": {"table": "iris_data"}, "offset": {"incrementing": 5}}]


async def _offsets(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    return (await client.get(f"/connectors/{name}/offsets")).json()["offsets"]


async def test_creating_an_existing_connector_is_409(client: httpx.AsyncClient, source_db: Database) -> None:
    await client.post("/connectors", json=create_body("jdbc-source", source_db.url))
    again = await client.post("/connectors", json=create_body("jdbc-source", source_db.url))
    assert_error(again, 409, "Connector jdbc-source already exists")


async def test_list_and_expand(client: httpx.AsyncClient, source_db: Database) -> None:
    assert (await client.get("/connectors")).json() == []
    await client.post("/connectors", json=create_body("b-source", source_db.url))
    await client.post("/connectors", json=create_body("a-source", source_db.url))
    assert (await client.get("/connectors")).json() == ["a-source", "b-source"]
    by_status = (await client.get("/connectors", params={"expand": "status"})).json()
    assert set(by_status) == {"a-source", "b-source"}
    assert set(by_status["a-source"]) == {"status"}
    assert by_status["a-source"]["status"]["name"] == "a-source"
    both = (await client.get("/connectors?expand=status&expand=info")).json()
    assert set(both["b-source"]) == {"status", "info"}
    assert both["b-source"]["info"]["config"]["connector.class"] == SOURCE_CLASS


async def test_config_read_and_replace(client: httpx.AsyncClient, source_db: Database) -> None:
    await client.post("/connectors", json=create_body("jdbc-source", source_db.url))
    config = (await client.get("/connectors/jdbc-source/config")).json()
    assert config["table.whitelist"] == "iris_data" and config["name"] == "jdbc-source"
    updated = await client.put("/connectors/jdbc-source/config", json={**config, "poll.interval.ms": "250"})
    assert updated.status_code == 200
    assert updated.json()["config"]["poll.interval.ms"] == "250"
    assert (await client.get("/connectors/jdbc-source/config")).json()["poll.interval.ms"] == "250"
    # PUT creates a connector that does not exist yet (the name comes from the URL).
    fresh = {key: value for key, value in config.items() if key != "name"}
    created = await client.put("/connectors/second-source/config", json=fresh)
    assert created.status_code == 201
    assert created.headers["location"] == "/connectors/second-source"
    assert created.json()["name"] == "second-source"
    mismatch = await client.put("/connectors/third/config", json=config)
    assert_error(mismatch, 400, "Connector name configuration (jdbc-source) doesn't match connector name in the URL "
                                "(third)")


async def test_pause_resume_restart_and_delete(client: httpx.AsyncClient, source_db: Database) -> None:
    await client.post("/connectors", json=create_body("jdbc-source", source_db.url))
    await wait_until(lambda: running(client, "jdbc-source"), "RUNNING")
    paused = await client.put("/connectors/jdbc-source/pause")
    assert (paused.status_code, paused.content) == (202, b"")
    await wait_until(lambda: _is(client, "jdbc-source", ("PAUSED", ("PAUSED",))), "PAUSED")
    resumed = await client.put("/connectors/jdbc-source/resume")
    assert (resumed.status_code, resumed.content) == (202, b"")
    await wait_until(lambda: running(client, "jdbc-source"), "RUNNING after resume")
    # First, with no restart in flight (a restart passes through RESTARTING asynchronously):
    only_failed = await client.post("/connectors/jdbc-source/restart?includeTasks=true&onlyFailed=true")
    assert only_failed.status_code == 202
    assert "RESTARTING" not in json.dumps(only_failed.json())  # nothing had failed
    plain = await client.post("/connectors/jdbc-source/restart")
    assert (plain.status_code, plain.content) == (204, b"")
    with_tasks = await client.post("/connectors/jdbc-source/restart", params={"includeTasks": "true"})
    assert with_tasks.status_code == 202
    body = with_tasks.json()
    assert body["connector"]["state"] == "RESTARTING"
    assert [task["state"] for task in body["tasks"]] == ["RESTARTING"]
    await wait_until(lambda: running(client, "jdbc-source"), "RUNNING after the restart")
    deleted = await client.delete("/connectors/jdbc-source")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get("/connectors")).json() == []
    assert_error(await client.get("/connectors/jdbc-source"), 404, "Connector jdbc-source not found")


async def _is(client: httpx.AsyncClient, name: str, wanted: tuple[str, tuple[str, ...]]) -> bool:
    return await states(client, name) == wanted


async def test_created_paused_with_initial_state(client: httpx.AsyncClient, source_db: Database) -> None:
    body = {**create_body("jdbc-source", source_db.url), "initial_state": "PAUSED"}
    assert (await client.post("/connectors", json=body)).status_code == 201
    await wait_until(lambda: _is(client, "jdbc-source", ("PAUSED", ("PAUSED",))), "PAUSED from the start")
    stopped = await client.post("/connectors", json={**create_body("other", source_db.url), "initial_state": "STOPPED"})
    assert_error(stopped, 400, "STOPPED")


@pytest.mark.parametrize("method, path", [
    ("GET", "/connectors/nothing"), ("GET", "/connectors/nothing/config"), ("GET", "/connectors/nothing/tasks"),
    ("GET", "/connectors/nothing/offsets"), ("PUT", "/connectors/nothing/pause"),
    ("PUT", "/connectors/nothing/resume"), ("POST", "/connectors/nothing/restart"),
    ("DELETE", "/connectors/nothing"),
])
async def test_an_unknown_connector_is_404_in_connects_shape(client: httpx.AsyncClient, method: str,
                                                             path: str) -> None:
    assert_error(await client.request(method, path), 404, "Connector nothing not found")


async def test_status_of_an_unknown_connector_words_it_as_kafka_does(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/connectors/nothing/status"), 404, "No status found for connector nothing")


async def test_bad_configs_are_400_naming_the_key(client: httpx.AsyncClient, source_db: Database) -> None:
    body = create_body("jdbc-source", source_db.url)
    body["config"]["table.whitelsit"] = "typo"
    assert_error(await client.post("/connectors", json=body), 400, 'Unknown configuration "table.whitelsit"')
    body = create_body("jdbc-source", source_db.url)
    del body["config"]["mode"]
    assert_error(await client.post("/connectors", json=body), 400, 'Missing required configuration "mode"')
    body = create_body("jdbc-source", source_db.url)
    body["config"]["connector.class"] = "FileStreamSource"
    assert_error(await client.post("/connectors", json=body), 400, "FileStreamSource")
    no_config = await client.post("/connectors", json={"name": "jdbc-source"})
    assert_error(no_config, 400, 'Missing "config"')
    assert (await client.get("/connectors")).json() == []


async def test_bad_json_bodies_get_connects_error_shape(client: httpx.AsyncClient) -> None:
    # Kafka Connect maps Jackson's parse and mapping errors to 500 (ConnectExceptionMapper).
    malformed = await client.post("/connectors", content=b'{"name": "x", "config": {', headers=JSON)
    assert_error(malformed, 500, "Malformed JSON")
    array = await client.post("/connectors", content=b"[]", headers=JSON)
    assert_error(array, 500, "must be a JSON object")
    unknown = await client.post("/connectors", json={"name": "x", "config": {}, "configs": {}})
    assert_error(unknown, 500, 'Unrecognized field "configs"')
    flat = await client.post("/connectors", json={"name": "x", "connector.class": SOURCE_CLASS})
    assert_error(flat, 500, "PUT /connectors/NAME/config")
    empty = await client.put("/connectors/x/config", content=b"", headers=JSON)
    assert_error(empty, 500, "empty")
    assert (await client.get("/connectors")).json() == []


async def test_a_body_that_is_not_json_by_its_media_type_is_415(client: httpx.AsyncClient) -> None:
    # curl -d without -H "Content-Type: application/json" sends a form.
    form = await client.post("/connectors", content=b'{"name": "x", "config": {}}',
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(form, 415, "HTTP 415 Unsupported Media Type")


async def test_unknown_paths_and_methods(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/connectorz"), 404, "HTTP 404 Not Found")
    assert_error(await client.delete("/connectors"), 405, "HTTP 405 Method Not Allowed")


async def test_connector_plugins_lists_the_jdbc_connectors(client: httpx.AsyncClient) -> None:
    plugins = (await client.get("/connector-plugins")).json()
    assert [(p["class"], p["type"]) for p in plugins] == [(SINK_CLASS, "sink"), (SOURCE_CLASS, "source")]


async def test_validate_reports_each_keys_errors(client: httpx.AsyncClient, source_db: Database) -> None:
    good = source_config("jdbc-source", source_db.url)
    answer = (await client.put("/connector-plugins/JdbcSourceConnector/config/validate", json=good)).json()
    assert answer["name"] == SOURCE_CLASS
    assert answer["error_count"] == 0
    values = {entry["value"]["name"]: entry["value"] for entry in answer["configs"]}
    assert values["mode"]["value"] == "incrementing"
    assert values["mode"]["recommended_values"] == ["bulk", "timestamp", "incrementing", "timestamp+incrementing"]
    definitions = {entry["definition"]["name"]: entry["definition"] for entry in answer["configs"]}
    assert definitions["poll.interval.ms"]["type"] == "INT" and definitions["mode"]["required"] is True

    bad = {**good, "mode": "sometimes", "tabel.whitelist": "iris_data"}
    del bad["topic.prefix"]
    answer = (await client.put(f"/connector-plugins/{SOURCE_CLASS}/config/validate", json=bad)).json()
    errors = {entry["value"]["name"]: entry["value"]["errors"] for entry in answer["configs"]
              if entry["value"]["errors"]}
    assert answer["error_count"] == 3
    assert set(errors) == {"mode", "topic.prefix", "tabel.whitelist"}
    assert "sometimes" in errors["mode"][0]
    assert 'Missing required configuration "topic.prefix"' in errors["topic.prefix"][0]

    between = {**good, "mode": "timestamp"}  # needs timestamp.column.name
    del between["incrementing.column.name"]
    answer = (await client.put("/connector-plugins/JdbcSourceConnector/config/validate", json=between)).json()
    assert answer["error_count"] == 1
    assert any("timestamp.column.name" in e for entry in answer["configs"] for e in entry["value"]["errors"])


async def test_validate_refuses_a_mismatched_or_unknown_plugin(client: httpx.AsyncClient) -> None:
    config = {"connector.class": SINK_CLASS, "topics": "t", "connection.url": "jdbc:sqlite:x.db"}
    mismatch = await client.put("/connector-plugins/JdbcSourceConnector/config/validate", json=config)
    assert_error(mismatch, 400, "does not match request type JdbcSourceConnector")
    unknown = await client.put("/connector-plugins/FileStreamSource/config/validate", json={})
    assert_error(unknown, 400, "FileStreamSource")


async def test_a_sink_created_over_rest_fills_its_table(client: httpx.AsyncClient, source_db: Database) -> None:
    await client.post("/connectors", json=create_body("jdbc-source", source_db.url))
    sink = sink_config("jdbc-sink", source_db.url, "db-iris_data")
    response = await client.put("/connectors/jdbc-sink/config", json=sink)
    assert response.status_code == 201 and response.json()["type"] == "sink"
    await wait_until(lambda: asyncio.to_thread(source_db.count, "iris_copy"), "rows in the sink's table")
    await wait_until(lambda: _count_is(source_db, "iris_copy", 5), "the 5 source rows in the sink's table")


async def _count_is(db: Database, table: str, wanted: int) -> bool:
    return await asyncio.to_thread(db.count, table) == wanted
