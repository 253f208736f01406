"""The REST half of ``kplay serve``: the Schema Registry on :8081 and Kafka Connect on :8083.

Both are Starlette apps served by uvicorn inside the caller's event loop, next to the
Kafka listeners and (for ``kplay --serve``) the TUI, all over the one open ``Cluster``:

    servers = await start_rest(cluster, host="127.0.0.1", schema_registry_port=8081, connect_port=8083)
    ...                                  # servers.schema_registry_url, servers.connect_url
    await servers.stop()

``start_rest`` binds both ports before it returns (a port in use is an ``OSError``
naming the service and the address), and starts a Connect worker so connectors created
through the API run while the servers do. Signals stay with the caller: uvicorn's own
Ctrl-C handling is switched off, and ``stop()`` is how the servers end.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from broker_core.connect import ConnectWorker

from .basic_auth import BasicAuth
from .connect_api import connect_app
from .credentials import Credentials
from .rest_guards import RequestGuard
from .schema_registry_api import schema_registry_app

if TYPE_CHECKING:
    from broker_core import Cluster

#: How long ``start_rest`` waits for uvicorn to accept connections before giving up.
STARTUP_TIMEOUT_S = 10.0
#: How long ``stop()`` lets requests in flight finish.
SHUTDOWN_TIMEOUT_S = 5.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to the program it runs in."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would take over Ctrl-C and re-raise it when it stops; `kplay serve` and the
        # TUI decide themselves when the servers end.
        yield


class _IgnoringTrailingSlash:
    """``/connectors/`` is ``/connectors``, as in Jersey (Starlette would answer a redirect)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


@dataclass
class RestServers:
    """The running Schema Registry and Connect servers; ``stop()`` ends both (and the worker)."""

    host: str
    schema_registry_port: int
    connect_port: int
    worker: ConnectWorker
    _servers: list[uvicorn.Server] = field(default_factory=list, repr=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _owns_worker: bool = field(default=True, repr=False)

    @property
    def schema_registry_url(self) -> str:
        """The registry's base URL, as clients configure it (``schema.registry.url``)."""
        return f"http://{_url_host(self.host)}:{self.schema_registry_port}"

    @property
    def connect_url(self) -> str:
        """Kafka Connect's base URL (``curl $URL/connectors``)."""
        return f"http://{_url_host(self.host)}:{self.connect_port}"

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, then stop the worker if it was started here."""
        for server in self._servers:
            server.should_exit = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._owns_worker:
            await self.worker.stop()


async def start_rest(cluster: "Cluster", *, host: str, schema_registry_port: int, connect_port: int,
                     worker: ConnectWorker | None = None, base_dir: Path | None = None,
                     credentials: Credentials | None = None) -> RestServers:
    """Serve the Schema Registry and Kafka Connect REST APIs over ``cluster`` in this event loop.

    Port 0 picks a free port (read the real one from the result). ``worker``: a Connect
    worker the caller already runs (the TUI's), else one is made and started here, with
    ``jdbc:sqlite:`` files confined to ``base_dir`` (by default beside the data file, or
    ``$KPLAY_JDBC_SQLITE_DIR``), and stopped by ``stop()``. Raises ``OSError`` if a port cannot be bound.
    With ``credentials`` both APIs require HTTP basic auth (``basic_auth.py``), checked first.
    """
    registry_socket = _bind("Schema Registry", host, schema_registry_port)
    try:
        connect_socket = _bind("Kafka Connect", host, connect_port)
    except OSError:
        registry_socket.close()
        raise
    owns_worker = worker is None
    if worker is None:
        worker = ConnectWorker(cluster, base_dir=base_dir)
    servers = RestServers(host, registry_socket.getsockname()[1], connect_socket.getsockname()[1], worker,
                          _owns_worker=owns_worker)
    try:
        if owns_worker:
            await worker.start()
        for name, app, sock in (("schema-registry", schema_registry_app(cluster.schemas), registry_socket),
                                ("connect", connect_app(worker), connect_socket)):
            guarded = BasicAuth.wrap(RequestGuard(app, bound_host=host), credentials)
            server = _EmbeddedServer(_config(guarded))
            servers._servers.append(server)
            servers._tasks.append(asyncio.create_task(server.serve(sockets=[sock]), name=f"kplay-rest-{name}"))
        await _until_started(servers)
    except BaseException:
        await servers.stop()
        # uvicorn's asyncio servers close the sockets they took; these close the ones it never took.
        registry_socket.close()
        connect_socket.close()
        raise
    return servers


def _config(app: ASGIApp) -> uvicorn.Config:
    # No logging set-up of uvicorn's own (it would write to a terminal the TUI owns), no
    # access log, no lifespan (the apps have nothing to start).
    return uvicorn.Config(_IgnoringTrailingSlash(app), log_config=None, log_level="warning", access_log=False,
                          lifespan="off", timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S, server_header=False)


def _bind(service: str, host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port``; ``OSError`` naming the service if it is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"Cannot serve {service} on {host}:{port}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"Cannot serve {service} on {host}:{port}: {exc.strerror}") from None
    return sock


async def _until_started(servers: RestServers) -> None:
    """Wait, with a deadline, until every uvicorn server accepts connections."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not all(server.started for server in servers._servers):
        for task in servers._tasks:
            if task.done():
                failure: Any = task.exception() if not task.cancelled() else None
                raise RuntimeError(f"A REST server stopped while starting: {failure or 'cancelled'}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"The REST servers did not start within {STARTUP_TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.01)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
