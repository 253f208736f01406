"""What a request handler knows about its request, and the error codes only the wire needs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from broker_core import Cluster
from broker_core.errors import KafkaError

if TYPE_CHECKING:
    from ..kafka_server import KafkaServer


class WireError(IntEnum):
    """Kafka error codes that belong to the protocol (where the listener stands), not to the core."""

    NONE = 0
    UNKNOWN_SERVER_ERROR = -1
    LEADER_NOT_AVAILABLE = 5
    COORDINATOR_NOT_AVAILABLE = 15
    UNSUPPORTED_VERSION = 35


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

    server: "KafkaServer"
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


#: A handler turns a decoded request into its response, or None when Kafka sends none (acks=0).
Handler = Callable[[RequestContext, Any], Awaitable[Any]]
