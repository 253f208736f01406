"""A real cluster's Schema Registry through Confluent's REST API, with the core registry's verbs.

``RemoteSchemaRegistry`` answers with the core's own types (``SchemaVersion``,
``RegisteredSchema``, ``SubjectSummary``, ``CompatibilityReport``) so ``kplay schema-registry``
prints a remote registry as it prints the playground's. A refusal is a ``SchemaRegistryError``
carrying the registry's own ``error_code`` and message.
"""

from __future__ import annotations

from typing import Any

from broker_core.schema_registry import CompatibilityReport, RegisteredSchema, SchemaVersion, SubjectSummary
from broker_core.schema_registry_errors import SchemaRegistryError

from .rest_client import RestAnswer, RestClient, quoted

#: Confluent's error code when a subject has no compatibility level of its own.
LEVEL_NOT_CONFIGURED = 40408


def registry_error(answer: RestAnswer) -> SchemaRegistryError:
    """The registry's error answer as a ``SchemaRegistryError`` with its code and message."""
    body = answer.body if isinstance(answer.body, dict) else {}
    error = SchemaRegistryError(str(body.get("message") or answer.body or f"HTTP {answer.status}"))
    error.code = int(body.get("error_code") or answer.status)
    error.http_status = answer.status
    return error


class RemoteSchemaRegistry:
    """Confluent's Schema Registry at ``url`` (``basic.auth.user.info`` as ``user_info``)."""

    def __init__(self, url: str, *, user_info: str | None = None, timeout_s: float = 10.0) -> None:
        self._rest = RestClient(url, "Schema Registry", user_info=user_info, timeout_s=timeout_s)

    async def _get(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self._rest.call(method, path, body)
        if not answer.ok:
            raise registry_error(answer)
        return answer.body

    async def get_subjects(self, deleted: bool = False) -> list[str]:
        """GET /subjects."""
        return list(await self._get("GET", f"/subjects{'?deleted=true' if deleted else ''}"))

    async def get_versions(self, subject: str, deleted: bool = False) -> list[int]:
        """GET /subjects/{subject}/versions."""
        return [int(v) for v in await self._get(
            "GET", f"/subjects/{quoted(subject)}/versions{'?deleted=true' if deleted else ''}")]

    async def get_version(self, subject: str, version: int | str = "latest", deleted: bool = False) -> SchemaVersion:
        """GET /subjects/{subject}/versions/{version}."""
        body = await self._get("GET", f"/subjects/{quoted(subject)}/versions/{quoted(str(version))}"
                                      f"{'?deleted=true' if deleted else ''}")
        return SchemaVersion(body["subject"], int(body["version"]), int(body["id"]), body["schema"],
                             body.get("schemaType", "AVRO"), bool(body.get("deleted", False)))

    async def get_schema(self, schema_id: int) -> RegisteredSchema:
        """GET /schemas/ids/{id}."""
        body = await self._get("GET", f"/schemas/ids/{int(schema_id)}")
        return RegisteredSchema(int(schema_id), body["schema"], body.get("schemaType", "AVRO"))

    async def describe_subjects(self, deleted: bool = False) -> list[SubjectSummary]:
        """Each subject's versions with their ids and its own level (a few calls per subject)."""
        summaries = []
        for subject in await self.get_subjects(deleted):
            versions = []
            for number in await self.get_versions(subject, deleted):
                versions.append((number, (await self.get_version(subject, number, deleted=True)).schema_id))
            summaries.append(SubjectSummary(subject, tuple(versions), await self._own_level(subject)))
        return summaries

    async def _own_level(self, subject: str) -> str | None:
        answer = await self._rest.call("GET", f"/config/{quoted(subject)}")
        if answer.ok:
            return answer.body.get("compatibilityLevel")
        if isinstance(answer.body, dict) and answer.body.get("error_code") == LEVEL_NOT_CONFIGURED:
            return None
        raise registry_error(answer)

    async def get_compatibility(self, subject: str | None = None) -> str:
        """GET /config (the global level) or /config/{subject}?defaultToGlobal=true."""
        path = "/config" if subject is None else f"/config/{quoted(subject)}?defaultToGlobal=true"
        return (await self._get("GET", path))["compatibilityLevel"]

    async def set_compatibility(self, level: str, subject: str | None = None) -> str:
        """PUT /config[/{subject}]."""
        path = "/config" if subject is None else f"/config/{quoted(subject)}"
        return (await self._get("PUT", path, {"compatibility": level}))["compatibility"]

    async def register_schema(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """POST /subjects/{subject}/versions; the schema's global id."""
        body: dict[str, Any] = {"schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        return int((await self._get("POST", f"/subjects/{quoted(subject)}/versions", body))["id"])

    async def lookup_schema(self, subject: str, schema: str, schema_type: str = "AVRO") -> SchemaVersion:
        """POST /subjects/{subject}: the version that holds ``schema``."""
        body: dict[str, Any] = {"schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        found = await self._get("POST", f"/subjects/{quoted(subject)}", body)
        return SchemaVersion(found["subject"], int(found["version"]), int(found["id"]), found["schema"],
                             found.get("schemaType", "AVRO"))

    async def test_compatibility(self, subject: str, schema: str, version: int | str | None = "latest",
                                 schema_type: str = "AVRO") -> CompatibilityReport:
        """POST /compatibility/subjects/{subject}/versions[/{version}]?verbose=true."""
        path = f"/compatibility/subjects/{quoted(subject)}/versions"
        if version is not None:
            path += f"/{quoted(str(version))}"
        body: dict[str, Any] = {"schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        found = await self._get("POST", path + "?verbose=true", body)
        messages = [str(m) for m in found.get("messages") or []]
        return CompatibilityReport(bool(found["is_compatible"]), await self.get_compatibility(subject),
                                   messages, messages)

    async def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """DELETE /subjects/{subject}[?permanent=true]."""
        return [int(v) for v in await self._get(
            "DELETE", f"/subjects/{quoted(subject)}{'?permanent=true' if permanent else ''}")]

    async def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        """DELETE /subjects/{subject}/versions/{version}[?permanent=true]."""
        return int(await self._get("DELETE", f"/subjects/{quoted(subject)}/versions/{quoted(str(version))}"
                                             f"{'?permanent=true' if permanent else ''}"))
