"""Topic configuration: Kafka's keys, defaults and validation rules, in one place.

The core, the CLI and the TUI's topic form all validate through this module, so a
value refused in one front is refused with the same words in every other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .errors import InvalidConfig

DAY_MS = 24 * 60 * 60 * 1000

#: Broker-level ``message.max.bytes`` default; the topic-level key is ``max.message.bytes``.
MESSAGE_MAX_BYTES_DEFAULT = 1_048_588


@dataclass(frozen=True)
class ConfigKey:
    """One topic configuration key: its type, default and allowed range."""

    name: str
    kind: str  # "long", "int", "bool", "list", "string", "double"
    default: Any
    doc: str
    minimum: float | None = None
    choices: tuple[str, ...] | None = None

    def parse(self, raw: Any) -> Any:
        """Turn ``raw`` (a string from a CLI or form, or a Python value) into this key's type."""
        try:
            if self.kind in ("long", "int"):
                if isinstance(raw, bool):
                    raise ValueError
                value: Any = int(str(raw).strip())
            elif self.kind == "double":
                value = float(str(raw).strip())
            elif self.kind == "bool":
                text = str(raw).strip().lower()
                if text not in ("true", "false"):
                    raise ValueError
                value = text == "true"
            elif self.kind == "list":
                items = [part.strip() for part in str(raw).split(",") if part.strip()]
                if not items:
                    raise ValueError
                value = ",".join(items)
            else:
                value = str(raw).strip()
        except ValueError:
            raise InvalidConfig(
                f"Invalid value {raw} for configuration {self.name}: expected {self._expected()}"
            ) from None
        if self.minimum is not None and value < self.minimum:
            raise InvalidConfig(
                f"Invalid value {raw} for configuration {self.name}: Value must be at least {self._fmt(self.minimum)}"
            )
        if self.choices is not None:
            items = value.split(",") if self.kind == "list" else [value]
            for item in items:
                if item not in self.choices:
                    raise InvalidConfig(
                        f"Invalid value {raw} for configuration {self.name}: "
                        f"String must be one of: {', '.join(self.choices)}"
                    )
        return value

    def _expected(self) -> str:
        return {"long": "a whole number", "int": "a whole number", "double": "a number",
                "bool": "true or false", "list": "a comma-separated list"}.get(self.kind, "a string")

    @staticmethod
    def _fmt(number: float) -> str:
        return str(int(number)) if float(number).is_integer() else str(number)


TOPIC_CONFIGS: dict[str, ConfigKey] = {
    key.name: key
    for key in (
        ConfigKey("cleanup.policy", "list", "delete",
                  "delete: drop old segments; compact: keep the newest record per key.",
                  choices=("delete", "compact")),
        ConfigKey("retention.ms", "long", 7 * DAY_MS,
                  "How long a closed segment is kept (-1: forever).", minimum=-1),
        ConfigKey("retention.bytes", "long", -1,
                  "Largest a partition's log may grow before old segments go (-1: no limit).", minimum=-1),
        ConfigKey("segment.bytes", "int", 1_073_741_824,
                  "A segment is rolled when it reaches this size.", minimum=14),
        ConfigKey("segment.ms", "long", 7 * DAY_MS,
                  "A segment is rolled when it is this old.", minimum=1),
        ConfigKey("delete.retention.ms", "long", DAY_MS,
                  "How long compaction keeps tombstones.", minimum=0),
        ConfigKey("min.compaction.lag.ms", "long", 0,
                  "A record stays uncompacted for at least this long.", minimum=0),
        ConfigKey("max.compaction.lag.ms", "long", 9_223_372_036_854_775_807,
                  "A record is compacted at the latest this long after it was written.", minimum=1),
        ConfigKey("min.cleanable.dirty.ratio", "double", 0.5,
                  "Compaction starts once this share of the log is dirty (not yet compacted).", minimum=0),
        ConfigKey("min.insync.replicas", "int", 1,
                  "acks=all needs at least this many in-sync replicas.", minimum=1),
        ConfigKey("max.message.bytes", "int", MESSAGE_MAX_BYTES_DEFAULT,
                  "Largest record batch the topic accepts.", minimum=0),
        ConfigKey("unclean.leader.election.enable", "bool", False,
                  "Let an out-of-sync replica become leader (may lose data)."),
        ConfigKey("message.timestamp.type", "string", "CreateTime",
                  "CreateTime keeps the producer's timestamp; LogAppendTime uses the broker's.",
                  choices=("CreateTime", "LogAppendTime")),
        ConfigKey("compression.type", "string", "producer",
                  "Codec the broker keeps records in.",
                  choices=("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")),
    )
}


def validate_topic_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key and value; return the parsed overrides (only the keys given).

    Raises ``InvalidConfig`` naming the first unknown key or illegal value.
    """
    parsed: dict[str, Any] = {}
    for name, raw in config.items():
        key = TOPIC_CONFIGS.get(name)
        if key is None:
            raise InvalidConfig(f"Unknown topic config name: {name}")
        parsed[name] = key.parse(raw)
    return parsed


def effective_config(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with a topic's overrides."""
    merged = {name: key.default for name, key in TOPIC_CONFIGS.items()}
    merged.update(overrides)
    return merged


