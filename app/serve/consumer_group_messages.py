"""ConsumerGroupHeartbeat's request and error response, coded by hand.

kafka-python 3.0 has no classes for KIP-848's APIs. kplay answers ConsumerGroupHeartbeat
only with an error for now (``apis/consumer_group_heartbeat.py``), so the request's
header is all that is read, and the response is an error with no member and no
assignment. Both are flexible: request header v2, response header v1.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass
class _Header:
    client_id: str | None


class ConsumerGroupHeartbeatRequest:
    """The request's header (v2, flexible); the body is not read."""

    def __init__(self, header: _Header) -> None:
        self.header = header

    @classmethod
    def decode(cls, frame: bytes, header: bool = True) -> "ConsumerGroupHeartbeatRequest":
        """Read the request header's client id (api key, version and correlation id come first)."""
        (length,) = struct.unpack_from(">h", frame, 8)
        if length < 0:
            return cls(_Header(None))
        if 10 + length > len(frame):
            raise ValueError("client id runs past the end of the request")
        return cls(_Header(frame[10:10 + length].decode("utf-8")))


class ConsumerGroupHeartbeatResponse:
    """An error answer: no member id, epoch -1, no assignment."""

    def __init__(self, error_code: int, error_message: str) -> None:
        self.error_code = error_code
        self.error_message = error_message
        self._correlation_id = 0

    def with_header(self, correlation_id: int = 0) -> None:
        """Set the correlation id of the response header."""
        self._correlation_id = correlation_id

    def encode(self, header: bool = True, framed: bool = True) -> bytes:
        """Response header v1 (correlation id, no tags), then the flexible body."""
        message = self.error_message.encode()
        body = (struct.pack(">i", self._correlation_id) + b"\x00"
                + struct.pack(">ih", 0, self.error_code)
                + _unsigned_varint(len(message) + 1) + message
                + b"\x00"                       # member id: null
                + struct.pack(">ii", -1, 0)     # member epoch, heartbeat interval
                + b"\xff"                       # assignment: null
                + b"\x00")                      # no tagged fields
        return struct.pack(">i", len(body)) + body


def _unsigned_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
