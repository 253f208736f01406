"""The topic list: every topic with its partitions, replication factor, records and produce rate.

Counts follow the change feed: a ``RecordsAppended`` event carries the partition's new end
offset and high watermark, so appends update the list without reading the data file; only
events that change a topic's shape (created, deleted, partitions added, segments deleted,
truncations, a resync) re-describe the topics they name.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Label, Sparkline

from broker_core.errors import KafkaError, UnknownTopicOrPartition
from broker_core.events import (Event, LogCompacted, LogTruncated, PartitionsAdded, RecordsAppended,
                                ReplicaProgress, IsrChanged, SegmentDeleted, TopicCreated,
                                TopicDeleted)
from broker_core.topics import TopicDescription

from .cluster_source import ClusterSource, clock_ms
from .number_format import fit_count
from .safe_text import printable

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")
#: Shortest pause between two redraws: a burst of events is drawn once per frame.
FRAME_S = 1 / 30

#: Seconds of produce-rate history kept per topic (one sparkline bar per second).
RATE_WINDOW_S = 30
#: Width of the small per-row trend drawn in the table.
TREND_WIDTH = 8
#: Narrowest the topic name column gets before optional columns are dropped (names may be 249 long).
NAME_WIDTH = 14
#: Column key -> (header, width); the name column takes what the others leave.
COLUMN_SPECS: dict[str, tuple[str, int]] = {
    "name": ("Topic", NAME_WIDTH), "partitions": ("P", 3), "rf": ("RF", 2), "records": ("Records", 7),
    "rate": ("/s", 5), "trend": ("Trend", TREND_WIDTH),
}
#: Columns dropped, in this order, while the name column would be narrower than ``NAME_WIDTH``.
OPTIONAL_COLUMNS = ("trend", "rate", "rf")
#: Columns a DataTable cell adds around its content (cell padding on each side).
CELL_PADDING = 2
_BARS = " ▁▂▃▄▅▆▇█"

#: Longest a count change waits to be drawn (counts redraw at most this often).
COUNTS_REFRESH_S = 0.25
#: The table's column keys, in order.
COLUMNS = ("name", "partitions", "rf", "records", "rate", "trend")

#: Feed kinds the list follows.
FOLLOWED_KINDS = ("records", "replica_progress", "isr_changed", "topic_created", "topic_deleted",
                  "partitions_added", "segment_deleted", "log_compacted", "log_truncated",
                  "resync")


class RateHistory:
    """Records appended per second over the last ``RATE_WINDOW_S`` seconds, by the writer's clock."""

    def __init__(self, window_s: int = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._buckets: dict[int, int] = {}

    def add(self, at_ms: int, count: int) -> None:
        """Count ``count`` records appended at ``at_ms``."""
        if count > 0:
            second = at_ms // 1000
            self._buckets[second] = self._buckets.get(second, 0) + count

    def series(self, now_ms: int) -> list[int]:
        """Counts for each of the last ``window_s`` seconds, oldest first, ending with this second."""
        now_s = now_ms // 1000
        for second in [s for s in self._buckets if s <= now_s - self.window_s]:
            del self._buckets[second]
        return [self._buckets.get(now_s - back, 0) for back in range(self.window_s - 1, -1, -1)]

    def per_second(self, now_ms: int) -> int:
        """Records appended in the last complete second."""
        return self._buckets.get(now_ms // 1000 - 1, 0)


def trend(series: list[int], width: int = TREND_WIDTH) -> str:
    """A one-line bar chart of the last ``width`` values, scaled to the largest."""
    values = series[-width:]
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    return "".join(_BARS[0] if v <= 0 else _BARS[max(1, round(v / top * (len(_BARS) - 1)))]
                   for v in values)


@dataclass
class TopicRow:
    """What the list knows about one topic."""

    name: str
    partitions: int
    replication_factor: int
    log_start: dict[int, int] = field(default_factory=dict)
    high_watermark: dict[int, int] = field(default_factory=dict)
    end_offset: dict[int, int] = field(default_factory=dict)
    rate: RateHistory = field(default_factory=RateHistory)
    #: The topic's cleanup.policy compacts: its offsets have gaps, so ``records`` is only an upper bound.
    compacted: bool = False

    @classmethod
    def from_description(cls, topic: TopicDescription, rate: RateHistory | None = None) -> "TopicRow":
        """A row built from a fresh description (keeping ``rate`` history if given)."""
        return cls(topic.name, topic.partition_count, topic.replication_factor,
                   {p.partition: p.log_start_offset for p in topic.partitions},
                   {p.partition: p.high_watermark for p in topic.partitions},
                   {p.partition: p.log_end_offset for p in topic.partitions},
                   rate or RateHistory(),
                   "compact" in str(topic.effective_config().get("cleanup.policy", "")))

    @property
    def records(self) -> int:
        """Offsets readable now: high watermark minus log start, summed over partitions (the records
        there, unless compaction removed some: then at most this many)."""
        return sum(max(0, hw - self.log_start.get(p, 0)) for p, hw in self.high_watermark.items())


class TopicList(Vertical):
    """Topics with partitions, replication factor, records and a live produce-rate sparkline.

    Posts ``TopicList.Selected`` when the highlighted topic changes and
    ``TopicList.DeleteRequested`` when the user asks to delete one.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="topic-list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="topic-list.up"),
        Binding("g", "first", "First topic", show=False, id="topic-list.first"),
        Binding("G", "last", "Last topic", show=False, id="topic-list.last"),
        Binding("d", "delete_topic", "Delete topic", id="topic-list.delete"),
    ]

    @dataclass
    class Selected(Message):
        """The highlighted topic changed (None when there is no topic)."""

        topic: str | None

    @dataclass
    class CountChanged(Message):
        """The number of topics changed (also posted once when the list first loads)."""

        count: int

    @dataclass
    class DeleteRequested(Message):
        """The user asked to delete ``topic`` (the screen asks for confirmation)."""

        topic: str

    def __init__(self, source: ClusterSource, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.source = source
        self.rows: dict[str, TopicRow] = {}
        self.loaded = False
        self._selected: str | None = None
        self._order: list[str] = []
        self._count: int | None = None
        self._wanted: str | None = None
        self._shown: dict[tuple[str, str], Text] = {}
        self._sparkline_shown: tuple[str, list[float]] | None = None
        self._last_redraw = 0.0
        self._redraw_timer: Timer | None = None
        #: The columns drawn now and the name column's width (they follow the pane's width).
        self._columns: tuple[str, ...] = COLUMNS
        self._name_width = NAME_WIDTH

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="topic-table", cursor_type="row", zebra_stripes=False)
        self._add_columns(table)
        yield table
        yield Label(Text("no topic selected"), id="topic-rate-label", markup=False)
        yield Sparkline([0] * RATE_WINDOW_S, id="topic-rate-sparkline")

    def _add_columns(self, table: DataTable) -> None:
        for key in self._columns:
            header, width = COLUMN_SPECS[key]
            table.add_column(header, key=key, width=self._name_width if key == "name" else width)

    @staticmethod
    def fit_columns(width: int) -> tuple[tuple[str, ...], int]:
        """The columns that fit ``width`` cells and the name column's width: names first, then the rest."""
        columns = list(COLUMNS)
        for optional in (None, *OPTIONAL_COLUMNS):
            if optional is not None:
                columns.remove(optional)
            used = sum(COLUMN_SPECS[key][1] + CELL_PADDING for key in columns if key != "name") + CELL_PADDING
            if width - used >= NAME_WIDTH:
                break
        return tuple(columns), max(NAME_WIDTH // 2, width - used)

    def on_resize(self, event: events.Resize) -> None:
        # The table takes its new size in the next layout: fit the columns to it then.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        if self._fit_columns_to_table() and self.loaded:
            self._redraw()

    def _fit_columns_to_table(self) -> bool:
        """Fit the columns to the width the table has for them now; True if they changed.

        Measured on the table itself, not the pane: its vertical scrollbar comes and goes with the
        row count, and columns wider than the table cut the right-aligned counts off."""
        width = self.table.scrollable_content_region.width
        if width <= 0:
            return False
        columns, name_width = self.fit_columns(width)
        if (columns, name_width) == (self._columns, self._name_width):
            return False
        self._columns, self._name_width = columns, name_width
        table = self.table
        table.clear(columns=True)
        self._add_columns(table)
        self._order = []  # redraw every row with the new columns
        return True

    @property
    def table(self) -> DataTable:
        """The table of topics."""
        return self.query_one("#topic-table", DataTable)

    @property
    def selected(self) -> str | None:
        """The highlighted topic, if any."""
        return self._selected

    def on_mount(self) -> None:
        self.border_title = "Topics"
        self.run_worker(self._follow_feed(), name="topic-list-feed", group="topic-list", exclusive=True)
        self.set_interval(1.0, self._tick_rates, name="topic-list-rates")

    async def _follow_feed(self) -> None:
        sub = await self.source.subscribe(*FOLLOWED_KINDS)
        try:
            # Subscribed before the first read, so nothing committed in between is missed.
            await self.reload()
            while True:
                first = await sub.get()
                await self.apply([first, *sub.get_nowait()])
                await asyncio.sleep(FRAME_S)  # let the next events gather: one redraw per frame
        finally:
            sub.close()

    async def reload(self, names: Iterable[str] | None = None) -> None:
        """Re-describe ``names`` (every topic when None) and redraw."""
        if names is None:
            try:
                described = await self.source.describe_topics()
            except KafkaError:
                return  # a real cluster out of reach: keep what is shown; its reconnection resyncs
            old = self.rows
            self.rows = {t.name: TopicRow.from_description(t, old[t.name].rate if t.name in old else None)
                         for t in described}
        else:
            for name in set(names):
                try:
                    topic = await self.source.describe_topic(name)
                except UnknownTopicOrPartition:
                    self.rows.pop(name, None)
                    continue
                except KafkaError:
                    continue  # out of reach: the row stays as it was
                previous = self.rows.get(name)
                self.rows[name] = TopicRow.from_description(topic, previous.rate if previous else None)
        self.loaded = True
        self._redraw()

    async def apply(self, events: list[Event]) -> None:
        """Fold one batch of feed events into the list, then redraw once."""
        stale: set[str] = set()
        reload_all = False
        for ev in events:
            if isinstance(ev, RecordsAppended):
                row = self.rows.get(ev.topic)
                if row is None:
                    stale.add(ev.topic)
                    continue
                before = row.end_offset.get(ev.partition, 0)
                row.rate.add(ev.at, max(0, ev.end_offset - before))
                row.end_offset[ev.partition] = max(before, ev.end_offset)
                row.high_watermark[ev.partition] = ev.high_watermark
            elif isinstance(ev, (ReplicaProgress, IsrChanged)):
                row = self.rows.get(ev.topic)
                if row is not None:
                    row.high_watermark[ev.partition] = ev.high_watermark
            elif isinstance(ev, TopicDeleted):
                self.rows.pop(ev.topic, None)
                stale.discard(ev.topic)
            elif isinstance(ev, (TopicCreated, PartitionsAdded, SegmentDeleted, LogCompacted, LogTruncated)):
                stale.add(ev.topic)
            elif ev.kind == "resync":
                reload_all = True
        if reload_all:
            await self.reload()
        elif stale:
            await self.reload(stale)
        else:
            self._redraw_soon()

    def _redraw_soon(self) -> None:
        """Redraw counts at most every ``COUNTS_REFRESH_S``: a person reads numbers a few times a second,
        and redrawing the table for every frame of a 10,000 records/s flood costs key latency."""
        if self._redraw_timer is not None:
            return
        wait = self._last_redraw + COUNTS_REFRESH_S - time.monotonic()
        if wait <= 0:
            self._redraw()
        else:
            self._redraw_timer = self.set_timer(wait, self._redraw, name="topic-list-redraw")

    def _cells(self, row: TopicRow, now_ms: int) -> list[Text]:
        cells = {
            "name": Text(printable(row.name, self._name_width)),
            "partitions": Text(fit_count(row.partitions, COLUMN_SPECS["partitions"][1]), justify="right"),
            "rf": Text(str(row.replication_factor), justify="right"),
            # A compacted log keeps its offsets but not every record: the offset span is an upper bound.
            "records": (Text.assemble(("≤", "dim"), fit_count(row.records, COLUMN_SPECS["records"][1] - 1),
                                      justify="right") if row.compacted
                        else Text(fit_count(row.records, COLUMN_SPECS["records"][1]), justify="right")),
        }
        if "rate" in self._columns:
            cells["rate"] = Text(fit_count(row.rate.per_second(now_ms), COLUMN_SPECS["rate"][1]), justify="right")
        if "trend" in self._columns:
            cells["trend"] = Text(trend(row.rate.series(now_ms)), style="green")
        return [cells[key] for key in self._columns]

    def _redraw(self) -> None:
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
            self._redraw_timer = None
        self._last_redraw = time.monotonic()
        self._fit_columns_to_table()
        table = self.table
        now_ms = clock_ms(self.source)
        order = sorted(self.rows)
        if len(order) != self._count:
            # Posted before Selected, so the screen can show the panes a selection fills first.
            self._count = len(order)
            self.post_message(self.CountChanged(len(order)))
        if order != self._order:
            keep = self._selected
            table.clear()
            self._shown.clear()
            for name in order:
                cells = self._cells(self.rows[name], now_ms)
                table.add_row(*cells, key=name)
                self._shown.update({(name, column): cell for column, cell in zip(self._columns, cells)})
            self._order = order
            if self._wanted in self.rows:
                keep, self._wanted = self._wanted, None
            if keep in self.rows:
                table.move_cursor(row=order.index(keep), animate=False)
            self._set_selected(order[table.cursor_row] if order else None)
        else:
            for name in order:
                for column, cell in zip(self._columns, self._cells(self.rows[name], now_ms)):
                    if self._shown.get((name, column)) != cell:  # only cells that changed are redrawn
                        self._shown[(name, column)] = cell
                        table.update_cell(name, column, cell)
        self._draw_sparkline(now_ms)
        self.border_subtitle = f"{len(order)} topic{'s' if len(order) != 1 else ''}"

    def _draw_sparkline(self, now_ms: int) -> None:
        label = self.query_one("#topic-rate-label", Label)
        sparkline = self.query_one("#topic-rate-sparkline", Sparkline)
        row = self.rows.get(self._selected or "")
        if row is None:
            self._sparkline_shown = None
            label.update(Text("no topic selected"))
            sparkline.data = [0] * RATE_WINDOW_S
            return
        series = [float(v) for v in row.rate.series(now_ms)]
        caption = (f"{printable(row.name, 40)}: {row.rate.per_second(now_ms):,} records/s "
                   f"(last {RATE_WINDOW_S} s)")
        if len(caption) > self.size.width - 4:
            caption = f"{row.rate.per_second(now_ms):,} records/s (last {RATE_WINDOW_S} s)"
        if (caption, series) != self._sparkline_shown:
            self._sparkline_shown = (caption, series)
            label.update(Text(caption))
            sparkline.data = series

    def _tick_rates(self) -> None:
        # Only shifts the in-memory rate window with the clock; nothing is read from the file.
        if self.rows:
            self._redraw()

    def _set_selected(self, topic: str | None) -> None:
        if topic != self._selected:
            self._selected = topic
            self.post_message(self.Selected(topic))
            self._draw_sparkline(clock_ms(self.source))

    @on(DataTable.RowHighlighted, "#topic-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        self._set_selected(key if key in self.rows else None)

    def select(self, topic: str) -> bool:
        """Highlight ``topic``; False if the list does not show it (yet)."""
        if topic not in self._order:
            return False
        self.table.move_cursor(row=self._order.index(topic), animate=False)
        self._set_selected(topic)
        return True

    def select_when_shown(self, topic: str) -> None:
        """Highlight ``topic`` now, or as soon as the change feed brings it into the list."""
        if not self.select(topic):
            self._wanted = topic

    def action_cursor_down(self) -> None:
        """Highlight the next topic."""
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        """Highlight the previous topic."""
        self.table.action_cursor_up()

    def action_first(self) -> None:
        """Highlight the first topic."""
        if self._order:
            self.select(self._order[0])

    def action_last(self) -> None:
        """Highlight the last topic."""
        if self._order:
            self.select(self._order[-1])

    def action_delete_topic(self) -> None:
        """Ask to delete the highlighted topic."""
        if self._selected is not None:
            self.post_message(self.DeleteRequested(self._selected))
        else:
            self.notify("No topic to delete.", severity="warning")
