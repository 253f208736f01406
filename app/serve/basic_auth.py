"""HTTP basic authentication in front of the Schema Registry and Connect REST APIs.

When ``kplay serve`` has users (``--users FILE``), every request must carry
``Authorization: Basic base64(name:password)`` of one of them, as with Connect's
``BasicAuthSecurityRestExtension`` and the registry's ``authentication.method=BASIC``;
anything else is answered 401 with ``WWW-Authenticate: Basic``, in the registry's error
shape, before the API sees it.
"""

from __future__ import annotations

import base64
import binascii

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .credentials import Credentials

REALM = "kplay"


class BasicAuth:
    """ASGI middleware: pass requests with a known user's credentials, answer 401 to the rest."""

    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    @classmethod
    def wrap(cls, app: ASGIApp, credentials: Credentials | None) -> ASGIApp:
        """``app`` behind basic auth, or ``app`` itself when there are no users (loopback, open)."""
        return app if credentials is None else cls(app, credentials)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authenticated(Headers(scope=scope).get("authorization", "")):
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"error_code": 401, "message": "Unauthorized"}, status_code=401,
                                headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
        await response(scope, receive, send)

    def _authenticated(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return False
        name, colon, password = decoded.partition(":")
        return bool(colon) and self.credentials.check_password(name, password)
