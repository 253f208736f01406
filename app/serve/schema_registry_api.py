"""Confluent's Schema Registry REST API over ``cluster.schemas``, as a Starlette app.

Real clients (confluent-kafka's ``SchemaRegistryClient`` with its Avro serializer and
deserializer, ``curl`` from Confluent's docs) talk to it as to Confluent's registry on
:8081: the same paths, query parameters, bodies and content type
(``application/vnd.schemaregistry.v1+json``), and errors as
``{"error_code": 40401, "message": "Subject 'orders-value' not found."}`` with the HTTP
status Confluent answers. The registry itself (versions, ids, compatibility) is
``broker_core.schema_registry.SchemaRegistry``; each request is one call to it.

Request bodies are read as Confluent's rest-utils reads them: malformed JSON, or JSON of
the wrong shape, is HTTP 400 with ``error_code`` 400; unknown fields are ignored (the
client sends ``Confluent-Accept-Unknown-Properties``); a body in a media type the
registry does not take, or none, is HTTP 415; a body nested deeper than Jackson allows
is HTTP 422.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker_core.avro_schemas import MAX_SCHEMA_DEPTH, json_depth
from broker_core.schema_registry import SCHEMA_TYPES, SchemaRegistry
from broker_core.schema_registry_errors import (InvalidCompatibilityLevel, InvalidMode, InvalidSchema,
                                                OperationNotPermitted, SchemaRegistryError, SubjectModeNotFound)

#: The ``/mode`` values kplay's registry takes.
MODES = ("READWRITE", "READONLY")
#: Confluent's response media type, and the ones its clients may ask for instead.
SCHEMA_REGISTRY_MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
_RESPONSE_MEDIA_TYPES = (SCHEMA_REGISTRY_MEDIA_TYPE, "application/vnd.schemaregistry+json", "application/json")
#: The request media types Confluent's resources consume.
_REQUEST_MEDIA_TYPES = _RESPONSE_MEDIA_TYPES

_log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


class BadRequestBody(Exception):
    """A request body that is not the JSON the endpoint takes (HTTP 400, or 415 for the media type)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def schema_registry_app(registry: SchemaRegistry) -> Starlette:
    """The Schema Registry REST API over ``registry`` (``cluster.schemas``)."""
    api = SchemaRegistryApi(registry)
    endpoints = [
        ("GET", "/", api.root),
        ("GET", "/subjects", api.list_subjects),
        ("POST", "/subjects/{subject}", api.lookup_schema),
        ("DELETE", "/subjects/{subject}", api.delete_subject),
        ("GET", "/subjects/{subject}/versions", api.list_versions),
        ("POST", "/subjects/{subject}/versions", api.register_schema),
        ("GET", "/subjects/{subject}/versions/{version}", api.get_version),
        ("DELETE", "/subjects/{subject}/versions/{version}", api.delete_version),
        ("GET", "/subjects/{subject}/versions/{version}/schema", api.get_version_schema),
        ("GET", "/subjects/{subject}/versions/{version}/referencedby", api.referenced_by),
        ("GET", "/schemas/types", api.schema_types),
        ("GET", "/schemas/ids/{schema_id}", api.get_schema),
        ("GET", "/schemas/ids/{schema_id}/schema", api.get_schema_text),
        ("GET", "/schemas/ids/{schema_id}/versions", api.get_schema_versions),
        ("GET", "/schemas/ids/{schema_id}/subjects", api.get_schema_subjects),
        ("GET", "/config", api.get_config),
        ("PUT", "/config", api.put_config),
        ("DELETE", "/config", api.delete_config),
        ("GET", "/config/{subject}", api.get_config),
        ("PUT", "/config/{subject}", api.put_config),
        ("DELETE", "/config/{subject}", api.delete_config),
        ("GET", "/mode", api.get_mode),
        ("PUT", "/mode", api.put_mode),
        ("GET", "/mode/{subject}", api.get_mode),
        ("PUT", "/mode/{subject}", api.put_mode),
        ("POST", "/compatibility/subjects/{subject}/versions", api.test_compatibility),
        ("POST", "/compatibility/subjects/{subject}/versions/{version}", api.test_compatibility),
    ]
    routes = [Route(path, _answering_errors(endpoint), methods=[method]) for method, path, endpoint in endpoints]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


