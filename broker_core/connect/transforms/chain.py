"""A connector's ``transforms`` and ``predicates``: checked as Kafka Connect checks them, applied in order.

    transforms=route,key
    transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
    transforms.route.regex=db-(.*)
    transforms.route.replacement=copy-$1
    transforms.key.type=org.apache.kafka.connect.transforms.ValueToKey
    transforms.key.fields=id
    transforms.key.predicate=notTombstone        (a name in ``predicates``; ``negate`` inverts it)

``config_errors(config)`` lists what is wrong (Kafka's words, naming the key);
``TransformChain(config)`` applies the transforms to each ``ConnectRecord`` (None: dropped).
"""

from __future__ import annotations

from typing import Callable, Mapping

from .field_transforms import (CAST_TYPES, TIMESTAMP_TARGETS, UNIX_PRECISIONS, cast, insert_field, mask_field,
                               parse_cast_spec, replace_field, timestamp_converter)
from .predicates import PREDICATES, check_regex
from .record import ConnectRecord
from .routing import filter_records, regex_router
from .shape_transforms import extract_field, flatten, hoist_field, value_to_key

PREFIX = "org.apache.kafka.connect.transforms."
Transform = Callable[[ConnectRecord], "ConnectRecord | None"]
Factory = Callable[[str, Mapping[str, str]], Transform]

#: Each transform: (has $Key/$Value variants, required keys, optional keys, factory).
TRANSFORMS: dict[str, tuple[bool, tuple[str, ...], tuple[str, ...], Factory]] = {
    "InsertField": (True, (), ("topic.field", "partition.field", "offset.field", "timestamp.field",
                               "static.field", "static.value"), insert_field),
    "ReplaceField": (True, (), ("exclude", "include", "renames", "blacklist", "whitelist",
                                "replace.null.with.default"), replace_field),
    "MaskField": (True, ("fields",), ("replacement", "replace.null.with.default"), mask_field),
    "Cast": (True, ("spec",), ("replace.null.with.default",), cast),
    "TimestampConverter": (True, ("target.type",), ("field", "format", "unix.precision",
                                                    "replace.null.with.default"), timestamp_converter),
    "ValueToKey": (False, ("fields",), ("replace.null.with.default",), value_to_key),
    "ExtractField": (True, ("field",), ("field.syntax.version", "replace.null.with.default"), extract_field),
    "HoistField": (True, ("field",), (), hoist_field),
    "Flatten": (True, (), ("delimiter",), flatten),
    "RegexRouter": (False, ("regex", "replacement"), (), regex_router),
    "Filter": (False, (), (), filter_records),
}
#: Keys every transform takes (KIP-585).
_COMMON = ("type", "predicate", "negate")


def is_framework_key(key: str) -> bool:
    """Whether ``key`` belongs to the transform or predicate settings of a connector."""
    return key in ("transforms", "predicates") or key.startswith(("transforms.", "predicates."))


def _aliases(config: Mapping[str, str], key: str) -> list[str]:
    return [part.strip() for part in config.get(key, "").split(",") if part.strip()]


def _transform_class(name: str) -> tuple[str, str] | None:
    """(simple class name, "key"/"value") for a transform's ``type``; None if kplay has no such class."""
    short = name.strip().removeprefix(PREFIX)
    base, dollar, variant = short.partition("$")
    entry = TRANSFORMS.get(base)
    if entry is None:
        return None
    if entry[0]:
        if variant not in ("Key", "Value"):
            return None
        return base, variant.lower()
    return (base, "value") if not dollar else None


def config_errors(config: Mapping[str, str]) -> list[str]:
    """Every problem of the config's transforms and predicates (empty if none)."""
    errors: list[str] = []
    transforms, predicates = _aliases(config, "transforms"), _aliases(config, "predicates")
    for key in config:
        if key.startswith("transforms.") and key.split(".")[1] not in transforms:
            errors.append(f'Unknown configuration "{key}": transform "{key.split(".")[1]}" is not listed in '
                          "transforms")
        if key.startswith("predicates.") and key.split(".")[1] not in predicates:
            errors.append(f'Unknown configuration "{key}": predicate "{key.split(".")[1]}" is not listed in '
                          "predicates")
    if len(set(transforms)) != len(transforms):
        errors.append(f"Invalid value {config['transforms']} for configuration transforms: Duplicate alias provided.")
    for alias in transforms:
        prefix = f"transforms.{alias}."
        kind = config.get(prefix + "type", "").strip()
        if not kind:
            errors.append(f'Missing required configuration "{prefix}type" which has no default value.')
            continue
        found = _transform_class(kind)
        if found is None:
            errors.append(f"Invalid value {kind} for configuration {prefix}type: Class {kind} could not be found.")
            continue
        _, required, optional, _ = TRANSFORMS[found[0]]
        errors += _key_errors(config, prefix, required, (*optional, *_COMMON))
        predicate = config.get(prefix + "predicate")
        if predicate is not None and predicate.strip() not in predicates:
            errors.append(f"Invalid value {predicate} for configuration {prefix}predicate: "
                          "The predicate alias must be listed in predicates")
        negate = config.get(prefix + "negate")
        if negate is not None and negate.strip().lower() not in ("true", "false"):
            errors.append(f"Invalid value {negate} for configuration {prefix}negate: "
                          "Expected value to be either true or false")
        errors += _value_errors(found[0], prefix, config)
    for alias in predicates:
        prefix = f"predicates.{alias}."
        kind = config.get(prefix + "type", "").strip()
        if not kind:
            errors.append(f'Missing required configuration "{prefix}type" which has no default value.')
            continue
        full = kind if kind in PREDICATES else "org.apache.kafka.connect.transforms.predicates." + kind
        if full not in PREDICATES:
            errors.append(f"Invalid value {kind} for configuration {prefix}type: Class {kind} could not be found.")
            continue
        required, optional, _ = PREDICATES[full]
        errors += _key_errors(config, prefix, required, (*optional, "type"))
        if "pattern" in required and prefix + "pattern" in config:
            problem = check_regex(prefix + "pattern", config[prefix + "pattern"])
            if problem:
                errors.append(problem)
    return errors


