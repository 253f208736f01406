"""A JSON-over-HTTP client for a real cluster's Schema Registry and Kafka Connect REST APIs.

The standard library's ``urllib`` in a worker thread (``asyncio.to_thread``), under a timeout, so
a slow service never blocks the caller's loop. ``user:password`` in the URL, or ``user_info``
(Confluent's ``basic.auth.user.info``), is sent as HTTP basic auth. A service that cannot be
reached is ``ClusterUnreachable`` with the cause in one line; an HTTP error answer is returned
as it is (status and JSON body), for the caller to turn into its API's error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .interface import ClusterUnreachable

#: How long one REST call may take.
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RestAnswer:
    """An HTTP answer: its status and its JSON body (None when it has none)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300


class RestClient:
    """JSON calls to one REST service at ``url``; ``service`` names it in error lines."""

    def __init__(self, url: str, service: str, *, user_info: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None:
            user_info = user_info or f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
        self.url = urllib.parse.urlunsplit(parts).rstrip("/")
        self.service = service
        self.timeout_s = timeout_s
        self._authorization = ("Basic " + base64.b64encode(user_info.encode()).decode()) if user_info else None

    async def call(self, method: str, path: str, body: Any = None) -> RestAnswer:
        """``method`` ``path`` (quoted by the caller) with an optional JSON body."""
        return await asyncio.to_thread(self._call, method, path, body)

    def _call(self, method: str, path: str, body: Any) -> RestAnswer:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._authorization:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return RestAnswer(response.status, _json(response.read()))
        except urllib.error.HTTPError as error:
            return RestAnswer(error.code, _json(error.read()))
        except urllib.error.URLError as error:
            reason = error.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            raise ClusterUnreachable(f"Cannot reach the {self.service} at {self.url}: {text}") from None
        except (socket.timeout, TimeoutError):
            raise ClusterUnreachable(f"Cannot reach the {self.service} at {self.url}: no answer within "
                                     f"{self.timeout_s:g} s") from None
        except OSError as error:
            raise ClusterUnreachable(f"Cannot reach the {self.service} at {self.url}: "
                                     f"{error.strerror or error}") from None


def quoted(segment: str) -> str:
    """A path segment (a subject or connector name) quoted for a URL."""
    return urllib.parse.quote(segment, safe="")


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
