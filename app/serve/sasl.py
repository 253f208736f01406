"""SASL mechanisms on the Kafka listeners: PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, 7677).

Each mechanism is a small server that takes the client's tokens in turn and answers
with its own, as Kafka's ``PlainSaslServer`` and ``ScramSaslServer`` do; a wrong
password raises ``SaslAuthenticationFailed`` with the words Kafka sends back. The
hashing is Python's ``hashlib``/``hmac``; the connection (``connection.py``) runs the
SaslHandshake/SaslAuthenticate exchange around it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from .credentials import SCRAM_HASHES, Credentials

#: Kafka's ``sasl.enabled.mechanisms`` on kplay's listeners, in the order SaslHandshake lists them.
ENABLED_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SaslAuthenticationFailed(Exception):
    """The client's credentials were refused; the message is what the client is told."""


class PlainServer:
    """SASL/PLAIN: one token, ``authzid NUL authcid NUL password``."""

    mechanism = "PLAIN"

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self.complete = False
        self.username = ""

    def evaluate(self, token: bytes) -> bytes:
        """Check the one token; the answer is empty."""
        parts = token.decode("utf-8", "replace").split("\0")
        if len(parts) != 3:
            raise SaslAuthenticationFailed(f"Invalid SASL/PLAIN response: expected 3 tokens, got {len(parts)}")
        authzid, username, password = parts
        if not username:
            raise SaslAuthenticationFailed("Authentication failed: username not specified")
        if not password:
            raise SaslAuthenticationFailed("Authentication failed: password not specified")
        if not self._credentials.check_password(username, password):
            raise SaslAuthenticationFailed("Authentication failed: Invalid username or password")
        if authzid and authzid != username:
            raise SaslAuthenticationFailed("Authentication failed: Client requested an authorization id that is "
                                           "different from username")
        self.complete, self.username = True, username
        return b""


class ScramServer:
    """SCRAM-SHA-256 or SCRAM-SHA-512: client-first, server-first, client-final, server-final."""

    def __init__(self, mechanism: str, credentials: Credentials) -> None:
        self.mechanism = mechanism
        self._hash = SCRAM_HASHES[mechanism]
        self._credentials = credentials
        self._state = "first"
        self._auth_message = ""
        self._nonce = ""
        self._credential = None
        self.complete = False
        self.username = ""

    def _refuse(self) -> SaslAuthenticationFailed:
        # As Kafka: the words never tell whether the user exists.
        return SaslAuthenticationFailed("Authentication failed during authentication due to invalid credentials "
                                        f"with SASL mechanism {self.mechanism}")

    def evaluate(self, token: bytes) -> bytes:
        """Answer the client's next message."""
        try:
            message = token.decode("utf-8")
        except UnicodeDecodeError:
            raise self._refuse() from None
        if self._state == "first":
            return self._first(message)
        if self._state == "final":
            return self._final(message)
        raise self._refuse()

    def _first(self, message: str) -> bytes:
        # gs2-header ("n,," or "y,,": kplay offers no channel binding), then client-first-bare.
        flag, _, rest = message.partition(",")
        authzid, _, bare = rest.partition(",")
        if flag not in ("n", "y") or not bare:
            raise self._refuse()
        attributes = _attributes(bare)
        username = _saslname(attributes.get("n", ""))
        client_nonce = attributes.get("r", "")
        credential = self._credentials.scram(self.mechanism, username)
        if credential is None or not client_nonce:
            raise self._refuse()
        if authzid and _saslname(authzid.removeprefix("a=")) != username:
            raise SaslAuthenticationFailed("Authentication failed: Client requested an authorization id that is "
                                           "different from username")
        self.username, self._credential = username, credential
        self._nonce = client_nonce + secrets.token_urlsafe(24)
        server_first = f"r={self._nonce},s={base64.b64encode(credential.salt).decode()},i={credential.iterations}"
        self._auth_message = f"{bare},{server_first}"
        self._state = "final"
        return server_first.encode()

    def _final(self, message: str) -> bytes:
        without_proof, _, proof_text = message.rpartition(",p=")
        attributes = _attributes(without_proof)
        credential = self._credential
        self._state = "done"
        # As Kafka's ScramSaslServer: the nonce must end with the combined nonce (librdkafka
        # before 2.1 sends its own nonce again in front of it).
        if credential is None or not attributes.get("r", "").endswith(self._nonce) or not proof_text:
            raise self._refuse()
        try:
            proof = base64.b64decode(proof_text, validate=True)
        except ValueError:
            raise self._refuse() from None
        auth_message = f"{self._auth_message},{without_proof}".encode()
        client_signature = hmac.new(credential.stored_key, auth_message, self._hash).digest()
        if len(proof) != len(client_signature):
            raise self._refuse()
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature))
        if not hmac.compare_digest(hashlib.new(self._hash, client_key).digest(), credential.stored_key):
            raise self._refuse()
        self.complete = True
        server_signature = hmac.new(credential.server_key, auth_message, self._hash).digest()
        return b"v=" + base64.b64encode(server_signature)


def new_mechanism(name: str, credentials: Credentials) -> PlainServer | ScramServer:
    """The server side of mechanism ``name`` (one of ``ENABLED_MECHANISMS``)."""
    if name == "PLAIN":
        return PlainServer(credentials)
    return ScramServer(name, credentials)


def _attributes(text: str) -> dict[str, str]:
    """``k=v,k=v`` SCRAM attributes (the first of each key)."""
    found: dict[str, str] = {}
    for item in text.split(","):
        key, equals, value = item.partition("=")
        if equals and key not in found:
            found[key] = value
    return found


def _saslname(text: str) -> str:
    """RFC 5802's saslname: ``=2C`` is a comma and ``=3D`` an equals sign."""
    return text.replace("=2C", ",").replace("=3D", "=")
