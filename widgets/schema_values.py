"""``SchemaValues``: record values in Confluent's wire format, shown as JSON through the registry.

A value written by a Schema Registry serializer (kplay's ``AvroSerializer``, Confluent's
``KafkaAvroSerializer``, a source connector) is magic byte 0, a 4-byte schema id and the
Avro datum. Escaped as text it is noise (``\\x00\\x00\\x00\\x00\\x01\\x02…``); decoded
with the writer's schema it is the row a person wants to see. Views draw lines
synchronously, so this works in two steps:

    values = SchemaValues(cluster.schemas)
    await values.load(values.wanted(record.value for record in batch))   # once per new schema id
    shown = values.decode(record.value, topic)     # per line drawn: a ShownValue, or None

``decode`` answers None, never raises, for anything that is not a registry-encoded value
it can read: not in the wire format, an id the registry does not know, or bytes that are
not exactly one datum of that schema. Such values stay escaped text (``printable``).
Readers are cached per schema id (an id never changes meaning); an unknown id is asked
again after ``RETRY_S``, since its schema may be registered later.
"""

from __future__ import annotations

import io
import struct
import time
from dataclasses import dataclass
from typing import Iterable

import avro.errors
import avro.io

from broker_core.avro_serde import WIRE_HEADER, schema_id_of, value_to_json
from broker_core.errors import KafkaError
from broker_core.schema_registry import SchemaRegistry, topic_subject

#: How long an id the registry did not know is taken as unknown before asking again.
RETRY_S = 2.0
#: Schema ids looked up in one ``load`` at most (a flood of garbage values cannot stall a frame).
MAX_LOADS = 16
#: Schema ids remembered at most (readable and unknown together).
MAX_IDS = 1024
#: What decoding a hostile or foreign value can raise inside Apache Avro's reader.
_DECODE_ERRORS = (avro.errors.AvroException, TypeError, ValueError, UnicodeDecodeError, struct.error,
                  EOFError, IndexError, OverflowError, KeyError)


@dataclass(frozen=True, slots=True)
class ShownValue:
    """A decoded value as one line of JSON, with the schema it was written with."""

    json: str
    schema_id: int
    #: The version of the topic's ``-value`` subject holding the id (else of the first subject
    #: that does); None when every version holding it was deleted.
    version: int | None
    #: The subject that ``version`` belongs to (None with it).
    subject: str | None = None

    @property
    def tag(self) -> str:
        """``id 3 v1``: where the schema is in the registry."""
        return f"id {self.schema_id}" + (f" v{self.version}" if self.version is not None else "")


@dataclass(frozen=True, slots=True)
class _Reader:
    reader: avro.io.DatumReader
    versions: tuple[tuple[str, int], ...]


class SchemaValues:
    """Decodes registry-encoded (Confluent wire format, Avro) values for drawing."""

    def __init__(self, registry: SchemaRegistry | None) -> None:
        # None: no registry to ask (a real cluster whose profile names none); values stay text.
        self._registry = registry
        self._readers: dict[int, _Reader] = {}
        self._unknown: dict[int, float] = {}  # id -> when the registry last did not have it

    def wanted(self, values: Iterable[bytes | None]) -> set[int]:
        """The schema ids in ``values`` that ``load`` should look up (cheap: reads 5 bytes each)."""
        if self._registry is None:
            return set()
        now = time.monotonic()
        ids: set[int] = set()
        for data in values:
            schema_id = schema_id_of(data)
            if schema_id is None or schema_id in self._readers:
                continue
            missed = self._unknown.get(schema_id)
            if missed is None or now - missed >= RETRY_S:
                ids.add(schema_id)
        return ids

    async def load(self, ids: Iterable[int]) -> bool:
        """Look up the writer's schema of each id (at most ``MAX_LOADS``); True if any became readable."""
        learned = False
        if self._registry is None:
            return learned
        for schema_id in sorted(ids)[:MAX_LOADS]:
            try:
                schema = await self._registry.get_avro_schema(schema_id)
                versions = await self._registry.get_schema_versions(schema_id, deleted=True)
            except (KafkaError, avro.errors.AvroException, ValueError):
                # Unknown id, a deleted one, or a schema that is not Avro: the value stays text.
                self._unknown[schema_id] = time.monotonic()
                self._trim(self._unknown)
                continue
            self._unknown.pop(schema_id, None)
            self._readers[schema_id] = _Reader(avro.io.DatumReader(schema.parsed), tuple(versions))
            self._trim(self._readers)
            learned = True
        return learned

    def decode(self, data: bytes | None, topic: str | None = None, *, is_key: bool = False) -> ShownValue | None:
        """``data`` as JSON if it is exactly one datum of a loaded schema, else None.

        ``is_key``: ``data`` is a record's key, so the topic's ``-key`` subject is preferred."""
        schema_id = schema_id_of(data)
        if schema_id is None:
            return None
        known = self._readers.get(schema_id)
        if known is None:
            return None
        assert data is not None
        body = io.BytesIO(bytes(data[WIRE_HEADER.size:]))
        try:
            value = known.reader.read(avro.io.BinaryDecoder(body))
            if body.tell() != len(data) - WIRE_HEADER.size:
                return None  # trailing bytes: not a value this schema wrote
            text = value_to_json(value)
        except _DECODE_ERRORS:
            return None
        subject, version = _version_for(known.versions, topic, is_key)
        return ShownValue(text, schema_id, version, subject)

    @staticmethod
    def _trim(cache: dict) -> None:
        while len(cache) > MAX_IDS:
            cache.pop(next(iter(cache)))


def _version_for(versions: tuple[tuple[str, int], ...], topic: str | None,
                 is_key: bool = False) -> tuple[str | None, int | None]:
    """(subject, version): the topic's own subject's newest version holding the id, else the first."""
    if not versions:
        return None, None
    if topic is not None:
        subject = topic_subject(topic, is_key)
        own = [version for name, version in versions if name == subject]
        if own:
            return subject, own[-1]
    return versions[0]
