"""Kafka Connect's data model for rows: a struct schema of typed fields, and its SQL mapping.

A source task reads a table's columns into a ``StructSchema`` (Connect's ``Schema`` of
type STRUCT) and each row into a dict; converters turn both into bytes (JSON with its
schema, or Avro through the Schema Registry); a sink task turns them back and creates
or evolves its target table from the schema. Types are Connect's: int8..int64,
float32/float64, boolean, string, bytes, and the logical types Timestamp, Date and Time.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import types as sqltypes

TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
#: The physical type each logical type is carried in.
LOGICAL_TYPES = {TIMESTAMP: "int64", DATE: "int32", TIME: "int32"}
PRIMITIVE_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes")
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DATE = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Field:
    """One field of a struct: a Connect type, optional (nullable) or not, maybe a logical type."""

    name: str
    type: str
    optional: bool = False
    logical: str | None = None
    default: Any = None


@dataclass(frozen=True)
class ConnectData:
    """A record's key or value as Connect sees it: a struct (schema + dict) or a plain value."""

    schema: "StructSchema | None"
    value: Any


@dataclass(frozen=True)
class StructSchema:
    """A Connect STRUCT schema: a named, ordered list of fields (one per column)."""

    name: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        """The field called ``name``, if any."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> list[str]:
        """The fields' names, in order."""
        return [f.name for f in self.fields]


def field_for_column(column: sqlalchemy.Column) -> Field:
    """The Connect field a table column is read as (Confluent's JDBC type mapping)."""
    kind = column.type
    optional = bool(column.nullable)
    if isinstance(kind, sqltypes.Boolean):
        return Field(column.name, "boolean", optional)
    if isinstance(kind, sqltypes.SmallInteger):
        return Field(column.name, "int16", optional)
    if isinstance(kind, sqltypes.BigInteger):
        return Field(column.name, "int64", optional)
    if isinstance(kind, sqltypes.Integer):
        return Field(column.name, "int32", optional)
    if isinstance(kind, (sqltypes.Numeric, sqltypes.Float)):
        # numeric.mapping=best_fit: DECIMAL/NUMERIC/REAL/FLOAT all read as float64.
        return Field(column.name, "float64", optional)
    if isinstance(kind, sqltypes.DateTime):
        return Field(column.name, "int64", optional, TIMESTAMP)
    if isinstance(kind, sqltypes.Date):
        return Field(column.name, "int32", optional, DATE)
    if isinstance(kind, sqltypes.Time):
        return Field(column.name, "int32", optional, TIME)
    if isinstance(kind, (sqltypes.LargeBinary, sqltypes._Binary)):
        return Field(column.name, "bytes", optional)
    return Field(column.name, "string", optional)


def schema_for_table(table: sqlalchemy.Table) -> StructSchema:
    """The struct schema of a table's rows (the schema is named after the table, as Confluent's)."""
    return StructSchema(table.name, tuple(field_for_column(column) for column in table.columns))


def row_value(field: Field, value: Any) -> Any:
    """A value read from a database, in the Python type ``field`` carries."""
    if value is None:
        return None
    if field.logical == TIMESTAMP:
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return utc_naive(value)
    if field.type in ("float32", "float64") and isinstance(value, decimal.Decimal):
        return float(value)
    if field.type == "bytes" and isinstance(value, memoryview):
        return bytes(value)
    if field.type == "string" and not isinstance(value, str):
        return str(value)
    return value


def utc_naive(value: dt.datetime) -> dt.datetime:
    """A timestamp as a naive UTC datetime (naive values are taken to be UTC: db.timezone=UTC)."""
    if value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def to_epoch_ms(value: dt.datetime) -> int:
    """Milliseconds since the epoch of a (UTC) timestamp."""
    delta = utc_naive(value) - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> dt.datetime:
    """The naive UTC datetime of an epoch-milliseconds value."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def to_wire(field: Field, value: Any) -> Any:
    """A field value in its physical Connect type (Timestamp -> epoch ms, Date -> days, ...)."""
    if value is None:
        return None
    if field.logical == TIMESTAMP:
        return to_epoch_ms(value)
    if field.logical == DATE:
        return (value - EPOCH_DATE).days
    if field.logical == TIME:
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
    return value


def from_wire(field: Field, value: Any) -> Any:
    """The inverse of ``to_wire``: Python values for a database driver."""
    if value is None:
        return None
    if field.logical == TIMESTAMP:
        return from_epoch_ms(int(value))
    if field.logical == DATE:
        return EPOCH_DATE + dt.timedelta(days=int(value))
    if field.logical == TIME:
        return (dt.datetime.min + dt.timedelta(milliseconds=int(value))).time()
    return value


def column_type(field: Field) -> sqltypes.TypeEngine:
    """The SQL type a sink creates for ``field`` (Confluent's dialects' mapping)."""
    if field.logical == TIMESTAMP:
        return sqltypes.DateTime()
    if field.logical == DATE:
        return sqltypes.Date()
    if field.logical == TIME:
        return sqltypes.Time()
    return {
        "int8": sqltypes.SmallInteger(), "int16": sqltypes.SmallInteger(), "int32": sqltypes.Integer(),
        "int64": sqltypes.BigInteger(), "float32": sqltypes.Float(), "float64": sqltypes.Double(),
        "boolean": sqltypes.Boolean(), "string": sqltypes.Text(), "bytes": sqltypes.LargeBinary(),
    }[field.type]
