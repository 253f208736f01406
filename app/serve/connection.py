"""One client's connection to one broker's listener: frames in, responses out, in order.

Kafka's framing is a 4-byte big-endian size, then the request: a header (API key,
version, correlation id, client id) and the body. Requests on a connection are
answered one at a time in the order they came, as a Kafka broker mutes a channel until
its response is sent. Whatever one client does wrong (a size above
``socket.request.max.bytes``, an unknown API key or version, bytes that do not decode,
a disconnect half-way through, silence longer than ``connections.max.idle.ms``) closes
that client's connection and nothing else, as Kafka's SocketServer does.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from kafka.protocol.schemas.fields.codecs import UUID, Boolean, Float64, Int8, Int16, Int32, Int64, UnsignedInt16

from .api_versions import SUPPORTED_APIS, ApiKey, api_name
from .apis import HANDLERS, CloseConnection, RequestContext, WireError, api_versions_body
from .apis.context import ServerView
from .authentication import SaslExchange
from .sasl import SaslAuthenticationFailed

log = logging.getLogger("kplay.serve")

_SIZE = struct.Struct(">i")
_HEADER_START = struct.Struct(">hhi")
#: The smallest request header: API key, version, correlation id and a null client id.
MIN_REQUEST_BYTES = 10


class ProtocolViolation(Exception):
    """The client sent something Kafka would close the connection over."""


class ClientConnection:
    """Serves one accepted connection until the client leaves or breaks the protocol."""

    def __init__(self, server: ServerView, broker_id: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.broker_id = broker_id
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.client_host = peer[0] if isinstance(peer, tuple) else str(peer or "")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.sasl = SaslExchange(server.credentials)
        self._close_after_response = False

    async def run(self) -> None:
        """Read, answer and write requests until the connection ends."""
        try:
            while True:
                frame = await self._read_frame()
                if frame is None:
                    return
                if self.sasl.raw_tokens and self.sasl.pending:
                    response: bytes | bytearray | None = self._raw_token(frame)
                else:
                    response = await self._answer(frame)
                if response is not None:
                    self._writer.write(response)
                    await self._writer.drain()
                if self._close_after_response:
                    raise CloseConnection("SASL authentication did not succeed")
        except ProtocolViolation as violation:
            log.warning("broker %d: closing connection from %s: %s", self.broker_id, self.peer, violation)
        except CloseConnection as reason:
            log.info("broker %d: closing connection from %s: %s", self.broker_id, self.peer, reason)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the client went away, perhaps half-way through a request
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in kplay: this client is dropped, the server goes on
            log.exception("broker %d: unexpected error serving %s; closing its connection", self.broker_id, self.peer)
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection at once (a stopped broker drops its clients mid-request)."""
        transport = self._writer.transport
        if not transport.is_closing():
            transport.abort()

    async def _read_frame(self) -> bytes | None:
        idle_s = self.server.settings.connections_max_idle_ms / 1000
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives with the data (CPython gh-86296), and a stopping broker would keep this loop going.
        try:
            async with asyncio.timeout(idle_s):
                prefix = await self._reader.readexactly(_SIZE.size)
        except asyncio.IncompleteReadError as partial:
            if partial.partial:
                raise
            return None  # a clean close between requests
        except TimeoutError:
            raise CloseConnection(f"idle for connections.max.idle.ms ({idle_s * 1000:.0f} ms)") from None
        size = _SIZE.unpack(prefix)[0]
        limit = self.server.settings.socket_request_max_bytes
        if size > limit:
            raise ProtocolViolation(f"request of {size} bytes is larger than socket.request.max.bytes ({limit})")
        if size < MIN_REQUEST_BYTES:
            raise ProtocolViolation(f"request size {size} is smaller than a request header")
        try:
            async with asyncio.timeout(idle_s):
                return await self._reader.readexactly(size)
        except TimeoutError:
            raise CloseConnection(f"a request of {size} bytes stayed incomplete for connections.max.idle.ms "
                                  f"({idle_s * 1000:.0f} ms)") from None

    def _raw_token(self, frame: bytes) -> bytes:
        """A SASL token after SaslHandshake v0: no Kafka header, the answer size-prefixed; a refusal closes."""
        try:
            token = self.sasl.evaluate(frame)
        except SaslAuthenticationFailed as refused:
            raise CloseConnection(f"SASL authentication failed: {refused}") from None
        return _SIZE.pack(len(token)) + token

    async def _answer(self, frame: bytes) -> bytes | bytearray | None:
        api_key, version, correlation_id = _HEADER_START.unpack_from(frame)
        spec = SUPPORTED_APIS.get(api_key)
        if self.sasl.pending and api_key not in _SASL_PHASE_APIS[self.sasl.state.value]:
            raise ProtocolViolation(f"unexpected {api_name(api_key)} request during SASL "
                                    f"{self.sasl.state.value}: authenticate first")
        if api_key == ApiKey.API_VERSIONS and spec is not None and version > spec.max_version:
            # A client newer than this broker: as Kafka, UNSUPPORTED_VERSION in a v0 body listing
            # ApiVersions' own range (KIP-511); the client retries with a version listed.
            body = api_versions_body(0, WireError.UNSUPPORTED_VERSION, only=ApiKey.API_VERSIONS)
            body.with_header(correlation_id=correlation_id)
            return body.encode(header=True, framed=True)
        if spec is None:
            raise ProtocolViolation(f"unknown API key {api_key}")
        if not spec.supports(version):
            raise ProtocolViolation(f"{api_name(api_key)} version {version} is not supported "
                                    f"(versions {spec.min_version}-{spec.max_version} are)")
        hand_coded = spec.hand_coded.get(version)
        try:
            if hand_coded is not None:
                request = hand_coded[0].decode(frame, header=True)
            else:
                request = spec.request.decode(frame, version=version, header=True)
        except Exception as error:  # the generated decoders raise many kinds on bad bytes
            raise ProtocolViolation(f"malformed {api_name(api_key)} v{version} request: {error!r}") from None
        if hand_coded is None:
            null = _null_field(request, request._struct, version)
            if null is not None:
                raise ProtocolViolation(f"malformed {api_name(api_key)} v{version} request: {null} is null, "
                                        "which this version does not allow")
        if api_key in (ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE):
            exchange = self.sasl.handshake if api_key == ApiKey.SASL_HANDSHAKE else self.sasl.authenticate
            answer = exchange(version, request)
            self._close_after_response = answer.close
            response = answer.response
        else:
            header = request.header
            context = RequestContext(self.server, self.broker_id, api_key, version, correlation_id,
                                     header.client_id or "", self.client_host)
            response = await HANDLERS[api_key](context, request)
        if response is None:
            return None
        response.with_header(correlation_id=correlation_id)
        return response.encode(header=True, framed=True)