def _key_errors(config: Mapping[str, str], prefix: str, required: tuple[str, ...],
                optional: tuple[str, ...]) -> list[str]:
    errors = [f'Missing required configuration "{prefix}{key}" which has no default value.'
              for key in required if prefix + key not in config]
    errors += [f'Unknown configuration "{key}"' for key in config
               if key.startswith(prefix) and key[len(prefix):] not in (*required, *optional)]
    return errors


def _value_errors(kind: str, prefix: str, config: Mapping[str, str]) -> list[str]:
    """Checks of values Kafka's ConfigDefs make (types, choices, regexes)."""
    errors = []
    if kind == "Cast" and prefix + "spec" in config:
        try:
            parse_cast_spec(config[prefix + "spec"])
        except ValueError as exc:
            errors.append(f"Invalid value {config[prefix + 'spec']} for configuration {prefix}spec: {exc}")
    if kind == "TimestampConverter":
        target = config.get(prefix + "target.type")
        if target is not None and target not in TIMESTAMP_TARGETS:
            errors.append(f"Invalid value {target} for configuration {prefix}target.type: "
                          f"String must be one of: {', '.join(TIMESTAMP_TARGETS)}")
        precision = config.get(prefix + "unix.precision")
        if precision is not None and precision not in UNIX_PRECISIONS:
            errors.append(f"Invalid value {precision} for configuration {prefix}unix.precision: "
                          f"String must be one of: {', '.join(UNIX_PRECISIONS)}")
    if kind == "RegexRouter" and prefix + "regex" in config:
        problem = check_regex(prefix + "regex", config[prefix + "regex"])
        if problem:
            errors.append(problem)
    if kind == "ReplaceField":
        for part in config.get(prefix + "renames", "").split(","):
            if part.strip() and part.count(":") != 1:
                errors.append(f"Invalid value {config[prefix + 'renames']} for configuration {prefix}renames: "
                              "Invalid rename mapping: " + part.strip())
    return errors


class TransformChain:
    """A connector's transforms, built from its (checked) config, applied in ``transforms`` order."""

    def __init__(self, config: Mapping[str, str]) -> None:
        predicates = {}
        for alias in _aliases(config, "predicates"):
            prefix = f"predicates.{alias}."
            kind = config[prefix + "type"].strip()
            full = kind if kind in PREDICATES else "org.apache.kafka.connect.transforms.predicates." + kind
            predicates[alias] = PREDICATES[full][2](_settings(config, prefix))
        self._steps: list[tuple[Transform, Callable[[ConnectRecord], bool] | None, bool]] = []
        for alias in _aliases(config, "transforms"):
            prefix = f"transforms.{alias}."
            found = _transform_class(config[prefix + "type"])
            assert found is not None, "config_errors() checks the class first"
            transform = TRANSFORMS[found[0]][3](found[1], _settings(config, prefix))
            predicate = config.get(prefix + "predicate")
            negate = config.get(prefix + "negate", "false").strip().lower() == "true"
            self._steps.append((transform, predicates[predicate.strip()] if predicate else None, negate))

    def __bool__(self) -> bool:
        return bool(self._steps)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """``record`` through every transform (None once one drops it)."""
        current: ConnectRecord | None = record
        for transform, predicate, negate in self._steps:
            assert current is not None
            if predicate is None or predicate(current) != negate:
                current = transform(current)
                if current is None:
                    return None
        return current


def _settings(config: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {key[len(prefix):]: value for key, value in config.items() if key.startswith(prefix)}


__all__ = ["CAST_TYPES", "TRANSFORMS", "TransformChain", "config_errors", "is_framework_key"]
