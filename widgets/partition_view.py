"""``PartitionView``: the selected topic's partitions, each as a live strip of its log.

Per partition it shows the leader and follower brokers (with ISR marks), the log start
offset, the high watermark and log end offset, a strip of the latest offsets with their
keys that grows as records arrive, and which group member owns the partition, with the
group's committed offset as a marker under the strip. Enter opens the partition's whole
log in a virtual ``PartitionLog``.

Updates come only from the change feed: one worker reads each batch of events, updates
what changed (the offsets of a partition, its latest records, owners) and redraws once.
Only the partitions on screen have their latest records read, so a topic with many
partitions or a partition with a million records costs the same to show.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from broker_core.errors import KafkaError, UnknownTopicOrPartition
from broker_core.events import (Event, LeaderElected, LogCompacted, LogTruncated, PartitionsAdded,
                                RecordsAppended, Resync, SegmentDeleted, TopicCreated, TopicDeleted)
from broker_core.records import ConsumerRecord
from broker_core.topics import PartitionDescription, TopicDescription

from .cluster_source import ClusterSource
from .group_ownership import PartitionOwner, read_owners
from .member_ids import shorten_member_ids
from .number_format import fit_count
from .partition_log import PartitionLog
from .safe_text import printable
from .styled_line import StyledLine

CSS_FILE = Path(__file__).with_suffix(".tcss")

#: Latest records kept per partition on screen for its strip (enough for a wide terminal).
STRIP_RECORDS = 48
#: After the dimmed records above the high watermark.
UNCOMMITTED_NOTE = " not yet committed"
#: Characters of a key shown in a strip cell.
STRIP_KEY_CHARS = 12
#: Screen lines per partition: header, strip, committed-offset marker.
LINES_PER_PARTITION = 3
#: Lines per partition when nothing owns a partition and the view is short: header and strip.
SHORT_LINES_PER_PARTITION = 2
#: Shortest pause between two redraws: bursts of events are drawn once per frame.
FRAME_S = 1 / 10

FEED_KINDS = ("records", "topic_created", "topic_deleted", "topic_altered", "partitions_added",
              "segment_deleted", "log_compacted", "log_truncated", "leader_elected", "isr_changed",
              "replica_progress", "broker_state", "group_rebalanced", "group_state",
              "offsets_committed", "transaction_state", "resync")
_GROUP_KINDS = {"group_rebalanced", "group_state", "offsets_committed"}
#: Events that change a partition's shape (leader, ISR, start): the topic is described again.
_DESCRIBE_KINDS = {"topic_created", "topic_altered", "partitions_added", "segment_deleted",
                   "log_compacted", "log_truncated", "leader_elected", "isr_changed",
                   "replica_progress", "broker_state"}


@dataclass(frozen=True, slots=True)
class StripCell:
    """One record in a strip: its offset and its key, already printable."""

    offset: int
    key: str


class PartitionStrips(ScrollView, can_focus=True):
    """Draws every partition of a topic in three lines; only the lines on screen are drawn."""

    COMPONENT_CLASSES = {
        "partition-strips--label",
        "partition-strips--cursor",
        "partition-strips--dim",
        "partition-strips--offset",
        "partition-strips--key",
        "partition-strips--isr",
        "partition-strips--out-of-sync",
        "partition-strips--leader",
        "partition-strips--marker",
        "partition-strips--owner",
    }

    BINDINGS: list[BindingType] = [
        Binding("j", "cursor_down", "Next partition", show=False, id="partition-view.next"),
        Binding("k", "cursor_up", "Previous partition", show=False, id="partition-view.previous"),
        Binding("down", "cursor_down", "Next partition", show=False, id="partition-view.next-arrow"),
        Binding("up", "cursor_up", "Previous partition", show=False, id="partition-view.previous-arrow"),
        Binding("g", "cursor_first", "First partition", show=False, id="partition-view.first"),
        Binding("G", "cursor_last", "Last partition", show=False, id="partition-view.last"),
    ]

    cursor: reactive[int] = reactive(0)

    def __init__(self, view: "PartitionView", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._view = view
        self._styles: dict[str, Style] = {}
        # Drawn lines by what they show: a busy partition redraws, the others come from here.
        self._lines: LRUCache[tuple, Strip] = LRUCache(256)
        #: Screen lines per partition now: the marker line goes when it is empty and room is short.
        self.lines_per_partition = LINES_PER_PARTITION

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()

    @property
    def partition_count(self) -> int:
        """Partitions drawn."""
        return len(self._view.partitions)

    def sync_size(self) -> None:
        """Match the virtual height to the number of partitions."""
        short = not self._view.owners and self.partition_count * LINES_PER_PARTITION > self.size.height > 0
        self.lines_per_partition = SHORT_LINES_PER_PARTITION if short else LINES_PER_PARTITION
        self.virtual_size = Size(0, self.partition_count * self.lines_per_partition)
        if self.cursor >= self.partition_count:
            self.cursor = max(0, self.partition_count - 1)
        self.refresh()

    def visible_partitions(self) -> range:
        """Partitions with at least one line on screen."""
        first = int(self.scroll_y) // self.lines_per_partition
        last = (int(self.scroll_y) + max(1, self.size.height)) // self.lines_per_partition + 1
        return range(first, min(last, self.partition_count))

    def on_resize(self, event: events.Resize) -> None:
        lines = self.lines_per_partition
        self.sync_size()
        if lines != self.lines_per_partition:
            self._view.request_tails(self.visible_partitions())

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self._view.request_tails(self.visible_partitions())

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region_of(new)
        self.refresh()

    def scroll_to_region_of(self, partition: int) -> None:
        """Scroll so the partition under the cursor is on screen."""
        lines = self.lines_per_partition
        top = partition * lines
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif top + lines > self.scroll_y + self.size.height:
            self.scroll_to(y=top + lines - self.size.height, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        """Select the next partition."""
        self.cursor = min(self.cursor + 1, max(0, self.partition_count - 1))

    def action_cursor_up(self) -> None:
        """Select the previous partition."""
        self.cursor = max(self.cursor - 1, 0)

    def action_cursor_first(self) -> None:
        """Select partition 0."""
        self.cursor = 0

    def action_cursor_last(self) -> None:
        """Select the last partition."""
        self.cursor = max(0, self.partition_count - 1)

    def render_line(self, y: int) -> Strip:
        """Draw one of the three lines of one partition."""
        width = self.size.width
        row = int(self.scroll_y) + y
        index, part = divmod(row, self.lines_per_partition)
        base = self.rich_style
        if index >= self.partition_count:
            return Strip.blank(width, base)
        description = self._view.partitions[index]
        selected = index == self.cursor and self.has_focus
        cells = self._view.tails.get(description.partition)
        shown = (cells[-1].offset, len(cells)) if cells else None
        key = (part, description, selected, shown, self._view.owners.get(description.partition), width, base)
        strip = self._lines.get(key)
        if strip is None:
            if part == 0:
                text = self._header(description, selected=selected, width=width)
            elif part == 1:
                text, _ = self._strip(description, width)
            else:
                text = self._marker(description, width).fitted(width, self._style("dim"))
            strip = text.to_strip(width, base)
            self._lines.set(key, strip)
        return strip

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"partition-strips--{name}")
        return style

    def _header(self, p: PartitionDescription, *, selected: bool, width: int) -> StyledLine:
        """The partition's leader, replicas and offsets, in the longest wording that fits ``width``."""
        text = self._header_in(p, selected=selected, width=width, compact=False)
        if text.cell_len > width:
            text = self._header_in(p, selected=selected, width=width, compact=True)
        return text

    def _header_in(self, p: PartitionDescription, *, selected: bool, width: int, compact: bool) -> StyledLine:
        text = StyledLine()
        text.append(f"{'▶' if selected else ' '} P{p.partition:<{2 if compact else 3}}",
                    self._style("cursor" if selected else "label"))
        online = p.leader >= 0
        leader = f"leader {p.leader}" if online else "OFFLINE"
        text.append(f" {leader} ", self._style("leader" if online else "out-of-sync"))
        text.append(" " if compact else " replicas ", self._style("dim"))
        ends = {r.broker_id: r.log_end_offset for r in p.replica_states}
        for broker in p.replicas:
            in_sync = broker in p.isr
            # An offline partition has no live replica in sync: nothing of it is drawn as healthy.
            healthy = in_sync and online
            text.append(f"{broker}{'●' if in_sync else '○'}", self._style("isr" if healthy else "out-of-sync"))
            # The leader's log end is the partition's. An in-sync follower has at least the high
            # watermark (the high watermark is the lowest log end in the ISR): that holds even when
            # the description is older than the last append.
            end = None if broker == p.leader else ends.get(broker)
            if end is not None and in_sync:
                end = max(end, p.high_watermark)
            if end is not None and end != p.log_end_offset:
                # A replica behind (or ahead of) the leader: its own log end offset.
                text.append(f":{fit_count(end, 6)}", self._style("dim"))
            text.append(" ")
        number = (lambda n: fit_count(n, 6)) if compact else (lambda n: f"{n:,}")
        if not compact or p.log_start_offset > 0:
            text.append(" start ", self._style("dim"))
            text.append(number(p.log_start_offset))
        text.append(" HW " if compact else "  HW ", self._style("dim"))
        text.append(number(p.high_watermark))
        stable = self._view.stable.get(p.partition)
        if stable is not None:
            # An undecided transaction: read_committed consumers read only below the LSO.
            text.append(" LSO " if compact else "  LSO ", self._style("dim"))
            text.append(number(stable), self._style("out-of-sync"))
        text.append(" LEO " if compact else "  LEO ", self._style("dim"))
        text.append(number(p.log_end_offset))
        return text

    def _strip(self, p: PartitionDescription, width: int) -> tuple[StyledLine, dict[int, int]]:
        """The latest cells that fit ``width``, newest at the right; and where each offset starts."""
        cells = self._view.tails.get(p.partition)
        text = StyledLine()
        positions: dict[int, int] = {}
        pending = p.log_end_offset > p.high_watermark
        if p.high_watermark <= p.log_start_offset and not pending:
            text.append("      (empty log)", self._style("dim"))
            return text, positions
        if cells is None:
            text.append("      …", self._style("dim"))
            self._append_uncommitted(text, p, width, shown=0)
            return text, positions
        cells = [cell for cell in cells if p.log_start_offset <= cell.offset < p.log_end_offset]
        budget = width - 8 - (len(UNCOMMITTED_NOTE) if pending else 0)
        chosen: list[StripCell] = []
        used = 0
        for cell in reversed(cells):
            cost = len(str(cell.offset)) + 1 + len(cell.key) + 3
            if used + cost > budget:
                break
            chosen.append(cell)
            used += cost
        chosen.reverse()
        # Older committed records left out (the first drawn may be above the high watermark already).
        older = bool(cells) and (not chosen or min(chosen[0].offset, p.high_watermark) > p.log_start_offset)
        text.append("   … " if older else "     ", self._style("dim"))
        marked = False
        shown = 0
        for cell in chosen:
            uncommitted = cell.offset >= p.high_watermark
            if uncommitted and not marked:
                positions[p.high_watermark] = text.cell_len
                text.append("▌ ", self._style("marker"))
                if cell.offset > p.high_watermark:  # the first records above it did not fit
                    text.append("… ", self._style("dim"))
                marked = True
            positions[cell.offset] = text.cell_len
            # Above the high watermark: there on the leader, but not committed, so dimmed.
            text.append(str(cell.offset), self._style("dim" if uncommitted else "offset"))
            text.append(":", self._style("dim"))
            text.append(cell.key, self._style("dim" if uncommitted else "key"))
            text.append(" │ ", self._style("dim"))
            shown += uncommitted
        if not marked:
            positions[p.high_watermark] = text.cell_len
            text.append("▌", self._style("marker"))
        self._append_uncommitted(text, p, width, shown=shown)
        return text, positions

    def _append_uncommitted(self, text: StyledLine, p: PartitionDescription, width: int, *, shown: int) -> None:
        """Say that the records above the high watermark are there but not yet committed (and how many
        are not drawn, when the strip could not draw them all)."""
        pending = p.log_end_offset - p.high_watermark
        if pending <= 0:
            return
        hidden = pending - shown
        note = UNCOMMITTED_NOTE if not hidden else f" +{hidden:,} not yet committed"
        if text.cell_len + len(note) > width:
            note = f" +{fit_count(hidden, 6)} uncommitted" if hidden else " uncommitted"
        text.append(note, self._style("dim"))

    def _marker(self, p: PartitionDescription, width: int) -> StyledLine:
        """The owner, with a ▲ under the group's committed offset when that is on the strip."""
        owner = self._view.owners.get(p.partition)
        text = StyledLine()
        if owner is None:
            return text
        label = StyledLine()
        label.append(printable(owner.group, 24), self._style("owner"))
        label.append("/", self._style("dim"))
        label.append(printable(shorten_member_ids(owner.member), 32) if owner.member else "no member", self._style("owner"))
        if owner.committed is None:
            text.append("     ◆ ", self._style("owner"))
            text.extend(label)
            text.append("  no commit yet", self._style("dim"))
            return text
        lag = max(0, p.high_watermark - owner.committed)
        label.append(f"  committed {owner.committed:,}  lag {lag:,}", self._style("marker"))
        _, positions = self._strip(p, width)
        column = positions.get(owner.committed)
        if column is None:
            older = bool(positions) and owner.committed < min(positions)
            text.append("     ◀ " if older else "     ◆ ", self._style("marker"))
            text.extend(label)
        elif column + 2 + label.cell_len <= width:
            text.append(" " * column)
            text.append("▲ ", self._style("marker"))
            text.extend(label)
        else:
            # Near the right edge: the label goes to the left of the arrow.
            text.append(" " * max(0, column - label.cell_len - 1))
            text.extend(label)
            text.append(" ▲", self._style("marker"))
        return text


