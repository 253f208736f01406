"""Topic configuration: Kafka's keys, defaults and validation rules, in one place.

The core, the CLI (``kplay topics --config``, ``kplay configs``), the TUI's topic form and
``kplay serve`` all validate through this module, so a value refused in one front is refused
with the same words in every other. The keys, types, ranges and refusal texts are those of
Kafka 4.x's ``LogConfig`` as checked by ``ConfigDef.parseType`` and its validators (``Range``,
``ValidString``, ``ValidList``); the broker-level synonyms and their defaults are
``ServerTopicConfigSynonyms``'s, so ``kafka-configs --describe --all`` reads as Kafka's does.

Every LogConfig key is accepted and stored; ``ConfigKey.modelled`` says which ones kplay acts on
(the rest, such as ``flush.ms`` or the remote-storage keys, have no effect in a playground).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

from .errors import InvalidConfig

DAY_MS = 24 * 60 * 60 * 1000
HOUR_MS = 60 * 60 * 1000
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)

#: Broker-level ``message.max.bytes`` default; the topic-level key is ``max.message.bytes``.
MESSAGE_MAX_BYTES_DEFAULT = 1_048_588

#: ``ConfigDef.Type`` names, as Kafka's messages spell them ("Not a number of type LONG").
_JAVA_TYPES = {"long": "LONG", "int": "INT", "double": "DOUBLE", "bool": "BOOLEAN", "list": "LIST",
               "string": "STRING"}
#: What ``Long.parseLong``/``Integer.parseInt`` accept: ASCII digits with an optional sign.
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")
#: What ``Double.parseDouble`` accepts (decimal forms, NaN, Infinity; an optional f/d suffix).
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)")


@dataclass(frozen=True)
class ConfigKey:
    """One topic configuration key: its type, default, allowed values and broker-level synonyms."""

    name: str
    kind: str  # "long", "int", "bool", "list", "string", "double"
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    #: The broker configs that give this key its default, first wins (``log.retention.hours=168``):
    #: (name, default value as Kafka shows it, or None when the broker config has no default).
    broker_synonyms: tuple[tuple[str, str | None], ...] = ()
    #: Whether kplay acts on this key (the others are accepted and stored, as Kafka would).
    modelled: bool = True

    def parse(self, raw: Any) -> Any:
        """Turn ``raw`` (a string from a CLI or form, or a Python value) into this key's type.

        Raises ``InvalidConfig`` with Kafka's words: ``Invalid value X for configuration Y: ...``.
        """
        value = self._parse_type(raw)
        self._validate(value)
        return value

    def _fail(self, shown: Any, reason: str) -> InvalidConfig:
        return InvalidConfig(f"Invalid value {shown} for configuration {self.name}: {reason}")

    def _parse_type(self, raw: Any) -> Any:
        # ConfigDef.parseType: strings are trimmed; a number that does not parse shows the raw text.
        text = raw.strip() if isinstance(raw, str) else None
        if self.kind in ("long", "int"):
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            low, high = (LONG_MIN, LONG_MAX) if self.kind == "long" else (INT_MIN, INT_MAX)
            if text is not None and _JAVA_INTEGER.fullmatch(text) and low <= int(text) <= high:
                return int(text)
            raise self._fail(raw, f"Not a number of type {_JAVA_TYPES[self.kind]}")
        if self.kind == "double":
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                return float(raw)
            if text is not None and _JAVA_DOUBLE.fullmatch(text):
                return float(text.rstrip("fFdD").replace("Infinity", "inf"))
            raise self._fail(raw, "Not a number of type DOUBLE")
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            if text is not None and text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise self._fail(raw, "Expected value to be either true or false")
        if self.kind == "list":
            if isinstance(raw, (list, tuple)):
                return ",".join(str(item) for item in raw)
            if text is None:
                raise self._fail(raw, "Expected a comma separated list.")
            return ",".join(re.split(r"\s*,\s*", text)) if text else ""
        if text is None:
            raise self._fail(raw, f"Expected value to be a string, but it was a {type(raw).__name__}")
        return text

    def _validate(self, value: Any) -> None:
        if self.name == "compression.gzip.level" and not (1 <= value <= 9 or value == -1):
            raise self._fail(value, "Value must be between 1 and 9 or equal to -1")  # GzipCompression's own check
        if self.minimum is not None and value < self.minimum:
            raise self._fail(value_text(value), f"Value must be at least {value_text(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise self._fail(value_text(value), f"Value must be no more than {value_text(self.maximum)}")
        if self.choices is not None:
            items = value.split(",") if self.kind == "list" else [value]
            for item in items:
                if item not in self.choices:
                    raise self._fail(item, f"String must be one of: {', '.join(self.choices)}")

    def default_text(self) -> str:
        """The default as Kafka shows it (``ConfigDef.convertToString``)."""
        return value_text(self.default)


def value_text(value: Any) -> str:
    """A config value as Kafka prints it: ``true``/``false``, Java's ``Double.toString``, lists joined by commas."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    return str(value)


