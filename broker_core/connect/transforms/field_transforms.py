"""Transforms that change fields of a key or value: InsertField, ReplaceField, MaskField, Cast,
TimestampConverter (Kafka's ``org.apache.kafka.connect.transforms``, same config names).

Each factory takes the part it works on (``"key"`` or ``"value"``, Kafka's ``$Key`` and
``$Value`` variants) and its config, and returns a function from record to record. A
struct keeps a schema (fields added, renamed, retyped); a schemaless value must be a map,
as in Kafka. Tombstones (null values) pass through unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from ..data import DATE, TIME, TIMESTAMP, ConnectData, Field, StructSchema, from_epoch_ms, to_epoch_ms
from ..errors import DataError
from .record import ConnectRecord

Transform = Callable[[ConnectRecord], "ConnectRecord | None"]
CAST_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string")


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _require_map(data: ConnectData, purpose: str) -> dict[str, Any]:
    if not isinstance(data.value, dict):
        kind = "null" if data.value is None else type(data.value).__name__
        raise DataError(f"Only Map objects supported in absence of schema for [{purpose}], found: {kind}")
    return dict(data.value)


# -- InsertField ---------------------------------------------------------------------------------

def insert_field(which: str, config: Mapping[str, str]) -> Transform:
    """``InsertField``: topic, partition, offset, timestamp and a static value as fields."""
    wanted = []  # (field name, optional, kind)
    for kind in ("topic", "partition", "offset", "timestamp", "static"):
        spec = config.get(f"{kind}.field", "").strip()
        if spec:
            optional = not spec.endswith("!")
            wanted.append((spec.rstrip("!?"), optional, kind))
    static_value = config.get("static.value")
    types = {"topic": ("string", None), "partition": ("int32", None), "offset": ("int64", None),
             "timestamp": ("int64", TIMESTAMP), "static": ("string", None)}

    def value_of(record: ConnectRecord, kind: str) -> Any:
        if kind == "topic":
            return record.topic
        if kind == "partition":
            return record.partition
        if kind == "offset":
            if record.offset is None and which == "value":
                return None  # a source record has no offset yet
            return record.offset
        if kind == "timestamp":
            return None if record.timestamp is None else from_epoch_ms(record.timestamp)
        return static_value

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None:
            return record
        if data.schema is None:
            value = _require_map(data, "field insertion")
            for name, _, kind in wanted:
                found = value_of(record, kind)
                value[name] = record.timestamp if kind == "timestamp" else found
            return record.with_part(which, ConnectData(None, value))
        fields = list(data.schema.fields)
        value = dict(data.value)
        for name, optional, kind in wanted:
            kind_type, logical = types[kind]
            fields = [f for f in fields if f.name != name] + [Field(name, kind_type, optional, logical)]
            value[name] = value_of(record, kind)
        return record.with_part(which, ConnectData(StructSchema(data.schema.name, tuple(fields)), value))

    return apply


# -- ReplaceField --------------------------------------------------------------------------------

def replace_field(which: str, config: Mapping[str, str]) -> Transform:
    """``ReplaceField``: keep (``include``), drop (``exclude``) and rename (``renames=old:new``) fields."""
    exclude = set(_names(config.get("exclude", "") or config.get("blacklist", "")))
    include = set(_names(config.get("include", "") or config.get("whitelist", "")))
    renames = dict(part.split(":", 1) for part in _names(config.get("renames", "")))

    def kept(name: str) -> bool:
        return name not in exclude and (not include or name in include)

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None:
            return record
        if data.schema is None:
            value = _require_map(data, "field replacement")
            return record.with_part(which, ConnectData(None, {renames.get(k, k): v for k, v in value.items()
                                                              if kept(k)}))
        fields = tuple(Field(renames.get(f.name, f.name), f.type, f.optional, f.logical, f.default)
                       for f in data.schema.fields if kept(f.name))
        value = {renames.get(k, k): v for k, v in data.value.items() if kept(k)}
        return record.with_part(which, ConnectData(StructSchema(data.schema.name, fields), value))

    return apply


# -- MaskField -----------------------------------------------------------------------------------

_MASKS: dict[str, Any] = {"int8": 0, "int16": 0, "int32": 0, "int64": 0, "float32": 0.0, "float64": 0.0,
                          "boolean": False, "string": "", "bytes": b""}


def mask_field(which: str, config: Mapping[str, str]) -> Transform:
    """``MaskField``: the named fields replaced by their type's empty value, or by ``replacement``."""
    names = set(_names(config["fields"]))
    replacement = config.get("replacement")

    def masked(field_type: str, logical: str | None, current: Any) -> Any:
        if replacement is not None:
            if field_type == "string":
                return replacement
            try:
                return cast_value(replacement, field_type)
            except (ValueError, DataError):
                raise DataError(f"Unable to mask value of type {field_type} with replacement "
                                f"{replacement}") from None
        if logical == TIMESTAMP:
            return from_epoch_ms(0)
        if logical == DATE:
            return dt.date(1970, 1, 1)
        if logical == TIME:
            return dt.time(0)
        return _MASKS.get(field_type, None)

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None:
            return record
        value = _require_map(data, "mask fields") if data.schema is None else dict(data.value)
        for name in names:
            if name not in value:
                continue
            if data.schema is not None:
                field = data.schema.field(name)
                assert field is not None
                value[name] = masked(field.type, field.logical, value[name])
            else:
                current = value[name]
                kind = ("boolean" if isinstance(current, bool) else "int64" if isinstance(current, int)
                        else "float64" if isinstance(current, float) else "string")
                value[name] = masked(kind, None, current)
        return record.with_part(which, ConnectData(data.schema, value))

    return apply


