"""A lesson played in the playground (``kplay demo NAME``): narration in the event log, effects in the panes."""

from __future__ import annotations

from pathlib import Path

from app.scenarios.playback import INSTANT, Playback
from app.scenarios.script import parse
from app.tui import PlaygroundApp
from broker_core import Cluster, ManualClock
from test_tui_app_support import wait_until
from widgets.event_log import EventLog
from widgets.topic_list import TopicList

SIZE = (160, 45)
LESSON = """title: Tiny lesson
description: one topic, three records
seed: 1

say A topic keeps records in partitions.
create-topic lesson partitions=2 replication=1
produce lesson value="one"
produce lesson value="two"
produce lesson value="three"
expect records lesson == 3
say Three records, kept until retention removes them.
"""


async def test_lesson_narrates_in_the_event_log_and_fills_the_panes(data_path: Path):
    cluster = await Cluster.open(data_path, clock=ManualClock(1_767_225_600_000))
    try:
        app = PlaygroundApp(cluster, keymap={}, demo=parse(LESSON, "tiny.kplay"), playback=Playback(INSTANT))
        async with app.run_test(size=SIZE) as pilot:
            log = app.screen.query_one(EventLog)
            topics = app.screen.query_one(TopicList)
            await wait_until(pilot, lambda: any("» Three records, kept" in line for line in log.lines),
                             "the last narration")
            assert any("» A topic keeps records in partitions." in line for line in log.lines)
            await wait_until(pilot, lambda: "lesson" in topics.rows and topics.rows["lesson"].records == 3,
                             "the lesson's topic in the list")
            await wait_until(pilot, lambda: any("done, 7 steps" in n.message for n in app._notifications),  # noqa: SLF001
                             "the lesson's end")
    finally:
        await cluster.close()