def _java_double(number: float) -> str:
    """Java's ``Double.toString``: ``0.5``, ``2.0``, ``1.0E10``, ``NaN``, ``Infinity``."""
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0 or 1e-3 <= abs(number) < 1e7:
        text = repr(number)
        return text if "e" not in text else format(Decimal(text), "f")
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    places = "".join(str(d) for d in digits)
    power = exponent + len(places) - 1
    mantissa = places[0] + "." + (places[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def _log(name: str, default: str | None) -> tuple[tuple[str, str | None], ...]:
    return ((f"log.{name}", default),)


TOPIC_CONFIGS: dict[str, ConfigKey] = {
    key.name: key
    for key in sorted((
        ConfigKey("cleanup.policy", "list", "delete",
                  "delete: drop old segments; compact: keep the newest record per key.",
                  choices=("compact", "delete"), broker_synonyms=_log("cleanup.policy", "delete")),
        ConfigKey("retention.ms", "long", 7 * DAY_MS,
                  "How long a closed segment is kept (-1: forever).", minimum=-1,
                  broker_synonyms=(("log.retention.ms", None), ("log.retention.minutes", None),
                                   ("log.retention.hours", "168"))),
        ConfigKey("retention.bytes", "long", -1,
                  "Largest a partition's log may grow before old segments go (negative: no limit).",
                  broker_synonyms=_log("retention.bytes", "-1")),
        # Kafka 4.x's minimum is 1 MiB (KIP-1030); a playground keeps LogConfig's older 14 so
        # lessons can show segments rolling with a handful of records.
        ConfigKey("segment.bytes", "int", 1_073_741_824,
                  "A segment is rolled when it reaches this size.", minimum=14,
                  broker_synonyms=_log("segment.bytes", "1073741824")),
        ConfigKey("segment.ms", "long", 7 * DAY_MS,
                  "A segment is rolled when it is this old.", minimum=1,
                  broker_synonyms=(("log.roll.ms", None), ("log.roll.hours", "168"))),
        ConfigKey("delete.retention.ms", "long", DAY_MS,
                  "How long compaction keeps tombstones.", minimum=0,
                  broker_synonyms=(("log.cleaner.delete.retention.ms", str(DAY_MS)),)),
        ConfigKey("min.compaction.lag.ms", "long", 0,
                  "A record stays uncompacted for at least this long.", minimum=0,
                  broker_synonyms=(("log.cleaner.min.compaction.lag.ms", "0"),)),
        ConfigKey("max.compaction.lag.ms", "long", LONG_MAX,
                  "A record is compacted at the latest this long after it was written.", minimum=1,
                  broker_synonyms=(("log.cleaner.max.compaction.lag.ms", str(LONG_MAX)),)),
        ConfigKey("min.cleanable.dirty.ratio", "double", 0.5,
                  "Compaction starts once this share of the log is dirty (not yet compacted).",
                  minimum=0, maximum=1, broker_synonyms=(("log.cleaner.min.cleanable.ratio", "0.5"),)),
        ConfigKey("min.insync.replicas", "int", 1,
                  "acks=all needs at least this many in-sync replicas.", minimum=1,
                  broker_synonyms=(("min.insync.replicas", "1"),)),
        ConfigKey("max.message.bytes", "int", MESSAGE_MAX_BYTES_DEFAULT,
                  "Largest record batch the topic accepts.", minimum=0,
                  broker_synonyms=(("message.max.bytes", str(MESSAGE_MAX_BYTES_DEFAULT)),)),
        ConfigKey("unclean.leader.election.enable", "bool", False,
                  "Let an out-of-sync replica become leader (may lose data).",
                  broker_synonyms=(("unclean.leader.election.enable", "false"),)),
        ConfigKey("message.timestamp.type", "string", "CreateTime",
                  "CreateTime keeps the producer's timestamp; LogAppendTime uses the broker's.",
                  choices=("CreateTime", "LogAppendTime"),
                  broker_synonyms=_log("message.timestamp.type", "CreateTime")),
        ConfigKey("compression.type", "string", "producer",
                  "Codec the broker keeps records in.",
                  choices=("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
                  broker_synonyms=(("compression.type", "producer"),)),
        # LogConfig's other keys: accepted and stored as Kafka does, with no effect in kplay.
        ConfigKey("segment.jitter.ms", "long", 0, "Random jitter subtracted from segment.ms.", minimum=0,
                  broker_synonyms=(("log.roll.jitter.ms", None), ("log.roll.jitter.hours", "0")), modelled=False),
        ConfigKey("segment.index.bytes", "int", 10_485_760, "Size of a segment's offset index.", minimum=4,
                  broker_synonyms=(("log.index.size.max.bytes", "10485760"),), modelled=False),
        ConfigKey("flush.messages", "long", LONG_MAX, "Records between forced fsyncs.", minimum=1,
                  broker_synonyms=(("log.flush.interval.messages", str(LONG_MAX)),), modelled=False),
        ConfigKey("flush.ms", "long", LONG_MAX, "Milliseconds between forced fsyncs.", minimum=0,
                  broker_synonyms=(("log.flush.interval.ms", None),
                                   ("log.flush.scheduler.interval.ms", str(LONG_MAX))), modelled=False),
        ConfigKey("index.interval.bytes", "int", 4096, "Bytes between offset index entries.", minimum=0,
                  broker_synonyms=_log("index.interval.bytes", "4096"), modelled=False),
        ConfigKey("file.delete.delay.ms", "long", 60_000, "Wait before a deleted segment's file goes.",
                  minimum=0, broker_synonyms=(("log.segment.delete.delay.ms", "60000"),), modelled=False),
        ConfigKey("compression.gzip.level", "int", -1, "gzip level when compression.type=gzip.",
                  broker_synonyms=(("compression.gzip.level", "-1"),), modelled=False),
        ConfigKey("compression.lz4.level", "int", 9, "lz4 level when compression.type=lz4.",
                  minimum=1, maximum=17, broker_synonyms=(("compression.lz4.level", "9"),), modelled=False),
        ConfigKey("compression.zstd.level", "int", 3, "zstd level when compression.type=zstd.",
                  minimum=-131072, maximum=22, broker_synonyms=(("compression.zstd.level", "3"),), modelled=False),
        ConfigKey("preallocate", "bool", False, "Preallocate segment files.",
                  broker_synonyms=_log("preallocate", "false"), modelled=False),
        ConfigKey("message.timestamp.before.max.ms", "long", LONG_MAX,
                  "How far in the past a record's timestamp may be.", minimum=0,
                  broker_synonyms=_log("message.timestamp.before.max.ms", str(LONG_MAX)), modelled=False),
        ConfigKey("message.timestamp.after.max.ms", "long", LONG_MAX,
                  "How far in the future a record's timestamp may be.", minimum=0,
                  broker_synonyms=_log("message.timestamp.after.max.ms", str(LONG_MAX)), modelled=False),
        ConfigKey("leader.replication.throttled.replicas", "list", "",
                  "Replicas throttled on the leader side.", modelled=False),
        ConfigKey("follower.replication.throttled.replicas", "list", "",
                  "Replicas throttled on the follower side.", modelled=False),
        ConfigKey("remote.storage.enable", "bool", False, "Tiered storage for this topic.", modelled=False),
        ConfigKey("local.retention.ms", "long", -2, "Local retention with tiered storage.", minimum=-2,
                  broker_synonyms=_log("local.retention.ms", "-2"), modelled=False),
        ConfigKey("local.retention.bytes", "long", -2, "Local retention bytes with tiered storage.", minimum=-2,
                  broker_synonyms=_log("local.retention.bytes", "-2"), modelled=False),
        ConfigKey("remote.log.copy.disable", "bool", False, "Stop copying segments to remote storage.",
                  modelled=False),
        ConfigKey("remote.log.delete.on.disable", "bool", False, "Delete remote segments when disabling.",
                  modelled=False),
    ), key=lambda key: key.name)
}


def validate_topic_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key and value; return the parsed overrides (only the keys given).

    Raises ``InvalidConfig`` naming the first unknown key or illegal value, in Kafka's words.
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


#: IncrementalAlterConfigs' operations (``AlterConfigOp.OpType``).
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def apply_config_operations(overrides: Mapping[str, Any],
                            operations: Sequence[tuple[str, int, str | None]]) -> dict[str, Any]:
    """A topic's overrides after IncrementalAlterConfigs' ``(name, operation, value)`` list, validated.

    APPEND and SUBTRACT work on list configs only, starting from the current value (the
    default when not overridden), as Kafka's ``ConfigAdminManager`` does.
    """
    result: dict[str, Any] = dict(overrides)
    for name, operation, value in operations:
        key = TOPIC_CONFIGS.get(name)
        if key is None:
            raise InvalidConfig(f"Unknown topic config name: {name}")
        if operation == SET:
            result[name] = key.parse(value)
        elif operation == DELETE:
            result.pop(name, None)
        elif operation in (APPEND, SUBTRACT):
            if key.kind != "list":
                verb = "append" if operation == APPEND else "subtract"
                raise InvalidConfig(f"Config value {verb} is not allowed for config key: {name}")
            current = [item for item in str(result.get(name, key.default)).split(",") if item]
            given = [item.strip() for item in str(value or "").split(",") if item.strip()]
            items = (current + [item for item in given if item not in current] if operation == APPEND
                     else [item for item in current if item not in given])
            result[name] = key.parse(",".join(items))
        else:
            raise InvalidConfig(f"Unknown config operation {operation} for config key: {name}")
    return result


@dataclass(frozen=True)
class ConfigEntry:
    """One config of a topic as DescribeConfigs reports it: value, source and synonyms."""

    name: str
    value: str
    source: str  # "DYNAMIC_TOPIC_CONFIG" or "DEFAULT_CONFIG" (ConfigEntry.ConfigSource's names)
    synonyms: tuple[tuple[str, str, str], ...]  # (source, name, value), the winning one first


def describe_topic_config(overrides: Mapping[str, Any]) -> list[ConfigEntry]:
    """Every topic config with its value, source and synonyms, sorted by name (Kafka's ConfigHelper)."""
    entries = []
    for name, key in TOPIC_CONFIGS.items():
        synonyms = [("DEFAULT_CONFIG", synonym, value) for synonym, value in key.broker_synonyms
                    if value is not None]
        if name in overrides:
            synonyms.insert(0, ("DYNAMIC_TOPIC_CONFIG", name, value_text(overrides[name])))
        value = value_text(overrides[name]) if name in overrides else key.default_text()
        source = synonyms[0][0] if synonyms else "DEFAULT_CONFIG"
        entries.append(ConfigEntry(name, value, source, tuple(synonyms)))
    return entries


def broker_default_configs() -> dict[str, str]:
    """The broker-level configs the playground follows, at Kafka's defaults: the topic configs' synonyms."""
    defaults = {"num.partitions": "1", "default.replication.factor": "1", "offsets.topic.num.partitions": "50",
                "offsets.topic.replication.factor": "3", "auto.create.topics.enable": "true"}
    for key in TOPIC_CONFIGS.values():
        for synonym, value in key.broker_synonyms:
            if value is not None:
                defaults.setdefault(synonym, value)
    return defaults
