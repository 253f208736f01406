"""Kafka Connect's REST API over a ``ConnectWorker``, as a Starlette app.

The tutorial's ``curl -X POST http://localhost:8083/connectors -H "Content-Type:
application/json" -d @source_connector.json`` and every other call Kafka Connect's docs
show work against it: the same paths, query parameters, bodies and statuses (201 with a
``Location`` for a created connector, 202 for pause and resume, 204 for delete and a
plain restart), and errors as ``{"error_code": 404, "message": "Connector x not
found"}``. Connector configs are validated by ``broker_core.connect`` (unknown or missing
keys are refused naming the key); the worker runs what is created.

Request bodies are read as Kafka Connect reads them: ``application/json`` only (another
media type is HTTP 415), and a body that is not valid JSON or not of the expected shape
is HTTP 500 with the parser's message, because Kafka Connect's ``ConnectExceptionMapper``
maps Jackson's parse and mapping errors (not ``WebApplicationException``s) to 500.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker_core.connect import ConnectError, ConnectorConfigInvalid, ConnectorNotFound, ConnectWorker
from broker_core.connect.config import (COMMON_KEYS, CONVERTER_KEYS, REQUIRED, SINK_CLASS, SINK_KEYS, SOURCE_CLASS,
                                        SOURCE_KEYS, ConnectorKey, connector_type, validate_connector_config)
from broker_core.connect.internal_topics import ConfigStore
from broker_core.connect.transforms import is_framework_key as is_transform_key
from broker_core.connect.worker import FAILED, PAUSED, RESTARTING

_log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

#: ``initial_state`` values of ``POST /connectors`` (KIP-980) this worker can start a connector in.
INITIAL_STATES = ("RUNNING", "PAUSED")
#: Fields of ``POST /connectors``'s body.
_CREATE_FIELDS = ("name", "config", "initial_state")


class ConnectRestError(Exception):
    """A request Kafka Connect refuses with ``status`` (its ``ConnectRestException``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def connect_app(worker: ConnectWorker) -> Starlette:
    """Kafka Connect's REST API over ``worker`` (which runs the connectors once started)."""
    api = ConnectApi(worker)
    endpoints = [
        ("GET", "/", api.root),
        ("GET", "/connectors", api.list_connectors),
        ("POST", "/connectors", api.create_connector),
        ("GET", "/connectors/{name}", api.connector_info),
        ("DELETE", "/connectors/{name}", api.delete_connector),
        ("GET", "/connectors/{name}/config", api.connector_config),
        ("PUT", "/connectors/{name}/config", api.put_connector_config),
        ("GET", "/connectors/{name}/status", api.connector_status),
        ("GET", "/connectors/{name}/tasks", api.task_configs),
        ("GET", "/connectors/{name}/tasks/{task}/status", api.task_status),
        ("POST", "/connectors/{name}/tasks/{task}/restart", api.restart_task),
        ("GET", "/connectors/{name}/topics", api.connector_topics),
        ("PUT", "/connectors/{name}/topics/reset", api.reset_connector_topics),
        ("PUT", "/connectors/{name}/stop", api.stop_connector),
        ("GET", "/connectors/{name}/offsets", api.connector_offsets),
        ("PUT", "/connectors/{name}/pause", api.pause_connector),
        ("PUT", "/connectors/{name}/resume", api.resume_connector),
        ("POST", "/connectors/{name}/restart", api.restart_connector),
        ("GET", "/connector-plugins", api.connector_plugins),
        ("PUT", "/connector-plugins/{plugin}/config/validate", api.validate_config),
    ]
    routes = [Route(path, _answering_errors(endpoint), methods=[method]) for method, path, endpoint in endpoints]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


class ConnectApi:
    """The endpoints: each turns one request into calls on the worker and Kafka Connect's answer."""

    def __init__(self, worker: ConnectWorker) -> None:
        self.worker = worker
        self._configs = ConfigStore(worker.cluster)

    async def root(self, request: Request) -> Response:
        """``GET /``: the worker's version and the Kafka cluster's id."""
        return _json({"version": _kplay_version(), "commit": "kplay",
                      "kafka_cluster_id": self.worker.cluster.cluster_id})

    async def list_connectors(self, request: Request) -> Response:
        """``GET /connectors[?expand=status&expand=info]``: names, or ``{name: {"status": ..., "info": ...}}``."""
        names = await self.worker.list_connectors()
        expand = [value for value in request.query_params.getlist("expand") if value in ("status", "info")]
        if not expand:
            return _json(names)
        expanded: dict[str, dict[str, Any]] = {}
        for name in names:
            entry: dict[str, Any] = {}
            try:
                if "status" in expand:
                    entry["status"] = (await self.worker.connector_status(name)).to_json()
                if "info" in expand:
                    entry["info"] = (await self.worker.connector_info(name)).to_json()
            except ConnectorNotFound:
                continue  # deleted while listing
            expanded[name] = entry
        return _json(expanded)

    async def create_connector(self, request: Request) -> Response:
        """``POST /connectors`` with ``{"name": ..., "config": {...}}``: 201, the connector's info."""
        body = await _json_body(request, dict, "CreateConnectorRequest")
        unknown = [key for key in body if key not in _CREATE_FIELDS]
        if unknown:
            raise ConnectRestError(500, f'Unrecognized field "{unknown[0]}" in the request body: POST /connectors '
                                        'takes {"name": ..., "config": {...}} (a flat config goes to '
                                        "PUT /connectors/NAME/config)")
        raw_name = body.get("name")
        if raw_name is not None and not isinstance(raw_name, str):
            raise ConnectRestError(500, '"name" must be a string')
        # Kafka trims the name and passes a missing one on as "" for the config validator to refuse.
        name = (raw_name or "").strip()
        initial_state = body.get("initial_state") or "RUNNING"
        if initial_state not in INITIAL_STATES:
            raise ConnectRestError(400, f"Invalid initial state {initial_state}: this worker starts connectors "
                                        f"in one of {', '.join(INITIAL_STATES)}")
        config = body.get("config")
        if config is None:
            raise ConnectorConfigInvalid('Missing "config": the request body must be '
                                         '{"name": "...", "config": {"connector.class": ..., ...}}')
        info = await self.worker.create_connector(config, name)
        if initial_state == "PAUSED":
            await self.worker.pause_connector(info.name)
        return _json(info.to_json(), 201, {"Location": f"/connectors/{info.name}"})

    async def connector_info(self, request: Request) -> Response:
        """``GET /connectors/{name}``: config, tasks and type."""
        return _json((await self.worker.connector_info(request.path_params["name"])).to_json())

    async def connector_config(self, request: Request) -> Response:
        """``GET /connectors/{name}/config``."""
        return _json(await self.worker.connector_config(request.path_params["name"]))

    async def put_connector_config(self, request: Request) -> Response:
        """``PUT /connectors/{name}/config`` with a flat config: 201 if created, 200 if updated."""
        name = request.path_params["name"]
        config = await _json_body(request, dict, "Map<String, String>")
        info, created = await self.worker.put_connector_config(name, config)
        if created:
            return _json(info.to_json(), 201, {"Location": f"/connectors/{name}"})
        return _json(info.to_json())

    async def connector_status(self, request: Request) -> Response:
        """``GET /connectors/{name}/status``: the connector's and each task's state."""
        return _json((await self.worker.connector_status(request.path_params["name"])).to_json())

    async def task_configs(self, request: Request) -> Response:
        """``GET /connectors/{name}/tasks``: ``[{"id": {"connector", "task"}, "config": {...}}]``."""
        name = request.path_params["name"]
        await self.worker.connector_info(name)  # 404 for an unknown connector
        state, _ = await self._configs.read()
        return _json([{"id": {"connector": name, "task": index}, "config": dict(config)}
                      for index, config in enumerate(state.task_configs.get(name, []))])

    async def task_status(self, request: Request) -> Response:
        """``GET /connectors/{name}/tasks/{task}/status``."""
        name, task = request.path_params["name"], request.path_params["task"]
        try:
            status = await self.worker.connector_status(name)
        except ConnectorNotFound:
            status = None
        for state in status.tasks if status is not None else []:
            if str(state.id) == task:
                return _json(state.to_json())
        raise ConnectorNotFound(f"No status found for task {name}-{task}")

    async def restart_task(self, request: Request) -> Response:
        """``POST /connectors/{name}/tasks/{task}/restart``: 204."""
        name, task = request.path_params["name"], request.path_params["task"]
        if not task.isdigit():
            raise ConnectRestError(404, "HTTP 404 Not Found")
        await self.worker.restart_task(name, int(task))
        return Response(status_code=204)

    async def connector_topics(self, request: Request) -> Response:
        """``GET /connectors/{name}/topics``: ``{name: {"topics": [...]}}`` (KIP-558)."""
        name = request.path_params["name"]
        return _json({name: {"topics": await self.worker.connector_topics(name)}})

    async def reset_connector_topics(self, request: Request) -> Response:
        """``PUT /connectors/{name}/topics/reset``: 202."""
        await self.worker.reset_connector_topics(request.path_params["name"])
        return Response(status_code=202)

    async def stop_connector(self, request: Request) -> Response:
        """``PUT /connectors/{name}/stop`` (KIP-875): 202."""
        await self.worker.stop_connector(request.path_params["name"])
        return Response(status_code=202)

    async def connector_offsets(self, request: Request) -> Response:
        """``GET /connectors/{name}/offsets``: ``{"offsets": [{"partition": ..., "offset": ...}]}``."""
        return _json({"offsets": await self.worker.connector_offsets(request.path_params["name"])})

    async def pause_connector(self, request: Request) -> Response:
        """``PUT /connectors/{name}/pause``: 202."""
        await self.worker.pause_connector(request.path_params["name"])
        return Response(status_code=202)

    async def resume_connector(self, request: Request) -> Response:
        """``PUT /connectors/{name}/resume``: 202."""
        await self.worker.resume_connector(request.path_params["name"])
        return Response(status_code=202)

    async def restart_connector(self, request: Request) -> Response:
        """``POST /connectors/{name}/restart[?includeTasks=true&onlyFailed=true]``.

        Without either flag: the connector instance alone, 204 (Kafka's older API).
        With one: 202 and the status with what will restart marked RESTARTING.
        """
        name = request.path_params["name"]
        include_tasks, only_failed = _flag(request, "includeTasks"), _flag(request, "onlyFailed")
        try:  # the states before the restart decide what it restarts
            status = await self.worker.connector_status(name)
        except ConnectorNotFound:
            raise ConnectorNotFound(f"Connector {name} not found") from None
        await self.worker.restart_connector(name, include_tasks=include_tasks, only_failed=only_failed)
        if not include_tasks and not only_failed:
            return Response(status_code=204)
        body = status.to_json()
        if status.state != PAUSED and (not only_failed or status.state == FAILED):
            body["connector"]["state"] = RESTARTING
        if include_tasks:
            for task in body["tasks"]:
                if task["state"] != PAUSED and (not only_failed or task["state"] == FAILED):
                    task["state"] = RESTARTING
        return _json(body, 202)

    async def delete_connector(self, request: Request) -> Response:
        """``DELETE /connectors/{name}``: 204."""
        await self.worker.delete_connector(request.path_params["name"])
        return Response(status_code=204)

    async def connector_plugins(self, request: Request) -> Response:
        """``GET /connector-plugins``: Confluent's JDBC source and sink connectors."""
        return _json([{"class": cls, "type": connector_type(cls), "version": _kplay_version()}
                      for cls in sorted((SINK_CLASS, SOURCE_CLASS))])

    async def validate_config(self, request: Request) -> Response:
        """``PUT /connector-plugins/{plugin}/config/validate``: each key's value and errors."""
        plugin = request.path_params["plugin"]
        config = await _json_body(request, dict, "Map<String, String>")
        return _json(validation_report(plugin, config))


def validation_report(plugin: str, config: dict[str, Any]) -> dict[str, Any]:
    """Kafka Connect's ``ConfigInfos`` for ``config`` checked as a ``plugin`` connector.

    Every key of the plugin is listed with its definition, value and errors; keys kplay
    does not know are listed too, each with its error, since creating the connector
    would refuse them. Rules between keys are reported on the key they name.
    """
    kind = connector_type(plugin)  # an unknown plugin: 400, naming the available ones
    included = config.get("connector.class")
    if included is not None and connector_type(str(included)) != kind:
        raise ConnectRestError(400, f"Included connector type {included} does not match request type {plugin}")
    simple_class = (SOURCE_CLASS if kind == "source" else SINK_CLASS).rsplit(".", 1)[1]
    keys = {**COMMON_KEYS, **(SOURCE_KEYS if kind == "source" else SINK_KEYS)}
    checked = {**config, "connector.class": str(included or plugin)}
    errors: dict[str, list[str]] = {name: [] for name in keys}
    for name, spec in keys.items():
        if name in checked:
            try:
                spec.parse(checked[name])
            except ValueError as exc:
                errors[name].append(str(exc))
        elif spec.default is REQUIRED:
            errors[name].append(f'Missing required configuration "{name}" which has no default value.')
    extra = [name for name in checked if name not in keys]
    for name in extra:
        known = _is_converter_setting(name) or is_transform_key(name) or (
            kind == "source" and name.startswith("topic.creation."))
        errors[name] = [] if known else [f'Unknown configuration "{name}" for {simple_class}']
    try:
        validate_connector_config(checked)
    except ConnectorConfigInvalid as exc:
        # Rules between keys, transforms, topic creation: each on the (longest) key it names,
        # unless the key-by-key checks above reported it already.
        reported = {message for found in errors.values() for message in found}
        for message in exc.errors or (exc.message,):
            if message in reported or message.startswith("Unknown configuration") and message.endswith(simple_class):
                continue
            named = [name for name in sorted(checked, key=len, reverse=True) if name in message]
            errors.setdefault(named[0] if named else "connector.class", []).append(message)
    configs = []
    for name, spec in [*keys.items(), *((name, None) for name in extra)]:
        configs.append({"definition": _definition(name, spec),
                        "value": {"name": name, "value": None if name not in checked else str(checked[name]),
                                  "recommended_values": list(spec.choices or ()) if spec else [],
                                  "errors": errors[name], "visible": True}})
    return {"name": SOURCE_CLASS if kind == "source" else SINK_CLASS,
            "error_count": sum(len(found) for found in errors.values()),
            "groups": ["Common", "Connector"], "configs": configs}


def _is_converter_setting(name: str) -> bool:
    """``key.converter.schemas.enable`` and the like: settings passed on to a converter."""
    return any(name == f"{which}.converter.{setting}" for which in ("key", "value") for setting in CONVERTER_KEYS)


#: Kafka's ``ConfigDef.Type`` names for the kinds of connector keys.
_KAFKA_TYPES = {"string": "STRING", "int": "INT", "long": "LONG", "bool": "BOOLEAN", "list": "LIST",
                "password": "PASSWORD"}


def _definition(name: str, spec: ConnectorKey | None) -> dict[str, Any]:
    if spec is None:
        return {"name": name, "type": "STRING", "required": False, "default_value": None,
                "importance": "LOW", "documentation": "Not a configuration of this connector.",
                "group": None, "width": "NONE", "display_name": name, "dependents": [], "order": -1}
    default = None if spec.default is REQUIRED else _as_config_text(spec.default)
    return {"name": name, "type": _KAFKA_TYPES.get(spec.kind, "STRING"), "required": spec.default is REQUIRED,
            "default_value": default, "importance": "HIGH" if spec.default is REQUIRED else "MEDIUM",
            "documentation": spec.doc, "group": "Common" if name in COMMON_KEYS else "Connector",
            "width": "NONE", "display_name": name, "dependents": [], "order": -1}


def _as_config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(part) for part in value)
    return str(value)


