"""Everything ``kplay serve`` runs, started and stopped as one: the Kafka listeners and the REST APIs.

``kplay serve`` and ``kplay --serve`` (the TUI) both call ``start_servers`` on their open
cluster, in their own event loop:

    servers = await start_servers(cluster, port=9092, schema_registry_port=8081, connect_port=8083)
    print("\\n".join(servers.lines()))          # where each service listens
    ...
    await servers.stop()
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker_core import Cluster

from .credentials import Credentials
from .kafka_server import DEFAULT_HOST, DEFAULT_PORT, KafkaServer
from .log_rate_limit import install_rate_limit

DEFAULT_SCHEMA_REGISTRY_PORT = 8081
DEFAULT_CONNECT_PORT = 8083


def rest_available() -> bool:
    """Whether the Schema Registry and Connect REST half (``app.serve.rest``) is part of this kplay."""
    return importlib.util.find_spec("app.serve.rest") is not None


@dataclass
class RunningServers:
    """The running Kafka listeners and, if started, the REST servers (``rest``)."""

    kafka: KafkaServer
    rest: Any = None

    def bootstrap_servers(self) -> str:
        """``bootstrap.servers`` for clients: every running broker's address."""
        return ",".join(f"{host}:{port}" for host, port in self.kafka.advertised_endpoints().values())

    def lines(self) -> list[str]:
        """Where each service listens, one line each (stopped brokers say so)."""
        endpoints = self.kafka.advertised_endpoints()
        lines = [f"Kafka broker {broker_id}: " + (f"{endpoints[broker_id][0]}:{endpoints[broker_id][1]}"
                                                  if broker_id in endpoints else "stopped")
                 for broker_id in self.kafka.broker_ids]
        lines.append(f"bootstrap.servers={self.bootstrap_servers()}")
        if self.rest is not None:
            lines.append(f"Schema Registry: {self.rest.schema_registry_url}")
            lines.append(f"Kafka Connect: {self.rest.connect_url}")
        return lines

    async def stop(self) -> None:
        """Stop the REST servers, then the Kafka listeners."""
        try:
            if self.rest is not None:
                await self.rest.stop()
        finally:
            await self.kafka.close()


async def start_servers(cluster: Cluster, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                        schema_registry_port: int = DEFAULT_SCHEMA_REGISTRY_PORT,
                        connect_port: int = DEFAULT_CONNECT_PORT, advertised_host: str | None = None,
                        rest: bool = True, worker: Any = None, base_dir: Path | None = None,
                        replicate: bool = True, credentials: Credentials | None = None) -> RunningServers:
    """Start the Kafka listeners, then (``rest``, when this kplay has them) the REST APIs.

    ``worker``: a Connect worker the caller already runs (the TUI's), else the REST half
    starts its own. ``replicate``: run the replica fetcher (False when the caller, like
    the TUI, runs it already). ``credentials``: the users who may connect, required on
    every listener (SASL) and REST API (basic auth); None leaves them open. Raises
    ``OSError`` naming the service and address when a port cannot be bound; nothing is
    left running then.
    """
    # One warning per malformed request would let a fuzzer flood the log.
    install_rate_limit(logging.getLogger("kplay.serve"))
    kafka = KafkaServer(cluster, host=host, port=port, advertised_host=advertised_host, replicate=replicate,
                        credentials=credentials)
    await kafka.start()
    servers = RunningServers(kafka)
    if rest and rest_available():
        from .rest import start_rest

        try:
            servers.rest = await start_rest(cluster, host=host, schema_registry_port=schema_registry_port,
                                            connect_port=connect_port, worker=worker, base_dir=base_dir,
                                            credentials=credentials)
        except BaseException:
            await kafka.close()
            raise
    return servers
