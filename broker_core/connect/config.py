"""Connector configs: the keys of Confluent's JDBC connectors, their defaults and validation.

A connector config is what the tutorial's JSON files hold: string keys and (mostly
string) values. Validation follows Kafka's ``ConfigDef``: a missing required key, an
illegal value or, in kplay, an unknown key is refused with Kafka's wording, naming the
key. Every front (CLI, REST, scenarios) validates here, so the words are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ConnectorConfigInvalid
from .transforms import config_errors as transform_errors
from .transforms import is_framework_key as is_transform_key

SOURCE_CLASS = "io.confluent.connect.jdbc.JdbcSourceConnector"
SINK_CLASS = "io.confluent.connect.jdbc.JdbcSinkConnector"
#: Kafka resolves a connector.class given by its full name, its simple name, or the simple
#: name without "Connector".
CONNECTOR_CLASSES: dict[str, str] = {
    alias: full
    for full in (SOURCE_CLASS, SINK_CLASS)
    for alias in (full, full.rsplit(".", 1)[1], full.rsplit(".", 1)[1].removesuffix("Connector"))
}

JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
AVRO_CONVERTER = "io.confluent.connect.avro.AvroConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
CONVERTERS = (AVRO_CONVERTER, JSON_CONVERTER, STRING_CONVERTER)
#: The worker's converters when a connector names none, as the tutorial's Connect image sets
#: them: values as JsonConverter with schemas.enable (each message carries its schema and
#: payload; the registry is not used). AvroConverter with value.converter.schema.registry.url
#: is the registry-backed choice. Keys of the JDBC source are null.
DEFAULT_KEY_CONVERTER = STRING_CONVERTER
DEFAULT_VALUE_CONVERTER = JSON_CONVERTER
HEADER_CONVERTERS = ("org.apache.kafka.connect.storage.SimpleHeaderConverter", JSON_CONVERTER, STRING_CONVERTER)
ERROR_TOLERANCES = ("none", "all")
#: Keys a converter takes under its prefix (``value.converter.schemas.enable``, ...).
CONVERTER_KEYS = ("schemas.enable", "schema.registry.url")

MODES = ("bulk", "timestamp", "incrementing", "timestamp+incrementing")
INSERT_MODES = ("insert", "upsert")
PK_MODES = ("none", "kafka", "record_key", "record_value")
#: Column names of pk.mode=kafka when pk.fields names none (Confluent's defaults).
KAFKA_PK_FIELDS = ("__connect_topic", "__connect_partition", "__connect_offset")

REQUIRED = object()


@dataclass(frozen=True)
class ConnectorKey:
    """One connector config key: its type, default and allowed values."""

    name: str
    kind: str  # "string", "int", "long", "bool", "list", "password"
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None
    minimum: int | None = None

    def parse(self, raw: Any) -> Any:
        """Turn the config's value into this key's type; raises ValueError with Kafka's words."""
        text = _as_text(raw).strip() if self.kind != "password" else _as_text(raw)
        if self.kind in ("int", "long"):
            try:
                value: Any = int(text)
            except ValueError:
                raise ValueError(f"Invalid value {text} for configuration {self.name}: "
                                 f"Not a number of type {self.kind.upper()}") from None
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"Invalid value {text} for configuration {self.name}: "
                                 f"Value must be at least {self.minimum}")
            return value
        if self.kind == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"Invalid value {text} for configuration {self.name}: "
                                 "Expected value to be either true or false")
            return text.lower() == "true"
        if self.kind == "list":
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if self.choices is not None and text not in self.choices:
            raise ValueError(f"Invalid value {text} for configuration {self.name}: "
                             f"String must be one of: {', '.join(self.choices)}")
        return text


def _as_text(raw: Any) -> str:
    # The REST API takes strings, but JSON files often carry numbers and booleans.
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return ""
    return str(raw)


def _keys(*keys: ConnectorKey) -> dict[str, ConnectorKey]:
    return {key.name: key for key in keys}


