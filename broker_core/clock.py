"""Time for the broker core, injectable so tests and scenarios can fast-forward.

Retention, session timeouts and ISR lag are all measured on a ``Clock``. The system
clock is the default; a ``ManualClock`` moves only when told to, so a scenario can
skip a week of retention without sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time in epoch milliseconds."""

    def now_ms(self) -> int:
        """Return the current time in milliseconds since the epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time in epoch milliseconds."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when ``advance`` or ``set`` is called."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        """Return the clock's current time."""
        return self._now

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` milliseconds and return the new time."""
        if ms < 0:
            raise ValueError("a clock only moves forward")
        self._now += ms
        return self._now

    def set(self, now_ms: int) -> None:
        """Jump to ``now_ms`` (never backwards)."""
        if now_ms < self._now:
            raise ValueError("a clock only moves forward")
        self._now = now_ms