# -- Cast ----------------------------------------------------------------------------------------

def parse_cast_spec(spec: str) -> tuple[str | None, dict[str, str]]:
    """``int64`` (the whole value) or ``a:int32,b:string``; ValueError with Kafka's words."""
    parts = _names(spec)
    if not parts:
        raise ValueError("Must specify at least one field to cast.")
    if len(parts) == 1 and ":" not in parts[0]:
        if parts[0] not in CAST_TYPES:
            raise ValueError(f"Invalid type found in casting spec: {parts[0]}")
        return parts[0], {}
    casts = {}
    for part in parts:
        name, colon, kind = part.partition(":")
        if not colon:
            raise ValueError("Cast fields must be specified as field:type pairs")
        if kind.strip() not in CAST_TYPES:
            raise ValueError(f"Invalid type found in casting spec: {kind.strip()}")
        casts[name.strip()] = kind.strip()
    return None, casts


def cast_value(value: Any, target: str) -> Any:
    """``value`` as Connect type ``target`` (Kafka's Cast rules for primitives)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = to_epoch_ms(value) if target != "string" else value.isoformat(timespec="milliseconds")
    try:
        if target == "string":
            return ("true" if value else "false") if isinstance(value, bool) else str(value)
        if target == "boolean":
            if isinstance(value, str):
                return value.strip().lower() == "true"
            return bool(value)
        if target in ("float32", "float64"):
            return float(value)
        number = int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise DataError(f"Unexpected type in Cast transformation: {type(value).__name__} to {target}") from None
    bits = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}[target]
    return (number + 2 ** (bits - 1)) % 2 ** bits - 2 ** (bits - 1)  # Java's narrowing wraps


def cast(which: str, config: Mapping[str, str]) -> Transform:
    """``Cast``: the whole value, or the named fields, to other primitive types."""
    whole, casts = parse_cast_spec(config["spec"])

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None:
            return record
        if whole is not None:
            return record.with_part(which, ConnectData(None, cast_value(data.value, whole)))
        if data.schema is None:
            value = _require_map(data, "cast types")
            return record.with_part(which, ConnectData(None, {k: cast_value(v, casts[k]) if k in casts else v
                                                              for k, v in value.items()}))
        fields = tuple(Field(f.name, casts[f.name], f.optional, None, None) if f.name in casts else f
                       for f in data.schema.fields)
        value = {k: cast_value(v, casts[k]) if k in casts else v for k, v in data.value.items()}
        return record.with_part(which, ConnectData(StructSchema(data.schema.name, fields), value))

    return apply


# -- TimestampConverter ----------------------------------------------------------------------------

TIMESTAMP_TARGETS = ("string", "unix", "Date", "Time", "Timestamp")
UNIX_PRECISIONS = ("seconds", "milliseconds", "microseconds", "nanoseconds")
_PER_MS = {"seconds": 0.001, "milliseconds": 1, "microseconds": 1000, "nanoseconds": 1_000_000}
#: Where milliseconds go in a translated pattern (strftime has no directive for them).
_MILLIS = "%%SSS%%"
_JAVA_TOKENS = [("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("hh", "%I"),
                ("mm", "%M"), ("ss", "%S"), ("SSS", _MILLIS), ("a", "%p"), ("XXX", "%z"), ("Z", "%z"), ("z", "%Z"),
                ("EEE", "%a"), ("MMM", "%b")]


def java_date_format(pattern: str) -> str:
    """A ``SimpleDateFormat`` pattern as a ``strftime`` one (milliseconds as a marker)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1:end].replace("%", "%%") or "'")
            i = end + 1
            continue
        for token, directive in sorted(_JAVA_TOKENS, key=lambda t: -len(t[0])):
            if pattern.startswith(token, i):
                out.append(directive)
                i += len(token)
                break
        else:
            out.append(pattern[i].replace("%", "%%"))
            i += 1
    return "".join(out)