COMMON_KEYS = _keys(
    ConnectorKey("name", "string", REQUIRED, "Globally unique name of the connector."),
    ConnectorKey("connector.class", "string", REQUIRED, "The connector's class (full or simple name)."),
    ConnectorKey("tasks.max", "int", 1, "Most tasks the connector may run.", minimum=1),
    ConnectorKey("key.converter", "string", DEFAULT_KEY_CONVERTER, "How record keys are (de)serialized.",
                 choices=CONVERTERS),
    ConnectorKey("value.converter", "string", DEFAULT_VALUE_CONVERTER, "How record values are (de)serialized.",
                 choices=CONVERTERS),
    ConnectorKey("header.converter", "string", HEADER_CONVERTERS[0], "How record headers are (de)serialized.",
                 choices=HEADER_CONVERTERS),
    ConnectorKey("transforms", "list", "", "Aliases of the transformations applied to each record, in order."),
    ConnectorKey("predicates", "list", "", "Aliases of the predicates transformations may apply under."),
    ConnectorKey("errors.tolerance", "string", "none",
                 "none: a record that fails conversion or a transform fails the task; all: it is skipped.",
                 choices=ERROR_TOLERANCES),
    ConnectorKey("errors.retry.timeout", "long", 0, "How long a failed operation is retried (-1: for ever)."),
    ConnectorKey("errors.retry.delay.max.ms", "long", 60_000, "Longest wait between retries.", minimum=1),
    ConnectorKey("errors.log.enable", "bool", False, "Log each skipped record's error."),
    ConnectorKey("errors.log.include.messages", "bool", False, "Include the record in that log line."),
)

_CONNECTION_KEYS = (
    ConnectorKey("connection.url", "string", REQUIRED,
                 "JDBC URL (jdbc:sqlite:PATH, jdbc:postgresql://host:port/db) or an SQLAlchemy URL."),
    ConnectorKey("connection.user", "string", "", "Database user."),
    ConnectorKey("connection.password", "password", "", "Database password."),
    ConnectorKey("connection.attempts", "int", 3, "Tries to connect before the task fails.", minimum=1),
    ConnectorKey("connection.backoff.ms", "long", 10_000, "Wait between connection tries.", minimum=0),
)

SOURCE_KEYS = _keys(
    *_CONNECTION_KEYS,
    ConnectorKey("table.whitelist", "list", "", "Tables to copy (every table when empty)."),
    ConnectorKey("mode", "string", REQUIRED, "How each poll finds new rows.", choices=MODES),
    ConnectorKey("incrementing.column.name", "string", "",
                 "Strictly increasing column (the autoincrement primary key when empty)."),
    ConnectorKey("timestamp.column.name", "list", "", "Column(s) holding each row's last-modified time."),
    ConnectorKey("timestamp.delay.interval.ms", "long", 0,
                 "How long after a row's timestamp it is copied (lets slow transactions commit).", minimum=0),
    ConnectorKey("validate.non.null", "bool", True,
                 "Refuse incrementing/timestamp columns that may be NULL."),
    ConnectorKey("topic.prefix", "string", REQUIRED, "Each table goes to the topic <topic.prefix><table>."),
    ConnectorKey("poll.interval.ms", "int", 5_000, "Wait between polls of each table.", minimum=1),
    ConnectorKey("batch.max.rows", "int", 100, "Most rows one poll returns.", minimum=1),
    ConnectorKey("topic.creation.groups", "list", "", "Groups of topic.creation.<group>.* settings, besides default."),
)