class PartitionView(Vertical):
    """The partitions of ``topic`` with live strips, offsets, replicas and owners.

    Set ``topic`` (a reactive) to show a topic, ``None`` to show nothing. Enter (or ``o``)
    opens the selected partition's full log, ``/`` jumps to an offset in it, Escape
    closes it.
    """

    BINDINGS: list[BindingType] = [
        Binding("enter", "open_partition", "Open log", id="partition-view.open"),
        Binding("o", "open_partition", "Open log", show=False, id="partition-view.open-o"),
        Binding("slash", "seek_offset", "Go to offset", id="partition-view.seek"),
        Binding("escape", "close_partition", "Close log", id="partition-view.close"),
    ]

    topic: reactive[str | None] = reactive(None)

    def __init__(self, source: ClusterSource, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self.description: TopicDescription | None = None
        self.partitions: list[PartitionDescription] = []
        #: Partitions whose last stable offset is below the high watermark (an open transaction): their LSO.
        self.stable: dict[int, int] = {}
        self._watching_transactions = False
        self.tails: dict[int, deque[StripCell]] = {}
        self.owners: dict[int, PartitionOwner] = {}
        self.open_partition: int | None = None
        self._wanted_tails: set[int] = set()
        self._tail_wakeup = asyncio.Event()
        self._status = ""
        # Held, not queried: the tail and feed workers may still run for a moment while the
        # app tears its widgets down, and a query then finds nothing and fails the app.
        self._strips = PartitionStrips(self, id="partition-view-strips")
        self._title = Static(id="partition-view-title", markup=False)
        self._log = PartitionLog(self.source, id="partition-view-log")

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._strips
        seek = Input(placeholder="offset, then Enter", id="partition-view-seek", type="integer")
        seek.display = False
        yield seek
        self._log.display = False
        yield self._log

    @property
    def strips(self) -> PartitionStrips:
        """The widget drawing the partitions."""
        return self._strips

    @property
    def log(self) -> PartitionLog:
        """The open partition's full log (hidden until a partition is opened)."""
        return self._log

    def on_mount(self) -> None:
        self._draw_title()
        self._follow_feed()
        self._read_tails()

    # -- topic --------------------------------------------------------------------------
    def watch_topic(self, old: str | None, new: str | None) -> None:
        if old != new:
            self.tails.clear()
            self.owners.clear()
            self.close_log()
        self._load_topic()

    @work(exclusive=True, group="partition-view-load")
    async def _load_topic(self) -> None:
        """Describe the topic and read its owners; strips then read their latest records."""
        self.stable = await self._unstable(self.topic) if self.topic else {}
        self._watching_transactions = bool(self.stable)
        await self._describe()
        await self._reload_owners()
        self.strips.sync_size()
        self.request_tails(self.strips.visible_partitions(), force=True)

    async def _describe(self) -> None:
        topic = self.topic
        if topic is None:
            self.description, self.partitions, self._status = None, [], "no topic selected"
        else:
            try:
                self.description = await self.source.describe_topic(topic)
                self.partitions = list(self.description.partitions)
                self._status = ""
            except UnknownTopicOrPartition:
                self.description, self.partitions = None, []
                self._status = f"topic {printable(topic, 60)} does not exist"
            except KafkaError:
                return  # a real cluster out of reach: keep what is shown; its reconnection resyncs
        self._draw_title()
        if self.open_partition is not None:
            self._advance_log(truncated=False)

    async def _reload_owners(self) -> None:
        topic = self.topic
        self.owners = await read_owners(self.source, topic) if topic is not None else {}

    def _draw_title(self) -> None:
        title = self._title
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.description is None:
            text.append(self._status or "no topic selected", "italic")
        else:
            d = self.description
            room = max(10, self.size.width - 4)
            plural = "s" if d.partition_count != 1 else ""
            # A compacted log keeps its offsets, not every record: then say offsets, not records.
            compacted = "compact" in str(d.effective_config().get("cleanup.policy", ""))
            unit, short = ("offsets", "offs") if compacted else ("records", "rec")
            details = [f"  {d.partition_count} partition{plural} · RF {d.replication_factor} · {d.record_count:,} {unit}",
                       f"  {d.partition_count} partition{plural} · RF {d.replication_factor} · "
                       f"{fit_count(d.record_count, 6)} {short}",
                       f"  P {d.partition_count} · RF {d.replication_factor}"]
            opened = f"  ·  log of partition {self.open_partition}" if self.open_partition is not None else ""
            name = printable(d.name, 80)
            detail = next((choice for choice in details if len(name) + len(choice) + len(opened) <= room), details[-1])
            text.append(name, "bold")
            text.append(detail)
            if opened:
                text.append(opened, "bold")
        if title.content != text:
            title.update(text, layout=False)  # one line, always: no relayout

    def on_resize(self, event: events.Resize) -> None:
        self._draw_title()

    # -- latest records per partition ---------------------------------------------------
    def request_tails(self, partitions: Iterable[int], *, force: bool = False) -> None:
        """Ask for the latest records of these partitions (only those on screen are read)."""
        visible = set(self.strips.visible_partitions())
        wanted = {p for p in partitions if p in visible and (force or p not in self.tails)}
        # Strips that scrolled out of view are forgotten: memory follows the screen.
        for gone in [p for p in self.tails if p not in visible]:
            del self.tails[gone]
        if wanted:
            self._wanted_tails |= wanted
            self._tail_wakeup.set()

    @work(group="partition-view-tails")
    async def _read_tails(self) -> None:
        """Read the latest records of requested partitions, once per frame at most."""
        while True:
            await self._tail_wakeup.wait()
            self._tail_wakeup.clear()
            wanted, self._wanted_tails = self._wanted_tails, set()
            topic = self.topic
            by_number = {p.partition: p for p in self.partitions}
            for number in sorted(wanted):
                p = by_number.get(number)
                if topic is None or p is None:
                    continue
                start = max(p.log_start_offset, p.log_end_offset - STRIP_RECORDS)
                try:
                    records = await self._read_tail(topic, number, start)
                except KafkaError:
                    continue  # retention or deletion got there first; the next event retries
                if topic != self.topic:
                    break
                self.tails[number] = deque(
                    (StripCell(r.offset, printable(r.key, STRIP_KEY_CHARS)) for r in records),
                    maxlen=STRIP_RECORDS)
            self.strips.refresh()
            await asyncio.sleep(FRAME_S)

    async def _unstable(self, topic: str) -> dict[int, int]:
        """Partitions whose last stable offset an undecided transaction holds below the high watermark."""
        if self.source.cluster is None:
            return {}  # a real cluster: no backend verb shows another producer's open transactions yet
        return await self.source.cluster.logs.unstable_partitions(topic)

    async def _read_tail(self, topic: str, partition: int, start: int) -> list[ConsumerRecord]:
        """The partition's latest records from ``start`` on."""
        if self.source.cluster is not None:
            # Up to the log end: the records above the high watermark are drawn too, dimmed, as
            # "not yet committed" (a consumer never reads them; only this strip shows them).
            result = await self.source.cluster.logs.read(topic, partition, start, max_records=STRIP_RECORDS,
                                                         to_log_end=True)
            return result.records
        # A real cluster's client sees committed records only (its log end is its high watermark).
        return await self.source.read(topic, partition, start, max_records=STRIP_RECORDS)

    # -- the change feed ----------------------------------------------------------------
    @work(group="partition-view-feed")
    async def _follow_feed(self) -> None:
        """Apply each batch of feed events, then redraw once."""
        sub = await self.source.subscribe(*FEED_KINDS)
        try:
            while True:
                first = await sub.get()
                await self.apply_events([first, *sub.get_nowait()])
                await asyncio.sleep(FRAME_S)  # let more events gather: one redraw per frame
        finally:
            sub.close()

    async def apply_events(self, batch: list[Event]) -> None:
        """Update from a batch of events: offsets in place, a describe only when the shape changed."""
        topic = self.topic
        if topic is None:
            return
        describe = owners = False
        grown: set[int] = set()
        truncated = False
        # Transactions move the LSO: look it up after their events, and after records while any is open.
        states = [getattr(e, "state", "") for e in batch if e.kind == "transaction_state"]
        if states:
            self._watching_transactions = True
        stable_stale = bool(states) or (self._watching_transactions and any(
            isinstance(e, RecordsAppended) and e.topic == topic for e in batch))
        for event in batch:
            if isinstance(event, Resync):
                describe = owners = True
                grown.update(range(len(self.partitions)))
                truncated = True
                continue
            if event.kind in _GROUP_KINDS:
                owners = True
                continue
            if getattr(event, "topic", topic) != topic:
                continue
            if isinstance(event, RecordsAppended):
                self._set_offsets(event.partition, event.end_offset, event.high_watermark)
                grown.add(event.partition)
            elif isinstance(event, TopicDeleted):
                self.description, self.partitions, self._status = None, [], f"topic {printable(topic, 60)} was deleted"
                self.tails.clear()
                self.owners.clear()
                self.close_log()
                self._draw_title()
                self.strips.sync_size()
                return
            elif event.kind in _DESCRIBE_KINDS:
                describe = True
                if isinstance(event, (LogTruncated, LogCompacted, SegmentDeleted, LeaderElected)):
                    grown.add(event.partition)
                    truncated = truncated or isinstance(event, (LogTruncated, LogCompacted))
                if isinstance(event, (PartitionsAdded, TopicCreated)):
                    grown.update(range(len(self.partitions), getattr(event, "partitions", 0)))
        if stable_stale or (describe and self._watching_transactions):
            self.stable = await self._unstable(topic)
            if not self.stable and (not states or states[-1] != "Ongoing"):
                self._watching_transactions = False  # nothing undecided: records alone no longer matter
            owners = owners or bool(states)  # a redraw (the LSO), and EndTxn committed offsets
        if describe:
            await self._describe()
            self.strips.sync_size()
        if owners:
            had_owners = bool(self.owners)
            await self._reload_owners()
            if had_owners != bool(self.owners):
                self.strips.sync_size()
        if grown:
            self.request_tails(grown, force=True)
            if self.open_partition in grown:
                self._advance_log(truncated=truncated)
        if grown or describe or owners:
            self._draw_title()
            self.strips.refresh()

    def _set_offsets(self, partition: int, end_offset: int, high_watermark: int) -> None:
        if 0 <= partition < len(self.partitions):
            p = self.partitions[partition]
            self.partitions[partition] = dataclasses.replace(
                p, log_end_offset=max(end_offset, p.log_end_offset),
                high_watermark=max(high_watermark, p.high_watermark))
            if self.description is not None:
                self.description = dataclasses.replace(self.description, partitions=tuple(self.partitions))

    # -- the open partition's log -------------------------------------------------------
    def action_open_partition(self) -> None:
        """Open the selected partition's full log below the strips."""
        if not self.partitions:
            return
        self.open_log(self.strips.cursor)

    def open_log(self, partition: int) -> None:
        """Show ``partition``'s whole log (virtual: only the lines on screen are read)."""
        p = self.partitions[partition]
        self.open_partition = partition
        log = self.log
        log.display = True
        self.add_class("-log-open")
        assert self.topic is not None
        log.show(self.topic, partition, p.log_start_offset, p.high_watermark)
        log.focus()
        self._draw_title()

    def close_log(self) -> None:
        """Hide the partition log and go back to the strips."""
        if self.open_partition is None:
            return
        self.open_partition = None
        self.log.display = False
        self.remove_class("-log-open")
        self.query_one("#partition-view-seek", Input).display = False
        self.strips.focus()
        self._draw_title()

    def action_close_partition(self) -> None:
        """Close the open log (or the offset prompt)."""
        seek = self.query_one("#partition-view-seek", Input)
        if seek.display:
            seek.display = False
            self.log.focus() if self.open_partition is not None else self.strips.focus()
            return
        self.close_log()

    def action_seek_offset(self) -> None:
        """Ask for an offset and jump there in the selected partition's log."""
        if not self.partitions:
            return
        if self.open_partition is None:
            self.open_log(self.strips.cursor)
        seek = self.query_one("#partition-view-seek", Input)
        seek.value = ""
        seek.display = True
        seek.focus()

    @on(Input.Submitted, "#partition-view-seek")
    def _seek_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        seek = event.input
        seek.display = False
        try:
            offset = int(event.value)
        except ValueError:
            self.notify("An offset is a whole number.", severity="warning")
            return
        log = self.log
        if log.high_watermark <= log.log_start:
            self.notify(f"The log is empty: there is no offset {offset:,} yet (the next record gets "
                        f"{log.high_watermark:,}).", severity="warning", markup=False)
        elif offset >= log.high_watermark:
            self.notify(f"Offset {offset:,} is past the end of the log: the last record is at "
                        f"{log.high_watermark - 1:,} (high watermark {log.high_watermark:,}).",
                        severity="warning", markup=False)
        elif offset < log.log_start:
            self.notify(f"Offset {offset:,} is before the log start {log.log_start:,}: retention or "
                        "a deletion removed it.", severity="warning", markup=False)
        log.scroll_to_offset(offset)
        log.focus()

    def _advance_log(self, *, truncated: bool) -> None:
        if self.open_partition is None or self.open_partition >= len(self.partitions):
            return
        p = self.partitions[self.open_partition]
        self.log.advance(p.log_start_offset, p.high_watermark, truncated=truncated)
