"""SVG snapshots of the playground in fixed states (``pytest --snapshot-update`` to accept changes).

Each state is built on a fresh data file with a manual clock, in UTC, from a relative data
path (the path is drawn on screen), and the screenshot is taken once the screen has stopped
changing. The main screen, a lesson, the topic form and help are taken at 80x24, 120x40 and
200x50: the terminal sizes people have, and a wide one.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Iterator

import pytest
from textual.widgets import Input

from app.scenarios.playback import INSTANT, Playback
from app.scenarios.script import parse
from app.screens.help import HelpScreen
from app.screens.main import MainScreen
from app.screens.pipeline import PipelineScreen
from app.screens.topic_form import TopicFormScreen
from app.tui import PlaygroundApp
from broker_core import Cluster, ManualClock, Producer
from test_tui_app_support import wait_until
from widgets.broker_list import BrokerList
from widgets.connectors_pane import ConnectorsPane
from widgets.consumer_deck import ConsumerDeck
from widgets.narration import NarrationPane
from widgets.partition_view import PartitionView
from widgets.schema_pane import SchemaPane
from widgets.topic_list import TopicList

SIZE = (160, 45)
#: The sizes every main view is checked at: a laptop's default terminal, a common one, a wide one.
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40"),
         pytest.param((200, 50), id="200x50")]
EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def fixed_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A relative data path in an empty directory, with local time set to UTC."""
    monkeypatch.chdir(tmp_path)
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield Path("cluster.db")
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


async def _fill(path: Path) -> None:
    async with await Cluster.open(path, clock=ManualClock(EPOCH_MS)) as cluster:
        await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
        await cluster.topics.create_topic("payments", partitions=2, replication_factor=3,
                                          config={"retention.ms": 3_600_000})
        async with Producer(cluster) as producer:
            for i in range(30):
                await producer.send("orders", f"order {i}".encode(), key=f"customer-{i % 6}".encode())
            for i in range(5):
                await producer.send("payments", f"payment {i}".encode(), key=f"p{i}".encode())


async def _steady(pilot) -> None:
    """Wait until the screen is drawn the same three times in a row."""
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query(TopicList) and app.screen.query_one(TopicList).loaded
                     and app.screen.query_one(BrokerList).loaded, "main screen loaded")
    frames: list[str] = []
    deadline = time.monotonic() + 10
    while len(frames) < 3 or len(set(frames[-3:])) > 1:
        if time.monotonic() > deadline:
            raise AssertionError("the screen kept changing")
        await pilot.pause(0.1)
        frames.append(app.export_screenshot())


async def _unchanging(pilot) -> None:
    """Wait until the screen is drawn the same three times in a row."""
    frames: list[str] = []
    deadline = time.monotonic() + 10
    while len(frames) < 3 or len(set(frames[-3:])) > 1:
        if time.monotonic() > deadline:
            raise AssertionError("the screen kept changing")
        await pilot.pause(0.1)
        frames.append(pilot.app.export_screenshot())


def _app(path: Path) -> PlaygroundApp:
    return PlaygroundApp(data_path=path, clock=ManualClock(EPOCH_MS), keymap={})


def test_empty_cluster_shows_welcome(snap_compare, fixed_place):
    assert snap_compare(_app(fixed_place), terminal_size=SIZE, run_before=_steady)


async def _strips_ready(pilot) -> None:
    """Wait until the selected topic's three partition strips are read and the screen settled."""
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query(PartitionView)
                     and len(app.screen.query_one(PartitionView).tails) == 3, "partition strips")
    await _steady(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_topics_with_records(snap_compare, fixed_place, size):
    asyncio.run(_fill(fixed_place))
    assert snap_compare(_app(fixed_place), terminal_size=size, run_before=_strips_ready)


@pytest.mark.parametrize("size", SIZES)
def test_topic_form_with_inline_error(snap_compare, fixed_place, size):
    asyncio.run(_fill(fixed_place))

    async def typed(pilot) -> None:
        app = pilot.app
        await _strips_ready(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "topic form")
        for field in app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor makes the screenshot depend on timing
        await pilot.press(*"new topic", "tab", "backspace", *"2.5")
        await pilot.pause()

    assert snap_compare(_app(fixed_place), terminal_size=size, run_before=typed)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, fixed_place, size):
    asyncio.run(_fill(fixed_place))

    async def opened(pilot) -> None:
        app = pilot.app
        await _strips_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await _unchanging(pilot)  # under load the help screen may take a few frames to lay out

    assert snap_compare(_app(fixed_place), terminal_size=size, run_before=opened)


#: A short lesson: a topic, keyed records, a standalone consumer reading them, narration after.
LESSON = """title: Snapshot lesson
description: Keys, partitions and a consumer, for the screen's snapshots.
seed: 2

say A topic is split into partitions. orders gets three, each on two brokers.
create-topic orders partitions=3 replication=2
produce orders count=9 keys=alice,dave,carol value="order {i} from {key}"
consumer reader topic=orders from=earliest
wait read reader == 9
say Each customer's orders sit one after another on one partition: the same key always lands on the same partition, and the consumer reads them in that order.
expect records orders == 9
say That is all.
"""


@pytest.mark.flaky(reruns=1)  # seen once at 200x50 in a parallel run, cause not yet found
@pytest.mark.parametrize("size", SIZES)
def test_lesson_in_progress(snap_compare, fixed_place, size):
    scenario = parse(LESSON, "snapshot.kplay")
    # Paused and instant: the lesson moves only when told to, one step at a time.
    playback = Playback(INSTANT, paused=True)
    moment = next(step.line for step in scenario.steps if step.text.startswith("say Each customer"))

    async def played(pilot) -> None:
        app = pilot.app
        pane = app.screen.query_one(NarrationPane)
        while True:
            await wait_until(pilot, lambda: playback.holding or pane.state in ("finished", "failed"),
                             "the lesson to finish a step")
            assert pane.state != "failed", pane.error
            if pane.current_line == moment:
                break
            playback.step()
        deck = app.screen.query_one(ConsumerDeck)
        await wait_until(pilot, lambda: deck.views and deck.views[0].consumed == 9, "the consumer view")
        await _strips_ready(pilot)

    app = PlaygroundApp(data_path=fixed_place, clock=ManualClock(EPOCH_MS), keymap={}, demo=scenario,
                        playback=playback)
    assert snap_compare(app, terminal_size=size, run_before=played)


def test_pipeline_screen_with_a_schema(snap_compare, fixed_place):
    async def fill() -> None:
        async with await Cluster.open(fixed_place, clock=ManualClock(EPOCH_MS)) as cluster:
            schema = ('{"type": "record", "name": "iris", "fields": [{"name": "id", "type": "long"}, '
                      '{"name": "species", "type": "string"}]}')
            await cluster.schemas.register_schema("db-iris_data-value", schema)

    asyncio.run(fill())

    async def opened(pilot) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen)
                         and app.screen.query_one(SchemaPane).shown is not None
                         and app.screen.query_one(ConnectorsPane).border_subtitle == "0 connectors", "the panes")
        frames: list[str] = []
        deadline = time.monotonic() + 10
        while len(frames) < 3 or len(set(frames[-3:])) > 1:
            if time.monotonic() > deadline:
                raise AssertionError("the screen kept changing")
            await pilot.pause(0.1)
            frames.append(app.export_screenshot())

    assert snap_compare(_app(fixed_place), terminal_size=SIZE, run_before=opened)
