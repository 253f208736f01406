"""``SchemaRegistry``: Confluent's Schema Registry over the data file.

Subjects (``<topic>-key`` / ``<topic>-value`` under Confluent's default
TopicNameStrategy) hold numbered versions; each version points at a schema with a
global id, and the same schema registered under two subjects gets the same id. A new
version must be compatible with the subject's earlier ones under its compatibility level
(the subject's own, else the global one, else BACKWARD), decided by Apache Avro's
schema-resolution rules. Deleting is soft first (the version is hidden but keeps its
number and id) and permanent only after that, as Confluent does.

The methods mirror Confluent's REST resources and the names of confluent-kafka's
``SchemaRegistryClient``, so a REST front maps one request to one call:

    ==========================================================  ===============================
    POST /subjects/{s}/versions                                 ``register_schema``
    POST /subjects/{s}                                          ``lookup_schema``
    GET  /subjects                                              ``get_subjects``
    GET  /subjects/{s}/versions                                 ``get_versions``
    GET  /subjects/{s}/versions/{v}                             ``get_version``
    DELETE /subjects/{s}[?permanent=true]                       ``delete_subject``
    DELETE /subjects/{s}/versions/{v}[?permanent=true]          ``delete_version``
    GET  /schemas/ids/{id}                                      ``get_schema``
    GET  /schemas/ids/{id}/versions, /subjects                  ``get_schema_versions``
    GET  /schemas/types                                         ``SCHEMA_TYPES``
    POST /compatibility/subjects/{s}/versions[/{v}]             ``test_compatibility``
    GET/PUT/DELETE /config[/{s}]                                ``get/set/delete_compatibility``
    ==========================================================  ===============================

Every write runs in one ``storage.write()`` transaction and appends a change-feed entry
(``schema_registered``, ``schema_deleted``, ``compatibility_changed``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from typing import TYPE_CHECKING

import aiosqlite

from .clock import Clock
from .schema_registry_errors import (IncompatibleSchema, InvalidCompatibilityLevel, InvalidSchema,
                                     InvalidSubject, InvalidVersion, SchemaNotFound,
                                     SubjectCompatibilityNotConfigured, SubjectNotFound,
                                     SubjectNotSoftDeleted, SubjectSoftDeleted, VersionNotFound,
                                     VersionNotSoftDeleted, VersionSoftDeleted)
from .storage import SCHEMA_REGISTRY_TABLES, Storage, record_change

if TYPE_CHECKING:
    from .avro_schemas import AvroSchema, Incompatibility

#: The compatibility levels, as Confluent names them.
COMPATIBILITY_LEVELS: tuple[str, ...] = (
    "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE")
#: The level of a registry nobody configured (Confluent's default).
DEFAULT_COMPATIBILITY = "BACKWARD"
#: Schema formats this registry understands (``GET /schemas/types``).
SCHEMA_TYPES: tuple[str, ...] = ("AVRO",)
#: Where the global level is kept in the compatibility table (no subject can be empty).
_GLOBAL = ""
#: Highest version number (Confluent's 2^31-1).
MAX_VERSION = 2**31 - 1
_TABLES = ("schemas", "subject_versions", "compatibility_levels")


def topic_subject(topic: str, is_key: bool = False) -> str:
    """The subject of a topic's keys or values under Confluent's TopicNameStrategy."""
    return f"{topic}-{'key' if is_key else 'value'}"


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema by its global id (``GET /schemas/ids/{id}``)."""

    schema_id: int
    schema: str
    schema_type: str = "AVRO"

    def as_dict(self) -> dict[str, Any]:
        """The body Confluent answers: ``{"schema": ...}`` (``schemaType`` only when not AVRO)."""
        body: dict[str, Any] = {"schema": self.schema}
        if self.schema_type != "AVRO":
            body["schemaType"] = self.schema_type
        return body


@dataclass(frozen=True)
class SchemaVersion:
    """One version of a subject (``GET /subjects/{s}/versions/{v}``)."""

    subject: str
    version: int
    schema_id: int
    schema: str
    schema_type: str = "AVRO"
    deleted: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The body Confluent answers: ``{"subject", "version", "id", "schema"}``."""
        body: dict[str, Any] = {"subject": self.subject, "version": self.version, "id": self.schema_id,
                                "schema": self.schema}
        if self.schema_type != "AVRO":
            body["schemaType"] = self.schema_type
        return body


@dataclass(frozen=True)
class CompatibilityReport:
    """The answer of a compatibility test (``{"is_compatible": ..., "messages": [...]}``).

    ``messages`` are Confluent's detail strings; ``reasons`` the plain sentences;
    ``old_version`` the version found incompatible (None when compatible).
    """

    is_compatible: bool
    compatibility: str
    messages: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    old_version: int | None = None

    def as_dict(self, verbose: bool = False) -> dict[str, Any]:
        """Confluent's body; ``messages`` only when ``verbose`` (its ``?verbose=true``)."""
        body: dict[str, Any] = {"is_compatible": self.is_compatible}
        if verbose:
            body["messages"] = list(self.messages)
        return body


@dataclass(frozen=True)
class SubjectSummary:
    """A subject at a glance: its versions as (version, schema id), oldest first, and its own level.

    ``level`` is None when the subject follows the global level.
    """

    subject: str
    versions: tuple[tuple[int, int], ...]
    level: str | None = None

    @property
    def latest(self) -> tuple[int, int] | None:
        """The newest (version, schema id), or None when none is listed."""
        return self.versions[-1] if self.versions else None


class SchemaRegistry:
    """Confluent's Schema Registry (Avro) kept in the data file; ``cluster.schemas``.

    Every method is a coroutine. Refusals are ``SchemaRegistryError``s carrying
    Confluent's error code (``code``) and HTTP status (``http_status``).
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self._tables_ready = False
        self._tables_lock = asyncio.Lock()
        # Parsed schemas by id: an id always names the same text, in every process.
        self._parsed: dict[int, AvroSchema] = {}

    # ------------------------------------------------------------------ registering

    async def register_schema(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """Register ``schema`` under ``subject`` and return its global id.

        Idempotent: a schema the subject already has (live) returns its id and makes no
        new version. Otherwise the schema must be compatible with the subject's versions
        under its level, else ``IncompatibleSchema`` (409) with the reasons; an invalid
        schema is ``InvalidSchema`` (42201). The same schema under another subject keeps
        the id it already has there.
        """
        _check_subject(subject)
        parsed = self._parse(schema, schema_type)
        await self._ensure_tables()
        existing = await self._live_version_of(subject, parsed)
        if existing is not None:
            return existing.schema_id
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            rows = await conn.execute_fetchall(
                "SELECT v.version, v.schema_id, v.deleted, s.schema FROM subject_versions v "
                "JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? ORDER BY v.version",
                (subject,))
            for version, schema_id, deleted, text in rows:
                if not deleted and text == parsed.canonical:
                    return int(schema_id)  # registered meanwhile by another process
            live = [(int(version), int(schema_id), text) for version, schema_id, deleted, text in rows
                    if not deleted]
            level = await self._effective_level(conn, subject)
            report = self._check(parsed, live, level)
            if not report.is_compatible:
                raise IncompatibleSchema(subject, report.messages, report.reasons,
                                         report.old_version or 0, level)
            schema_id = await self._schema_id(conn, schema_type, parsed.canonical)
            version = (int(rows[-1][0]) + 1) if rows else 1
            await conn.execute(
                "INSERT INTO subject_versions(subject, version, schema_id, deleted, registered_at) "
                "VALUES (?, ?, ?, 0, ?)", (subject, version, schema_id, now))
            await record_change(conn, now, "schema_registered",
                                {"subject": subject, "version": version, "schema_id": schema_id})
        self._parsed[schema_id] = parsed
        return schema_id

    async def lookup_schema(self, subject: str, schema: str, schema_type: str = "AVRO",
                            deleted: bool = False) -> SchemaVersion:
        """The version of ``subject`` holding ``schema`` (``POST /subjects/{s}``).

        ``SubjectNotFound`` (40401) if the subject has no version, ``SchemaNotFound``
        (40403) if none of them is this schema; ``deleted`` also searches soft-deleted ones.
        """
        _check_subject(subject)
        parsed = self._parse(schema, schema_type)
        await self._ensure_tables()
        rows = await self._version_rows(subject, deleted)
        if not rows:
            raise SubjectNotFound(subject)
        for row in reversed(rows):
            if row.schema == parsed.canonical:
                return row
        raise SchemaNotFound()

    # ------------------------------------------------------------------ reading

    async def get_subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        """Subjects with at least one live version (``deleted``: soft-deleted ones too), sorted."""
        await self._ensure_tables()
        rows = await self._storage.fetchall(
            "SELECT DISTINCT subject FROM subject_versions WHERE (? OR deleted = 0) AND substr(subject, 1, ?) = ? "
            "ORDER BY subject", (int(deleted), len(prefix), prefix))
        return [row[0] for row in rows]

    async def describe_subjects(self, deleted: bool = False, limit: int | None = None) -> list[SubjectSummary]:
        """Every subject with its versions and ids and its own level, in two queries (for views).

        ``limit`` keeps the first subjects by name only.
        """
        await self._ensure_tables()
        async with self._storage.snapshot() as conn:
            rows = await conn.execute_fetchall(
                "SELECT subject, version, schema_id FROM subject_versions WHERE (? OR deleted = 0) "
                "ORDER BY subject, version", (int(deleted),))
            levels = dict(await conn.execute_fetchall(
                "SELECT subject, level FROM compatibility_levels WHERE subject != ?", (_GLOBAL,)))
        grouped: dict[str, list[tuple[int, int]]] = {}
        for subject, version, schema_id in rows:
            if subject not in grouped and limit is not None and len(grouped) >= limit:
                break
            grouped.setdefault(subject, []).append((int(version), int(schema_id)))
        return [SubjectSummary(subject, tuple(versions), levels.get(subject))
                for subject, versions in grouped.items()]

    async def get_versions(self, subject: str, deleted: bool = False) -> list[int]:
        """The subject's version numbers, ascending; ``SubjectNotFound`` (40401) if it has none."""
        await self._ensure_tables()
        rows = await self._storage.fetchall(
            "SELECT version FROM subject_versions WHERE subject = ? AND (? OR deleted = 0) ORDER BY version",
            (subject, int(deleted)))
        if not rows:
            raise SubjectNotFound(subject)
        return [int(row[0]) for row in rows]

    async def get_version(self, subject: str, version: int | str = "latest",
                          deleted: bool = False) -> SchemaVersion:
        """One version of the subject: a number, ``"latest"`` or -1 (the newest live one).

        ``SubjectNotFound`` (40401), ``VersionNotFound`` (40402) or ``InvalidVersion`` (42202).
        """
        number = parse_version(version)
        await self._ensure_tables()
        rows = await self._version_rows(subject, deleted)
        if not rows:
            raise SubjectNotFound(subject)
        if number is None:
            return rows[-1]
        for row in rows:
            if row.version == number:
                return row
        raise VersionNotFound(number)

    async def get_latest_version(self, subject: str) -> SchemaVersion:
        """The subject's newest live version."""
        return await self.get_version(subject, "latest")

    async def get_schema(self, schema_id: int) -> RegisteredSchema:
        """The schema with this global id; ``SchemaNotFound`` (40403) if no version holds it."""
        if not 0 < int(schema_id) < 2**63:  # beyond SQLite's integers: no such schema
            raise SchemaNotFound(schema_id)
        await self._ensure_tables()
        row = await self._storage.fetchone(
            "SELECT s.schema, s.schema_type FROM schemas s WHERE s.id = ? "
            "AND EXISTS (SELECT 1 FROM subject_versions v WHERE v.schema_id = s.id)", (int(schema_id),))
        if row is None:
            raise SchemaNotFound(schema_id)
        return RegisteredSchema(int(schema_id), row[0], row[1])

    async def get_avro_schema(self, schema_id: int) -> AvroSchema:
        """The parsed Avro schema with this id (cached: an id never changes meaning)."""
        cached = self._parsed.get(schema_id)
        if cached is None:
            registered = await self.get_schema(schema_id)
            cached = self._parsed[schema_id] = _avro().parse_avro_schema(registered.schema)
        return cached

    async def get_schema_versions(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        """Every (subject, version) holding this id; ``SchemaNotFound`` (40403) if none."""
        if not 0 < int(schema_id) < 2**63:  # beyond SQLite's integers: no such schema
            raise SchemaNotFound(schema_id)
        await self._ensure_tables()
        rows = await self._storage.fetchall(
            "SELECT subject, version FROM subject_versions WHERE schema_id = ? AND (? OR deleted = 0) "
            "ORDER BY subject, version", (int(schema_id), int(deleted)))
        if not rows:
            raise SchemaNotFound(schema_id)
        return [(row[0], int(row[1])) for row in rows]

    # ------------------------------------------------------------------ deleting

    async def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Delete every version of the subject; return their numbers.

        Soft first: a second soft delete is ``SubjectSoftDeleted`` (40404); a permanent
        delete of a subject not soft-deleted first is ``SubjectNotSoftDeleted`` (40405).
        """
        await self._ensure_tables()
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            rows = await conn.execute_fetchall(
                "SELECT version, deleted FROM subject_versions WHERE subject = ? ORDER BY version", (subject,))
            if not rows:
                raise SubjectNotFound(subject)
            live = [int(version) for version, deleted in rows if not deleted]
            if permanent:
                if live:
                    raise SubjectNotSoftDeleted(subject)
                versions = [int(version) for version, _ in rows]
                await conn.execute("DELETE FROM subject_versions WHERE subject = ?", (subject,))
            else:
                if not live:
                    raise SubjectSoftDeleted(subject)
                versions = live
                await conn.execute("UPDATE subject_versions SET deleted = 1 WHERE subject = ?", (subject,))
            await record_change(conn, now, "schema_deleted",
                                {"subject": subject, "versions": versions, "permanent": permanent})
        return versions

    async def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        """Delete one version (a number or ``"latest"``) and return its number.

        Soft first, as ``delete_subject``: 40406 for a second soft delete, 40407 for a
        permanent delete of a live version.
        """
        number = parse_version(version)
        await self._ensure_tables()
        now = self._clock.now_ms()
        async with self._storage.write() as conn:
            rows = await conn.execute_fetchall(
                "SELECT version, deleted FROM subject_versions WHERE subject = ? ORDER BY version", (subject,))
            if not rows or (not permanent and all(deleted for _, deleted in rows)):
                raise SubjectNotFound(subject)
            if number is None:
                candidates = rows if permanent else [row for row in rows if not row[1]]
                number = int(candidates[-1][0])
            found = [bool(deleted) for v, deleted in rows if int(v) == number]
            if not found:
                raise VersionNotFound(number)
            if permanent:
                if not found[0]:
                    raise VersionNotSoftDeleted(subject, number)
                await conn.execute("DELETE FROM subject_versions WHERE subject = ? AND version = ?",
                                   (subject, number))
            else:
                if found[0]:
                    raise VersionSoftDeleted(subject, number)
                await conn.execute("UPDATE subject_versions SET deleted = 1 WHERE subject = ? AND version = ?",
                                   (subject, number))
            await record_change(conn, now, "schema_deleted",
                                {"subject": subject, "versions": [number], "permanent": permanent})
        return number

    # ------------------------------------------------------------------ compatibility

    async def get_compatibility(self, subject: str | None = None, default_to_global: bool = False) -> str:
        """The level of ``subject`` (its own), or the global level when ``subject`` is None.

        A subject without a level of its own is ``SubjectCompatibilityNotConfigured``
        (40408), unless ``default_to_global`` (Confluent's ``?defaultToGlobal=true``).
        """
        await self._ensure_tables()
        if subject is not None:
            row = await self._storage.fetchone("SELECT level FROM compatibility_levels WHERE subject = ?",
                                               (subject,))
            if row is not None:
                return str(row[0])
            if not default_to_global:
                raise SubjectCompatibilityNotConfigured(subject)
        row = await self._storage.fetchone("SELECT level FROM compatibility_levels WHERE subject = ?", (_GLOBAL,))
        return str(row[0]) if row is not None else DEFAULT_COMPATIBILITY

    async def effective_compatibility(self, subject: str) -> str:
        """The level that applies to ``subject``: its own, else the global one."""
        return await self.get_compatibility(subject, default_to_global=True)

    async def set_compatibility(self, level: str, subject: str | None = None) -> str:
        """Set the level of ``subject`` (None: the global level); return it in Confluent's spelling.

        Case does not matter; anything but the seven levels is
        ``InvalidCompatibilityLevel`` (42203). A subject may get a level before it exists.
        """
        normalized = parse_compatibility_level(level)
        if subject is not None:
            _check_subject(subject)
        await self._ensure_tables()
        now = self._clock.now_ms()
        key = _GLOBAL if subject is None else subject
        async with self._storage.write() as conn:
            await conn.execute("INSERT INTO compatibility_levels(subject, level) VALUES (?, ?) "
                               "ON CONFLICT(subject) DO UPDATE SET level = excluded.level", (key, normalized))
            await record_change(conn, now, "compatibility_changed", {"subject": key, "level": normalized})
        return normalized

    async def delete_compatibility(self, subject: str | None = None) -> str:
        """Remove the level of ``subject`` (it follows the global one again), or reset the global
        level to BACKWARD; return the level it had. 40408 if the subject had none of its own.
        """
        await self._ensure_tables()
        now = self._clock.now_ms()
        key = _GLOBAL if subject is None else subject
        async with self._storage.write() as conn:
            rows = await conn.execute_fetchall("SELECT level FROM compatibility_levels WHERE subject = ?", (key,))
            if not rows:
                if subject is not None:
                    raise SubjectCompatibilityNotConfigured(subject)
                return DEFAULT_COMPATIBILITY
            await conn.execute("DELETE FROM compatibility_levels WHERE subject = ?", (key,))
            await record_change(conn, now, "compatibility_changed", {"subject": key, "level": ""})
        return str(rows[0][0])

    async def test_compatibility(self, subject: str, schema: str, version: int | str | None = "latest",
                                 schema_type: str = "AVRO") -> CompatibilityReport:
        """Would ``schema`` be accepted under ``subject``? Nothing is registered.

        ``version`` a number or ``"latest"``: checked against that one version with the
        subject's level (``POST /compatibility/subjects/{s}/versions/{v}``; 40401/40402 if
        it does not exist). ``version=None``: against what registering would check — the
        latest version, or every live version for a transitive level
        (``POST /compatibility/subjects/{s}/versions``; compatible when there is none).
        """
        _check_subject(subject)
        parsed = self._parse(schema, schema_type)
        await self._ensure_tables()
        level = await self.effective_compatibility(subject)
        rows = await self._version_rows(subject, deleted=False)
        if version is None:
            live = [(row.version, row.schema_id, row.schema) for row in rows]
            return self._check(parsed, live, level)
        target = await self.get_version(subject, version)
        return self._check(parsed, [(target.version, target.schema_id, target.schema)], level)

    # ------------------------------------------------------------------ internals

    def _parse(self, schema: str, schema_type: str) -> AvroSchema:
        kind = (schema_type or "AVRO").upper()
        if kind not in SCHEMA_TYPES:
            raise InvalidSchema(f"Invalid schema type {schema_type!r}: this registry supports "
                                f"{', '.join(SCHEMA_TYPES)}")
        return _avro().parse_avro_schema(schema)

    def _check(self, new: AvroSchema, live: list[tuple[int, int, str]], level: str) -> CompatibilityReport:
        """Check ``new`` against the live versions (version, id, text) as ``level`` says.

        Newest first, stopping at the first incompatible version, as Confluent does.
        """
        if level == "NONE" or not live:
            return CompatibilityReport(True, level)
        previous = live if level.endswith("_TRANSITIVE") else live[-1:]
        backward = level.startswith(("BACKWARD", "FULL"))
        forward = level.startswith(("FORWARD", "FULL"))
        for version, schema_id, text in reversed(previous):
            old = self._parsed.get(schema_id)
            if old is None:
                old = self._parsed[schema_id] = _avro().parse_avro_schema(text)
            found: list[tuple[Incompatibility, str, str]] = []
            if backward:  # the new schema reads what the old one wrote
                found += [(p, "new", "old") for p in _avro().compatibility_problems(new, old)]
            if forward:  # the old schema reads what the new one writes
                found += [(p, "old", "new") for p in _avro().compatibility_problems(old, new)]
            if found:
                messages = [p.confluent_message(reader, writer) for p, reader, writer in found]
                messages += [f"{{oldSchemaVersion: {version}}}", f"{{oldSchema: '{text}'}}",
                             f"{{compatibility: '{level}'}}"]
                reasons = [p.reason(reader, writer) for p, reader, writer in found]
                return CompatibilityReport(False, level, messages, reasons, version)
        return CompatibilityReport(True, level)

    async def _effective_level(self, conn: aiosqlite.Connection, subject: str) -> str:
        rows = await conn.execute_fetchall(
            "SELECT subject, level FROM compatibility_levels WHERE subject IN (?, ?)", (subject, _GLOBAL))
        levels = dict(rows)
        return str(levels.get(subject) or levels.get(_GLOBAL) or DEFAULT_COMPATIBILITY)

    @staticmethod
    async def _schema_id(conn: aiosqlite.Connection, schema_type: str, canonical: str) -> int:
        """The global id of this schema text, a new one (the highest so far + 1) if it is new."""
        kind = schema_type.upper()
        rows = await conn.execute_fetchall("SELECT id FROM schemas WHERE schema_type = ? AND schema = ?",
                                           (kind, canonical))
        if rows:
            return int(rows[0][0])
        cursor = await conn.execute("INSERT INTO schemas(schema_type, schema) VALUES (?, ?)", (kind, canonical))
        return int(cursor.lastrowid)

    async def _live_version_of(self, subject: str, parsed: AvroSchema) -> SchemaVersion | None:
        for row in reversed(await self._version_rows(subject, deleted=False)):
            if row.schema == parsed.canonical:
                return row
        return None

    async def _version_rows(self, subject: str, deleted: bool) -> list[SchemaVersion]:
        rows = await self._storage.fetchall(
            "SELECT v.version, v.schema_id, s.schema, s.schema_type, v.deleted FROM subject_versions v "
            "JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? AND (? OR v.deleted = 0) ORDER BY v.version",
            (subject, int(deleted)))
        return [SchemaVersion(subject, int(version), int(schema_id), text, kind, bool(gone))
                for version, schema_id, text, kind, gone in rows]

    async def _ensure_tables(self) -> None:
        """Create the registry's tables in a data file made before the registry existed."""
        if self._tables_ready:
            return
        async with self._tables_lock:
            if self._tables_ready:
                return
            rows = await self._storage.fetchall(
                f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({','.join('?' * len(_TABLES))})",
                _TABLES)
            if rows[0][0] != len(_TABLES):
                async with self._storage.write() as conn:
                    for ddl in SCHEMA_REGISTRY_TABLES:
                        await conn.execute(ddl)
            self._tables_ready = True


def parse_version(version: int | str) -> int | None:
    """A version argument as a number, or None for the latest (``"latest"`` or -1).

    Anything else outside 1..2^31-1 is ``InvalidVersion`` (42202).
    """
    if isinstance(version, str):
        text = version.strip()
        if text.lower() == "latest":
            return None
        try:
            number = int(text)
        except ValueError:
            raise InvalidVersion(version) from None
    elif isinstance(version, int) and not isinstance(version, bool):
        number = version
    else:
        raise InvalidVersion(version)
    if number == -1:
        return None
    if not 1 <= number <= MAX_VERSION:
        raise InvalidVersion(version)
    return number


def parse_compatibility_level(level: str) -> str:
    """``level`` in Confluent's spelling (case-insensitive); ``InvalidCompatibilityLevel`` (42203) if unknown."""
    normalized = str(level).strip().upper() if isinstance(level, str) else ""
    if normalized not in COMPATIBILITY_LEVELS:
        raise InvalidCompatibilityLevel(level)
    return normalized


def _check_subject(subject: str) -> None:
    if not isinstance(subject, str) or not subject or not subject.isprintable():
        raise InvalidSubject(str(subject))


def _avro() -> Any:
    """``avro_schemas``, imported on first use: Avro's library costs ~40 ms to import, and
    every tool imports the broker core, most of them never touching a schema."""
    from . import avro_schemas

    return avro_schemas