SINK_KEYS = _keys(
    *_CONNECTION_KEYS,
    ConnectorKey("topics", "list", REQUIRED, "Topics to copy into tables."),
    ConnectorKey("table.name.format", "string", "${topic}", "Target table name; ${topic} is the topic's name."),
    ConnectorKey("auto.create", "bool", False, "Create a missing target table from the record schema."),
    ConnectorKey("auto.evolve", "bool", False, "Add columns for new record fields (ALTER TABLE)."),
    ConnectorKey("insert.mode", "string", "insert", "insert, or upsert on the primary key.",
                 choices=INSERT_MODES),
    ConnectorKey("pk.mode", "string", "none", "Where the primary key comes from.", choices=PK_MODES),
    ConnectorKey("pk.fields", "list", "", "Primary key column(s), by pk.mode."),
    ConnectorKey("batch.size", "int", 3_000, "Most records written per database transaction.", minimum=1),
    ConnectorKey("errors.deadletterqueue.topic.name", "string", "",
                 "Topic records that fail are written to with errors.tolerance=all (none: not kept)."),
    ConnectorKey("errors.deadletterqueue.topic.replication.factor", "int", 3,
                 "Replication factor of the dead letter queue topic when it is created.", minimum=-1),
    ConnectorKey("errors.deadletterqueue.context.headers.enable", "bool", False,
                 "Add __connect.errors.* headers naming the failure to dead letter records."),
)


@dataclass(frozen=True)
class ConnectorConfig:
    """A validated connector config: ``raw`` as given (strings), ``values`` parsed with defaults."""

    name: str
    connector_class: str
    connector_type: str  # "source" or "sink"
    raw: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def converter_setting(self, which: str, key: str, default: Any = None) -> Any:
        """A converter's own setting, e.g. ``converter_setting("value", "schemas.enable", True)``."""
        return self.values.get(f"{which}.converter.{key}", default)


def connector_type(connector_class: str) -> str:
    """``source`` or ``sink`` for a connector.class value (full or simple name)."""
    full = CONNECTOR_CLASSES.get(connector_class.strip())
    if full is None:
        raise ConnectorConfigInvalid(
            f"Failed to find any class that implements Connector and which name matches {connector_class}, "
            f"available connectors are: {SOURCE_CLASS}, {SINK_CLASS}")
    return "source" if full == SOURCE_CLASS else "sink"


def validate_connector_config(config: Mapping[str, Any], name: str | None = None) -> ConnectorConfig:
    """Check every key and value of a connector config; return it parsed.

    ``name`` is the connector's name when it comes from elsewhere (the URL of
    ``PUT /connectors/NAME/config``); the config's own ``name``, if any, must match.
    Raises ``ConnectorConfigInvalid`` listing every problem, each naming its key.
    """
    if not isinstance(config, Mapping):
        raise ConnectorConfigInvalid("A connector config must be a JSON object of key/value pairs")
    raw = {str(key): _as_text(value) for key, value in config.items()}
    if name is not None:
        if raw.get("name", name) != name:
            raise ConnectorConfigInvalid(
                f"Connector name configuration ({raw['name']}) doesn't match connector name in the URL ({name})")
        raw["name"] = name
    if not raw.get("connector.class", "").strip():
        _refuse(['Missing required configuration "connector.class" which has no default value.'])
    kind = connector_type(raw["connector.class"])
    keys = {**COMMON_KEYS, **(SOURCE_KEYS if kind == "source" else SINK_KEYS)}
    simple_class = CONNECTOR_CLASSES[raw["connector.class"].strip()].rsplit(".", 1)[1]
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in keys and is_transform_key(key):
            continue  # checked as a whole by the transforms
        spec = keys.get(key) or _converter_key(key) or (_topic_creation_key(key) if kind == "source" else None)
        if spec is None:
            errors.append(f'Unknown configuration "{key}" for {simple_class}')
            continue
        try:
            values[key] = spec.parse(value)
        except ValueError as exc:
            errors.append(str(exc))
    for key, spec in keys.items():
        if key in values or key in raw:
            continue
        if spec.default is REQUIRED:
            errors.append(f'Missing required configuration "{key}" which has no default value.')
        else:
            values[key] = spec.parse(spec.default) if spec.kind == "list" else spec.default
    errors.extend(transform_errors(raw))
    if kind == "source":
        errors.extend(_topic_creation_errors(raw))
    if not errors:
        errors.extend(_check_combinations(kind, values))
    if errors:
        _refuse(errors)
    if not values["name"] or any(ord(c) < 32 for c in values["name"]) or "/" in values["name"]:
        _refuse([f'Invalid value {values["name"]} for configuration name: a connector name must be non-empty '
                 "and contain no '/' or control characters"])
    return ConnectorConfig(values["name"], CONNECTOR_CLASSES[raw["connector.class"].strip()], kind, raw, values)


