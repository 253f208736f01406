"""A real cluster's Kafka Connect through its REST API, with the playground worker's verbs.

``RemoteConnect`` has the verbs ``kplay connect`` calls on the playground's ``ConnectWorker``
(``create_connector``, ``connector_status``, ...) and answers with Connect's own JSON bodies, so
the tool prints a remote worker's answers as it prints the playground's. A refusal is a
``ConnectRestError`` with Connect's message and error code.
"""

from __future__ import annotations

from typing import Any

from broker_core.errors import KafkaError

from .rest_client import RestAnswer, RestClient, quoted


class ConnectRestError(KafkaError):
    """Kafka Connect refused a call: its ``message`` and ``error_code`` (an HTTP status)."""

    name, code = "CONNECT_REST_ERROR", -1


class RestBody:
    """A JSON body as an answer object (``to_json()`` gives it back, as the worker's answers do)."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def to_json(self) -> Any:
        """The body as Connect answered it."""
        return self.body


class RemoteConnect:
    """Kafka Connect's REST API at ``url`` (``basic.auth.user.info`` as ``user_info``)."""

    def __init__(self, url: str, *, user_info: str | None = None, timeout_s: float = 10.0) -> None:
        self._rest = RestClient(url, "Kafka Connect REST API", user_info=user_info, timeout_s=timeout_s)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self._rest.call(method, path, body)
        if not answer.ok:
            raise _error(answer)
        return answer.body

    async def create_connector(self, config: dict[str, Any], name: str | None = None) -> RestBody:
        """POST /connectors."""
        return RestBody(await self._call("POST", "/connectors", {"name": name or config.get("name"),
                                                                  "config": config}))

    async def list_connectors(self) -> list[str]:
        """GET /connectors."""
        return list(await self._call("GET", "/connectors"))

    async def connector_status(self, name: str) -> RestBody:
        """GET /connectors/{name}/status."""
        return RestBody(await self._call("GET", f"/connectors/{quoted(name)}/status"))

    async def connector_config(self, name: str) -> dict[str, Any]:
        """GET /connectors/{name}/config."""
        return dict(await self._call("GET", f"/connectors/{quoted(name)}/config"))

    async def pause_connector(self, name: str) -> None:
        """PUT /connectors/{name}/pause."""
        await self._call("PUT", f"/connectors/{quoted(name)}/pause")

    async def resume_connector(self, name: str) -> None:
        """PUT /connectors/{name}/resume."""
        await self._call("PUT", f"/connectors/{quoted(name)}/resume")

    async def restart_connector(self, name: str, *, include_tasks: bool = False, only_failed: bool = False) -> None:
        """POST /connectors/{name}/restart?includeTasks=...&onlyFailed=..."""
        await self._call("POST", f"/connectors/{quoted(name)}/restart?includeTasks={str(include_tasks).lower()}"
                                 f"&onlyFailed={str(only_failed).lower()}")

    async def delete_connector(self, name: str) -> None:
        """DELETE /connectors/{name}."""
        await self._call("DELETE", f"/connectors/{quoted(name)}")


def _error(answer: RestAnswer) -> ConnectRestError:
    body = answer.body if isinstance(answer.body, dict) else {}
    error = ConnectRestError(str(body.get("message") or answer.body or f"HTTP {answer.status}"))
    error.code = int(body.get("error_code") or answer.status)
    return error
