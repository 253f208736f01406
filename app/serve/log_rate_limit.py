"""A logging filter that lets each kind of warning through a few times a minute, then counts.

``kplay serve`` warns once per malformed request; a fuzzer or a broken client sends
thousands (6,700 lines in four minutes of fuzzing). Warnings are grouped by their message
template (``"broker %d: closing connection from %s: %s"`` is one kind whatever the
peer): the first ``burst`` of a kind in each ``window_s`` pass, the rest are counted, and
the next one that passes says how many were left out. INFO and below always pass.

    install_rate_limit(logging.getLogger("kplay.serve"))
"""

from __future__ import annotations

import logging
import time
from typing import Callable

#: Warnings of one kind let through per window, and the window's length.
DEFAULT_BURST = 10
DEFAULT_WINDOW_S = 60.0


class RateLimitedWarnings(logging.Filter):
    """Pass at most ``burst`` WARNING-or-worse records of each message template per ``window_s``."""

    def __init__(self, burst: int = DEFAULT_BURST, window_s: float = DEFAULT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        #: template -> (window start, passed in this window, suppressed since the last one passed)
        self._kinds: dict[str, tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is written; a passing record after a quiet spell names the count left out."""
        if record.levelno < logging.WARNING:
            return True
        key = str(record.msg)
        now = self._clock()
        start, passed, suppressed = self._kinds.get(key, (now, 0, 0))
        if now - start >= self.window_s:
            start, passed = now, 0
        if passed >= self.burst:
            self._kinds[key] = (start, passed, suppressed + 1)
            return False
        if suppressed:
            record.msg = (f"{record.getMessage()} ({suppressed} more like this were not logged; at most "
                          f"{self.burst} per {self.window_s:.0f} s are)")
            record.args = None
        self._kinds[key] = (start, passed + 1, 0)
        if len(self._kinds) > 1000:  # templates are few; bound the table anyway
            self._kinds.pop(next(iter(self._kinds)))
        return True


def install_rate_limit(logger: logging.Logger) -> None:
    """Add a ``RateLimitedWarnings`` filter to ``logger`` unless it has one."""
    if not any(isinstance(existing, RateLimitedWarnings) for existing in logger.filters):
        logger.addFilter(RateLimitedWarnings())
