"""Topics a source connector creates (KIP-158): ``topic.creation.default.*`` and named groups.

    topic.creation.groups=compacted
    topic.creation.default.replication.factor=3
    topic.creation.default.partitions=6
    topic.creation.compacted.include=db-users.*
    topic.creation.compacted.cleanup.policy=compact      (any topic config)

A topic takes the first listed group whose ``include`` regexes match its name and whose
``exclude`` ones do not, else ``default``; ``-1`` is the broker's default. Without any
``topic.creation.*`` setting the connector leaves creation to the broker (auto-create).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from .transforms.predicates import java_regex

#: What ``-1`` means: kplay's broker defaults (num.partitions, default.replication.factor).
BROKER_DEFAULT_PARTITIONS = 1
BROKER_DEFAULT_REPLICATION_FACTOR = 1


@dataclass(frozen=True)
class TopicSettings:
    """How to create one topic."""

    partitions: int
    replication_factor: int
    configs: dict[str, str]


@dataclass(frozen=True)
class _Group:
    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]
    settings: TopicSettings


class TopicCreation:
    """A source connector's topic creation rules, from its config."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.enabled = any(key.startswith("topic.creation.") for key in config)
        names = [g.strip() for g in config.get("topic.creation.groups", "").split(",") if g.strip()]
        self._groups = [self._group(config, name) for name in names]
        self._default = self._group(config, "default").settings if self.enabled else None

    @staticmethod
    def _group(config: Mapping[str, str], name: str) -> _Group:
        prefix = f"topic.creation.{name}."

        def number(key: str, default: int) -> int:
            value = int(config.get(prefix + key, "-1").strip() or "-1")
            return default if value == -1 else value

        def patterns(key: str) -> tuple[re.Pattern[str], ...]:
            return tuple(java_regex(p.strip()) for p in config.get(prefix + key, "").split(",") if p.strip())

        configs = {key[len(prefix):]: value for key, value in config.items() if key.startswith(prefix)
                   and key[len(prefix):] not in ("include", "exclude", "partitions", "replication.factor")}
        return _Group(patterns("include"), patterns("exclude"),
                      TopicSettings(number("partitions", BROKER_DEFAULT_PARTITIONS),
                                    number("replication.factor", BROKER_DEFAULT_REPLICATION_FACTOR), configs))

    def settings_for(self, topic: str) -> TopicSettings | None:
        """The settings ``topic`` is created with (None: creation is left to the broker)."""
        if self._default is None:
            return None
        for group in self._groups:
            if any(p.fullmatch(topic) for p in group.include) and not any(p.fullmatch(topic) for p in group.exclude):
                return group.settings
        return self._default
