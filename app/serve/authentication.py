"""A connection's SASL exchange, as Kafka's ``SaslServerAuthenticator`` runs it.

On a listener that requires SASL, a client may send ApiVersions, then SaslHandshake
naming a mechanism; with SaslHandshake v1 the mechanism's tokens travel in
SaslAuthenticate requests, with v0 as raw size-prefixed tokens. Until the mechanism
completes, any other request closes the connection; a refused mechanism or credential
is answered (UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED with Kafka's
words) and then the connection is closed. On a listener without SASL, or once
authenticated, SaslHandshake and SaslAuthenticate are answered ILLEGAL_SASL_STATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from kafka.protocol.sasl import SaslAuthenticateResponse, SaslHandshakeResponse

from .apis.context import WireError
from .credentials import Credentials
from .sasl import ENABLED_MECHANISMS, PlainServer, SaslAuthenticationFailed, ScramServer, new_mechanism


class SaslState(Enum):
    """Where a connection is in its SASL exchange."""

    HANDSHAKE = "handshake"        # ApiVersions or SaslHandshake expected
    AUTHENTICATE = "authenticate"  # the mechanism's tokens expected
    DONE = "done"                  # authenticated, or no SASL on this listener


@dataclass
class Answer:
    """A response to send, and whether the connection closes after it."""

    response: Any
    close: bool = False


class SaslExchange:
    """One connection's SASL state: what it may send next, and the mechanism's answers."""

    def __init__(self, credentials: Credentials | None) -> None:
        self._credentials = credentials
        self.state = SaslState.HANDSHAKE if credentials is not None else SaslState.DONE
        self.raw_tokens = False
        self._mechanism: PlainServer | ScramServer | None = None

    @property
    def pending(self) -> bool:
        """Whether the client still has to authenticate."""
        return self.state is not SaslState.DONE

    @property
    def username(self) -> str:
        """Who authenticated ("" when no one did)."""
        return self._mechanism.username if self._mechanism is not None and self._mechanism.complete else ""

    def handshake(self, version: int, request: Any) -> Answer:
        """SaslHandshake: choose the mechanism (the response lists the enabled ones)."""
        if self.state is not SaslState.HANDSHAKE or self._credentials is None:
            return Answer(SaslHandshakeResponse(version=version, error_code=WireError.ILLEGAL_SASL_STATE,
                                                mechanisms=[]))
        mechanisms = list(ENABLED_MECHANISMS)
        if request.mechanism not in ENABLED_MECHANISMS:
            return Answer(SaslHandshakeResponse(version=version, error_code=WireError.UNSUPPORTED_SASL_MECHANISM,
                                                mechanisms=mechanisms), close=True)
        self._mechanism = new_mechanism(request.mechanism, self._credentials)
        self.raw_tokens = version == 0
        self.state = SaslState.AUTHENTICATE
        return Answer(SaslHandshakeResponse(version=version, error_code=WireError.NONE, mechanisms=mechanisms))

    def authenticate(self, version: int, request: Any) -> Answer:
        """SaslAuthenticate: one token of the mechanism; a refusal closes the connection after the answer."""
        if self.state is not SaslState.AUTHENTICATE or self.raw_tokens:
            message = ("SaslAuthenticate request received after successful authentication"
                       if self.state is SaslState.DONE else "SaslAuthenticate request received before SaslHandshake")
            return Answer(SaslAuthenticateResponse(version=version, error_code=WireError.ILLEGAL_SASL_STATE,
                                                   error_message=message, auth_bytes=b"", session_lifetime_ms=0),
                          close=self.pending)
        try:
            token = self.evaluate(bytes(request.auth_bytes or b""))
        except SaslAuthenticationFailed as refused:
            return Answer(SaslAuthenticateResponse(version=version, error_code=WireError.SASL_AUTHENTICATION_FAILED,
                                                   error_message=str(refused), auth_bytes=b"",
                                                   session_lifetime_ms=0), close=True)
        return Answer(SaslAuthenticateResponse(version=version, error_code=WireError.NONE, error_message=None,
                                               auth_bytes=token, session_lifetime_ms=0))

    def evaluate(self, token: bytes) -> bytes:
        """Pass one token to the mechanism (raises SaslAuthenticationFailed); DONE once it completes."""
        assert self._mechanism is not None
        answer = self._mechanism.evaluate(token)
        if self._mechanism.complete:
            self.state = SaslState.DONE
        return answer
