"""Transforms that reshape a key or value: ValueToKey, ExtractField, HoistField, Flatten.

kplay's Connect data are flat structs (a table row) or schemaless values. Where Kafka
would build a nested struct (HoistField on a struct) or a primitive with a schema
(ExtractField on a struct), kplay carries the result schemaless: the same JSON payload,
without the schema in JsonConverter's envelope.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..data import ConnectData, StructSchema, to_wire
from ..errors import DataError
from .record import ConnectRecord

Transform = Callable[[ConnectRecord], "ConnectRecord | None"]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def value_to_key(which: str, config: Mapping[str, str]) -> Transform:
    """``ValueToKey``: the key becomes a struct (or map) of the named fields of the value."""
    names = _names(config["fields"])

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.value
        if data.value is None:
            return record.with_key(ConnectData(None, None))
        if data.schema is None:
            if not isinstance(data.value, dict):
                raise DataError("Only Map objects supported in absence of schema for [copying fields from value "
                                f"to key], found: {type(data.value).__name__}")
            return record.with_key(ConnectData(None, {name: data.value.get(name) for name in names}))
        fields = []
        for name in names:
            field = data.schema.field(name)
            if field is None:
                raise DataError(f"{name} is not a valid field name")
            fields.append(field)
        return record.with_key(ConnectData(StructSchema(data.schema.name + "Key", tuple(fields)),
                                           {name: data.value.get(name) for name in names}))

    return apply


def extract_field(which: str, config: Mapping[str, str]) -> Transform:
    """``ExtractField``: the key or value becomes one of its fields."""
    name = config["field"]

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None:
            return record
        if data.schema is None:
            if not isinstance(data.value, dict):
                raise DataError("Only Map objects supported in absence of schema for [field extraction], found: "
                                f"{type(data.value).__name__}")
            return record.with_part(which, ConnectData(None, data.value.get(name)))
        if data.schema.field(name) is None:
            raise DataError(f"Unknown field: {name}")
        field = data.schema.field(name)
        assert field is not None
        return record.with_part(which, ConnectData(None, to_wire(field, data.value.get(name))))

    return apply


def hoist_field(which: str, config: Mapping[str, str]) -> Transform:
    """``HoistField``: the key or value wrapped in a one-field map ``{field: value}``."""
    name = config["field"]

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        inner: Any = {f.name: to_wire(f, data.value.get(f.name)) for f in data.schema.fields} if data.schema is not None and data.value is not None \
            else data.value
        return record.with_part(which, ConnectData(None, {name: inner}))

    return apply


def flatten(which: str, config: Mapping[str, str]) -> Transform:
    """``Flatten``: nested maps become top-level fields named ``outer<delimiter>inner``."""
    delimiter = config.get("delimiter", ".")

    def flat(prefix: str, value: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            name = f"{prefix}{delimiter}{key}" if prefix else str(key)
            if isinstance(item, dict):
                flat(name, item, out)
            else:
                out[name] = item
        return out

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None or data.schema is not None:
            return record  # kplay's structs are flat already
        if not isinstance(data.value, dict):
            raise DataError("Only Map objects supported in absence of schema for [flattening], found: "
                            f"{type(data.value).__name__}")
        return record.with_part(which, ConnectData(None, flat("", data.value, {})))

    return apply
