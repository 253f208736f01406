"""Topic ids on the wire: the core keeps each topic's id as Kafka shows it (URL-safe base64 of
a UUID, 22 characters); the protocol carries the 16 bytes."""

from __future__ import annotations

import base64
import binascii
import uuid


def wire_topic_id(text: str) -> uuid.UUID:
    """The UUID of a topic id as the core keeps it (the zero id if it is not one)."""
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return uuid.UUID(int=0)