def _converter_key(key: str) -> ConnectorKey | None:
    for which in ("key", "value"):
        prefix = f"{which}.converter."
        if key.startswith(prefix) and key[len(prefix):] in CONVERTER_KEYS:
            setting = key[len(prefix):]
            return ConnectorKey(key, "bool" if setting == "schemas.enable" else "string",
                                True if setting == "schemas.enable" else "", f"Converter setting {setting}.")
    return None


def _topic_creation_key(key: str) -> ConnectorKey | None:
    """``topic.creation.<group>.<setting>``: include/exclude lists, partitions and RF, or a topic config."""
    parts = key.split(".", 3)
    if len(parts) < 4 or parts[:2] != ["topic", "creation"]:
        return None
    setting = parts[3]
    if setting in ("replication.factor", "partitions"):
        return ConnectorKey(key, "int", -1, f"The {setting} of topics this connector creates (-1: the broker's)",
                            minimum=-1)
    if setting in ("include", "exclude"):
        return ConnectorKey(key, "list", "", "Regular expressions of the topic names the group covers.")
    return ConnectorKey(key, "string", "", "A topic config of the topics the group creates.")


def _topic_creation_errors(raw: Mapping[str, str]) -> list[str]:
    """Kafka's rules: with any topic.creation setting, the default group's RF and partitions are needed,
    and each listed group needs an include list."""
    if not any(key.startswith("topic.creation.") for key in raw):
        return []
    errors = [f'Missing required configuration "topic.creation.default.{setting}" which has no default value.'
              for setting in ("replication.factor", "partitions") if f"topic.creation.default.{setting}" not in raw]
    for group in (g.strip() for g in raw.get("topic.creation.groups", "").split(",") if g.strip()):
        if f"topic.creation.{group}.include" not in raw:
            errors.append(f'Missing required configuration "topic.creation.{group}.include" which has no default '
                          "value.")
    for key, value in raw.items():
        if key.endswith((".replication.factor", ".partitions")) and key.startswith("topic.creation."):
            if value.strip() == "0":
                errors.append(f"Invalid value 0 for configuration {key}: Value must be at least 1 or -1")
    return errors


def _check_combinations(kind: str, values: dict[str, Any]) -> list[str]:
    """Rules between keys (Confluent checks these when the connector starts; kplay at once)."""
    errors = []
    if kind == "source":
        mode = values["mode"]
        if "timestamp" in mode and not values["timestamp.column.name"]:
            errors.append(f'Missing required configuration "timestamp.column.name" for mode {mode}')
    else:
        pk_mode, fields = values["pk.mode"], values["pk.fields"]
        if values["insert.mode"] == "upsert" and pk_mode == "none":
            errors.append("Invalid value upsert for configuration insert.mode: upsert needs a primary key, "
                          "set pk.mode to kafka, record_key or record_value")
        if pk_mode == "kafka" and fields and len(fields) != 3:
            errors.append(f"Invalid value {','.join(fields)} for configuration pk.fields: pk.mode kafka takes "
                          "exactly 3 names (topic, partition, offset)")
        if pk_mode == "none" and fields:
            errors.append("Invalid value for configuration pk.fields: pk.mode none takes no pk.fields")
        if not values["table.name.format"].strip():
            errors.append("Invalid value for configuration table.name.format: it must not be empty")
    return errors


def _refuse(errors: list[str]) -> None:
    raise ConnectorConfigInvalid(
        f"Connector configuration is invalid and contains the following {len(errors)} error(s): "
        + "; ".join(errors), tuple(errors))
