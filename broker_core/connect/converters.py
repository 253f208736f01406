"""Converters: Connect data <-> record bytes, as ``key.converter`` / ``value.converter`` name them.

* ``JsonConverter``: Kafka's JSON; with ``schemas.enable`` (the default) each value is an
  envelope ``{"schema": ..., "payload": ...}`` so a sink can rebuild the table.
* ``AvroConverter``: Confluent's wire format (magic byte 0, 4-byte schema id, Avro
  binary); the schema is registered under ``<topic>-value`` (or ``-key``) in the
  cluster's Schema Registry, so records carry 5 bytes of schema instead of the whole.
* ``StringConverter``: UTF-8 text, no schema.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from typing import TYPE_CHECKING, Any, Protocol

from .config import AVRO_CONVERTER, JSON_CONVERTER, STRING_CONVERTER, ConnectorConfig
from .data import DATE, LOGICAL_TYPES, TIME, TIMESTAMP, ConnectData, Field, StructSchema, from_wire, to_wire
from .errors import ConnectError, DataError

__all__ = ["AvroConverter", "ConnectData", "Converter", "DataError", "JsonConverter", "StringConverter",
           "converter_for"]

if TYPE_CHECKING:
    from ..cluster import Cluster


class Converter(Protocol):
    """Turns Connect data into a record's bytes and back."""

    async def from_connect(self, topic: str, data: ConnectData) -> bytes | None:
        """Serialize ``data`` for ``topic``."""
        ...

    async def to_connect(self, topic: str, raw: bytes | None) -> ConnectData:
        """Deserialize bytes read from ``topic``."""
        ...


class StringConverter:
    """UTF-8 strings (``org.apache.kafka.connect.storage.StringConverter``)."""

    async def from_connect(self, topic: str, data: ConnectData) -> bytes | None:
        """The value's text, UTF-8 encoded (None stays None)."""
        if data.value is None:
            return None
        if data.schema is not None:
            return json.dumps(struct_to_wire(data.schema, data.value), separators=(",", ":")).encode()
        return str(data.value).encode()

    async def to_connect(self, topic: str, raw: bytes | None) -> ConnectData:
        """The bytes as text, without a schema."""
        return ConnectData(None, None if raw is None else raw.decode("utf-8", errors="replace"))


class JsonConverter:
    """Kafka's ``org.apache.kafka.connect.json.JsonConverter``."""

    def __init__(self, schemas_enable: bool = True) -> None:
        self.schemas_enable = schemas_enable

    async def from_connect(self, topic: str, data: ConnectData) -> bytes | None:
        """JSON; an envelope with the schema when ``schemas.enable`` is true."""
        if data.value is None:
            return None
        if data.schema is None:
            payload: Any = data.value
            envelope: Any = {"schema": None, "payload": payload} if self.schemas_enable else payload
        else:
            payload = struct_to_wire(data.schema, data.value)
            for item in data.schema.fields:
                if item.type == "bytes" and payload.get(item.name) is not None:
                    payload[item.name] = base64.b64encode(payload[item.name]).decode()
            envelope = ({"schema": schema_to_json(data.schema), "payload": payload}
                        if self.schemas_enable else payload)
        return json.dumps(envelope, separators=(",", ":")).encode()

    async def to_connect(self, topic: str, raw: bytes | None) -> ConnectData:
        """Parse JSON; with ``schemas.enable`` the envelope's schema types the payload."""
        if raw is None:
            return ConnectData(None, None)
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise DataError(f"Converting byte[] to Kafka Connect data failed due to serialization error: {exc}") from None
        if not self.schemas_enable:
            return ConnectData(None, parsed)
        if not isinstance(parsed, dict) or set(parsed) != {"schema", "payload"}:
            raise DataError(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain "
                "additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false "
                "in your converter configuration.")
        if parsed["schema"] is None or parsed["schema"].get("type") != "struct":
            return ConnectData(None, parsed["payload"])
        schema = schema_from_json(parsed["schema"])
        payload = dict(parsed["payload"] or {})
        for item in schema.fields:
            if item.type == "bytes" and isinstance(payload.get(item.name), str):
                payload[item.name] = base64.b64decode(payload[item.name])
        return ConnectData(schema, struct_from_wire(schema, payload))


