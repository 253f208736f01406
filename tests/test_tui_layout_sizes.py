"""The main screen at every terminal size: the partitions stay readable, no pane is squeezed to
nothing, resizing lays out again at once; numbers are never cut."""

from __future__ import annotations

import pytest

from app.screens.main import MainScreen
from app.tui import PlaygroundApp
from broker_core import Producer
from test_tui_app_support import wait_until, widget_text
from widgets.number_format import compact_count, fit_count
from widgets.partition_view import PartitionView
from widgets.topic_list import NAME_WIDTH, TopicList

PANES = ("#topics", "#partitions", "#producer", "#consumers", "#groups", "#brokers", "#events")


async def _filled(cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=3, replication_factor=3)
    async with Producer(cluster) as producer:
        for i in range(12):
            await producer.send("orders", f"v{i}".encode(), key=f"k{i % 3}".encode(), partition=i % 3)


async def _partitions_shown(pilot) -> PartitionView:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, MainScreen)
                     and len(app.screen.query_one(PartitionView).tails) == 3, "the partition strips")
    await pilot.pause()
    return app.screen.query_one(PartitionView)


def _check_readable(screen: MainScreen, view: PartitionView) -> None:
    assert view.display and view.region.width >= 40, view.region
    text = widget_text(view)
    for partition in range(3):
        header = next(line for line in text.splitlines() if f"P{partition} " in line)
        # The whole header is on screen: leader, the three replicas, high watermark and log end.
        assert "leader" in header and "HW 4" in header and "LEO 4" in header, header
    for selector in PANES:
        pane = screen.query_one(selector)
        if pane.display and pane.region.area:
            assert pane.region.width >= 20 and pane.region.right <= screen.size.width, (selector, pane.region)


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (160, 45), (200, 50)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
async def test_partitions_readable_at_every_size(cluster, size):
    await _filled(cluster)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=size) as pilot:
        view = await _partitions_shown(pilot)
        _check_readable(app.screen, view)


async def test_resizing_lays_out_again_and_focus_keys_bring_folded_panes(cluster):
    await _filled(cluster)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=(200, 50)) as pilot:
        view = await _partitions_shown(pilot)
        screen = app.screen
        assert screen.query_one("#groups").region.area and screen.query_one("#events").region.area
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: screen.has_class("-w-narrow") and view.region.width < 80, "the narrow layout")
        _check_readable(screen, view)
        assert not screen.query_one("#groups").region.area  # folded behind the topics
        await pilot.press("5")
        await wait_until(pilot, lambda: screen.query_one("#groups").region.area > 0, "the groups pane shown")
        assert not screen.query_one(TopicList).region.area
        await pilot.press("7")
        await wait_until(pilot, lambda: screen.query_one("#events").region.area > 0, "the events pane shown")
        _check_readable(screen, view)
        await pilot.resize_terminal(200, 50)
        await wait_until(pilot, lambda: not screen.has_class("-w-narrow")
                         and screen.query_one(TopicList).region.area > 0, "the wide layout again")


def test_counts_are_never_cut():
    assert fit_count(1_100_000, 8) == "1.1M" and fit_count(85_000, 5) == "85k"
    assert fit_count(85_000, 7) == "85,000" and fit_count(999, 3) == "999"
    assert compact_count(999_999) == "999k" and compact_count(1_000_000) == "1M"
    assert compact_count(12_345_678) == "12M" and compact_count(-1500) == "-1.5k"


@pytest.mark.parametrize("width", [30, 31, 45, 55, 80])
def test_topic_names_get_the_room_before_optional_columns(width):
    columns, name_width = TopicList.fit_columns(width)
    assert name_width >= NAME_WIDTH and {"name", "partitions", "records"} <= set(columns)
    if width >= 55:
        assert "trend" in columns


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_add_consumer_forms_from_dropdown_stays_inside_the_pane(cluster, size):
    from textual.widgets import Select
    from textual.widgets._select import SelectOverlay

    await _filled(cluster)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=size) as pilot:
        await _partitions_shown(pilot)
        await pilot.press("4", "a")
        start = app.screen.query_one("#consumer-deck-start", Select)
        await wait_until(pilot, lambda: start.region.area > 0, "the add-consumer form")
        start.focus()
        await pilot.press("enter")
        overlay = start.query_one(SelectOverlay)
        await wait_until(pilot, lambda: overlay.region.area > 0, "the open dropdown")
        inside = app.screen.query_one("#consumers").region.shrink((1, 1, 1, 1))  # within the pane's border
        assert inside.contains_region(overlay.region), (overlay.region, inside)
        # Above the select: the message line under the form and the pane's bottom border stay readable.
        assert overlay.region.bottom <= start.region.y, (overlay.region, start.region)
        assert "Enter adds the consumer" in widget_text(app.screen.query_one("#consumer-deck-message"))
