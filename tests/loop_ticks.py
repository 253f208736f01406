"""Counting the event loop's turns taken by other tasks: a hot loop of appends or polls must let
them run (as a hop to the database thread did at every call)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator


class LoopTicks:
    """How many times a task that only yields has run so far."""

    def __init__(self) -> None:
        self.count = 0

    async def run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def counting_loop_ticks() -> AsyncIterator[LoopTicks]:
    """A ticker task for the duration of the block; ``.count`` says how often it ran."""
    ticks = LoopTicks()
    task = asyncio.create_task(ticks.run())
    try:
        await asyncio.sleep(0)
        yield ticks
    finally:
        task.cancel()
