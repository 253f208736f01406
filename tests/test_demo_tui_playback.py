"""The controls of a played lesson, without a screen: pause, step, speed and the waits they govern."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.scenarios.playback import INSTANT, MAX_PACE_S, MIN_READING_S, READING_CHARS_PER_S, STEP_BEAT_S, \
    Playback, reading_time
from app.scenarios.script import parse

#: How long a test waits for a held wait to be released.
DEADLINE_S = 5.0


async def _timed(awaitable) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    await awaitable
    return time.monotonic() - started


async def test_pace_waits_real_time_scaled_by_speed():
    assert await _timed(Playback(8.0).pace(0.8)) < 0.5  # 0.1 s at 8x, with room for a busy machine
    slow = await _timed(Playback(4.0).pace(0.8))
    assert slow >= 0.19  # 0.2 s at 4x
    assert await _timed(Playback(INSTANT).pace(100)) < 0.05


async def test_pace_compresses_long_scenario_waits_but_not_an_explicit_pause():
    playback = Playback(8.0)
    # A producer at rate=1/m asks for a minute per record: the viewer waits MAX_PACE_S at 1x.
    assert await _timed(playback.pace(60)) < MAX_PACE_S / 8 + 0.3
    assert await _timed(playback.pace(2.4, capped=False)) >= 0.29  # 2.4 s at 8x


async def test_a_speed_change_rescales_a_wait_in_progress():
    playback = Playback(0.25)
    started = time.monotonic()
    waiting = asyncio.create_task(playback.pace(1.0))  # 4 s at 0.25x
    await asyncio.sleep(0)
    for _ in range(5):
        playback.faster()  # to 8x: what is left of the second takes an eighth of it
    await asyncio.wait_for(waiting, DEADLINE_S)
    assert time.monotonic() - started < 1.5


async def test_pausing_holds_the_gate_until_resume_and_step_lets_exactly_one_through():
    playback = Playback(INSTANT, paused=True)
    passed = []

    async def lesson() -> None:
        for i in range(3):
            await playback.gate()
            passed.append(i)
            playback.step_done()

    task = asyncio.create_task(lesson())
    await _until(lambda: playback.holding)
    assert passed == []
    playback.step()
    await _until(lambda: passed == [0] and playback.holding)
    assert passed == [0]
    playback.resume()
    await asyncio.wait_for(task, DEADLINE_S)
    assert passed == [0, 1, 2]


async def test_step_while_playing_pauses_after_the_current_step():
    playback = Playback(INSTANT)
    playback.step()
    assert playback.paused


async def test_pause_inside_a_paced_step_holds_it_and_step_finishes_it():
    playback = Playback(1.0)
    playback.pause()
    pacing = asyncio.create_task(playback.pace(0.01))
    await asyncio.sleep(0.1)
    assert not pacing.done()  # held while paused
    playback.step()  # finish this step
    await asyncio.wait_for(pacing, DEADLINE_S)


async def test_linger_ends_when_the_viewer_pauses():
    playback = Playback(1.0)
    lingering = asyncio.create_task(playback.linger(30))
    await asyncio.sleep(0)
    playback.pause()
    await asyncio.wait_for(lingering, DEADLINE_S)


def test_speeds_go_from_a_quarter_to_eight_times():
    playback = Playback(1.0)
    for expected in (2.0, 4.0, 8.0, 8.0):
        playback.faster()
        assert playback.speed == expected
    for expected in (4.0, 2.0, 1.0, 0.5, 0.25, 0.25):
        playback.slower()
        assert playback.speed == expected
    instant = Playback(INSTANT)
    instant.slower()
    assert instant.speed == 8.0
    with pytest.raises(ValueError):
        Playback(0)


def test_a_narration_stays_on_screen_for_a_reading_time_proportional_to_its_length():
    scenario = parse(f"say Short.\nsay {'word ' * 60}\ncreate-topic t\n", "r.kplay")
    short, long, other = scenario.steps
    assert reading_time(short) == MIN_READING_S
    assert reading_time(long) == pytest.approx(len(long.args["text"]) / READING_CHARS_PER_S)
    assert reading_time(other) == STEP_BEAT_S


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.005)
