"""Lessons played as a person plays them: at 1x, with real-time pauses between the steps.

A pause between two steps gives the lesson's consumers time to finish a rebalance before
the next member joins; headless, the steps come back to back. A lesson must hold either
way. ``PlayedRunner`` is the runner the playground plays lessons with; the lesson's
seconds are shortened here (``time_scale``) so a 1x run stays quick while keeping the
pauses of 1x pacing long enough for a rebalance to finish inside them.
(Every lesson also plays in the playground at full speed in test_demo_tui.py, and headless
in test_scenarios.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.commands.demo import open_scenario_cluster
from app.scenarios.library import load_scenario
from app.scenarios.playback import Playback, PlayedRunner
from app.scenarios.transcript import TranscriptObserver

#: A lesson second lasts this many real seconds.
TIME_SCALE = 0.1


class PacedTranscript(TranscriptObserver):
    """A transcript whose pacing waits as the playground's does (under a ``Playback``)."""

    def __init__(self, lines: list[str], playback: Playback) -> None:
        super().__init__(lines.append)
        self.playback = playback

    async def pace(self, seconds: float) -> None:
        await self.playback.pace(seconds)


@pytest.mark.parametrize("name", ["consumer-groups", "message-systems", "replication-factor", "control-plane",
                                  "rebalance-protocols", "transactions"])
async def test_a_lesson_played_at_1x_holds_as_it_does_headless(name: str, tmp_path: Path):
    scenario = load_scenario(name)
    cluster, clock, _ = await open_scenario_cluster(scenario, tmp_path / "lesson.db")
    lines: list[str] = []
    try:
        playback = Playback(1.0, time_scale=TIME_SCALE)
        result = await PlayedRunner(cluster, clock, scenario, PacedTranscript(lines, playback), playback).run()
    finally:
        await cluster.close()
    assert result.passed, "\n".join(lines)
    assert result.steps_run == len(scenario.steps)