def _answering_errors(endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so every refusal becomes Kafka Connect's error body and status."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ConnectRestError as exc:
            return _error(exc.status, str(exc))
        except ConnectorConfigInvalid as exc:
            return _error(exc.http_status, exc.rest_message())
        except ConnectError as exc:
            return _error(exc.http_status, exc.message)
        except HTTPException as exc:
            return await _http_error(request, exc)
        except Exception as exc:  # a bug or a broken data file: one line to the client, the trace to the log
            _log.exception("Connect request %s %s failed", request.method, request.url.path)
            return _error(500, str(exc) or type(exc).__name__)

    answer.__name__ = endpoint.__name__
    answer.__doc__ = endpoint.__doc__
    return answer


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods, as Jersey words them: ``HTTP 404 Not Found``."""
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, f"HTTP {exc.status_code} {exc.detail}", exc.headers)


def _error(status: int, message: str, headers: Any = None) -> Response:
    return _json({"error_code": status, "message": message}, status, headers)


def _json(body: Any, status: int = 200, headers: Any = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers, media_type="application/json")


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter as Jersey reads one: ``true`` in any case, anything else false."""
    return request.query_params.get(name, "").strip().lower() == "true"


async def _json_body(request: Request, shape: type, java_type: str) -> Any:
    """The request body parsed as JSON of ``shape``, else Kafka Connect's refusal."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ConnectRestError(415, "HTTP 415 Unsupported Media Type")
    raw = await request.body()
    if not raw.strip():
        raise ConnectRestError(500, f"The request body is empty: expected a JSON object ({java_type})")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise ConnectRestError(500, "The request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ConnectRestError(500, f"Malformed JSON in the request body: {exc.msg} "
                                    f"at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:  # Jackson's nesting limit in Kafka Connect: a parse error, so 500 as above
        raise ConnectRestError(500, "Malformed JSON in the request body: nested too deeply") from None
    if not isinstance(body, shape):
        raise ConnectRestError(500, f"The request body must be a JSON object ({java_type}), "
                                    f"not {type(body).__name__.replace('dict', 'object')}")
    return body


def _kplay_version() -> str:
    try:
        return metadata.version("kplay")
    except metadata.PackageNotFoundError:
        return "unknown"
