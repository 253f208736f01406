"""The footer fits the terminal: at 80 and 120 columns no key runs past the right edge (Textual's footer
would scroll sideways), the essential keys stay, and every key left out is still in help and the palette."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from app.commands_palette import bound_actions, palette_actions
from app.scenarios.playback import INSTANT, Playback
from app.scenarios.script import parse
from app.screens.main import PANES, MainScreen
from app.tui import PlaygroundApp
from broker_core import Cluster, ManualClock
from test_tui_app_support import wait_until
from widgets.fitted_footer import FittedFooter
from widgets.topic_list import TopicList

LESSON = """title: Footer lesson
seed: 1

create-topic lesson partitions=1 replication=1
say One topic.
"""


def _check_fits(screen: MainScreen, essentials: set[str]) -> list[str]:
    footer = screen.query_one(FittedFooter)
    assert footer.virtual_size.width <= footer.size.width, (footer.virtual_size, footer.size)
    keys = list(footer.query(FooterKey))
    for key in keys:
        assert key.region.x >= 0 and key.region.right <= screen.size.width, (key.description, key.region)
    shown = {key.description for key in keys}
    assert essentials <= shown, (essentials - shown, shown)
    return footer.left_out


async def _every_pane_fits(pilot, essentials: set[str]) -> set[str]:
    """Focus each pane in turn (its keys come first in the footer); the footer fits each time."""
    screen = pilot.app.screen
    left_out: set[str] = set()
    for number in range(1, len(PANES) + 1):
        await pilot.press(str(number))
        await pilot.pause()
        await pilot.pause()
        left_out.update(_check_fits(screen, essentials))
    # What the footer leaves out is still one key press away in help and in the palette.
    listed = {a.description for a in bound_actions(screen)}
    offered = {a.description for a in palette_actions(screen)}
    assert left_out <= listed and left_out <= offered, (left_out - listed, left_out - offered)
    return left_out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_main_screens_footer_fits_and_keeps_the_essential_keys(cluster, size):
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen)
                         and app.screen.query_one(TopicList).selected is not None, "the main screen with a topic")
        left_out = await _every_pane_fits(pilot, {"Quit", "Help", "Commands"})
        if size[0] == 80:
            assert left_out, "at 80 columns some keys must have been left out (else this test proves nothing)"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_a_lessons_footer_fits_and_keeps_pause_and_step(data_path: Path, size):
    cluster = await Cluster.open(data_path, clock=ManualClock(1_767_225_600_000))
    try:
        playback = Playback(INSTANT, paused=True)
        app = PlaygroundApp(cluster, keymap={}, demo=parse(LESSON, "footer.kplay"), playback=playback)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: playback.holding, "the lesson holding before its first step")
            left_out = await _every_pane_fits(pilot, {"Quit", "Help", "Commands", "Pause/resume", "Step"})
            assert left_out  # a lesson adds four keys: even 120 columns cannot show them all
    finally:
        await cluster.close()