class AvroConverter:
    """Confluent's ``io.confluent.connect.avro.AvroConverter`` over the cluster's Schema Registry.

    The Avro schema is Confluent's ``AvroData`` translation of the Connect schema (the
    record named after the table, optional fields as ``["null", type]`` unions with a null
    default, ``connect.name`` on logical types); it is registered under
    ``<topic>-value`` on first use, so the subject's compatibility level decides whether a
    changed table may still be published.
    """

    def __init__(self, cluster: "Cluster", is_key: bool = False) -> None:
        from ..avro_serde import AvroDeserializer  # noqa: PLC0415 (late: only Avro users need avro)

        self._cluster = cluster
        self._is_key = is_key
        self._serializers: dict[StructSchema, Any] = {}
        self._deserializer = AvroDeserializer(cluster.schemas)
        self._structs: dict[int, StructSchema] = {}

    async def from_connect(self, topic: str, data: ConnectData) -> bytes | None:
        """Register the schema under the topic's subject (once) and write magic 0 + id + Avro binary."""
        from ..avro_serde import AvroSerializer, SerializationError  # noqa: PLC0415

        if data.value is None:
            return None
        if data.schema is None:
            raise DataError("AvroConverter needs a schema: the value has none")
        serializer = self._serializers.get(data.schema)
        if serializer is None:
            serializer = AvroSerializer(self._cluster.schemas, json.dumps(avro_schema_for(data.schema)))
            self._serializers[data.schema] = serializer
        try:
            return await serializer.serialize(avro_datum(data.schema, data.value), topic, is_key=self._is_key)
        except SerializationError as exc:
            raise DataError(f"Failed to serialize Avro data from topic {topic}: {exc}") from None

    async def to_connect(self, topic: str, raw: bytes | None) -> ConnectData:
        """Read the schema id, fetch the writer's schema from the registry and decode."""
        from ..avro_serde import SerializationError  # noqa: PLC0415

        if raw is None:
            return ConnectData(None, None)
        try:
            decoded = await self._deserializer.deserialize(raw, topic, is_key=self._is_key)
        except SerializationError as exc:
            raise DataError(f"Failed to deserialize data for topic {topic} to Avro: {exc}") from None
        assert decoded is not None
        schema = self._structs.get(decoded.schema_id)
        if schema is None:
            registered = await self._cluster.schemas.get_schema(decoded.schema_id)
            schema = self._structs[decoded.schema_id] = struct_from_avro(json.loads(registered.schema))
        return ConnectData(schema, struct_from_wire(schema, _plain_avro_values(schema, decoded.value)))


def converter_for(config: ConnectorConfig, which: str, cluster: "Cluster") -> Converter:
    """The key (``which="key"``) or value converter a connector config names."""
    name = config[f"{which}.converter"]
    if name == JSON_CONVERTER:
        return JsonConverter(bool(config.converter_setting(which, "schemas.enable", True)))
    if name == AVRO_CONVERTER:
        return AvroConverter(cluster, is_key=which == "key")
    if name == STRING_CONVERTER:
        return StringConverter()
    raise ConnectError(f"Unknown converter class {name}")


# -- structs on the wire -----------------------------------------------------------------------

def struct_to_wire(schema: StructSchema, value: dict[str, Any]) -> dict[str, Any]:
    """A row in physical Connect types (timestamps as epoch ms, ...)."""
    return {f.name: to_wire(f, value.get(f.name)) for f in schema.fields}


