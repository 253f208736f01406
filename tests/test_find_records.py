"""Finding records: the core's search (offset, offsets-for-times, key, text, regex) and the find screen."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Input, Select

from app.screens.find_records import FindRecordsScreen, parse_timestamp
from app.screens.record_view import RecordViewScreen
from broker_core import Cluster
from broker_core.errors import InvalidRequest, OffsetOutOfRange
from broker_core.record_search import RecordSearch, SearchQuery
from broker_core.records import ProducerRecord
from tui_widget_harness import screen_text, wait_for


async def fill(cluster: Cluster) -> None:
    """orders: partition 0 with 10 records (one JSON value holds "needle"), partition 1 with 5."""
    await cluster.topics.create_topic("orders", partitions=2)
    records = [ProducerRecord(f"k{i}".encode(), f"value {i}".encode(), timestamp=1000 + i * 10) for i in range(10)]
    records[6] = ProducerRecord(b"k6", b'{"note": "a needle here"}', timestamp=1060)
    records[8] = ProducerRecord(None, b"\xff\xfe binary", (("trace", b"needle-in-header"),), timestamp=1080)
    await cluster.logs.append("orders", 0, records, acks=1)
    await cluster.logs.append("orders", 1, [ProducerRecord(b"k6", f"other {i}".encode(), timestamp=2000 + i)
                                            for i in range(5)], acks=1)


async def scan(search: RecordSearch, query: SearchQuery, partitions=None, **kwargs) -> list[tuple[int, int]]:
    last = None
    async for progress in search.scan("orders", query, partitions, **kwargs):
        last = progress
    assert last is not None and last.done
    return [(m.partition, m.offset) for m in last.matches]


async def test_search_by_key_text_regex_and_headers(cluster: Cluster) -> None:
    await fill(cluster)
    search = RecordSearch(cluster.storage, cluster.logs)
    assert await scan(search, SearchQuery("key", "k6")) == [(0, 6), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4)]
    assert await scan(search, SearchQuery("key", "null")) == [(0, 8)]
    assert await scan(search, SearchQuery("text", "needle")) == [(0, 6), (0, 8)]
    assert await scan(search, SearchQuery("text", "needle", frozenset({"value"}))) == [(0, 6)]
    assert await scan(search, SearchQuery("text", "needle", frozenset({"headers"}))) == [(0, 8)]
    assert await scan(search, SearchQuery("text", "other"), [0]) == []
    assert await scan(search, SearchQuery("regex", r"^value [3-5]$")) == [(0, 3), (0, 4), (0, 5)]
    assert await scan(search, SearchQuery("regex", r"\\xff")) == [(0, 8)]  # invalid UTF-8 shows as \xNN
    # Small chunks give the same answer, a progress report per chunk, and a limit stops early.
    reports = [p.scanned async for p in search.scan("orders", SearchQuery("text", "e"), chunk=3)]
    assert reports[-1] == 15 and len(reports) >= 5
    assert await scan(search, SearchQuery("text", "value"), limit=2) == [(0, 0), (0, 1)]
    with pytest.raises(InvalidRequest, match="Not a regular expression"):
        SearchQuery("regex", "([")
    with pytest.raises(InvalidRequest, match="at least one of key, value and headers"):
        SearchQuery("text", "x", frozenset())


async def test_offsets_and_times_say_where_the_log_is(cluster: Cluster) -> None:
    await fill(cluster)
    search = RecordSearch(cluster.storage, cluster.logs)
    assert (await search.record_at("orders", 0, 6)).value == b'{"note": "a needle here"}'
    with pytest.raises(OffsetOutOfRange, match="Offset 999 is past the end of orders-0: the last record is at 9"):
        await search.record_at("orders", 0, 999)
    # offsets-for-times: the first offset at or after the time, per partition; None past the newest.
    assert await search.offsets_for_times("orders", 1055) == {0: 6, 1: 0}
    assert await search.offsets_for_times("orders", 2003) == {0: None, 1: 3}
    assert parse_timestamp("1970-01-01T00:00:01") == 1000
    assert parse_timestamp("1055") == 1055
    with pytest.raises(ValueError, match="Not a timestamp"):
        parse_timestamp("yesterday")


class FindApp(App):
    def __init__(self, cluster: Cluster, **kwargs) -> None:
        super().__init__()
        self.cluster = cluster
        self.kwargs = kwargs

    def on_mount(self) -> None:
        self.push_screen(FindRecordsScreen(self.cluster, "orders", 2, 0, **self.kwargs))


async def test_find_screen_text_timestamp_offset_and_open_a_result(cluster: Cluster) -> None:
    await fill(cluster)
    app = FindApp(cluster)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, FindRecordsScreen)
        screen.query_one("#find-where", Select).value = -1  # whole topic
        await pilot.press(*"needle", "enter")
        await wait_for(pilot, lambda: "2 found" in screen.status, "two matches")
        assert "done: 15 of 15 offsets" in screen.status
        assert "P0 @ 6" in screen_text(app) and "\\xff\\xfe binary" in screen_text(app)
        # Enter on a result opens it in the record view.
        screen.query_one("#find-results").focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RecordViewScreen) and app.screen.record is not None,
                       "the record view")
        assert app.screen.record.offset == 8
        await pilot.press("escape")
        # By timestamp: offsets-for-times in each partition.
        screen.query_one("#find-mode", Select).value = "timestamp"
        pattern = screen.query_one("#find-pattern", Input)
        pattern.value = "1970-01-01T00:00:02.003"
        pattern.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "per partition" in screen.status, "offsets for the time")
        assert "None in partition 0" in screen.status and [(m.partition, m.offset) for m in screen.results] == [(1, 3)]
        # By offset: past the log end says so, plainly.
        screen.query_one("#find-mode", Select).value = "offset"
        screen.query_one("#find-where", Select).value = 0
        pattern.value = "999"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "past the end" in screen.status, "the past-the-end message")
        assert "the last record is at 9" in screen.status
        pattern.value = "4"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RecordViewScreen) and app.screen.record is not None,
                       "offset 4 opened")
        assert app.screen.record.value == b"value 4"


async def test_a_long_scan_shows_progress_and_escape_cancels_it(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2)
    await cluster.logs.append("orders", 0, [ProducerRecord(None, b"x") for _ in range(20_000)], acks=1)
    app = FindApp(cluster, chunk=1)  # 20,000 queries: the scan is still running when Escape arrives
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, FindRecordsScreen)
        await pilot.press(*"nothing-like-this", "enter")
        await wait_for(pilot, lambda: screen.scanned > 0, "the scan under way")
        assert screen.running and "searching:" in screen.status and "of 20,000 offsets" in screen.status
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Cancelled after" in screen.status, "the cancellation")
        assert not screen.running and screen.scanned < 20_000 and isinstance(app.screen, FindRecordsScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FindRecordsScreen), "the screen closed")


def test_find_perf_test_prints_its_figures() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "app.cli", "find-perf-test", "--records", "3000"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "text search over 3,000 records in one partition: core" in done.stdout
    assert "key-to-handler latency during the search" in done.stdout or "no key reached" in done.stdout
