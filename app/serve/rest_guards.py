"""What every REST request must pass before an endpoint sees it (both REST apps of ``kplay serve``).

The Schema Registry and Kafka Connect APIs are unauthenticated on loopback, as Confluent's
and Kafka's are by default; these checks stop the ways a web page or a careless client
could still reach them:

* DNS rebinding: a page on ``evil.example`` that re-points its name to 127.0.0.1 sends
  ``Host: evil.example``. The Host header must name this server: the bound host,
  ``localhost``, ``127.0.0.1``, ``[::1]``, this machine's name, a name in
  ``$KPLAY_REST_HOSTS`` (comma separated), and, when bound to every interface, its full
  name or any IP address.
* Cross-site requests: a browser names the page's origin in ``Origin``; one that is not
  a name of this server is refused (a form or ``fetch`` from another site cannot POST).
* A body larger than ``MAX_BODY_BYTES`` is refused (413) before it is read whole.
* A path whose %-escapes are not UTF-8 is refused (400) instead of being decoded lossily,
  where two different subjects or connectors would collide.

Refusals are ``{"error_code": N, "message": ...}`` bodies, the shape both APIs use.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import urllib.parse
from typing import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The largest request body either API reads (a schema or a connector config is far smaller).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: The environment variable adding host names clients may use to reach the REST APIs.
ALLOWED_HOSTS_ENV = "KPLAY_REST_HOSTS"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_host_names(bound_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a request's Host (and Origin) may carry for a server bound to ``bound_host``."""
    # This machine's own name is safe to allow: a rebinding page cannot make a browser send it.
    names = {*_LOOPBACK_NAMES, socket.gethostname().lower(), bound_host.strip("[]").lower(),
             *(n.strip().lower() for n in extra)}
    names.update(n.strip().lower() for n in os.environ.get(ALLOWED_HOSTS_ENV, "").split(","))
    if _is_wildcard(bound_host):
        names.add(socket.getfqdn().lower())
    names.discard("")
    return frozenset(names)


class RequestGuard:
    """ASGI middleware applying the module's checks in front of ``app``."""

    def __init__(self, app: ASGIApp, *, bound_host: str, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.allowed = allowed_host_names(bound_host)
        self.any_address = _is_wildcard(bound_host)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host")
        if host is not None and not self._allowed_host(_host_name(host), for_origin=False):
            await _refuse(send, 403, f"Host {host!r} is not a name of this server; add it to "
                                     f"{ALLOWED_HOSTS_ENV} if clients reach kplay by that name")
            return
        origin = headers.get("origin")
        if origin is not None and origin != "null" and not self._allowed_host(_origin_host(origin), for_origin=True):
            await _refuse(send, 403, f"Cross-origin request from {origin!r} refused; add its host to "
                                     f"{ALLOWED_HOSTS_ENV} to allow it")
            return
        if origin == "null":
            await _refuse(send, 403, "Cross-origin request from an opaque origin refused")
            return
        try:
            urllib.parse.unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()).decode("utf-8")
        except UnicodeDecodeError:
            await _refuse(send, 400, "The request path is not valid UTF-8 once its %-escapes are decoded")
            return
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_body_bytes:
            await _refuse(send, 413, f"Request body is larger than {self.max_body_bytes} bytes")
            return
        await self._bounded(scope, receive, send)

    def _allowed_host(self, name: str | None, *, for_origin: bool) -> bool:
        if name is None:
            return False
        if name in self.allowed:
            return True
        # Bound to every interface, clients arrive by any address of this machine; DNS
        # rebinding always comes by a name, never an IP literal. An Origin is a page's
        # address, so it gets no such leeway.
        return self.any_address and not for_origin and _is_ip(name)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body up to the limit (413 past it), then run the app on what was read.

        Both APIs read bodies whole anyway; reading them here first means a chunked body
        without a Content-Length is refused before any endpoint runs.
        """
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                await _refuse(send, 413, f"Request body is larger than {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error_code": status, "message": message}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _host_name(host: str) -> str | None:
    """``example.com:8081`` -> ``example.com``; ``[::1]:8081`` -> ``::1``; lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else None
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_host(origin: str) -> str | None:
    try:
        return (urllib.parse.urlsplit(origin.strip()).hostname or "").lower() or None
    except ValueError:
        return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("", "0.0.0.0", "::")
