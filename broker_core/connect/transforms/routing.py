"""Transforms that route or drop whole records: RegexRouter and Filter."""

from __future__ import annotations

import re
from typing import Callable, Mapping

from .predicates import java_regex
from .record import ConnectRecord

Transform = Callable[[ConnectRecord], "ConnectRecord | None"]


def java_replacement(text: str) -> str:
    """A Java ``Matcher`` replacement (``$1``, ``${name}``) as Python's ``expand`` template."""
    escaped = text.replace("\\", "\\\\")
    escaped = re.sub(r"\$\{([A-Za-z][A-Za-z0-9]*)\}", r"\\g<\1>", escaped)
    return re.sub(r"\$(\d+)", r"\\g<\1>", escaped)


def regex_router(which: str, config: Mapping[str, str]) -> Transform:
    """``RegexRouter``: a topic matching ``regex`` whole is renamed to ``replacement``."""
    pattern = java_regex(config["regex"])
    template = java_replacement(config["replacement"])

    def apply(record: ConnectRecord) -> ConnectRecord:
        match = pattern.fullmatch(record.topic)
        return record.with_topic(match.expand(template)) if match else record

    return apply


def filter_records(which: str, config: Mapping[str, str]) -> Transform:
    """``Filter``: drops every record it applies to (give it a predicate to choose which)."""
    return lambda record: None