class SchemaRegistryApi:
    """The endpoints: each turns one request into one ``SchemaRegistry`` call and its answer."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        #: ``/mode`` settings: the registry's (key None) and subjects' own, for this server's life.
        self._modes: dict[str | None, str] = {}

    async def root(self, request: Request) -> Response:
        """``GET /``: Confluent answers an empty object."""
        return _json(request, {})

    async def list_subjects(self, request: Request) -> Response:
        """``GET /subjects[?deleted=true&subjectPrefix=P]``."""
        subjects = await self.registry.get_subjects(deleted=_flag(request, "deleted"),
                                                    prefix=request.query_params.get("subjectPrefix", ""))
        return _json(request, subjects)

    async def list_versions(self, request: Request) -> Response:
        """``GET /subjects/{s}/versions``."""
        subject = request.path_params["subject"]
        return _json(request, await self.registry.get_versions(subject, deleted=_flag(request, "deleted")))

    async def get_version(self, request: Request) -> Response:
        """``GET /subjects/{s}/versions/{v}`` (a number, ``latest`` or -1)."""
        found = await self.registry.get_version(request.path_params["subject"], request.path_params["version"],
                                                deleted=_flag(request, "deleted"))
        return _json(request, found.as_dict())

    async def get_version_schema(self, request: Request) -> Response:
        """``GET /subjects/{s}/versions/{v}/schema``: the schema text alone, unquoted, as Confluent sends it."""
        found = await self.registry.get_version(request.path_params["subject"], request.path_params["version"],
                                                deleted=_flag(request, "deleted"))
        return _text(request, found.schema)

    async def referenced_by(self, request: Request) -> Response:
        """``GET /subjects/{s}/versions/{v}/referencedby``: no schema here references another."""
        await self.registry.get_version(request.path_params["subject"], request.path_params["version"])
        return _json(request, [])

    async def get_mode(self, request: Request) -> Response:
        """``GET /mode[/{s}][?defaultToGlobal=true]``: ``{"mode": "READWRITE"}``."""
        subject = request.path_params.get("subject")
        if subject is not None and subject not in self._modes and not _flag(request, "defaultToGlobal"):
            raise SubjectModeNotFound(subject)
        return _json(request, {"mode": self._mode(subject)})

    async def put_mode(self, request: Request) -> Response:
        """``PUT /mode[/{s}]`` with ``{"mode": "READONLY"}``: READWRITE or READONLY (IMPORT is refused)."""
        body = await _json_object(request)
        mode = body.get("mode")
        if not isinstance(mode, str) or mode.strip().upper() not in MODES:
            raise InvalidMode(f"Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT; "
                              f"kplay's registry takes {' and '.join(MODES)}")
        self._modes[request.path_params.get("subject")] = mode.strip().upper()
        return _json(request, {"mode": mode.strip().upper()})

    def _mode(self, subject: str | None) -> str:
        return self._modes.get(subject) or self._modes.get(None) or "READWRITE"

    async def register_schema(self, request: Request) -> Response:
        """``POST /subjects/{s}/versions`` with ``{"schema": ..., "schemaType": ...}``: ``{"id": N}``."""
        if self._mode(request.path_params["subject"]) == "READONLY":
            raise OperationNotPermitted(f"Subject {request.path_params['subject']} is in read-only mode")
        schema, schema_type = await _schema_body(request)
        schema_id = await self.registry.register_schema(request.path_params["subject"], schema, schema_type)
        return _json(request, {"id": schema_id})

    async def lookup_schema(self, request: Request) -> Response:
        """``POST /subjects/{s}``: the version of the subject holding this schema."""
        schema, schema_type = await _schema_body(request)
        found = await self.registry.lookup_schema(request.path_params["subject"], schema, schema_type,
                                                  deleted=_flag(request, "deleted"))
        return _json(request, found.as_dict())

    async def delete_subject(self, request: Request) -> Response:
        """``DELETE /subjects/{s}[?permanent=true]``: the deleted version numbers."""
        versions = await self.registry.delete_subject(request.path_params["subject"],
                                                      permanent=_flag(request, "permanent"))
        return _json(request, versions)

    async def delete_version(self, request: Request) -> Response:
        """``DELETE /subjects/{s}/versions/{v}[?permanent=true]``: the deleted version number."""
        version = await self.registry.delete_version(request.path_params["subject"], request.path_params["version"],
                                                     permanent=_flag(request, "permanent"))
        return _json(request, version)

    async def schema_types(self, request: Request) -> Response:
        """``GET /schemas/types``."""
        return _json(request, list(SCHEMA_TYPES))

    async def get_schema(self, request: Request) -> Response:
        """``GET /schemas/ids/{id}``: ``{"schema": ...}``."""
        return _json(request, (await self.registry.get_schema(_schema_id(request))).as_dict())

    async def get_schema_text(self, request: Request) -> Response:
        """``GET /schemas/ids/{id}/schema``: the schema text alone."""
        return _text(request, (await self.registry.get_schema(_schema_id(request))).schema)

    async def get_schema_versions(self, request: Request) -> Response:
        """``GET /schemas/ids/{id}/versions``: ``[{"subject": ..., "version": ...}]``."""
        pairs = await self.registry.get_schema_versions(_schema_id(request), deleted=_flag(request, "deleted"))
        return _json(request, [{"subject": subject, "version": version} for subject, version in pairs])

    async def get_schema_subjects(self, request: Request) -> Response:
        """``GET /schemas/ids/{id}/subjects``."""
        pairs = await self.registry.get_schema_versions(_schema_id(request), deleted=_flag(request, "deleted"))
        return _json(request, sorted({subject for subject, _ in pairs}))

    async def get_config(self, request: Request) -> Response:
        """``GET /config`` and ``GET /config/{s}[?defaultToGlobal=true]``: ``{"compatibilityLevel": ...}``."""
        level = await self.registry.get_compatibility(request.path_params.get("subject"),
                                                      default_to_global=_flag(request, "defaultToGlobal"))
        return _json(request, {"compatibilityLevel": level})

    async def put_config(self, request: Request) -> Response:
        """``PUT /config[/{s}]`` with ``{"compatibility": LEVEL}``: the level set, in Confluent's spelling."""
        body = await _json_object(request)
        level = body.get("compatibility")
        if not isinstance(level, str):
            raise InvalidCompatibilityLevel(level)
        normalized = await self.registry.set_compatibility(level, request.path_params.get("subject"))
        return _json(request, {"compatibility": normalized})

    async def delete_config(self, request: Request) -> Response:
        """``DELETE /config[/{s}]``: the level the subject (or the registry) had."""
        old = await self.registry.delete_compatibility(request.path_params.get("subject"))
        return _json(request, {"compatibilityLevel": old})

    async def test_compatibility(self, request: Request) -> Response:
        """``POST /compatibility/subjects/{s}/versions[/{v}][?verbose=true]``: ``{"is_compatible": ...}``.

        Without a version: against what registering would check (every live version for
        a transitive level).
        """
        schema, schema_type = await _schema_body(request)
        report = await self.registry.test_compatibility(request.path_params["subject"], schema,
                                                        request.path_params.get("version"), schema_type)
        return _json(request, report.as_dict(verbose=_flag(request, "verbose")))


