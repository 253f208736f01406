"""What a request handler knows about its request, and the error codes only the wire needs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Awaitable, Callable, Protocol

from broker_core import Cluster
from broker_core.errors import KafkaError

from ..broker_settings import BrokerSettings
from ..credentials import Credentials
from ..fetch_sessions import FetchSessionCaches
from ..leadership import LeadershipView
from ..offsets_snapshot import OffsetsSnapshots
from ..producer_state import ProducerStateTable


class ServerView(Protocol):
    """What a handler (and a connection) may ask of the listeners' server (``KafkaServer``).

    A protocol rather than the class, so that the handlers do not import the server that
    imports them.
    """

    cluster: Cluster
    settings: BrokerSettings
    leadership: LeadershipView
    #: Each broker's incremental fetch sessions (KIP-227).
    fetch_sessions: FetchSessionCaches
    #: Topics' partition offsets as of the last commit (ListOffsets' EARLIEST and LATEST).
    offsets_snapshots: OffsetsSnapshots
    producers: ProducerStateTable
    broker_ids: list[int]
    #: The users who may connect, when the listeners require SASL (None: no authentication).
    credentials: Credentials | None

    def live_brokers(self) -> set[int]:
        """Brokers whose listener is open."""

    def advertised_endpoints(self) -> dict[int, tuple[str, int]]:
        """Broker id -> (host, port) that clients connect to."""

    def stopped_endpoints(self) -> dict[int, tuple[str, int]]:
        """Broker id -> (host, port) of the stopped brokers, where they would listen."""

    def coordinator_for(self, group_id: str) -> int | None:
        """The broker that coordinates ``group_id``, or None while every broker is stopped."""

    def broker_config(self, broker_id: int) -> list[tuple[str, Any, str, str, bool]]:
        """Broker ``broker_id``'s configs as (name, value, type, doc, set-by-kplay-serve) rows."""


class WireError(IntEnum):
    """Kafka error codes that belong to the protocol (where the listener stands), not to the core."""

    NONE = 0
    UNKNOWN_SERVER_ERROR = -1
    LEADER_NOT_AVAILABLE = 5
    COORDINATOR_NOT_AVAILABLE = 15
    UNSUPPORTED_SASL_MECHANISM = 33
    ILLEGAL_SASL_STATE = 34
    UNSUPPORTED_VERSION = 35
    INVALID_REQUEST = 42
    SASL_AUTHENTICATION_FAILED = 58
    GROUP_ID_NOT_FOUND = 69
    UNKNOWN_TOPIC_ID = 100


class CloseConnection(Exception):
    """Kafka closes this client's connection rather than answer (for example a failed acks=0 produce)."""


def error_code(error: BaseException) -> int:
    """The wire code of an error raised by the core (UNKNOWN_SERVER_ERROR for anything else)."""
    if isinstance(error, KafkaError):
        return error.code
    return WireError.UNKNOWN_SERVER_ERROR


def error_message(error: BaseException) -> str:
    """The words sent with an error code, where the response has room for them."""
    return str(error) or type(error).__name__


@dataclass
class RequestContext:
    """One decoded request's surroundings: the server, the broker it reached, who sent it."""

    server: ServerView
    broker_id: int
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str
    client_host: str

    @property
    def cluster(self) -> Cluster:
        """The cluster behind every listener."""
        return self.server.cluster

    @property
    def version(self) -> int:
        """The request's API version (the response is encoded in the same one)."""
        return self.api_version


async def topic_names(ctx: RequestContext, topics: Any, by_id: bool) -> tuple[list[str | None], list[Any]]:
    """Each requested topic's name (None for an id no topic has) and the topics whose id is unknown.

    Before a request's topic-id version (``by_id`` False) the topics carry their names in
    ``topic``; from it (Fetch 13+) ids only, looked up in the leadership view.
    """
    if not by_id:
        return [topic.topic for topic in topics], []
    names: list[str | None] = []
    unknown = []
    for topic in topics:
        name = await ctx.server.leadership.topic_name(topic.topic_id)
        if name is None:
            unknown.append(topic)
        names.append(name)
    return names, unknown


#: A handler turns a decoded request into its response, or None when Kafka sends none (acks=0).
Handler = Callable[[RequestContext, Any], Awaitable[Any]]
