"""Playing a scenario to a person: pause/resume, one step at a time, and speed.

``Playback`` holds the controls and does every wait of a played lesson: before each step
(``gate``), inside a step when the runner paces records (``pace``) and after a step, so
the viewer can read what happened (``linger``). ``PlayedRunner`` is a ``ScenarioRunner``
that runs each step under a ``Playback``. Only asyncio here: the TUI binds keys to the
controls.

Speeds go from 0.25x to 8x; ``INSTANT`` (tests, screenshots) never waits. ``time_scale``
is how many real seconds a lesson second lasts (1 for a person; tests play at 1x with
shorter seconds, so a lesson keeps its real-time pacing without taking minutes).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Callable

from broker_core import Cluster, ManualClock

from .runner import ScenarioObserver, ScenarioRunner
from .script import Scenario, Step

#: The speeds the + and - keys step through.
SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: A speed that never waits (tests and screenshots play lessons this way).
INSTANT = math.inf
#: Reading speed at 1x: a ``say`` step stays alone on screen for its length divided by this.
READING_CHARS_PER_S = 18.0
#: Shortest time a narration stays alone on screen at 1x.
MIN_READING_S = 2.0
#: Pause after any other step at 1x, so a viewer can follow each one.
STEP_BEAT_S = 0.6
#: Longest real wait (at 1x) for one pace of scenario time: a producer at rate=1/m would
#: otherwise take a real minute per record. An explicit ``pause`` step is not capped.
MAX_PACE_S = 1.0


def reading_time(step: Step) -> float:
    """Seconds (at 1x) to leave ``step``'s outcome on screen before the next step."""
    if step.verb == "say":
        return max(MIN_READING_S, len(step.args["text"]) / READING_CHARS_PER_S)
    return STEP_BEAT_S


class Playback:
    """The controls of a played scenario, and the waits they govern.

    ``paused`` holds the lesson before its next step (and inside a step that paces
    records); ``step()`` lets exactly one step run while paused; ``speed`` scales every
    wait. ``on_change`` is called after any control changes (the TUI redraws its state).
    """

    def __init__(self, speed: float = 1.0, *, paused: bool = False, time_scale: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be above zero, not {speed}")
        if not time_scale > 0:
            raise ValueError(f"time_scale must be above zero, not {time_scale}")
        self.speed = speed
        self.time_scale = time_scale
        self.paused = paused
        self.on_change: Callable[[], None] | None = None
        #: True while the lesson is held before its next step (waiting for resume or step).
        self.holding = False
        self._steps_granted = 0
        self._manual_step = False
        self._changed = asyncio.Event()

    @property
    def state(self) -> str:
        """``playing`` or ``paused``."""
        return "paused" if self.paused else "playing"

    # -- controls -------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        """Pause before the next step, or play on."""
        self.paused = not self.paused
        self._steps_granted = 0
        self._signal()

    def pause(self) -> None:
        """Hold before the next step."""
        if not self.paused:
            self.toggle_pause()

    def resume(self) -> None:
        """Play on."""
        if self.paused:
            self.toggle_pause()

    def step(self) -> None:
        """Run exactly one more step, then hold (while playing: pause after the current step)."""
        if self.paused:
            self._steps_granted += 1
            self._signal()
        else:
            self.pause()

    def faster(self) -> None:
        """The next speed up (at most 8x)."""
        self._set_speed(next((s for s in SPEEDS if s > self.speed), self.speed))

    def slower(self) -> None:
        """The next speed down (at least 0.25x)."""
        self._set_speed(next((s for s in reversed(SPEEDS) if s < self.speed), min(self.speed, SPEEDS[-1])))

    def _set_speed(self, speed: float) -> None:
        if speed != self.speed:
            self.speed = speed
            self._signal()

    def _signal(self) -> None:
        # Wake every wait so it looks at the controls again, then re-arm.
        self._changed.set()
        self._changed = asyncio.Event()
        if self.on_change is not None:
            self.on_change()

    # -- waits ------------------------------------------------------------------------------
    async def gate(self) -> None:
        """Return when the next step may run: at once while playing, else on resume or step."""
        self.holding = self.paused and not self._steps_granted
        if self.holding and self.on_change is not None:
            self.on_change()
        while self.paused and not self._steps_granted:
            await self._changed.wait()
        if self.holding:
            self.holding = False
            if self.on_change is not None:
                self.on_change()
        if self.paused:
            self._steps_granted -= 1
            self._manual_step = True

    def step_done(self) -> None:
        """The step the gate let through has finished."""
        self._manual_step = False

    async def pace(self, seconds: float, *, capped: bool = True) -> None:
        """Let ``seconds`` of scenario time pass for the viewer, inside a step.

        Real time is ``seconds / speed`` (at most ``MAX_PACE_S / speed`` when ``capped``),
        re-scaled when the speed changes. Pausing holds here until resume or step (a step
        pressed here finishes the current step).
        """
        left = min(seconds, MAX_PACE_S) if capped else seconds
        while left > 0 and self.speed != INSTANT:
            if self.paused and not self._manual_step:
                if self._steps_granted:
                    self._steps_granted -= 1
                    self._manual_step = True
                    continue
                await self._changed.wait()
                continue
            speed, started = self.speed, self._now()
            if await self._wait_change(left / speed):
                left -= (self._now() - started) * speed
            else:
                return

    async def linger(self, seconds: float) -> None:
        """Leave a finished step on screen for ``seconds`` (at 1x) before the next; pausing or
        stepping ends the wait (the gate holds then)."""
        if self._manual_step or self.paused:
            return
        left = seconds
        while left > 0 and self.speed != INSTANT and not self.paused:
            speed, started = self.speed, self._now()
            if await self._wait_change(left / speed):
                left -= (self._now() - started) * speed
            else:
                return

    def _now(self) -> float:
        """Lesson seconds (real seconds divided by ``time_scale``)."""
        return time.monotonic() / self.time_scale

    async def _wait_change(self, timeout: float) -> bool:
        """Wait ``timeout`` lesson seconds; True if a control changed first."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout * self.time_scale)
        except asyncio.TimeoutError:
            return False
        return True


class PlayedRunner(ScenarioRunner):
    """A ``ScenarioRunner`` that plays to a person: before each step it waits for
    ``playback``'s gate, after it for the viewer to read (``reading_time``).

    ``run()`` is the runner's own, so a played lesson ends (consumers and connectors
    stopped, failed expectations collected) exactly as a headless one does.
    ``on_step_done`` is called after each step that finished.
    """

    def __init__(self, cluster: Cluster, clock: ManualClock, scenario: Scenario, observer: ScenarioObserver,
                 playback: Playback, on_step_done: Callable[[Step], None] | None = None) -> None:
        super().__init__(cluster, clock, scenario, observer)
        self.playback = playback
        self.on_step_done = on_step_done

    async def run_step(self, step: Step) -> None:
        """Wait for the gate, run ``step``, then leave it on screen for its reading time."""
        await self.playback.gate()
        try:
            await super().run_step(step)
        finally:
            self.playback.step_done()
        if self.on_step_done is not None:
            self.on_step_done(step)
        await self.playback.linger(reading_time(step))
