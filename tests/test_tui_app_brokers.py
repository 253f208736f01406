"""Issue 6 from the TUI: stop a broker by keyboard and watch the leader move on screen."""

from __future__ import annotations

import re

from app.tui import PlaygroundApp
from broker_core import Producer
from test_tui_app_support import wait_until, widget_text
from widgets.broker_list import BrokerList
from widgets.event_log import EventLog
from widgets.partition_view import PartitionView
from widgets.topic_list import TopicList

SIZE = (160, 45)


def leaders_on_screen(view: PartitionView) -> dict[int, int]:
    """Partition -> leader broker, as the partition pane draws them."""
    return {int(p): int(b) for p, b in re.findall(r"P(\d+)\s+leader (\d+)", widget_text(view))}


def broker_row(brokers: BrokerList, broker_id: int) -> list[str]:
    return [cell.plain for cell in brokers.table.get_row(str(broker_id))]


async def test_stop_broker_by_keyboard_moves_the_leader_on_screen(cluster):
    await cluster.topics.create_topic("orders", partitions=3, replication_factor=3)
    async with Producer(cluster, acks="all") as producer:
        for i in range(9):
            await producer.send("orders", f"v{i}".encode(), key=f"k{i}".encode())
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(PartitionView)
        brokers = app.screen.query_one(BrokerList)
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded and brokers.loaded
                         and len(leaders_on_screen(view)) == 3, "partitions and brokers drawn")
        before = leaders_on_screen(view)
        victim = before[0]
        assert broker_row(brokers, victim)[1] == "up"

        await pilot.press("6")  # focus the brokers pane
        for _ in range(victim):
            await pilot.press("j")
        await wait_until(pilot, lambda: brokers.selected == victim, f"broker {victim} selected")
        await pilot.press("x")

        await wait_until(pilot, lambda: leaders_on_screen(view).get(0, victim) != victim,
                         "partition 0's new leader on screen")
        after = leaders_on_screen(view)
        assert victim not in after.values()
        await wait_until(pilot, lambda: broker_row(brokers, victim)[1] == "down", "broker shown down")
        assert broker_row(brokers, victim)[3] == "0"
        await wait_until(pilot, lambda: any(f"Partition orders-0: leader {victim} -> {after[0]}" in line
                                            for line in log.lines), "the election narrated")
        assert f"Broker {victim} stopped" in "\n".join(log.lines)
        description = await cluster.topics.describe_topic("orders")
        assert description.partitions[0].leader == after[0]

        await pilot.press("s")
        await wait_until(pilot, lambda: broker_row(brokers, victim)[1] == "up", "broker shown up again")
        assert any(f"Broker {victim} started" in line for line in log.lines)


async def test_stopping_the_controller_shows_another_controller(cluster):
    app = PlaygroundApp(cluster, keymap={})
    await cluster.topics.create_topic("t", partitions=1, replication_factor=1)
    async with app.run_test(size=SIZE) as pilot:
        brokers = app.screen.query_one(BrokerList)
        await wait_until(pilot, lambda: brokers.loaded and len(brokers.brokers) == 3, "brokers listed")
        controller = next(b.broker_id for b in brokers.brokers if b.is_controller)
        await pilot.press("6")
        for _ in range(controller):
            await pilot.press("j")
        await wait_until(pilot, lambda: brokers.selected == controller, "controller selected")
        await pilot.press("x")
        # The stopped broker is still a voter of the controller quorum; another voter is active now.
        await wait_until(pilot, lambda: broker_row(brokers, controller)[2] == "voter"
                         and any(b.is_controller for b in brokers.brokers), "a new controller shown")
        new = next(b.broker_id for b in brokers.brokers if b.is_controller)
        assert new != controller and broker_row(brokers, new)[2] == "controller"