#: What a client may send while it authenticates, by SASL state (anything else closes the connection).
_SASL_PHASE_APIS = {"handshake": (ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE),
                    "authenticate": (ApiKey.SASL_AUTHENTICATE,)}


def _null_field(message: Any, struct: Any, version: int) -> str | None:
    """The first field that is null where the schema says it cannot be, else None.

    kafka-python decodes a negative length as None whether or not the field is nullable;
    Kafka's own parser refuses it, and so does this server, before a handler sees it.
    """
    for name, refused, nested, is_array in _null_checks(struct, version):
        value = getattr(message, name)
        if value is None:
            if refused:
                return name
            continue
        if nested:
            for item in (value if is_array else (value,)):
                found = _null_field(item, nested[0], version)
                if found is not None:
                    return f"{name}.{found}"
    return None


#: (struct, version) -> its fields that can come out of the decoder null: (name, null refused,
#: (the field, if it is a struct or struct array holding such fields) or (), is a struct array).
_NULL_CHECKS: dict[tuple[int, int], tuple[tuple[str, bool, tuple[Any, ...], bool], ...]] = {}

#: Decoded as a number or a UUID, never as a null that a client could send.
_NEVER_NULL = (Int8, Int16, Int32, Int64, UnsignedInt16, Float64, Boolean, UUID)


def _null_checks(struct: Any, version: int) -> tuple[tuple[str, bool, tuple[Any, ...], bool], ...]:
    """What ``_null_field`` looks at in ``struct`` at ``version``, worked out once per schema.

    Fetch names every assigned partition in every request (librdkafka uses no fetch sessions);
    its partitions hold only numbers, so with this plan the check does not walk them at all.
    """
    key = (id(struct), version)
    checks = _NULL_CHECKS.get(key)
    if checks is not None:
        return checks
    found = []
    for field in struct._fields:
        if not field.for_version_q(version) or field.tagged_field_q(version):
            continue
        if getattr(field, "_type", None) in _NEVER_NULL:
            continue
        # A UUID is 16 bytes on the wire (kafka-python reads the zero id as None, which is allowed);
        # a null number takes its default.
        refused = not field.nullable_for_version_q(version) and not isinstance(field.default, (int, float, bool))
        nested = (field,) if (field.is_struct_array() or field.is_struct()) and _null_checks(field, version) else ()
        if refused or nested:
            found.append((field.name, refused, nested, field.is_struct_array()))
    checks = _NULL_CHECKS[key] = tuple(found)
    return checks
