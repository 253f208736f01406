"""Every action of the screen and its widgets, for the command palette and the help screen.

``bound_actions(screen)`` walks the app, the screen and every widget on it (the other
engineers' widgets included) and returns each binding with the key that triggers it now,
after the user's remapping. ``PlaygroundCommands`` offers them in the command palette, so
an action is reachable by name even when its key is forgotten or taken by a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Iterable, Iterator

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

from widgets.safe_text import printable

#: A pane's name in the help screen and the palette, by class name, when it has no border title.
PANE_NAMES: dict[str, str] = {
    "PlaygroundApp": "Everywhere",
    "MainScreen": "Main screen",
    "PipelineScreen": "Pipeline screen",
}


@dataclass(frozen=True)
class BoundAction:
    """One binding of one node: where it lives, what it does, and the key(s) that do it now."""

    pane: str
    node: DOMNode
    binding: Binding
    keys: str

    @property
    def description(self) -> str:
        """What the action does, in the binding's words."""
        return self.binding.description or self.binding.action.replace("_", " ")


def _own_bindings(node: DOMNode) -> Iterator[Binding]:
    """Bindings declared by ``node``'s own classes, as declared ("n,escape" stays one binding).

    Textual's built-in widgets are left out: their cursor keys are covered by the panes'
    own movement bindings.
    """
    seen: set[str] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("textual.") or "BINDINGS" not in cls.__dict__:
            continue
        for declared in cls.__dict__["BINDINGS"]:
            binding = declared if isinstance(declared, Binding) else Binding(*declared)
            if binding.action in seen:
                continue  # a subclass re-declared it
            seen.add(binding.action)
            yield binding


def pane_name(node: DOMNode) -> str:
    """A person's name for the pane ``node`` belongs to: the nearest ``pane_title`` (a widget's
    name for help), else the nearest border title, else its class."""
    for ancestor in node.ancestors_with_self:
        title = getattr(ancestor, "pane_title", None) or getattr(ancestor, "border_title", None)
        if title:
            return printable(str(title), 40)
        name = PANE_NAMES.get(type(ancestor).__name__)
        if name:
            return name
    return type(node).__name__


def _keys_for(app: App, binding: Binding, keymap: dict[str, str]) -> str:
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if key:
            shown.append(app.get_key_display(binding.with_key(key, key_display=None)))
    return ", ".join(dict.fromkeys(shown))


def bound_actions(screen: Screen, keymap: dict[str, str] | None = None) -> list[BoundAction]:
    """Every binding of the app, ``screen`` and the widgets on it, with its current keys.

    ``keymap`` is the user's remapping (binding id -> keys); the app's ``keymap`` attribute
    is used when it has one.
    """
    app = screen.app
    keymap = keymap if keymap is not None else dict(getattr(app, "keymap", {}) or {})
    nodes: list[DOMNode] = [app, screen, *screen.walk_children(Widget)]
    found: list[BoundAction] = []
    for node in nodes:
        only_in = getattr(node, "CONTEXT_ACTIONS", {})
        for binding in _own_bindings(node):
            pane = pane_name(node)
            if binding.action in only_in:
                pane = f"{pane}, {only_in[binding.action]}"
            found.append(BoundAction(pane, node, binding, _keys_for(app, binding, keymap)))
    return found


def absent_actions(screen: Screen, keymap: dict[str, str] | None = None) -> list[BoundAction]:
    """The keys of panes the screen may show but does not show now (``screen.MAY_SHOW``: widget
    classes, e.g. a consumer view before one is added), for the help screen."""
    app = screen.app
    keymap = keymap if keymap is not None else dict(getattr(app, "keymap", {}) or {})
    present = {type(node) for node in screen.walk_children(Widget)}
    found: list[BoundAction] = []
    for cls in getattr(screen, "MAY_SHOW", ()):
        if cls in present:
            continue
        pane = f"{getattr(cls, 'pane_title', cls.__name__)} (once one is shown)"
        for declared in cls.__dict__.get("BINDINGS", []):
            binding = declared if isinstance(declared, Binding) else Binding(*declared)
            found.append(BoundAction(pane, screen, binding, _keys_for(app, binding, keymap)))
    return found


def help_sections(actions: Iterable[BoundAction]) -> list[tuple[str, list[BoundAction]]]:
    """Actions grouped by pane in first-seen order, each pane's duplicates (same key and action) once."""
    sections: dict[str, list[BoundAction]] = {}
    seen: set[tuple[str, str, str]] = set()
    for action in actions:
        marker = (action.pane, action.keys, action.binding.action)
        if marker in seen:
            continue
        seen.add(marker)
        sections.setdefault(action.pane, []).append(action)
    return list(sections.items())


def palette_actions(screen: Screen) -> list[BoundAction]:
    """The actions the palette offers: every binding shown in a footer, plus every app and
    screen binding (focus keys included); pure cursor movement is left to the keys."""
    return [a for a in bound_actions(screen)
            if a.binding.show or a.node is screen or a.node is screen.app]


class PlaygroundCommands(Provider):
    """Command palette source: every action of the screen and its widgets, with its key."""

    def _entries(self) -> list[tuple[str, str, BoundAction]]:
        entries = []
        seen: set[str] = set()
        for action in palette_actions(self.screen):
            title = f"{action.pane}: {action.description}"
            if title in seen:
                continue
            seen.add(title)
            entries.append((title, f"key: {action.keys}" if action.keys else "", action))
        return entries

    def _run(self, action: BoundAction) -> None:
        # Run in the namespace of the node that owns the binding, as a key press would.
        self.app.call_next(self.app.run_action, action.binding.action, action.node)

    async def discover(self) -> Hits:
        """Every action, listed when the palette opens."""
        for title, help_text, action in self._entries():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        """The actions whose "pane: description" matches ``query``."""
        matcher = self.matcher(query)
        for title, help_text, action in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=help_text)
