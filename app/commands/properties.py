"""``--property k=v`` and friends: Kafka's key=value command-line arguments.

Kafka's tools parse ``--property``, ``--producer-property``, ``--consumer-property`` and
``--formatter-property`` with ``CommandLineUtils.parseKeyValueArgs``: each argument splits
at its first ``=``, and a key with no value gets the empty string. The same rules here
mean that tutorial commands such as ``--property key.separator=:`` mean the same thing.
"""

from __future__ import annotations

from typing import Iterable, Mapping


def parse_properties(arguments: Iterable[str] | None) -> dict[str, str]:
    """``["parse.key=true", "key.separator=:"]`` as a dict; later arguments win."""
    properties: dict[str, str] = {}
    for argument in arguments or ():
        key, _, value = argument.partition("=")
        if key:
            properties[key] = value
    return properties


def bool_property(properties: Mapping[str, str], key: str, default: bool = False) -> bool:
    """A true/false property as Kafka reads it: only ``true`` (any case, trimmed) is true."""
    value = properties.get(key)
    if value is None:
        return default
    return value.strip().lower() == "true"