def timestamp_converter(which: str, config: Mapping[str, str]) -> Transform:
    """``TimestampConverter``: a timestamp (a field, or the whole value) to string, unix, Date, Time or Timestamp."""
    field_name = config.get("field", "").strip()
    target = config["target.type"]
    fmt = java_date_format(config.get("format", "")) if config.get("format") else ""
    precision = config.get("unix.precision", "milliseconds")

    def as_datetime(value: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        if isinstance(value, dt.time):
            return dt.datetime.combine(dt.date(1970, 1, 1), value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return from_epoch_ms(int(value / _PER_MS[precision]))
        if isinstance(value, str):
            if not fmt:
                raise DataError("TimestampConverter requires format option to be specified when using string "
                                "timestamps")
            try:
                return dt.datetime.strptime(value, fmt.replace(_MILLIS, "%f")).replace(tzinfo=None)
            except ValueError:
                raise DataError(f"Could not parse timestamp: value ({value}) does not match pattern "
                                f"({config.get('format')})") from None
        raise DataError(f"TimestampConverter does not support {type(value).__name__} objects as timestamps")

    def convert(value: Any) -> tuple[Any, str, str | None]:
        moment = as_datetime(value)
        if target == "string":
            if not fmt:
                raise DataError("TimestampConverter requires format option to be specified when using string "
                                "timestamps")
            text = moment.strftime(fmt)
            return text.replace("%SSS%", f"{moment.microsecond // 1000:03d}"), "string", None
        if target == "unix":
            return int(to_epoch_ms(moment) * _PER_MS[precision]), "int64", None
        if target == "Date":
            return moment.date(), "int32", DATE
        if target == "Time":
            return moment.time(), "int32", TIME
        return moment, "int64", TIMESTAMP

    def apply(record: ConnectRecord) -> ConnectRecord:
        data = record.part(which)
        if data.value is None:
            return record
        if not field_name:
            value, _, _ = convert(data.value)
            plain = to_epoch_ms(value) if isinstance(value, dt.datetime) else value
            return record.with_part(which, ConnectData(None, plain))
        if data.schema is None:
            fields = _require_map(data, "converting timestamp formats")
            if fields.get(field_name) is not None:
                value, _, _ = convert(fields[field_name])
                fields[field_name] = to_epoch_ms(value) if isinstance(value, dt.datetime) else value
            return record.with_part(which, ConnectData(None, fields))
        value = dict(data.value)
        old = data.schema.field(field_name)
        if old is None:
            return record
        converted, kind, logical = convert(value[field_name]) if value.get(field_name) is not None else (None, *_type_of(target))
        value[field_name] = converted
        fields = tuple(Field(f.name, kind, f.optional, logical) if f.name == field_name else f
                       for f in data.schema.fields)
        return record.with_part(which, ConnectData(StructSchema(data.schema.name, fields), value))

    return apply


def _type_of(target: str) -> tuple[str, str | None]:
    return {"string": ("string", None), "unix": ("int64", None), "Date": ("int32", DATE),
            "Time": ("int32", TIME), "Timestamp": ("int64", TIMESTAMP)}[target]
