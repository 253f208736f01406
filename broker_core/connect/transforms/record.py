"""The record single message transforms see: Kafka Connect's ``ConnectRecord``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..data import ConnectData


@dataclass(frozen=True)
class ConnectRecord:
    """A source record on its way to Kafka, or a sink record on its way to the database.

    ``key`` and ``value`` are Connect data (a flat struct with its schema, or a
    schemaless value); ``offset`` is None for source records, as in Kafka.
    """

    topic: str
    partition: int | None
    key: ConnectData
    value: ConnectData
    timestamp: int | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    offset: int | None = None

    def with_key(self, key: ConnectData) -> "ConnectRecord":
        """This record with another key."""
        return replace(self, key=key)

    def with_value(self, value: ConnectData) -> "ConnectRecord":
        """This record with another value."""
        return replace(self, value=value)

    def with_topic(self, topic: str) -> "ConnectRecord":
        """This record routed to another topic."""
        return replace(self, topic=topic)

    def part(self, which: str) -> ConnectData:
        """The key (``which="key"``) or the value."""
        return self.key if which == "key" else self.value

    def with_part(self, which: str, data: ConnectData) -> "ConnectRecord":
        """This record with its key or value replaced."""
        return self.with_key(data) if which == "key" else self.with_value(data)


def as_plain(data: ConnectData) -> Any:
    """A schemaless view of Connect data (a struct's fields as a dict)."""
    return dict(data.value) if data.schema is not None and data.value is not None else data.value
