"""Shared pieces of the widget Pilot tests: read the screen, wait for a condition."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from textual.app import App
from textual.pilot import Pilot

#: Payloads that must show literally in every widget: markup, escape sequences, bad UTF-8.
HOSTILE_PAYLOADS: tuple[bytes, ...] = (
    b"[bold red]x[/]",
    b"[link=http://e]y[/link]",
    b"\x1b[31mred",
    b"\x1b]0;title\x07",
    b"\xff\xfe\xfdraw",
)
#: What each of HOSTILE_PAYLOADS must look like on screen.
HOSTILE_SHOWN: tuple[str, ...] = (
    "[bold red]x[/]",
    "[link=http://e]y[/link]",
    "\\x1b[31mred",
    "\\x1b]0;title\\x07",
    "\\xff\\xfe\\xfdraw",
)


def screen_text(app: App) -> str:
    """Everything on the screen now, as plain text, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def screen_styles_have_link(app: App) -> bool:
    """Whether anything on screen carries a hyperlink style (markup must never create one)."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.style is not None and segment.style.link:
                return True
    return False


async def wait_for(pilot: Pilot, condition: Callable[[], bool | Awaitable[bool]],
                   what: str, timeout: float = 10.0) -> None:
    """Let the app run until ``condition`` holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n--- screen ---\n{screen_text(pilot.app)}")
        await asyncio.sleep(0.01)