def _answering_errors(endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so every refusal becomes Confluent's error body and status."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except SchemaRegistryError as exc:
            return _error(request, exc.http_status, exc.error_code, exc.message)
        except BadRequestBody as exc:
            return _error(request, exc.status, exc.status, str(exc))
        except HTTPException as exc:
            return await _http_error(request, exc)
        except RecursionError:  # a schema nested too deeply for a check the parser let through
            return _error(request, 422, 42201, "Invalid schema: nested too deeply")
        except Exception as exc:  # a bug or a broken data file: one line to the client, the trace to the log
            _log.exception("Schema Registry request %s %s failed", request.method, request.url.path)
            return _error(request, 500, 50001, f"Error in the backend data store: {exc}")

    answer.__name__ = endpoint.__name__
    answer.__doc__ = endpoint.__doc__
    return answer


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods, as Jersey words them: ``HTTP 404 Not Found``."""
    assert isinstance(exc, HTTPException)
    return _error(request, exc.status_code, exc.status_code, f"HTTP {exc.status_code} {exc.detail}",
                  exc.headers)


def _error(request: Request, status: int, code: int, message: str,
           headers: Any = None) -> Response:
    return _json(request, {"error_code": code, "message": message}, status, headers)


def _json(request: Request, body: Any, status: int = 200, headers: Any = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers,
                    media_type=_response_media_type(request))


def _text(request: Request, text: str) -> Response:
    return Response(text, 200, media_type=_response_media_type(request))


def _response_media_type(request: Request) -> str:
    """The first of Confluent's media types the client accepts (``*/*`` or none: the v1 type)."""
    accepted = [part.split(";")[0].strip().lower() for part in request.headers.get("accept", "").split(",")]
    for media_type in _RESPONSE_MEDIA_TYPES:
        if media_type in accepted:
            return media_type
    return SCHEMA_REGISTRY_MEDIA_TYPE


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter as Jersey reads one: ``true`` in any case, anything else false."""
    return request.query_params.get(name, "").strip().lower() == "true"


#: Schema ids are Java ints in Confluent's registry.
_MAX_SCHEMA_ID = 2**31 - 1


def _schema_id(request: Request) -> int:
    text = request.path_params["schema_id"]
    try:
        schema_id = int(text)
    except ValueError:
        schema_id = None
    if schema_id is None or not -_MAX_SCHEMA_ID - 1 <= schema_id <= _MAX_SCHEMA_ID:
        # Jersey cannot convert {id} to an Integer and matches no resource: a plain 404.
        raise HTTPException(404, "Not Found")
    return schema_id


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or ``BadRequestBody`` naming what is wrong."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _REQUEST_MEDIA_TYPES:
        # No Content-Type is refused too: a browser may send such a body cross-site without asking.
        raise BadRequestBody("HTTP 415 Unsupported Media Type", 415)
    raw = await request.body()
    if not raw.strip():
        raise BadRequestBody("The request body is empty: expected a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequestBody("The request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRequestBody(f"Malformed JSON in the request body: {exc.msg} "
                             f"at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise BadRequestBody(f"The request body nests deeper than {MAX_SCHEMA_DEPTH} levels", 422) from None
    if json_depth(body) > MAX_SCHEMA_DEPTH:
        raise BadRequestBody(f"The request body nests deeper than {MAX_SCHEMA_DEPTH} levels", 422)
    if not isinstance(body, dict):
        raise BadRequestBody(f"The request body must be a JSON object, not {_json_kind(body)}")
    return body


async def _schema_body(request: Request) -> tuple[str, str]:
    """``{"schema": TEXT, "schemaType": ..., "references": [...]}`` -> (text, type)."""
    body = await _json_object(request)
    schema = body.get("schema")
    if schema is None:
        raise InvalidSchema('The request has no schema: the body must be {"schema": "<schema as a string>"}')
    if not isinstance(schema, str):
        raise BadRequestBody(f'"schema" must be a string holding the schema, not {_json_kind(schema)}')
    schema_type = body.get("schemaType") or "AVRO"
    if not isinstance(schema_type, str):
        raise BadRequestBody(f'"schemaType" must be a string, not {_json_kind(schema_type)}')
    if body.get("references"):
        raise InvalidSchema("Schema references are not supported by kplay's Schema Registry; "
                            "inline the referenced types in the schema")
    return schema, schema_type


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
             int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
