"""One record, whole, as lines of harmless text: what the record view draws and copies.

``record_sections(record, ...)`` turns a ``ConsumerRecord`` into titled sections (where the
record is, its timestamp, its key, its value, its headers). Every byte of the record comes
out through ``printable`` (or a hex dump), so markup stays literal and escape sequences
never reach the terminal. A value is shown, in this order of preference, as:

- the JSON of an Avro datum decoded through the Schema Registry (Confluent's wire format),
  with the schema id, subject and version;
- pretty-printed JSON when the bytes are a JSON object or array;
- text (UTF-8; control characters escaped, line breaks kept as lines);
- a hex dump (offset, 16 bytes, and the printable ASCII beside them) when it is not UTF-8.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from broker_core.records import ConsumerRecord

from .safe_text import printable
from .schema_values import ShownValue

#: Bytes of a binary value shown as a hex dump (the rest is counted, not drawn).
HEX_BYTES_SHOWN = 64 * 1024
#: Characters of a text value shown (a record is at most ``message.max.bytes``, ~1 MB).
TEXT_CHARS_SHOWN = 256 * 1024


@dataclass(frozen=True, slots=True)
class RecordSection:
    """A titled block of the record view: ``title`` and its lines, all already printable."""

    title: str
    lines: tuple[str, ...]


def format_timestamp(ms: int) -> str:
    """``2026-12-06 03:56:54.123 UTC``: a Kafka timestamp (ms since the epoch) as a date."""
    if ms < 0:
        return "none (-1)"
    try:
        when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms (out of the calendar's range)"
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d} UTC"


def size_of(data: bytes | None) -> str:
    """``12 bytes``, ``1 byte`` or ``null``."""
    if data is None:
        return "null"
    return f"{len(data):,} byte{'' if len(data) == 1 else 's'}"


def hex_dump(data: bytes, limit: int = HEX_BYTES_SHOWN) -> list[str]:
    """``00000000  48 65 6c 6c 6f …  |Hello…|``: 16 bytes a line, non-ASCII shown as ``.``."""
    lines = []
    for start in range(0, min(len(data), limit), 16):
        chunk = data[start:start + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start:08x}  {hexes:<47}  |{text}|")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes not shown")
    return lines


def _text_lines(text: str) -> list[str]:
    """``text`` as lines, line breaks kept and every control character made visible."""
    cut = len(text) > TEXT_CHARS_SHOWN
    shown = text[:TEXT_CHARS_SHOWN]
    # An escape is at most 6 characters (\u2028): the limit never cuts an escaped line.
    lines = [printable(line, len(line) * 6 + 1) for line in shown.split("\n")]
    if cut:
        lines.append(f"… {len(text) - TEXT_CHARS_SHOWN:,} more characters not shown")
    return lines


def _json_lines(text: str) -> list[str] | None:
    """``text`` pretty-printed if it is a JSON object or array, else None."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    try:
        pretty = json.dumps(parsed, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return None
    return _text_lines(pretty)


def bytes_lines(data: bytes | None, decoded: ShownValue | None = None) -> tuple[str, list[str]]:
    """(how the bytes are shown, the lines): registry JSON, JSON, text or a hex dump."""
    if data is None:
        return "null", ["null"]
    if decoded is not None:
        where = f"Avro, schema id {decoded.schema_id}"
        if decoded.subject is not None:
            where += f", subject {printable(decoded.subject, 120)}"
        if decoded.version is not None:
            where += f" version {decoded.version}"
        return where, _json_lines(decoded.json) or _text_lines(decoded.json)
    if not data:
        return "empty", ['""']
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return "binary (not UTF-8): hex", hex_dump(bytes(data))
    pretty = _json_lines(text)
    if pretty is not None:
        return "JSON", pretty
    return "text", _text_lines(text)


def record_sections(record: ConsumerRecord, *, leader_epoch: int | None = None,
                    key: ShownValue | None = None, value: ShownValue | None = None) -> list[RecordSection]:
    """Every part of ``record`` as sections; ``key``/``value``: their registry decoding, if any."""
    where = [f"topic          {printable(record.topic, 249)}",
             f"partition      {record.partition}",
             f"offset         {record.offset:,}"]
    if leader_epoch is not None:
        where.append(f"leader epoch   {leader_epoch} (the partition's current epoch)")
    where.append(f"timestamp      {format_timestamp(record.timestamp)} ({record.timestamp})")
    where.append(f"timestamp type {record.timestamp_type}")
    key_kind, key_lines = bytes_lines(record.key, key)
    value_kind, value_lines = bytes_lines(record.value, value)
    sections = [
        RecordSection("Record", tuple(where)),
        RecordSection(f"Key · {size_of(record.key)} · {key_kind}", tuple(key_lines)),
        RecordSection(f"Value · {size_of(record.value)} · {value_kind}"
                      + (" (tombstone)" if record.value is None else ""), tuple(value_lines)),
    ]
    headers: list[str] = []
    for name, data in record.headers:
        kind, lines = bytes_lines(data)
        label = f"{printable(name, 200)} ({size_of(data)}{', ' + kind if kind not in ('text', 'null') else ''})"
        if len(lines) == 1:
            headers.append(f"{label}: {lines[0]}")
        else:
            headers.append(f"{label}:")
            headers.extend(f"  {line}" for line in lines)
    count = len(record.headers)
    sections.append(RecordSection(f"Headers · {count}", tuple(headers) or ("none",)))
    return sections


def sections_as_text(sections: list[RecordSection]) -> str:
    """The sections as plain text (what the copy key puts on the clipboard)."""
    parts = []
    for section in sections:
        parts.append(f"== {section.title}")
        parts.extend(section.lines)
    return "\n".join(parts) + "\n"
