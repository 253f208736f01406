"""The headless observer: a scenario run printed as a plain-text transcript."""

from __future__ import annotations

from typing import Callable

from broker_core import Consumer
from widgets.safe_text import printable

from .script import Step

#: Longest line a transcript prints (a longer one ends with an ellipsis).
LINE_LIMIT = 10_000


class TranscriptObserver:
    """Writes each step, its narration and the resulting state as lines of text.

    Times are scenario-clock times since the start, so two runs of the same scenario
    print the same transcript. A lesson file is untrusted text, like a record: every line
    is written with its control characters made visible (an ESC or OSC sequence in a
    ``say`` line reaches the terminal as ``\\x1b``, never as an escape).
    """

    def __init__(self, write: Callable[[str], None]) -> None:
        self._raw_write = write

    def _write(self, line: str) -> None:
        self._raw_write(printable(line, LINE_LIMIT))

    def step_started(self, step: Step, at_ms: int) -> None:
        """Print the step as written, with its line number and scenario time."""
        if step.verb == "say":
            return
        self._write(f"[{at_ms / 1000:>9.3f}s] {step.line:>3}  {step.text}")

    def narrate(self, step: Step, text: str) -> None:
        """Print narration, set off from the steps."""
        self._write(f"{'':>16}» {text}")

    def report(self, step: Step, line: str) -> None:
        """Print one result line under its step."""
        self._write(f"{'':>16}  {line}")

    async def consumer_started(self, name: str, consumer: Consumer) -> None:
        """Nothing to show headless."""

    async def consumer_stopped(self, name: str) -> None:
        """Nothing to show headless."""

    async def pace(self, seconds: float) -> None:
        """Headless runs do not wait."""
