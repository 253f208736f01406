"""Support for the playground's Pilot tests (no tests here): wait for what the screen shows, never sleep blindly."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from textual.pilot import Pilot
from textual.widget import Widget

#: Longest a test waits for the screen to show something (the feed polls every 20 ms).
DEADLINE_S = 10.0


async def wait_until(pilot: Pilot, condition: Callable[[], object], what: str,
                     deadline_s: float = DEADLINE_S) -> None:
    """Let the app run until ``condition()`` holds; fail naming ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()


def screen_text(pilot: Pilot) -> str:
    """Every line of the screen as plain text, as a person would read it."""
    app = pilot.app
    lines = [strip.text for strip in app.screen._compositor.render_strips()]  # noqa: SLF001
    return "\n".join(lines)


def widget_text(widget: Widget) -> str:
    """The plain text a widget draws in its region now."""
    region = widget.region
    lines = widget.screen._compositor.render_strips()  # noqa: SLF001
    return "\n".join(line.crop(region.x, region.right).text for line in lines[region.y:region.bottom])


async def settle(pilot: Pilot) -> None:
    """Give pending messages and one frame a chance to run."""
    await pilot.pause()
    await asyncio.sleep(0)
