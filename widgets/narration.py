"""``NarrationPane``: a lesson as it plays (``kplay demo NAME``).

The current narration large and bold, with what the current step did under it; beside
it the lesson's steps, the current one marked; above, the state (playing, paused,
finished or stopped) and the speed. A step that fails shows its ``file:line`` error in
place of the narration, in red. The pane shows what it is told: the app's lesson player
calls ``start_step``, ``narrate``, ``report``, ``show_playback``, ``finish`` and ``fail``.

Scenario files are written by people: every text goes through ``printable`` and into a
``rich.text.Text``, never markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from .safe_text import printable

CSS_FILE = Path(__file__).with_suffix(".tcss")

#: Result lines of the current step kept under the narration.
DETAIL_LINES = 3
#: Steps above the current one kept in sight in the step list.
STEPS_ABOVE = 2


@dataclass(frozen=True)
class LessonStep:
    """One step of the lesson as the list shows it: its line in the file and its text."""

    line: int
    text: str


def speed_label(speed: float) -> str:
    """``1x``, ``0.25x``, ``8x``; ``max`` for a lesson that does not wait at all."""
    if math.isinf(speed):
        return "max"
    return f"{speed:g}x"


class NarrationPane(Vertical):
    """The lesson being played: narration, step list, state and speed.

    ``state`` is one of ``playing``, ``paused``, ``holding`` (paused before a step),
    ``finished`` or ``failed``.
    """

    def __init__(self, title: str, steps: Sequence[LessonStep], *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = title
        self.steps = list(steps)
        self.state = "playing"
        self.speed = 1.0
        #: The narration on screen now (plain text).
        self.narration = ""
        #: The error that stopped the lesson, as ``file:line: message`` (None while it runs).
        self.error: str | None = None
        #: What the lesson came to, once it ended.
        self.outcome = ""
        self._index = {step.line: i for i, step in enumerate(self.steps)}
        self._current: int | None = None
        self._done: set[int] = set()
        self._failed: set[int] = set()
        self._detail: list[tuple[str, bool]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="narration-status", markup=False)
        with Horizontal(id="narration-body"):
            with Vertical(id="narration-main"):
                yield Static(id="narration-text", markup=False)
                yield Static(id="narration-detail", markup=False)
            with VerticalScroll(id="narration-steps"):
                yield Static(id="narration-step-list", markup=False)

    def on_mount(self) -> None:
        self.border_title = Text(f"Lesson: {printable(self.title, 100)}")
        self.query_one("#narration-steps").can_focus = False
        self._draw_all()

    # -- what the lesson player tells the pane -------------------------------------------
    @property
    def current_line(self) -> int | None:
        """The file line of the step running or last run (None before the first)."""
        return self.steps[self._current].line if self._current is not None else None

    @property
    def steps_done(self) -> int:
        """How many steps have finished."""
        return len(self._done)

    def start_step(self, line: int) -> None:
        """The step at ``line`` starts: mark it, clear the previous step's results."""
        if self._current is not None:
            self._done.add(self._current)
        self._current = self._index.get(line)
        self._detail = []
        self._draw_all()

    def step_done(self, line: int) -> None:
        """The step at ``line`` finished."""
        index = self._index.get(line)
        if index is not None:
            self._done.add(index)
            self._draw_steps()

    def narrate(self, text: str) -> None:
        """Show ``text`` as the narration."""
        self.narration = printable(text, 2000)
        self._draw_text()

    def report(self, line: int, text: str) -> None:
        """One result line of the step at ``line`` (``FAIL ...`` marks the step failed)."""
        failed = text.startswith("FAIL")
        if failed:
            index = self._index.get(line)
            if index is not None:
                self._failed.add(index)
                self._draw_steps()
        self._detail = [*self._detail, (printable(text, 500), failed)][-DETAIL_LINES:]
        self._draw_detail()

    def show_playback(self, state: str, speed: float) -> None:
        """Show the player's state (``playing``, ``paused``, ``holding``) and speed."""
        if self.state in ("finished", "failed"):
            return
        self.state, self.speed = state, speed
        self._draw_status()

    def finish(self, passed: bool, failures: Sequence[str]) -> None:
        """The lesson ran to its end; ``failures`` are the expectations that did not hold."""
        if self._current is not None:
            self._done.add(self._current)
        self.state = "finished"
        self.outcome = ("every expectation held" if passed else
                        f"{len(failures)} expectation{'s' if len(failures) != 1 else ''} did not hold")
        if not passed:
            self._detail = [(printable(f, 500), True) for f in failures][-DETAIL_LINES:]
        self._draw_all()

    def fail(self, message: str, line: int | None = None) -> None:
        """The lesson stopped: show ``message`` (``file:line: what was expected``) in place of
        the narration; ``line`` marks the failing step."""
        index = self._index.get(line) if line is not None else self._current
        if index is not None:
            self._failed.add(index)
            self._current = index
        self.state = "failed"
        self.error = printable(message, 2000)
        self.outcome = "stopped" + (f" at line {self.steps[index].line}" if index is not None else "")
        self.add_class("-failed")
        self._draw_all()

    # -- drawing ------------------------------------------------------------------------
    def _draw_all(self) -> None:
        if not self.is_mounted:
            return
        self._draw_status()
        self._draw_text()
        self._draw_detail()
        self._draw_steps()

    def _draw_status(self) -> None:
        if not self.is_mounted:
            return
        status = Text(no_wrap=True, overflow="ellipsis")
        state = self.state
        if state == "playing":
            status.append("▶ playing", "bold green")
        elif state in ("paused", "holding"):
            status.append("‖ paused", "bold yellow")
            if state == "holding" and self._next_line() is not None:
                status.append(f" before line {self._next_line()}", "yellow")
        elif state == "finished":
            status.append("✓ finished" if not self._failed else "✗ finished", "bold green" if not self._failed else "bold red")
            status.append(f": {self.outcome}", "dim")
        else:
            status.append(f"✗ {self.outcome}", "bold red")
        if state not in ("finished", "failed"):
            status.append("   speed ", "dim")
            status.append(speed_label(self.speed), "bold")
        step = (self._current + 1) if self._current is not None else 0
        status.append(f"   step {step} of {len(self.steps)}", "dim")
        self.query_one("#narration-status", Static).update(status)

    def _next_line(self) -> int | None:
        nxt = 0 if self._current is None else self._current + 1
        return self.steps[nxt].line if nxt < len(self.steps) else None

    def _draw_text(self) -> None:
        if not self.is_mounted:
            return
        if self.error is not None:
            text = Text(self.error, style="bold")
        elif self.narration:
            text = Text(self.narration)
        else:
            text = Text("The lesson is about to begin.", style="dim")
        self.query_one("#narration-text", Static).update(text)

    def _draw_detail(self) -> None:
        if not self.is_mounted:
            return
        detail = Text(no_wrap=True, overflow="ellipsis")
        for i, (line, failed) in enumerate(self._detail):
            if i:
                detail.append("\n")
            detail.append(line, "bold red" if failed else "")
        self.query_one("#narration-detail", Static).update(detail)

    def _draw_steps(self) -> None:
        if not self.is_mounted:
            return
        listing = Text(no_wrap=True, overflow="ellipsis")
        for i, step in enumerate(self.steps):
            if i:
                listing.append("\n")
            if i in self._failed:
                marker, style = "✗", "bold red"
            elif i == self._current and self.state not in ("finished",):
                marker, style = "▶", "bold reverse"
            elif i in self._done:
                marker, style = "✓", "dim"
            else:
                marker, style = " ", ""
            listing.append(f"{marker} {step.line:>3} ", style or "dim")
            listing.append(printable(step.text, 300), style)
        self.query_one("#narration-step-list", Static).update(listing)
        if self._current is not None:
            self.query_one("#narration-steps", VerticalScroll).scroll_to(
                y=max(0, self._current - STEPS_ABOVE), animate=False, immediate=True)

    @property
    def text(self) -> str:
        """What the pane shows, as plain text (status, narration, results, steps)."""
        parts = []
        for selector in ("#narration-status", "#narration-text", "#narration-detail", "#narration-step-list"):
            content = self.query_one(selector, Static).content
            parts.append(content.plain if isinstance(content, Text) else str(content))
        return "\n".join(parts)
