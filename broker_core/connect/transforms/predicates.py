"""Kafka Connect's predicates (KIP-585): conditions a transform applies under.

``predicates=isTombstone`` with ``predicates.isTombstone.type=...RecordIsTombstone``, and
``transforms.drop.predicate=isTombstone`` (``transforms.drop.negate=true`` inverts it).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from .record import ConnectRecord

PREFIX = "org.apache.kafka.connect.transforms.predicates."

Predicate = Callable[[ConnectRecord], bool]


def _topic_name_matches(config: Mapping[str, str]) -> Predicate:
    pattern = re.compile(_java_regex(config["pattern"]))
    return lambda record: pattern.fullmatch(record.topic) is not None


def _has_header_key(config: Mapping[str, str]) -> Predicate:
    name = config["name"]
    return lambda record: any(key == name for key, _ in record.headers)


def _record_is_tombstone(config: Mapping[str, str]) -> Predicate:
    return lambda record: record.value.value is None


#: Each predicate class: (its required and optional config keys, its factory).
PREDICATES: dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[[Mapping[str, str]], Predicate]]] = {
    PREFIX + "TopicNameMatches": (("pattern",), (), _topic_name_matches),
    PREFIX + "HasHeaderKey": (("name",), (), _has_header_key),
    PREFIX + "RecordIsTombstone": ((), (), _record_is_tombstone),
}


def check_regex(key: str, text: str) -> str | None:
    """Kafka's words for a ``key`` whose value is not a regular expression (None if it is one)."""
    try:
        re.compile(_java_regex(text))
    except re.error as exc:
        return f"Invalid value {text} for configuration {key}: Invalid regex: {exc}"
    return None


def _java_regex(text: str) -> str:
    """A Java regex as Python's ``re`` reads it (the common syntax is shared; named groups differ)."""
    return re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", text)


def java_regex(text: str) -> Any:
    """``re.compile`` of a Java regular expression."""
    return re.compile(_java_regex(text))
