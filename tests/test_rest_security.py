"""Hostile REST calls (issue 18 items 1, 12, 14): what the Schema Registry and Connect APIs refuse.

Requests go through HTTP: httpx on the apps as ``kplay serve`` composes them (the
request guard in front), and a real server for the Host header and the connection-error
case. The connector cases use a started worker, as ``kplay serve`` does.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from app.serve.connect_api import connect_app
from app.serve.rest import start_rest
from app.serve.rest_guards import MAX_BODY_BYTES, RequestGuard
from app.serve.schema_registry_api import SCHEMA_REGISTRY_MEDIA_TYPE, schema_registry_app
from broker_core import Cluster
from broker_core.connect import ConnectWorker
from test_connect_support import sink_config, source_config, wait_until, worker  # noqa: F401

JSON = {"Content-Type": "application/json"}
REGISTRY_JSON = {"Content-Type": SCHEMA_REGISTRY_MEDIA_TYPE}


@pytest.fixture
async def connect(worker: ConnectWorker) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=RequestGuard(connect_app(worker), bound_host="127.0.0.1"))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8083") as http:
        yield http


@pytest.fixture
async def registry(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=RequestGuard(schema_registry_app(cluster.schemas), bound_host="127.0.0.1"))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8081") as http:
        yield http


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}
    return str(body["message"])


async def failed_trace(worker: ConnectWorker, name: str) -> str:
    async def failed() -> Any:
        status = await worker.connector_status(name)
        if status.state == "FAILED":
            return status
        return next((t for t in status.tasks if t.state == "FAILED"), None)

    status = await wait_until(failed, f"{name} to fail")
    assert status.trace
    return str(status.trace)


# -- JDBC paths ----------------------------------------------------------------------------------

async def test_a_sink_on_the_data_file_is_refused_and_the_cluster_still_opens(
        connect: httpx.AsyncClient, worker: ConnectWorker, cluster: Cluster, data_path: Path) -> None:
    for url in (f"jdbc:sqlite:{data_path}", f"jdbc:sqlite:{data_path}-wal",
                f"jdbc:sqlite:{data_path.parent / 'sub' / '..' / data_path.name}"):
        name = f"brick-{len(url)}"
        body = {"name": name, "config": sink_config(name, url, "t", **{"auto.create": "true"})}
        body["config"].pop("name")
        assert (await connect.post("/connectors", json=body, headers=JSON)).status_code == 201
        trace = await failed_trace(worker, name)
        assert "kplay data file" in trace or "side files" in trace
    (data_path.parent / "link.db").symlink_to(data_path)
    body = {"name": "via-link", "config": sink_config("via-link", "jdbc:sqlite:link.db", "t")}
    await connect.post("/connectors", json=body, headers=JSON)
    assert "kplay data file" in await failed_trace(worker, "via-link")
    schema_version = await cluster.storage.fetchone("SELECT value FROM meta WHERE key = 'schema_version'")
    assert schema_version is not None and schema_version[0] != "99"


async def test_a_path_outside_the_directory_is_refused_and_no_directory_is_made(
        connect: httpx.AsyncClient, worker: ConnectWorker, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
        ) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    other_app = elsewhere / "secrets.db"
    other_app.write_bytes(b"")
    for name, url in (("abs", f"jdbc:sqlite:{other_app}"), ("dotdot", f"jdbc:sqlite:../{elsewhere.name}/x.db"),
                      ("mkdir", f"jdbc:sqlite:{elsewhere}/new/deeper/x.db")):
        config = source_config(name, url)
        await connect.post("/connectors", json={"name": name, "config": {k: v for k, v in config.items()
                                                                          if k != "name"}}, headers=JSON)
        trace = await failed_trace(worker, name)
        assert "is outside" in trace.splitlines()[0]
    assert not (elsewhere / "new").exists() and not (elsewhere / "x.db").exists()


async def test_a_sink_may_create_directories_inside_its_directory(worker: ConnectWorker, cluster: Cluster,
                                                                  data_path: Path) -> None:
    await cluster.topics.create_topic("t", 1, 1)
    await worker.create_connector(sink_config("inside", "jdbc:sqlite:nested/dir/target.db", "t",
                                              **{"auto.create": "true"}))
    await wait_until(lambda: (data_path.parent / "nested" / "dir" / "target.db").exists(), "the target file")


async def test_the_directory_is_settable_with_an_environment_variable(
        cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = tmp_path_factory.mktemp("databases")
    monkeypatch.setenv("KPLAY_JDBC_SQLITE_DIR", str(chosen))
    assert ConnectWorker(cluster).base_dir == chosen.resolve()


async def test_closed_and_open_ports_fail_with_the_same_words(worker: ConnectWorker) -> None:
    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listening = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    open_port = listening.sockets[0].getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        lines = []
        for port in (open_port, closed_port):
            name = f"scan-{port}"
            url = f"jdbc:postgresql://127.0.0.1:{port}/db?user=u&connectTimeout=2"
            await worker.create_connector(source_config(name, url, **{"connection.attempts": "1"}))
            trace = await failed_trace(worker, name)
            lines.append(trace.replace(str(port), "PORT").splitlines()[0])
        assert lines[0] == lines[1]
        assert "refused" not in str(lines).lower() and "closed" not in str(lines).lower()
    finally:
        listening.close()


# -- Host, Origin, content type, size --------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8083", "127.0.0.1.nip.io"])
async def test_a_foreign_host_header_is_refused_by_both_apps(connect: httpx.AsyncClient, registry: httpx.AsyncClient,
                                                             host: str) -> None:
    assert "not a name of this server" in error_of(await connect.get("/connectors", headers={"Host": host}), 403)
    assert "not a name of this server" in error_of(await registry.get("/subjects", headers={"Host": host}), 403)


@pytest.mark.parametrize("host", ["localhost:8083", "127.0.0.1:8083", "[::1]:8083", "LOCALHOST"])
async def test_loopback_names_are_served(connect: httpx.AsyncClient, host: str) -> None:
    assert (await connect.get("/connectors", headers={"Host": host})).status_code == 200


async def test_a_cross_site_post_is_refused(connect: httpx.AsyncClient) -> None:
    response = await connect.post("/connectors/x/restart", headers={"Origin": "https://evil.example"})
    assert "Cross-origin" in error_of(response, 403)


async def test_the_registry_refuses_a_body_without_a_json_content_type(registry: httpx.AsyncClient) -> None:
    body = json.dumps({"schema": '"string"'}).encode()
    for headers in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}):
        response = await registry.post("/subjects/s/versions", content=body, headers=headers)
        assert error_of(response, 415) == "HTTP 415 Unsupported Media Type"
    for media_type in ("application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json",
                       "application/json"):
        response = await registry.post("/subjects/s/versions", content=body, headers={"Content-Type": media_type})
        assert response.status_code == 200, response.text
    assert (await registry.get("/subjects")).json() == ["s"]


async def test_a_body_over_the_limit_is_refused_before_it_is_read(registry: httpx.AsyncClient,
                                                                  connect: httpx.AsyncClient) -> None:
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    assert "larger than" in error_of(await registry.post("/subjects/s/versions", content=big,
                                                         headers=REGISTRY_JSON), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    assert "larger than" in error_of(await connect.post("/connectors", content=chunks(), headers=JSON), 413)


# -- nesting, ids, names ---------------------------------------------------------------------------

async def test_deeply_nested_schemas_and_bodies_are_422_not_500(registry: httpx.AsyncClient,
                                                                connect: httpx.AsyncClient) -> None:
    schema = '"string"'
    for depth in range(900):  # built as text: json.dumps itself cannot nest this deep
        schema = f'{{"type":"record","name":"R{depth}","fields":[{{"name":"f","type":{schema}}}]}}'
    response = await registry.post("/subjects/deep/versions", content=json.dumps({"schema": schema}),
                                   headers=REGISTRY_JSON)
    assert response.status_code == 422 and response.json()["error_code"] == 42201, response.text
    bomb = b'{"schema": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    response = await registry.post("/subjects/deep/versions", content=bomb, headers=REGISTRY_JSON)
    assert "nests deeper" in error_of(response, 422)
    # Kafka Connect answers a body Jackson cannot parse with 500 and the parser's words.
    response = await connect.post("/connectors", content=b"[" * 200_000 + b"]" * 200_000, headers=JSON)
    assert error_of(response, 500) == "Malformed JSON in the request body: nested too deeply"


async def test_an_id_beyond_a_java_int_is_a_plain_404(registry: httpx.AsyncClient) -> None:
    for path in ("/schemas/ids/99999999999999999999", "/schemas/ids/99999999999999999999/versions"):
        assert error_of(await registry.get(path), 404) == "HTTP 404 Not Found"


async def test_subjects_that_are_not_utf8_are_refused_rather_than_merged(registry: httpx.AsyncClient) -> None:
    for raw in ("/subjects/a%FF/versions", "/subjects/a%FE/versions"):
        response = await registry.post(raw, json={"schema": '"string"'}, headers=REGISTRY_JSON)
        assert "not valid UTF-8" in error_of(response, 400)
    assert (await registry.get("/subjects")).json() == []


async def test_a_real_server_checks_the_host_header(cluster: Cluster, data_path: Path) -> None:
    servers = await start_rest(cluster, host="127.0.0.1", schema_registry_port=0, connect_port=0)
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{servers.connect_url}/connectors")).status_code == 200
            refused = await http.get(f"{servers.schema_registry_url}/subjects", headers={"Host": "rebound.example"})
            assert refused.status_code == 403
            assert servers.worker.base_dir == data_path.parent.resolve()
    finally:
        await servers.stop()
