"""``KafkaServer``: Kafka's wire protocol in front of the data file, one listener per broker.

Each simulated broker gets its own TCP listener (127.0.0.1:9092, 9093, 9094 for brokers
0, 1, 2 by default), so the Metadata a client receives names real leaders at real
addresses. Stopping a broker (from the TUI, ``kplay brokers --stop`` in another terminal,
or anything else that writes to the data file) reaches the server through the change
feed: that broker's listener closes and its connections drop, as a crashed broker's
would; clients refresh their metadata and continue on the new leaders. Starting it
opens the listener again on the same port.

    async with KafkaServer(cluster, port=9092) as server:
        print(server.advertised_endpoints())
        await asyncio.Event().wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from types import TracebackType
from typing import Any, Mapping

from broker_core import Cluster
from broker_core.config import MESSAGE_MAX_BYTES_DEFAULT
from broker_core.events import Event
from broker_core.groups import GROUP_MAX_SESSION_TIMEOUT_MS, GROUP_MIN_SESSION_TIMEOUT_MS

from .broker_settings import BrokerSettings
from .connection import ClientConnection
from .credentials import Credentials
from .group_placement import coordinator_among
from .fetch_sessions import FetchSessionCaches
from .leadership import LeadershipView
from .offsets_snapshot import OffsetsSnapshots
from .partition_changes import PartitionChangeLog
from .producer_state import ProducerStateTable
from .sasl import ENABLED_MECHANISMS

log = logging.getLogger("kplay.serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9092
#: Addresses that mean "every interface": clients cannot connect to them, so the
#: listeners advertise the machine's host name instead.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
#: Feed events after which the cached partition leaders may be wrong.
LEADERSHIP_EVENTS = ("leader_elected", "topic_created", "topic_deleted", "partitions_added", "broker_state",
                     "log_truncated", "resync")


class KafkaServer:
    """Listeners for every broker of ``cluster``, answering Kafka's protocol.

    ``port`` is broker 0's port; broker N listens on ``port + N`` (``port`` 0: any free
    ports). ``ports`` maps broker ids to ports instead (0: any free port). A port chosen by
    the system is kept across a broker's stop and start. ``advertised_host`` is what
    Metadata tells clients (Kafka's ``advertised.listeners``), by default ``host``.
    ``replicate`` runs the replica fetcher in the background, as the TUI does (a caller
    that runs it already passes False). With ``credentials`` every listener is
    SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and a client must authenticate
    before any request but ApiVersions; without them it is PLAINTEXT.
    """

    def __init__(self, cluster: Cluster, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 ports: Mapping[int, int] | None = None, advertised_host: str | None = None,
                 settings: BrokerSettings | None = None, replicate: bool = True,
                 credentials: Credentials | None = None) -> None:
        self.cluster = cluster
        self.credentials = credentials
        self.host = host
        # Kafka's advertised.listeners: a wildcard address is no place to connect to.
        self.advertised_host = advertised_host or (socket.gethostname() if host in WILDCARD_HOSTS else host)
        self.settings = settings or BrokerSettings()
        # KIP-848 groups' timers are the broker's settings; each member keeps the session
        # timeout it joined with, so other processes on the data file expire it alike.
        cluster.groups.consumer_groups.session_timeout_ms = self.settings.group_consumer_session_timeout_ms
        cluster.groups.consumer_groups.heartbeat_interval_ms = self.settings.group_consumer_heartbeat_interval_ms
        self.leadership = LeadershipView(cluster)
        self.fetch_sessions = FetchSessionCaches(self.settings.max_incremental_fetch_session_cache_slots)
        self.offsets_snapshots = OffsetsSnapshots(cluster)
        self.partition_changes = PartitionChangeLog(cluster.feed, on_leadership_change=self.leadership.invalidate)
        self.producers = ProducerStateTable()
        self.broker_ids: list[int] = []
        self._base_port = port
        self._ports: dict[int, int] = dict(ports or {})
        self._listeners: dict[int, asyncio.Server] = {}
        self._connections: dict[int, set[ClientConnection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._replicate = replicate
        self._fetcher: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open a listener for every running broker and follow broker changes from then on.

        Raises OSError when a port cannot be bound (for example, already in use).
        """
        await self.cluster.start_feed()
        self.partition_changes.start()
        # Subscribe before reading the brokers, so that no change between the two is missed.
        events = self.cluster.feed.subscribe(*LEADERSHIP_EVENTS)
        try:
            brokers = await self.cluster.controller.brokers()
            self.broker_ids = [b.broker_id for b in brokers]
            for broker in brokers:
                self._ports.setdefault(broker.broker_id, self._base_port + broker.broker_id if self._base_port else 0)
            for broker in brokers:
                if broker.alive:
                    await self._open(broker.broker_id)
        except BaseException:
            events.close()
            await self.close()
            raise
        self._watcher = asyncio.create_task(self._follow(events), name="kplay-serve-brokers")
        if self._replicate:
            # The brokers' replica fetchers: followers copy from leaders in the background, so
            # that with a replication delay the high watermark moves without a new produce.
            self._fetcher = asyncio.create_task(self.cluster.controller.fetcher.run(), name="kplay-serve-fetcher")

    async def close(self) -> None:
        """Close every listener and connection."""
        for task in (self._watcher, self._fetcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._watcher = self._fetcher = None
        self.partition_changes.close()
        for broker_id in list(self._listeners):
            self._close_listener(broker_id, stopped=False)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> "KafkaServer":
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- what the handlers ask ------------------------------------------------------------
    @property
    def security_protocol(self) -> str:
        """The listeners' security protocol, as clients' ``security.protocol`` names it."""
        return "SASL_PLAINTEXT" if self.credentials is not None else "PLAINTEXT"

    def live_brokers(self) -> set[int]:
        """Brokers whose listener is open (the running ones)."""
        return set(self._listeners)

    def advertised_endpoints(self) -> dict[int, tuple[str, int]]:
        """Broker id -> (host, port) that clients should connect to, for running brokers."""
        return {broker_id: (self.advertised_host, self._ports[broker_id]) for broker_id in sorted(self._listeners)}

    def stopped_endpoints(self) -> dict[int, tuple[str, int]]:
        """Broker id -> (host, port) of the stopped brokers, where they listen once started."""
        return {broker_id: (self.advertised_host, self._ports[broker_id]) for broker_id in self.broker_ids
                if broker_id not in self._listeners and broker_id in self._ports}

    def coordinator_for(self, group_id: str) -> int | None:
        """The broker that coordinates ``group_id`` (or a transactional id), or None while every
        broker is stopped (``coordinator_among``)."""
        return coordinator_among(group_id, self.broker_ids, self._listeners)

    def broker_config(self, broker_id: int) -> list[tuple[str, Any, str, str, bool]]:
        """Broker ``broker_id``'s configs as (name, value, type, doc, set-by-kplay-serve) rows."""
        defaults = BrokerSettings()
        s = self.settings
        protocol = self.security_protocol
        listener = f"{protocol}://{self.host}:{self._ports.get(broker_id, 0)}"
        advertised = f"{protocol}://{self.advertised_host}:{self._ports.get(broker_id, 0)}"
        return [
            ("broker.id", broker_id, "int", "The broker's id.", True),
            ("listeners", listener, "string", "Where this broker listens.", True),
            ("advertised.listeners", advertised, "string", "Where clients are told to connect.", True),
            ("sasl.enabled.mechanisms", ",".join(ENABLED_MECHANISMS) if self.credentials else "", "list",
             "The SASL mechanisms the listeners accept.", self.credentials is not None),
            ("auto.create.topics.enable", s.auto_create_topics_enable, "bool",
             "Create a topic that Metadata asks for and that does not exist.",
             s.auto_create_topics_enable != defaults.auto_create_topics_enable),
            ("num.partitions", s.num_partitions, "int", "Partitions of an auto-created topic.",
             s.num_partitions != defaults.num_partitions),
            ("default.replication.factor", s.default_replication_factor, "int",
             "Replication factor of an auto-created topic.",
             s.default_replication_factor != defaults.default_replication_factor),
            ("socket.request.max.bytes", s.socket_request_max_bytes, "int",
             "Largest request accepted; a larger one closes the connection.",
             s.socket_request_max_bytes != defaults.socket_request_max_bytes),
            ("connections.max.idle.ms", s.connections_max_idle_ms, "long",
             "A connection that sends nothing for this long is closed.",
             s.connections_max_idle_ms != defaults.connections_max_idle_ms),
            ("max.incremental.fetch.session.cache.slots", s.max_incremental_fetch_session_cache_slots, "int",
             "Incremental fetch sessions (KIP-227) a broker keeps at most.",
             s.max_incremental_fetch_session_cache_slots != defaults.max_incremental_fetch_session_cache_slots),
            ("message.max.bytes", MESSAGE_MAX_BYTES_DEFAULT, "int", "Largest record batch accepted.", False),
            ("group.min.session.timeout.ms", GROUP_MIN_SESSION_TIMEOUT_MS, "int",
             "Smallest session timeout a group member may ask for.", False),
            ("group.max.session.timeout.ms", GROUP_MAX_SESSION_TIMEOUT_MS, "int",
             "Largest session timeout a group member may ask for.", False),
            ("group.consumer.session.timeout.ms", s.group_consumer_session_timeout_ms, "int",
             "A consumer-protocol (KIP-848) member silent this long is fenced.",
             s.group_consumer_session_timeout_ms != defaults.group_consumer_session_timeout_ms),
            ("group.consumer.heartbeat.interval.ms", s.group_consumer_heartbeat_interval_ms, "int",
             "How often a consumer-protocol (KIP-848) member heartbeats.",
             s.group_consumer_heartbeat_interval_ms != defaults.group_consumer_heartbeat_interval_ms),
        ]

    # -- listeners ------------------------------------------------------------------------
    async def _open(self, broker_id: int) -> None:
        if broker_id in self._listeners:
            return
        try:
            server = await asyncio.start_server(functools.partial(self._accept, broker_id), self.host or None,
                                                self._ports[broker_id], reuse_address=True)
        except OSError as error:
            raise OSError(error.errno, f"Cannot serve Kafka broker {broker_id} on {self.host}:{self._ports[broker_id]}: "
                                       f"{os.strerror(error.errno) if error.errno else error}") from None
        # With port 0 the system chose one: keep it, so the broker comes back at the same address.
        self._ports[broker_id] = server.sockets[0].getsockname()[1]
        self._listeners[broker_id] = server
        self._connections.setdefault(broker_id, set())
        log.info("broker %d listening on %s:%d", broker_id, self.host, self._ports[broker_id])

    def _close_listener(self, broker_id: int, *, stopped: bool = True) -> None:
        """Close a broker's listener and drop its clients (``stopped``: because the broker stopped)."""
        server = self._listeners.pop(broker_id, None)
        if server is None:
            return
        server.close()
        for connection in list(self._connections.get(broker_id, ())):
            connection.close()
        self.fetch_sessions.drop(broker_id)  # a broker's sessions live in its memory
        if stopped:
            log.info("broker %d stopped: its listener is closed", broker_id)

    async def _accept(self, broker_id: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if broker_id not in self._listeners:  # accepted just as the broker stopped
            writer.transport.abort()
            return
        connection = ClientConnection(self, broker_id, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._connections[broker_id].add(connection)
        try:
            await connection.run()
        except asyncio.CancelledError:
            # The server is stopping. Python 3.11's start_server callback calls exception() on
            # a cancelled handler task, which raises and prints a traceback: end normally.
            return
        finally:
            self._connections[broker_id].discard(connection)
            self._tasks.discard(task)

    # -- following the cluster ------------------------------------------------------------
    async def _follow(self, events: Any) -> None:
        try:
            while True:
                batch = [await events.get(), *events.get_nowait()]
                self.leadership.invalidate()
                for event in batch:
                    await self._apply(event)
        finally:
            events.close()

    async def _apply(self, event: Event) -> None:
        try:
            if event.kind == "broker_state":
                if getattr(event, "alive"):
                    await self._open(getattr(event, "broker"))
                else:
                    self._close_listener(getattr(event, "broker"))
            elif event.kind == "resync":
                await self._reconcile()
        except OSError as error:
            log.error("broker %s could not listen again: %s", getattr(event, "broker", "?"), error)
        except Exception:  # the listeners must keep following the cluster whatever one event did
            log.exception("could not apply %s", event)

    async def _reconcile(self) -> None:
        """After missed events: make the listeners match the brokers' states again."""
        for broker in await self.cluster.controller.brokers():
            if broker.alive:
                await self._open(broker.broker_id)
            else:
                self._close_listener(broker.broker_id)
