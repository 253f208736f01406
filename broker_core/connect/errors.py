"""Kafka Connect's errors, as its REST API reports them.

They are not broker errors (no Kafka error code): each carries the HTTP status Kafka
Connect's REST API answers with, so a REST front can map them without a table of its own.
"""

from __future__ import annotations

from ..errors import KafkaError


class ConnectError(KafkaError):
    """Base of Kafka Connect's errors (``org.apache.kafka.connect.errors.ConnectException``)."""

    name = "CONNECT_ERROR"
    http_status = 500


class ConnectorNotFound(ConnectError):
    """No connector of that name (``NotFoundException``, HTTP 404)."""

    name = "NOT_FOUND"
    http_status = 404


class ConnectorAlreadyExists(ConnectError):
    """A connector of that name exists already (``AlreadyExistsException``, HTTP 409)."""

    name = "ALREADY_EXISTS"
    http_status = 409


class ConnectorConfigInvalid(ConnectError):
    """A connector config was refused; the message names the key (HTTP 400)."""

    name = "BAD_REQUEST"
    http_status = 400
