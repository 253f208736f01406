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
    """A connector config was refused; the message names the key (HTTP 400).

    ``errors``: each problem on its own, when the config was checked key by key (the
    REST API lists them one a line, as Kafka Connect does).
    """

    name = "BAD_REQUEST"
    http_status = 400

    def __init__(self, message: str = "", errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors

    def rest_message(self) -> str:
        """The message as Kafka Connect's REST API words it: one error a line, then where to find them."""
        if not self.errors:
            return self.message
        return (f"Connector configuration is invalid and contains the following {len(self.errors)} error(s):\n"
                + "\n".join(self.errors)
                + "\nYou can also find the above list of errors at the endpoint "
                "`/connector-plugins/{connectorType}/config/validate`")


class DataError(ConnectError):
    """A record cannot be converted (Kafka Connect's ``DataException``)."""

    name = "DATA_EXCEPTION"
