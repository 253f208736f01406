"""``--formatter``: the console consumer's message formatters, by Kafka's class names.

``DefaultMessageFormatter`` is ``console_consumer.RecordFormat``. The two coordinator
formatters print a ``__consumer_offsets`` record as the JSON Kafka 4.x's
``ApiMessageFormatter`` builds: ``{"key":{"version":1,"data":{...}},"value":{"version":3,"data":{...}}}``;
``OffsetsMessageFormatter`` skips group-metadata records and ``GroupMetadataMessageFormatter``
skips offset commits, as Kafka's do. (Kafka's ApiMessageFormatter, as of the source checked,
writes no line separator after the JSON; kplay ends each record with one so records stay one per line.)
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional, Protocol

from broker_core import ConsumerRecord
from broker_core.coordinator_records import group_metadata_value_json, key_json, offset_commit_value_json

TOOLS = "org.apache.kafka.tools.consumer."
DEFAULT_FORMATTER = TOOLS + "DefaultMessageFormatter"
#: Kafka 3.x's class names for the same formatters (removed in 4.0).
LEGACY_NAMES = {
    "kafka.tools.DefaultMessageFormatter": TOOLS + "DefaultMessageFormatter",
    "kafka.tools.NoOpMessageFormatter": TOOLS + "NoOpMessageFormatter",
    "kafka.coordinator.group.GroupMetadataManager$OffsetsMessageFormatter": TOOLS + "OffsetsMessageFormatter",
    "kafka.coordinator.group.GroupMetadataManager$GroupMetadataMessageFormatter":
        TOOLS + "GroupMetadataMessageFormatter",
}
_C1_CONTROLS = re.compile("[\x7f-\x9f]")


class MessageFormatter(Protocol):
    """Turns one record into the bytes the console consumer writes."""

    def format(self, record: ConsumerRecord) -> bytes:
        """The record's output, line separator included (empty: print nothing)."""


class NoOpMessageFormatter:
    """Kafka's ``NoOpMessageFormatter``: prints nothing."""

    def format(self, record: ConsumerRecord) -> bytes:
        """Nothing."""
        return b""


class CoordinatorRecordFormatter:
    """Kafka's ``OffsetsMessageFormatter`` (``kind="offset"``) or ``GroupMetadataMessageFormatter`` (``"group"``)."""

    def __init__(self, kind: str, *, escape_controls: bool) -> None:
        self.kind = kind
        self.escape_controls = escape_controls
        self._value_json: Callable[[bytes], tuple[int, Optional[dict[str, Any]]]] = (
            offset_commit_value_json if kind == "offset" else group_metadata_value_json)

    def format(self, record: ConsumerRecord) -> bytes:
        """The record as JSON, or nothing for a record of the other kind."""
        document: dict[str, Any] = {}
        try:
            if record.key is None:
                document["key"] = None
            else:
                version, kind, data = key_json(record.key)
                if kind not in ("unknown", self.kind):
                    return b""  # Kafka's formatter skips the other record type
                document["key"] = {"version": version, "data": data if data is not None else "unknown"}
            if record.value is None:
                document["value"] = None
            else:
                version, value = self._value_json(record.value)
                document["value"] = {"version": version, "data": value if value is not None else "unknown"}
        except ValueError:
            document = {"key": {"version": -1, "data": "unknown"}, "value": None}
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        if self.escape_controls:
            text = _C1_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text.encode("utf-8") + b"\n"


def coordinator_formatter(name: str, *, escape_controls: bool) -> Optional[MessageFormatter]:
    """The formatter Kafka's class ``name`` names, other than the default one (None for that or unknown)."""
    if name == TOOLS + "OffsetsMessageFormatter":
        return CoordinatorRecordFormatter("offset", escape_controls=escape_controls)
    if name == TOOLS + "GroupMetadataMessageFormatter":
        return CoordinatorRecordFormatter("group", escape_controls=escape_controls)
    if name == TOOLS + "NoOpMessageFormatter":
        return NoOpMessageFormatter()
    return None


KNOWN_FORMATTERS = (DEFAULT_FORMATTER, TOOLS + "OffsetsMessageFormatter", TOOLS + "GroupMetadataMessageFormatter",
                    TOOLS + "NoOpMessageFormatter")
