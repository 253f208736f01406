"""BackgroundTask: one named asyncio task that a broker service runs beside the cluster."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class BackgroundTask:
    """A service's single background loop: started at most once, cancelled or stopped on close."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the loop is running now."""
        return self._task is not None and not self._task.done()

    def start(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start ``loop()`` unless it already runs (idempotent)."""
        if not self.running:
            self._task = asyncio.create_task(loop(), name=self._name)

    def cancel(self) -> None:
        """Cancel the loop without waiting for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
