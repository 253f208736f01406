"""confluent-kafka's errors as the core's ``KafkaError`` classes, so both backends fail alike.

A broker's error code (positive) becomes the core's class with that code (``TopicAlreadyExists``
for 36, ...), keeping the broker's message. librdkafka's own errors (negative codes: transport,
authentication, TLS, name resolution, timeouts) become ``ClusterUnreachable`` with the cause
in one line, the broker's address and librdkafka's "(after 0ms in state X)" left out.
"""

from __future__ import annotations

import re

from confluent_kafka import KafkaError as ClientError
from confluent_kafka import KafkaException

from broker_core import errors as core_errors
from broker_core.errors import KafkaError

from .interface import ClusterUnreachable


def _classes_by_code() -> dict[int, type[KafkaError]]:
    found: dict[int, type[KafkaError]] = {}
    for value in vars(core_errors).values():
        if isinstance(value, type) and issubclass(value, KafkaError) and value.code > 0:
            found.setdefault(value.code, value)
    return found


CLASSES_BY_CODE = _classes_by_code()

#: librdkafka's errors that mean the cluster cannot be used from here at all.
CONNECTION_CODES = frozenset({ClientError._TRANSPORT, ClientError._ALL_BROKERS_DOWN, ClientError._AUTHENTICATION,
                              ClientError._SSL, ClientError._RESOLVE, ClientError._TIMED_OUT,
                              ClientError.SASL_AUTHENTICATION_FAILED, ClientError._MSG_TIMED_OUT})
#: Of those, the ones worth stopping for at once (retrying cannot help): a wrong password, a TLS
#: mismatch, a host name that does not resolve, every broker refusing connections.
DECISIVE_CODES = frozenset({ClientError._AUTHENTICATION, ClientError._SSL, ClientError._RESOLVE,
                            ClientError._ALL_BROKERS_DOWN, ClientError.SASL_AUTHENTICATION_FAILED})

_BROKER_PREFIX = re.compile(r"^[a-z_]+://[^ ]*?/(?:bootstrap|\d+): |^[^ /]+:\d+/(?:bootstrap|\d+): ")
_STATE_SUFFIX = re.compile(r" \(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) suppressed)?\)$")


def cause_text(error: ClientError) -> str:
    """librdkafka's message for ``error`` without the broker address prefix and state suffix."""
    text = _STATE_SUFFIX.sub("", _BROKER_PREFIX.sub("", error.str() or error.name()))
    return text.strip()


def as_kafka_error(error: BaseException | ClientError, *, where: str = "") -> BaseException:
    """The core's ``KafkaError`` for a client error (other exceptions are returned unchanged)."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], ClientError):
        error = error.args[0]
    if not isinstance(error, ClientError):
        return error
    code = error.code()
    if code in CONNECTION_CODES:
        return ClusterUnreachable(f"{where}{cause_text(error)}" if where else cause_text(error))
    cls = CLASSES_BY_CODE.get(code)
    message = error.str() or error.name()
    if cls is None:
        generic = KafkaError(message)
        generic.name, generic.code = error.name(), code
        return generic
    return cls(message)
