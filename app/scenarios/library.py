"""The built-in scenarios shipped with kplay, one per concept of the Kafka tutorial."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .script import Scenario, ScenarioError, parse, parse_file

SUFFIX = ".kplay"


@dataclass(frozen=True)
class BuiltinScenario:
    """A scenario that ships with kplay."""

    name: str
    title: str
    description: str
    text: str

    def parse(self) -> Scenario:
        """The parsed scenario."""
        return parse(self.text, f"{self.name}{SUFFIX}")


def builtin_scenarios() -> list[BuiltinScenario]:
    """Every built-in scenario, in teaching order (files are numbered)."""
    found = []
    folder = resources.files("app.scenarios") / "builtin"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(SUFFIX):
            continue
        text = entry.read_text(encoding="utf-8")
        name = entry.name[: -len(SUFFIX)].split("-", 1)[1]
        scenario = parse(text, entry.name)
        found.append(BuiltinScenario(name, scenario.title, scenario.description, text))
    return found


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a user's scenario file by path."""
    for builtin in builtin_scenarios():
        if builtin.name == name_or_path:
            return builtin.parse()
    path = Path(name_or_path).expanduser()
    if path.exists():
        return parse_file(path)
    names = ", ".join(b.name for b in builtin_scenarios())
    raise ScenarioError(name_or_path, 0, f"no built-in scenario or file of that name (built-in: {names})")
