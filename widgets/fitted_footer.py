"""A footer that never runs past the right edge: at narrow widths it shows the most important keys only.

Textual's ``Footer`` lays every shown binding in one row and scrolls sideways when they do not fit, so at
80 or 120 columns the keys at the right (Quit, Help) were simply cut off. This footer keeps, in order:
the essential keys (quit, help, a lesson's pause and step), then the focused pane's keys, then the screen's
keys, and leaves out whatever no longer fits. A key left out is still bound, listed in the help screen (``?``)
and in the command palette (``:``), which list bindings from the widgets, not from the footer.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # the footer's own key widget: measured, never subclassed

__all__ = ["FittedFooter"]


class FittedFooter(Footer):
    """A ``Footer`` that leaves out the least important keys instead of scrolling past the right edge."""

    #: Binding ids kept whatever the width (the way out, the way to every other key, a lesson's controls).
    ESSENTIAL: ClassVar[frozenset[str]] = frozenset({"quit", "help", "command-palette", "lesson.pause", "lesson.step"})

    def __init__(self, *, id: str | None = None, compact: bool = False) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id, compact=compact)
        self._composed_width = 0
        #: Descriptions of the shown keys left out at this width (for tests and the curious).
        self.left_out: list[str] = []

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        width = self.size.width or self.app.size.width
        self._composed_width = width
        palette = [w for w in widgets if isinstance(w, FooterKey) and w.has_class("-command-palette")]
        keys = [w for w in widgets if isinstance(w, FooterKey) and w not in palette]
        others = [w for w in widgets if not isinstance(w, FooterKey)]  # group labels: rare, kept as they are
        room = width - sum(self._width_of(w, palette=True) for w in palette) - sum(
            cell_len(str(getattr(w, "content", ""))) + 1 for w in others)
        ids = self._binding_ids()
        essential = [w for w in keys if ids.get((w.key, w.action)) in self.ESSENTIAL]
        # Active bindings come focused widget first, then its ancestors, the screen and the app: that order
        # is the order of importance once the essential ones are in.
        kept: set[int] = set()
        for widget in [*essential, *(w for w in keys if w not in essential)]:
            needed = self._width_of(widget, palette=False)
            if needed <= room:
                kept.add(id(widget))
                room -= needed
        self.left_out = [w.description for w in keys if id(w) not in kept]
        yield from (w for w in widgets if not isinstance(w, FooterKey) or w in palette or id(w) in kept)

    def _binding_ids(self) -> dict[tuple[str, str], str]:
        """(key, action) -> binding id for the bindings the footer shows now."""
        return {(binding.key, binding.action): binding.id or ""
                for (_, binding, _, _) in self.screen.active_bindings.values()}

    def _width_of(self, key: FooterKey, *, palette: bool) -> int:
        """Columns ``key`` takes in the footer row, margins and padding included (as Footer's CSS sets them)."""
        text = cell_len(key.key_display) + (cell_len(key.description) + 1 if key.description else 0)
        if self.compact:
            return text + (0 if palette else 1) + (1 if palette else 0)  # margin-right / the border-left
        return text + 2 + (2 if palette else 0)  # key padding both sides, description's right padding folded in

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._composed_width:
            self.call_after_refresh(self.recompose)

    def watch_compact(self, compact: bool) -> None:
        if self._bindings_ready and self.is_attached:
            self.call_after_refresh(self.recompose)
