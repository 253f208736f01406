"""Avro schemas for the Schema Registry: parsing, canonical text, and Avro's own compatibility rules.

Parsing and the compatibility rules are Apache Avro's (the ``avro`` package, Apache's
reference implementation): ``avro.schema`` parses, ``avro.compatibility``'s
``ReaderWriterCompatibilityChecker`` decides whether a reader schema can read what a
writer schema wrote (schema resolution, with its promotions int -> long -> float ->
double, defaults, aliases, unions and enums). This module only adds what a registry
needs around them: one canonical text per schema (so the same schema always gets the
same id, whatever its spacing or key order), the check Java's parser makes and Python's
does not (a field's default must fit its type), and Confluent's wording for each
incompatibility.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import avro.errors
import avro.name
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from .schema_registry_errors import InvalidSchema

#: Key order of the canonical text, as Avro's Java ``Schema.toString()`` writes them.
_SCHEMA_KEYS = ("type", "name", "namespace", "doc", "fields", "symbols", "items", "values",
                "size", "default", "aliases", "logicalType", "precision", "scale")
_FIELD_KEYS = ("name", "type", "doc", "default", "order", "aliases")
#: Longest part of a schema quoted in an error line.
_QUOTE_LIMIT = 120


@dataclass(frozen=True, eq=False)
class AvroSchema:
    """A parsed, valid Avro schema and its canonical text (what the registry stores and compares)."""

    canonical: str
    parsed: avro.schema.Schema

    @property
    def name(self) -> str:
        """The full name of a named schema (record, enum, fixed), else its type (``"string"``)."""
        return getattr(self.parsed, "fullname", None) or str(self.parsed.type)


class Incompatibility(NamedTuple):
    """One reason a reader schema cannot read what a writer schema wrote.

    ``error_type`` is Avro's ``SchemaIncompatibilityType`` in Java's spelling
    (``READER_FIELD_MISSING_DEFAULT_VALUE``), ``location`` the JSON path in the reader
    schema (``/fields/2``; empty when Avro's result does not say which one) and
    ``info`` Avro's own message (a field name, ``reader type: int not compatible ...``).
    """

    error_type: str
    location: str
    info: str

    def description(self, reader: str, writer: str) -> str:
        """Confluent's sentence for this incompatibility; ``reader``/``writer`` are "new" or "old"."""
        at = f" at path '{self.location}'" if self.location else ""
        kind = self.error_type
        if kind == "READER_FIELD_MISSING_DEFAULT_VALUE":
            return (f"The field '{self.info}'{at} in the {reader} schema has no default value "
                    f"and is missing in the {writer} schema")
        if kind == "TYPE_MISMATCH":
            where = f" (path '{self.location}')" if self.location else ""
            return f"The type{where} of a field in the {reader} schema does not match with the {writer} schema"
        if kind == "NAME_MISMATCH":
            where = f" (path '{self.location}')" if self.location else ""
            return f"The name of the schema has changed{where}"
        if kind == "MISSING_ENUM_SYMBOLS":
            return f"The {reader} schema is missing enum symbols '{self.info}'{at} in the {writer} schema"
        if kind == "MISSING_UNION_BRANCH":
            return f"The {reader} schema is missing a type inside a union field{at} in the {writer} schema"
        if kind == "FIXED_SIZE_MISMATCH":
            return (f"The size of FIXED type field{at} in the {reader} schema does not match "
                    f"with the {writer} schema")
        return self.info

    def reason(self, reader: str, writer: str) -> str:
        """The description, with Avro's detail where the description does not already hold it."""
        sentence = self.description(reader, writer)
        if self.error_type in ("READER_FIELD_MISSING_DEFAULT_VALUE", "MISSING_ENUM_SYMBOLS") or not self.info:
            return sentence
        return f"{sentence} ({self.info})"

    def confluent_message(self, reader: str, writer: str) -> str:
        """The detail line Confluent's registry returns: ``{errorType:'...', description:'...', additionalInfo:'...'}``."""
        return (f"{{errorType:'{self.error_type}', description:'{self.description(reader, writer)}', "
                f"additionalInfo:'{self.info}'}}")


#: The deepest nesting of a schema's JSON accepted (Jackson's default limit, which Confluent's registry has).
MAX_SCHEMA_DEPTH = 1000


def parse_avro_schema(text: str) -> AvroSchema:
    """Parse an Avro schema's JSON text; raise ``InvalidSchema`` (42201) naming what is wrong."""
    if not isinstance(text, str):
        raise InvalidSchema(f"Invalid schema: expected the schema's JSON text, got {type(text).__name__}")
    too_deep = InvalidSchema(f"Invalid schema: nested deeper than {MAX_SCHEMA_DEPTH} levels")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSchema(f"Invalid schema: not valid JSON ({exc.msg} at line {exc.lineno} "
                            f"column {exc.colno})") from None
    except RecursionError:
        raise too_deep from None
    if json_depth(data) > MAX_SCHEMA_DEPTH:
        raise too_deep
    try:
        parsed = avro.schema.make_avsc_object(data, avro.name.Names(validate_names=True))
        _check_defaults(parsed, set())
        return AvroSchema(canonical_text(parsed), parsed)
    except RecursionError:
        raise too_deep from None
    except (avro.errors.AvroException, TypeError, ValueError, AttributeError, KeyError) as exc:
        if isinstance(data, str):  # a bare type name that is neither primitive nor defined
            raise InvalidSchema(f"Invalid Avro schema: unknown type {_quote(json.dumps(data))}") from None
        raise InvalidSchema(f"Invalid Avro schema: {_one_line(exc)}") from None


def json_depth(value: object) -> int:
    """How deeply JSON arrays and objects nest in ``value`` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def canonical_text(parsed: avro.schema.Schema) -> str:
    """The schema as compact JSON with a fixed key order: equal schemas give equal text."""
    return json.dumps(_ordered(parsed.to_json(), field=False), separators=(",", ":"), ensure_ascii=False)


def compatibility_problems(reader: AvroSchema, writer: AvroSchema) -> list[Incompatibility]:
    """What keeps ``reader`` from reading data written with ``writer`` (empty: compatible).

    The decision is Avro's ``ReaderWriterCompatibilityChecker``. Its Python result keeps
    the kinds of problem as a list but the messages and locations as sets, so with several
    problems a message is matched to its kind by Avro's wording and the locations are
    given only when there is one problem.
    """
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader.parsed, writer.parsed)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    kinds = [kind.name.upper() for kind in result.incompatibilities]
    if len(kinds) == 1:
        # Compatible parts merged into the result leave their default location "/" behind.
        location = max(result.locations - {"/"} or result.locations or {""}, key=len)
        message = next(iter(result.messages), "")
        return [Incompatibility(kinds[0], location, message)]
    return [Incompatibility(_kind_of_message(message, kinds), "", message)
            for message in sorted(result.messages)]


def _kind_of_message(message: str, kinds: list[str]) -> str:
    """The incompatibility kind Avro's checker writes ``message`` for (its wording per kind)."""
    if message.startswith("reader type:"):
        guess = "TYPE_MISMATCH"
    elif message.startswith("reader union lacking"):
        guess = "MISSING_UNION_BRANCH"
    elif message.startswith("expected:") and ", found:" in message:
        guess = "FIXED_SIZE_MISMATCH"
    elif message.startswith("expected:"):
        guess = "NAME_MISMATCH"
    elif message.startswith("{"):
        guess = "MISSING_ENUM_SYMBOLS"
    else:
        guess = "READER_FIELD_MISSING_DEFAULT_VALUE"  # its message is the bare field name
    return guess if guess in kinds else kinds[0]


def _ordered(value: Any, *, field: bool) -> Any:
    """``value`` (a schema's JSON) with object keys in Java's order and the rest sorted."""
    if isinstance(value, list):
        return [_ordered(item, field=False) for item in value]
    if not isinstance(value, dict):
        return value
    keys = _FIELD_KEYS if field else _SCHEMA_KEYS
    order = [key for key in keys if key in value] + sorted(key for key in value if key not in keys)
    out: dict[str, Any] = {}
    for key in order:
        item = value[key]
        if key == "fields" and isinstance(item, list):
            out[key] = [_ordered(f, field=True) for f in item]
        elif key == "default":
            out[key] = item  # a default is data, not schema: keep it exactly
        else:
            out[key] = _ordered(item, field=False)
    return out


def _check_defaults(schema: avro.schema.Schema, seen: set[str]) -> None:
    """Refuse a field default that does not fit its type (Java's parser does; Python's does not)."""
    if isinstance(schema, avro.schema.NamedSchema):
        if schema.fullname in seen:
            return
        seen.add(schema.fullname)
    if isinstance(schema, avro.schema.RecordSchema):
        for field in schema.fields:
            if field.has_default and not _fits(field.type, field.default):
                raise InvalidSchema(
                    f"Invalid Avro schema: invalid default for field {field.name}: "
                    f"{_quote(json.dumps(field.default))} not a {_quote(json.dumps(field.type.to_json()))}")
            _check_defaults(field.type, seen)
    elif isinstance(schema, avro.schema.ArraySchema):
        _check_defaults(schema.items, seen)
    elif isinstance(schema, avro.schema.MapSchema):
        _check_defaults(schema.values, seen)
    elif isinstance(schema, avro.schema.UnionSchema):
        for branch in schema.schemas:
            _check_defaults(branch, seen)


def _fits(schema: avro.schema.Schema, value: Any) -> bool:
    """Whether the JSON ``value`` is a valid default for ``schema`` (Avro's JSON encoding of defaults)."""
    kind = schema.type
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("string", "bytes"):
        return isinstance(value, str)
    if kind == "fixed":
        return isinstance(value, str) and len(value) == schema.size
    if kind == "enum":
        return isinstance(value, str) and value in schema.symbols
    if kind == "array":
        return isinstance(value, list) and all(_fits(schema.items, item) for item in value)
    if kind == "map":
        return isinstance(value, dict) and all(_fits(schema.values, item) for item in value.values())
    if kind == "union":
        # The Avro specification: a union's default matches one of its branches (Java 1.12 accepts any).
        return any(_fits(branch, value) for branch in schema.schemas)
    if kind in ("record", "error"):
        return isinstance(value, dict) and all(
            _fits(f.type, value[f.name]) if f.name in value else f.has_default for f in schema.fields)
    return True


def _one_line(exc: BaseException) -> str:
    return _quote(" ".join(str(exc).split()), limit=400)


def _quote(text: str, limit: int = _QUOTE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
