"""The broker-level configs the Kafka listeners apply, with Kafka's names and defaults."""

from __future__ import annotations

from dataclasses import dataclass

#: Kafka's ``socket.request.max.bytes`` default: a larger request closes the connection.
SOCKET_REQUEST_MAX_BYTES = 104_857_600
#: Kafka's ``connections.max.idle.ms`` default: a connection silent this long is closed.
CONNECTIONS_MAX_IDLE_MS = 600_000
#: Kafka's ``group.consumer.session.timeout.ms`` and ``group.consumer.heartbeat.interval.ms``
#: defaults: with the KIP-848 protocol the broker, not the client, sets both.
GROUP_CONSUMER_SESSION_TIMEOUT_MS = 45_000
GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS = 5_000
#: Kafka's ``max.incremental.fetch.session.cache.slots`` default: fetch sessions per broker.
MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS = 1000


@dataclass(frozen=True)
class BrokerSettings:
    """The broker-level configs the listeners apply, with Kafka's names and defaults."""

    auto_create_topics_enable: bool = True
    num_partitions: int = 1
    default_replication_factor: int = 1
    socket_request_max_bytes: int = SOCKET_REQUEST_MAX_BYTES
    connections_max_idle_ms: int = CONNECTIONS_MAX_IDLE_MS
    group_consumer_session_timeout_ms: int = GROUP_CONSUMER_SESSION_TIMEOUT_MS
    group_consumer_heartbeat_interval_ms: int = GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS
    max_incremental_fetch_session_cache_slots: int = MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS
