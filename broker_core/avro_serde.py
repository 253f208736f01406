"""Avro values in Confluent's wire format: ``AvroSerializer`` and ``AvroDeserializer``.

A registry-encoded key or value is one magic byte 0, the schema's global id as a 4-byte
big-endian integer, then the datum in Avro's binary encoding — exactly what Confluent's
``KafkaAvroSerializer`` writes, so records produced here decode in a real consumer and
the other way round. The serializer registers (or looks up) its schema under the topic's
subject once and caches the id; the deserializer fetches the writer's schema by the id
in each value (cached: an id never changes meaning).
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import struct
import uuid
from typing import Any, NamedTuple

import avro.errors
import avro.io

from .avro_schemas import AvroSchema, parse_avro_schema
from .errors import KafkaError
from .schema_registry import SchemaRegistry, topic_subject
from .schema_registry_errors import SchemaNotFound

#: The first byte of every value in Confluent's wire format.
MAGIC_BYTE = 0
#: Magic byte and schema id, big-endian, before the Avro binary.
WIRE_HEADER = struct.Struct(">bI")


class SerializationError(KafkaError):
    """A value could not be serialized or deserialized (Kafka's ``SerializationException``)."""

    name = "SERIALIZATION_ERROR"


class DecodedValue(NamedTuple):
    """A deserialized key or value, with where its schema came from.

    ``subject`` and ``version`` name the registered version of the writer's schema (the
    topic's subject when it holds that id, else the first one that does); both are None
    when every version holding the id was deleted.
    """

    value: Any
    schema_id: int
    subject: str | None
    version: int | None


def schema_id_of(data: bytes | None) -> int | None:
    """The schema id if ``data`` starts with Confluent's header (magic 0 + 4-byte id), else None."""
    if data is None or len(data) < WIRE_HEADER.size or data[0] != MAGIC_BYTE:
        return None
    return WIRE_HEADER.unpack_from(data)[1]


def encode_wire_format(schema_id: int, avro_binary: bytes) -> bytes:
    """Prefix Avro binary with the magic byte and the schema id."""
    return WIRE_HEADER.pack(MAGIC_BYTE, schema_id) + avro_binary


def _subject_of(topic: str | None, is_key: bool, subject: str | None) -> str:
    if subject is not None:
        return subject
    if topic is None:
        raise ValueError("name a topic (its subject is <topic>-key or <topic>-value) or a subject")
    return topic_subject(topic, is_key)


class AvroSerializer:
    """Turns Python values into Confluent-framed Avro bytes.

    ``schema`` is the writer's schema (Avro JSON text). With ``auto_register`` (the
    default, as Confluent's ``auto.register.schemas``) it is registered under the subject
    on first use, which refuses a schema the subject's compatibility level does not
    allow; without it the schema must already be registered there. With
    ``use_latest_version`` the subject's latest schema is used instead (Confluent's
    ``use.latest.version``) and ``schema`` may be left out.
    """

    def __init__(self, registry: SchemaRegistry, schema: str | None = None, *,
                 auto_register: bool = True, use_latest_version: bool = False) -> None:
        if schema is None and not use_latest_version:
            raise ValueError("an AvroSerializer needs a schema, or use_latest_version=True")
        self._registry = registry
        self._schema = parse_avro_schema(schema) if schema is not None else None
        self._auto_register = auto_register
        self._use_latest = use_latest_version
        # (subject, canonical schema) -> (id, schema, writer): one registry call per subject.
        self._known: dict[tuple[str, str], tuple[int, AvroSchema, avro.io.DatumWriter]] = {}

    async def serialize(self, value: Any, topic: str | None = None, *, is_key: bool = False,
                        subject: str | None = None, schema: str | None = None) -> bytes | None:
        """``value`` as magic byte 0 + schema id + Avro binary; None stays None (a tombstone).

        The subject is ``subject`` if given, else ``<topic>-key`` / ``<topic>-value``.
        ``schema`` overrides the serializer's schema for this call. A value that does not
        fit the schema is a ``SerializationError`` naming the field.
        """
        if value is None:
            return None
        name = _subject_of(topic, is_key, subject)
        schema_id, parsed, writer = await self._writer_for(
            name, parse_avro_schema(schema) if schema is not None else self._schema)
        buffer = io.BytesIO()
        buffer.write(WIRE_HEADER.pack(MAGIC_BYTE, schema_id))
        try:
            writer.write(value, avro.io.BinaryEncoder(buffer))
        except (avro.errors.AvroException, TypeError, ValueError, AttributeError, struct.error) as exc:
            raise SerializationError(f"Error serializing Avro message for subject '{name}' "
                                     f"(schema id {schema_id}, {parsed.name}): {_one_line(exc)}") from None
        return buffer.getvalue()

    async def _writer_for(self, subject: str, schema: AvroSchema | None
                          ) -> tuple[int, AvroSchema, avro.io.DatumWriter]:
        key = (subject, schema.canonical if schema is not None else "")
        known = self._known.get(key)
        if known is not None:
            return known
        if schema is None or self._use_latest:
            latest = await self._registry.get_latest_version(subject)
            schema_id = latest.schema_id
            schema = await self._registry.get_avro_schema(schema_id)
        elif self._auto_register:
            schema_id = await self._registry.register_schema(subject, schema.canonical)
        else:
            schema_id = (await self._registry.lookup_schema(subject, schema.canonical)).schema_id
        known = self._known[key] = (schema_id, schema, avro.io.DatumWriter(schema.parsed))
        return known


class AvroDeserializer:
    """Turns Confluent-framed Avro bytes back into Python values.

    The writer's schema comes from the registry by the id in each value. With
    ``reader_schema`` the value is resolved into that schema (Avro's schema resolution:
    new fields get their defaults, removed ones are skipped), as a consumer reading with
    its own schema does.
    """

    def __init__(self, registry: SchemaRegistry, reader_schema: str | None = None) -> None:
        self._registry = registry
        self._reader = parse_avro_schema(reader_schema) if reader_schema is not None else None
        self._readers: dict[int, avro.io.DatumReader] = {}
        self._where: dict[tuple[int, str | None], tuple[str | None, int | None]] = {}

    async def deserialize(self, data: bytes | None, topic: str | None = None, *,
                          is_key: bool = False) -> DecodedValue | None:
        """Decode one key or value; None (a null key, a tombstone) stays None.

        Bytes that are not in Confluent's wire format, name an unknown schema id or are
        not valid Avro for their schema raise ``SerializationError`` saying which.
        """
        if data is None:
            return None
        data = bytes(data)
        if len(data) < WIRE_HEADER.size or data[0] != MAGIC_BYTE:
            raise SerializationError(_not_wire_format(data))
        schema_id = WIRE_HEADER.unpack_from(data)[1]
        reader = await self._reader_for(schema_id)
        decoder = avro.io.BinaryDecoder(io.BytesIO(data[WIRE_HEADER.size:]))
        try:
            value = reader.read(decoder)
        except (avro.errors.AvroException, TypeError, ValueError, UnicodeDecodeError, struct.error) as exc:
            raise SerializationError(f"Error deserializing Avro message for id {schema_id}: "
                                     f"{_one_line(exc)}") from None
        subject, version = await self._registered_as(schema_id, topic_subject(topic, is_key) if topic else None)
        return DecodedValue(value, schema_id, subject, version)

    async def _reader_for(self, schema_id: int) -> avro.io.DatumReader:
        reader = self._readers.get(schema_id)
        if reader is None:
            try:
                writer = await self._registry.get_avro_schema(schema_id)
            except SchemaNotFound:
                raise SerializationError(f"Error retrieving Avro schema for id {schema_id}: "
                                         f"Schema {schema_id} not found") from None
            target = self._reader.parsed if self._reader is not None else writer.parsed
            reader = self._readers[schema_id] = avro.io.DatumReader(writer.parsed, target)
        return reader

    async def _registered_as(self, schema_id: int, subject: str | None) -> tuple[str | None, int | None]:
        """Which (subject, version) holds the id, preferring the topic's subject; cached."""
        key = (schema_id, subject)
        where = self._where.get(key)
        if where is None:
            try:
                versions = await self._registry.get_schema_versions(schema_id)
            except SchemaNotFound:
                versions = []
            own = [pair for pair in versions if pair[0] == subject]
            chosen = (own or versions or [(None, None)])[-1]
            where = self._where[key] = chosen
        return where


def value_to_json(value: Any) -> str:
    """A decoded Avro value as one line of JSON, for showing it.

    Bytes and fixed are shown as Avro's JSON encoding does (one character per byte),
    decimals, dates, times and UUIDs as their text.
    """
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(", ", ": "))


def _json_default(item: Any) -> Any:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item).decode("latin-1")
    if isinstance(item, (datetime.datetime, datetime.date, datetime.time)):
        return item.isoformat()
    if isinstance(item, (decimal.Decimal, uuid.UUID)):
        return str(item)
    return repr(item)


def _not_wire_format(data: bytes) -> str:
    if not data:
        return "Unknown magic byte: the value is empty, not in Confluent's wire format (magic byte 0 + 4-byte schema id + Avro)"
    if data[0] != MAGIC_BYTE:
        return (f"Unknown magic byte 0x{data[0]:02x}: this value was not written by a Schema Registry "
                f"serializer (Confluent's wire format starts with magic byte 0 and a 4-byte schema id)")
    return (f"The value is too short for Confluent's wire format ({len(data)} bytes; magic byte 0 and "
            f"a 4-byte schema id need {WIRE_HEADER.size})")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
