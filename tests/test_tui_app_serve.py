"""``kplay --serve``: the Kafka listeners and the REST APIs run inside the TUI's process.

Everything runs in the test's event loop with the app, so clients here talk to the
servers with asyncio streams (a blocking socket would stop the very loop that answers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from pathlib import Path

import pytest

from app.screens.main import MainScreen
from app.screens.pipeline import PipelineScreen
from app.tui import PlaygroundApp, ServeSettings
from broker_core import Cluster
from test_connect import insert
from test_connect_support import Database, source_config, sqlite_db  # noqa: F401
from test_tui_app_support import screen_text, wait_until
from widgets.event_log import EventLog

#: Any free port for every service.
FREE_PORTS = ServeSettings(port=0, schema_registry_port=0, connect_port=0)


async def api_versions(port: int) -> tuple[int, int, int]:
    """One ApiVersions v0 round trip: (correlation id, error code, number of APIs advertised)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        client_id = b"tui-test"
        body = struct.pack(">hhih", 18, 0, 42, len(client_id)) + client_id
        writer.write(struct.pack(">i", len(body)) + body)
        await writer.drain()
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        answer = await reader.readexactly(size)
        correlation, error, count = struct.unpack_from(">ihi", answer)
        return correlation, error, count
    finally:
        writer.close()


async def http(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, object]:
    """A plain HTTP/1.1 request (as curl sends it): status code and JSON body."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] if url.count("/") > 2 else "/"
    payload = json.dumps(body).encode() if body is not None else b""
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(content) if content else None


def refused(port: int) -> bool:
    """Whether nothing listens on the port any more."""
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_serve_starts_listeners_and_rest_apis_in_the_tui_process_and_closes_them_on_exit(
        cluster: Cluster, sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    await insert(sqlite_db, 5)
    app = PlaygroundApp(cluster, keymap={}, serve=FREE_PORTS)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        servers = app.servers
        ports = {broker: port for broker, (_, port) in servers.kafka.advertised_endpoints().items()}
        assert sorted(ports) == [0, 1, 2] and all(ports.values())
        # A real client's first request, answered by the listener inside the app.
        correlation, error, count = await api_versions(ports[0])
        assert (correlation, error) == (42, 0) and count > 10
        # The addresses are on screen: the header and the event log.
        bootstrap = servers.bootstrap_servers()
        await wait_until(pilot, lambda: f"bootstrap.servers={bootstrap}" in app.screen.query_one(EventLog).lines[-3],
                         "the addresses in the event log")
        assert f"Kafka {bootstrap}" in app.screen.sub_title
        assert servers.rest.schema_registry_url in app.screen.sub_title

        # The Schema Registry and Connect REST APIs answer as Confluent's do ...
        assert await http(f"{servers.rest.schema_registry_url}/subjects") == (200, [])
        # ... and a connector posted with curl runs in the TUI's own Connect worker.
        assert servers.rest.worker is app.connect.worker
        posted = {"name": "jdbc-source", "config": {k: v for k, v in source_config("s", sqlite_db.url).items()
                                                    if k != "name"}}
        status, created = await http(f"{servers.rest.connect_url}/connectors", "POST", posted)
        assert status == 201 and created["name"] == "jdbc-source"
        await wait_until(pilot, lambda: app.connect.running and "jdbc-source" in app.connect.worker.connectors_run_here(),
                         "the worker running the posted connector", 30)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen)
                         and "jdbc-source  source  RUNNING" in screen_text(pilot), "the connector on screen", 30)
        assert f"Kafka Connect: {servers.rest.connect_url}" in screen_text(pilot)
        await pilot.press("escape")

        # Log records of the servers go to the event log, not to the terminal.
        await cluster.controller.stop_broker(1)
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: any("kplay serve: broker 1 stopped: its listener is closed" in line
                                            for line in log.lines), "the listener's log record")
        logging.getLogger("uvicorn.error").warning("a warning from uvicorn")
        # Any line, not the last: the stopped broker's clients may log after it (seen in a full run).
        await wait_until(pilot, lambda: any("warning: uvicorn.error: a warning from uvicorn" in line
                                            for line in log.lines), "uvicorn's record")
        assert refused(ports[1])
    # Closing the app closed every listener and both REST servers, and stopped routing logs there.
    assert all(refused(port) for port in ports.values())
    assert refused(servers.rest.schema_registry_port) and refused(servers.rest.connect_port)
    assert not any(type(h).__name__ == "EventLogHandler" for h in logging.getLogger().handlers)


async def test_a_port_in_use_ends_the_app_at_once_saying_which(cluster: Cluster) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = PlaygroundApp(cluster, keymap={}, serve=ServeSettings(port=port, schema_registry_port=0, connect_port=0))
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: app.failure is not None, "the failure")
    # run_playground prints this one line on stderr once the terminal is back, and exits 1.
    assert app.failure is not None and "\n" not in app.failure
    assert app.failure.startswith(f"Cannot serve Kafka broker 0 on 127.0.0.1:{port}:")
    assert app.return_code == 1 and app.servers is None
