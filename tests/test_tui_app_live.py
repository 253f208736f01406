"""The playground follows the data file live: other processes' writes, and untrusted names drawn literally."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.tui import PlaygroundApp
from broker_core import Consumer, Producer
from test_tui_app_support import screen_text, wait_until, widget_text
from widgets.event_log import EventLog
from widgets.topic_list import TopicList

SIZE = (160, 45)
KPLAY = Path(sys.executable).parent / "kplay"


async def test_records_from_another_process_appear_without_a_key_press(cluster):
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        topics = app.screen.query_one(TopicList)
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: topics.table.row_count == 1, "orders listed")
        assert [c.plain for c in topics.table.get_row("orders")][3] == "0"
        producer = await asyncio.create_subprocess_exec(
            str(KPLAY), "--data", str(cluster.path), "console-producer", "--topic", "orders",
            "--property", "parse.key=true", "--property", "key.separator=:",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(producer.communicate(b"a:first\nb:second\nc:third\n"), 60)
        assert producer.returncode == 0, err.decode()
        # No key is pressed: the change feed brings the other process's commit to the list.
        await wait_until(pilot, lambda: [c.plain for c in topics.table.get_row("orders")][3] == "3",
                         "3 records counted")
        await wait_until(pilot, lambda: any("Records appended: 3 to orders" in line for line in log.lines),
                         "the append narrated")


async def test_group_names_with_markup_and_escapes_are_drawn_literally(cluster):
    # Topic names cannot carry markup (the core allows only [a-zA-Z0-9._-]), but group and
    # member ids are any string a client picks: the event log must draw them as they are.
    await cluster.topics.create_topic("orders", partitions=1, replication_factor=1)
    async with Producer(cluster) as producer:
        await producer.send_and_wait("orders", b"x", key=b"k")
    group = "[bold red]evil[/] [link=https://example.com]x\x1b[31m"
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded, "main screen loaded")
        consumer = Consumer(cluster, group_id=group, auto_offset_reset="earliest")
        try:
            consumer.subscribe(["orders"])
            await asyncio.wait_for(consumer.poll(timeout_ms=2000), 30)
        finally:
            await consumer.close()
        shown = r"[bold red]evil[/] [link=https://example.com]x\x1b[31m"
        await wait_until(pilot, lambda: any(f"Group {shown} rebalanced" in line for line in log.lines),
                         "the rebalance narrated")
        assert not any("\x1b" in line for line in log.lines)
        await pilot.press("7")  # focus the event log; its newest lines are on screen
        await pilot.pause()
        drawn = widget_text(log)
        assert f"Group {shown}" in drawn
        assert "\x1b" not in screen_text(pilot)