def struct_from_wire(schema: StructSchema, payload: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``struct_to_wire``; a missing or null required field is a DataError."""
    out = {}
    for item in schema.fields:
        value = payload.get(item.name, item.default)
        if value is None and not item.optional:
            raise DataError(f"Invalid null value for required {item.type.upper()} field \"{item.name}\"")
        out[item.name] = from_wire(item, value)
    return out


def schema_to_json(schema: StructSchema) -> dict[str, Any]:
    """JsonConverter's schema envelope of a struct."""
    fields = []
    for item in schema.fields:
        entry: dict[str, Any] = {"type": item.type, "optional": item.optional}
        if item.logical:
            entry.update({"name": item.logical, "version": 1})
        if item.default is not None:
            entry["default"] = item.default
        entry["field"] = item.name
        fields.append(entry)
    return {"type": "struct", "fields": fields, "optional": False, "name": schema.name}


def schema_from_json(envelope: dict[str, Any]) -> StructSchema:
    """A struct schema from JsonConverter's envelope."""
    fields = []
    for entry in envelope.get("fields", []):
        kind = entry.get("type")
        logical = entry.get("name") if entry.get("name") in LOGICAL_TYPES else None
        if kind == "struct" or kind not in (*LOGICAL_TYPES.values(), "int8", "int16", "float32", "float64",
                                            "boolean", "string", "bytes"):
            raise DataError(f"Unsupported field type {kind} for field {entry.get('field')}")
        fields.append(Field(entry["field"], kind, bool(entry.get("optional", False)), logical, entry.get("default")))
    return StructSchema(envelope.get("name") or "ConnectDefault", tuple(fields))


# -- Avro ---------------------------------------------------------------------------------------

_AVRO_PRIMITIVE = {"int8": "int", "int16": "int", "int32": "int", "int64": "long", "float32": "float",
                   "float64": "double", "boolean": "boolean", "string": "string", "bytes": "bytes"}
_AVRO_LOGICAL = {TIMESTAMP: "timestamp-millis", DATE: "date", TIME: "time-millis"}


@functools.lru_cache(maxsize=4096)
def avro_name(name: str) -> str:
    """An Avro-legal record name (letters, digits, underscores; not starting with a digit)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name) or "ConnectDefault"
    return clean if not clean[0].isdigit() else f"_{clean}"


def avro_schema_for(schema: StructSchema) -> dict[str, Any]:
    """The Avro record schema Confluent's AvroData makes of a Connect struct."""
    fields = []
    for item in schema.fields:
        kind: Any = _AVRO_PRIMITIVE[item.type]
        if item.logical:
            kind = {"type": kind, "connect.version": 1, "connect.name": item.logical,
                    "logicalType": _AVRO_LOGICAL[item.logical]}
        elif item.type in ("int8", "int16"):
            kind = {"type": "int", "connect.type": item.type}
        entry: dict[str, Any] = {"name": avro_name(item.name), "type": kind}
        if item.optional:
            entry["type"] = ["null", kind]
            entry["default"] = None
        elif item.default is not None:
            entry["default"] = item.default
        fields.append(entry)
    return {"type": "record", "name": avro_name(schema.name), "fields": fields, "connect.name": schema.name}


def struct_from_avro(avro_schema: dict[str, Any]) -> StructSchema:
    """A Connect struct from an Avro record schema (the writer's, from the registry)."""
    if not isinstance(avro_schema, dict) or avro_schema.get("type") != "record":
        raise DataError("The Avro schema is not a record: a JDBC sink needs one column per field")
    reverse = {v: k for k, v in _AVRO_PRIMITIVE.items() if k not in ("int8", "int16")}
    fields = []
    for entry in avro_schema.get("fields", []):
        kind = entry["type"]
        optional = False
        if isinstance(kind, list):
            branches = [b for b in kind if b != "null"]
            if len(branches) != 1:
                raise DataError(f"Unsupported Avro union for field {entry['name']}: {kind}")
            optional = "null" in kind
            kind = branches[0]
        logical = None
        connect_type = None
        if isinstance(kind, dict):
            logical = kind.get("connect.name") if kind.get("connect.name") in LOGICAL_TYPES else None
            if logical is None:
                logical = {v: k for k, v in _AVRO_LOGICAL.items()}.get(kind.get("logicalType", ""))
            connect_type = kind.get("connect.type")
            kind = kind.get("type")
        if kind not in reverse:
            raise DataError(f"Unsupported Avro type {kind} for field {entry['name']}")
        physical = connect_type if connect_type in ("int8", "int16") else reverse[kind]
        fields.append(Field(entry["name"], physical, optional, logical, entry.get("default")))
    return StructSchema(avro_schema.get("connect.name") or avro_schema.get("name", "ConnectDefault"), tuple(fields))


def avro_datum(schema: StructSchema, value: dict[str, Any]) -> dict[str, Any]:
    """A row as the Avro writer takes it: timestamps as aware UTC datetimes, names Avro-legal."""
    import datetime as dt

    out = {}
    for item in schema.fields:
        datum = value.get(item.name)
        if datum is not None and item.logical == TIMESTAMP:
            datum = datum.replace(tzinfo=dt.timezone.utc) if datum.tzinfo is None else datum
        out[avro_name(item.name)] = datum
    return out


def _plain_avro_values(schema: StructSchema, decoded: dict[str, Any]) -> dict[str, Any]:
    # Avro readers may already turn logical types into datetimes: bring them back to wire form.
    import datetime as dt

    out = dict(decoded)
    for item in schema.fields:
        value = out.get(item.name)
        if isinstance(value, dt.datetime) and item.logical == TIMESTAMP:
            out[item.name] = to_wire(item, value.astimezone(dt.timezone.utc).replace(tzinfo=None)
                                     if value.tzinfo else value)
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime) and item.logical == DATE:
            out[item.name] = to_wire(item, value)
        elif isinstance(value, dt.time) and item.logical == TIME:
            out[item.name] = to_wire(item, value)
    return out
