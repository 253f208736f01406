"""Who may connect to ``kplay serve``: user names and passwords, read from a file.

The file (``kplay serve --users FILE``, or the ``KPLAY_SERVE_USERS`` environment variable
naming it) has one ``name:password`` per line; blank lines and lines starting with ``#``
are skipped. The same users authenticate on the Kafka listeners (SASL/PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512) and on the REST APIs (HTTP basic auth). For SCRAM the
passwords are salted and hashed once at start, as ``kafka-configs --alter
--add-config 'SCRAM-SHA-256=[password=...]'`` stores them in Kafka.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

#: Kafka's default ``iterations`` for SCRAM credentials (and ScramMechanism's minimum).
SCRAM_ITERATIONS = 4096
#: SCRAM mechanism name -> hashlib's name for its hash.
SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


class CredentialsProblem(ValueError):
    """The users file cannot be used (missing, unreadable, or a line without ``name:password``)."""


@dataclass(frozen=True)
class ScramCredential:
    """A user's stored SCRAM credential (RFC 5802): salt, iterations, StoredKey and ServerKey."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def scram_credential(password: str, hash_name: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> ScramCredential:
    """Derive a SCRAM credential: SaltedPassword = Hi(password, salt, i), then the client and server keys."""
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    return ScramCredential(salt, iterations, hashlib.new(hash_name, client_key).digest(),
                           hmac.new(salted, b"Server Key", hash_name).digest())


class Credentials:
    """The users allowed in, with a check for a plain password and SCRAM credentials per mechanism."""

    def __init__(self, users: Mapping[str, str]) -> None:
        if not users:
            raise CredentialsProblem("no users: give at least one name:password line")
        self._passwords = dict(users)
        self._scram = {mechanism: {name: scram_credential(password, hash_name, os.urandom(16))
                                   for name, password in self._passwords.items()}
                       for mechanism, hash_name in SCRAM_HASHES.items()}

    @classmethod
    def from_file(cls, path: Path) -> "Credentials":
        """Read ``name:password`` lines; CredentialsProblem names the file and the bad line."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise CredentialsProblem(f"cannot read the users file {path}: {reason}") from None
        users: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, colon, password = line.partition(":")
            if not colon or not name or not password:
                raise CredentialsProblem(f"{path} line {number}: expected name:password")
            users[name] = password
        if not users:
            raise CredentialsProblem(f"the users file {path} names no users (one name:password per line)")
        return cls(users)

    @property
    def names(self) -> list[str]:
        """The user names, sorted."""
        return sorted(self._passwords)

    def check_password(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s (in constant time for a known name)."""
        expected = self._passwords.get(name)
        if expected is None:
            return False
        return hmac.compare_digest(expected.encode(), password.encode())

    def scram(self, mechanism: str, name: str) -> ScramCredential | None:
        """``name``'s credential for a SCRAM mechanism, or None for an unknown user."""
        return self._scram.get(mechanism, {}).get(name)
