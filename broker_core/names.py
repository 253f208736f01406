"""Kafka's rules for topic names, shared by the core, the CLI and the TUI's form."""

from __future__ import annotations

import re

from .errors import InvalidTopic

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")


def validate_topic_name(name: str) -> None:
    """Raise ``InvalidTopic`` with Kafka's wording if ``name`` is not a legal topic name."""
    if not name:
        raise InvalidTopic("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidTopic('Topic name cannot be "." or ".."')
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidTopic(
            f"Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, "
            f"topic name: {name[:40]}...")
    if not _LEGAL.match(name):
        raise InvalidTopic(
            f'Topic name "{name}" is illegal, it contains a character other than '
            "ASCII alphanumerics, '.', '_' and '-'")


def collision_key(name: str) -> str:
    """Kafka refuses two topics whose names differ only by '.' versus '_' (metric names clash)."""
    return name.replace(".", "_")
