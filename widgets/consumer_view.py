"""``ConsumerView``: one live consumer, standalone on chosen partitions or a group member.

The view owns a ``broker_core.Consumer`` and polls it in a worker, exactly as an
application's poll loop would. Records are kept in a bounded window (the newest
``WINDOW`` of them) and drawn once per frame however fast they arrive. Above the records
it shows, per assigned partition, the consumer's position, the group's committed offset
and the lag; for a group member also the group, member id, generation and assignment,
and a note whenever a rebalance changes the assignment. Values written by a Schema
Registry serializer (Confluent's wire format) are drawn as JSON with their schema id and
version (``SchemaValues``); every other value as escaped text.

Keys: ``p`` pause/resume, ``b`` seek to beginning, ``e`` seek to end, ``c`` commit now,
``j``/``k``/``g``/``G`` move the cursor through the records, Enter opens the one under it
whole (posts ``RecordChosen``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from broker_core import TopicPartition
from broker_core.errors import KafkaError
from broker_core.events import OffsetsCommitted, RecordsAppended, Resync
from broker_core.records import ConsumerRecord, TransactionMark

from .cluster_source import ClusterSource
from .member_ids import shorten_member_ids
from .record_chosen import RecordChosen
from .safe_text import printable
from .schema_values import SchemaValues
from .styled_line import StyledLine

CSS_FILE = Path(__file__).with_suffix(".tcss")

#: Records a view keeps (and can scroll back through); older ones are dropped.
WINDOW = 500
#: Bytes of a key and of a value kept per record in the window (enough to fill a line).
KEPT_KEY_BYTES = 64
KEPT_VALUE_BYTES = 512
#: A registry-encoded value up to this size is kept whole, so it can be decoded when drawn.
KEPT_WIRE_BYTES = 4096
#: Shortest pause between two redraws: arrivals are drawn once per frame.
FRAME_S = 1 / 10
#: How long one poll waits for records before doing its periodic work again.
POLL_TIMEOUT_MS = 250
#: Aborted records' offsets a view remembers to mark them (the newest).
ABORTED_KEPT = 10_000
#: Partition lines shown in the stats block before "+N more".
STATS_LINES = 6

_names = itertools.count(1)


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """A consumed record as the window keeps it: cut to what a line can show."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    #: False when ``value`` was cut to ``KEPT_VALUE_BYTES`` (a cut datum is never decoded).
    whole: bool = True
    #: Written in a transaction that was aborted (a read_uncommitted view reads it anyway).
    aborted: bool = False


@dataclass(frozen=True, slots=True)
class PartitionStats:
    """Where one assigned partition stands for this consumer."""

    partition: TopicPartition
    position: int | None
    committed: int | None
    high_watermark: int | None
    paused: bool
    in_group: bool = False

    @property
    def lag(self) -> int | None:
        """Kafka's consumer-group lag, LOG-END-OFFSET - CURRENT-OFFSET as ``kafka-consumer-groups``
        prints it: the high watermark minus the committed offset (None, drawn "—", until
        something is committed). The same definition for group members and standalone consumers."""
        if self.high_watermark is None or self.committed is None:
            return None
        return max(0, self.high_watermark - self.committed)

    @property
    def left(self) -> int | None:
        """Records this consumer has still to read: the high watermark minus its position."""
        if self.high_watermark is None or self.position is None:
            return None
        return max(0, self.high_watermark - self.position)


class RecordWindow(ScrollView, can_focus=True):
    """The consumed records, newest at the bottom, kept to a bounded window."""

    COMPONENT_CLASSES = {"record-window--position", "record-window--key", "record-window--value",
                         "record-window--schema", "record-window--note", "record-window--cursor"}

    #: The name the help screen gives this pane.
    pane_title = "Consumer view"

    BINDINGS: list[BindingType] = [
        Binding("j,down", "cursor(1)", "Down", show=False, id="consumer-view.down"),
        Binding("k,up", "cursor(-1)", "Up", show=False, id="consumer-view.up"),
        Binding("g", "scroll_top", "Oldest", show=False, id="consumer-view.top"),
        Binding("G", "scroll_bottom", "Newest", show=False, id="consumer-view.bottom"),
        Binding("enter", "open_record", "Open record", id="consumer-view.open-record"),
    ]

    def __init__(self, *, window: int = WINDOW, values: SchemaValues | None = None, topic: str | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.records: deque[WindowRecord | str] = deque(maxlen=window)
        #: Decodes registry-encoded values (None: every value is drawn as escaped text).
        self.values = values
        self.topic = topic
        # Drawn lines by what they show: while records scroll past, each is drawn once.
        self._lines: LRUCache[tuple, Strip] = LRUCache(256)
        #: The row under the cursor (None: the newest, following new records).
        self.cursor: int | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()

    def forget_drawn_lines(self) -> None:
        """Draw every line again (a schema became readable: values drawn as text may decode now)."""
        self._lines.clear()
        self.refresh()

    def extend(self, items: Sequence[WindowRecord | str]) -> None:
        """Add records (or note lines) at the bottom; follow them if scrolled to the end."""
        at_end = self.is_vertical_scroll_end or self.max_scroll_y == 0
        overflow = max(0, len(self.records) + len(items) - (self.records.maxlen or 0))
        self.records.extend(items)
        if self.cursor is not None:
            self.cursor = max(0, self.cursor - overflow)  # the same record stays under the cursor
        self.virtual_size = Size(0, len(self.records))
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            # The new height is only known after layout: follow the end once it is.
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        elif overflow:
            # Keep the same records on screen while older ones drop off the top.
            self.scroll_to(y=max(0, self.scroll_y - overflow), animate=False, immediate=True)
        self.refresh()

    @property
    def cursor_row(self) -> int | None:
        """The row under the cursor (the newest when it follows), None when the window is empty."""
        if not self.records:
            return None
        return len(self.records) - 1 if self.cursor is None else min(self.cursor, len(self.records) - 1)

    def action_cursor(self, delta: int) -> None:
        """Move the cursor ``delta`` rows, scrolling to keep it in view."""
        row = self.cursor_row
        if row is None:
            return
        row = min(max(row + delta, 0), len(self.records) - 1)
        self.cursor = None if row == len(self.records) - 1 and delta > 0 else row
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= self.scroll_y + self.size.height:
            self.scroll_to(y=row - self.size.height + 1, animate=False, immediate=True)
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()  # the cursor shows only while focused

    def on_blur(self) -> None:
        self.refresh()

    def action_open_record(self) -> None:
        """Open the record under the cursor whole (the record view)."""
        row = self.cursor_row
        if row is None or self.topic is None:
            return
        item = self.records[row]
        if isinstance(item, str):
            self.notify("That line is a note, not a record.", severity="warning")
            return
        self.post_message(RecordChosen(self.topic, item.partition, item.offset))

    def action_scroll_top(self) -> None:
        """Scroll to the oldest record kept."""
        self.cursor = 0
        self.scroll_home(animate=False, immediate=True)
        self.refresh()

    def action_scroll_bottom(self) -> None:
        """Scroll to the newest record."""
        self.cursor = None
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Draw the record at window row ``scroll_y + y``."""
        width = self.size.width
        row = int(self.scroll_y) + y
        base = self.rich_style
        if row >= len(self.records):
            return Strip.blank(width, base)
        item = self.records[row]
        if row == self.cursor_row and self.has_focus:
            base = base + self.get_component_rich_style("record-window--cursor")
        key = (item, width, base)
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw(item, width, base)
            self._lines.set(key, strip)
        return strip

    def _draw(self, item: WindowRecord | str, width: int, base: Style) -> Strip:
        style = self.get_component_rich_style
        if isinstance(item, str):
            line = StyledLine(item, style("record-window--note"))
        else:
            line = StyledLine(f"{item.partition}:{item.offset}", style("record-window--position"))
            line.append(" ")
            if item.aborted:
                line.append("✗aborted ", style("record-window--note"))
            line.append(printable(item.key, 12), style("record-window--key"))
            line.append(" ")
            shown = self.values.decode(item.value, self.topic) if self.values is not None and item.whole else None
            if shown is None:
                line.append(printable(item.value, max(1, width)), style("record-window--value"))
            else:
                line.append(shown.tag, style("record-window--schema"))
                line.append(" ")
                line.append(printable(shown.json, max(1, width)), style("record-window--value"))
        return line.to_strip(width, base)

    def lines_as_text(self) -> list[str]:
        """Every line in the window as plain text (for tests and the perf tool)."""
        return [self.render_line(y - int(self.scroll_y)).text for y in range(len(self.records))]


class ConsumerView(Vertical, can_focus=False):
    """A live consumer: its records, positions, committed offsets and lag.

    ``partitions=None`` means every partition of ``topic``. With ``group`` the consumer
    subscribes to ``topic`` as a member of that group and the coordinator assigns its
    partitions; without, it is assigned ``partitions`` directly (a standalone consumer).
    """

    #: The name the help screen gives this pane (its border title is the consumer's name).
    pane_title = "Consumer view"

    BINDINGS: list[BindingType] = [
        Binding("p", "toggle_pause", "Pause/resume", id="consumer-view.pause"),
        Binding("b", "seek_beginning", "Seek start", id="consumer-view.seek-beginning"),
        Binding("e", "seek_end", "Seek end", id="consumer-view.seek-end"),
        Binding("c", "commit", "Commit", id="consumer-view.commit"),
    ]

    class Rebalanced(Message):
        """This view's group member got a new assignment."""

        def __init__(self, view: "ConsumerView", generation: int | None,
                     assignment: frozenset[TopicPartition]) -> None:
            super().__init__()
            self.view = view
            self.generation = generation
            self.assignment = assignment

    def __init__(self, source: ClusterSource, topic: str, *, partitions: Sequence[int] | None = None,
                 group: str | None = None, from_beginning: bool = True, label: str | None = None,
                 window: int = WINDOW, name: str | None = None, id: str | None = None,
                 classes: str | None = None, isolation_level: str = "read_uncommitted") -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self.topic = topic
        self.group = group
        self.requested_partitions = list(partitions) if partitions is not None else None
        self.label = label or f"consumer-{next(_names)}"
        self.consumer = source.consumer(group_id=group, client_id=self.label,
                                        auto_offset_reset="earliest" if from_beginning else "latest",
                                        isolation_level=isolation_level)
        # The consumer this view made (a subclass may show one owned elsewhere instead).
        self._own_consumer = self.consumer
        self.paused = False
        self.stats: list[PartitionStats] = []
        self.generation: int | None = None
        self.assignment: frozenset[TopicPartition] = frozenset()
        self.consumed = 0
        self.note = ""
        self.error: str | None = None
        self._window_size = window
        self._pending: list[ConsumerRecord | str] = []
        #: (partition, offset) of records read from aborted transactions (read_uncommitted).
        self._aborted: set[tuple[int, int]] = set()
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int | None] = {}
        self._committed_stale = True
        self._render_scheduled = False
        self._values = SchemaValues(source.cluster.schemas if source.cluster is not None else None)
        self._stopping = False
        self._polling = False
        self._stopped = asyncio.Event()
        self._action_lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Static(id="consumer-view-title", classes="consumer-view-title", markup=False)
        yield Static(classes="consumer-view-stats", markup=False)
        yield RecordWindow(window=self._window_size, values=self._values, topic=self.topic, id=None)
        yield Static(classes="consumer-view-status", markup=False)

    @property
    def window(self) -> RecordWindow:
        """The records pane."""
        return self.query_one(RecordWindow)

    @property
    def is_group_member(self) -> bool:
        """Whether this consumer belongs to a consumer group."""
        return self.group is not None

    def on_mount(self) -> None:
        self.border_title = Text(printable(self.label, 40))  # a Text: a title string would be read as markup
        self._draw()
        self._consume()
        self._follow_feed()

    # -- consuming ----------------------------------------------------------------------
    async def _start(self) -> None:
        if self.group is not None:
            await self.source.partition_count(self.topic)  # an unknown topic is an error here
            self.consumer.rebalance_listeners.append(self._on_rebalance)
            self.consumer.subscribe([self.topic])
        else:
            count = await self.source.partition_count(self.topic)
            wanted = self.requested_partitions if self.requested_partitions is not None else range(count)
            missing = [p for p in wanted if not 0 <= p < count]
            if missing:
                raise ValueError(f"Topic {self.topic!r} has partitions 0-{count - 1}; "
                                 f"there is no partition {missing[0]}.")
            self.consumer.assign([TopicPartition(self.topic, p) for p in wanted])

    @work(group="consumer-view-poll")
    async def _consume(self) -> None:
        """The poll loop: what an application's consumer thread does, on the event loop."""
        self._polling = True
        try:
            try:
                await self._start()
            except (KafkaError, ValueError) as error:
                self._fail(error)
                return
            while not self._stopping:
                try:
                    async with self._action_lock:
                        records = await self.consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                except KafkaError as error:
                    self._fail(error)
                    if self._stopping:
                        break
                    await asyncio.sleep(POLL_TIMEOUT_MS / 1000)  # the coordinator said no: try again
                    continue
                self.error = None
                self._note_assignment()
                marks = self.consumer.take_transaction_marks() \
                    if hasattr(self.consumer, "take_transaction_marks") else []
                if records or marks:
                    self._take(records, marks)
                async with self._action_lock:
                    await self._collect_stats()
                self._schedule_draw()
                await asyncio.sleep(0)  # let input through between polls of a busy topic
        finally:
            self._stopped.set()

    def _take(self, records: list[ConsumerRecord],
              marks: Sequence[tuple[TopicPartition, TransactionMark]] = ()) -> None:
        self.consumed += len(records)
        items: list[ConsumerRecord | str] = list(records[-self._window_size:])
        if marks:
            items = self._with_transaction_marks(items, marks)
        # Only the newest ``window`` records can ever be shown: the rest of a busy frame is
        # dropped here, and records are cut down to a line only when the frame is drawn.
        self._pending.extend(items)
        if len(self._pending) > self._window_size:
            del self._pending[:-self._window_size]

    def _with_transaction_marks(self, items: list[ConsumerRecord | str],
                                marks: Sequence[tuple[TopicPartition, TransactionMark]]) -> list[ConsumerRecord | str]:
        """Records with the transaction markers passed as note lines in offset order, and the
        aborted transactions' records remembered (drawn marked ✗) for a read_uncommitted view."""
        notes: list[tuple[int, int, str]] = []
        for tp, mark in marks:
            if mark.kind == "aborted":
                self._aborted.update((tp.partition, o) for o in range(mark.offset, mark.last_offset + 1))
            else:
                notes.append((tp.partition, mark.offset,
                              f"── {tp.partition}:{mark.offset} {mark.kind} marker (producer {mark.producer_id}) ──"))
        if len(self._aborted) > ABORTED_KEPT:
            self._aborted = set(sorted(self._aborted)[-ABORTED_KEPT:])
        keyed = [((item.partition, item.offset), item) for item in items if not isinstance(item, str)]
        keyed += [((partition, offset), note) for partition, offset, note in notes]
        keyed.sort(key=lambda pair: pair[0])
        return [item for _, item in keyed]

    def _on_rebalance(self, revoked: set[TopicPartition], assigned: set[TopicPartition]) -> None:
        """The consumer's rebalance listener: say which partitions were taken away.

        What it was given is said once the generation is known (``_note_assignment``).
        """
        if revoked:
            self._pending.append(f"── revoked {_partition_list(revoked)} ──")
            self._schedule_draw()

    def _note_assignment(self) -> None:
        if self.group is not None and self.consumer.rebalancing:
            if self.note != "rebalancing…":
                self.note = "rebalancing…"
            return
        assignment = frozenset(self.consumer.assignment())
        generation = self.consumer.generation if self.group is not None else None
        if assignment == self.assignment and generation == self.generation:
            return
        previous = self.assignment
        self.assignment, self.generation = assignment, generation
        self._committed_stale = True
        if self.paused and assignment:
            self.consumer.pause()  # a paused view stays paused on the partitions a rebalance gives it
        if self.group is not None:
            counter = self._generation_word
            # A real cluster's client is not told the generation (-1): then the rebalance is said without it.
            known = generation is not None and generation >= 0
            self.note = (f"rebalanced: {f'{counter} {generation}, ' if known else ''}now {_partition_list(assignment)}"
                         f" (was {_partition_list(previous)})")
            self._pending.append(f"── {f'{counter} {generation}' if known else 'rebalanced'}: "
                                 f"{_partition_list(assignment)} ──")
            self.post_message(self.Rebalanced(self, generation, assignment))

    @property
    def _generation_word(self) -> str:
        """A KIP-848 member (group.protocol=consumer) counts member epochs, a classic one generations."""
        return "epoch" if getattr(self.consumer, "protocol", "classic") == "consumer" else "generation"

    def _fail(self, error: Exception) -> None:
        if isinstance(error, KafkaError):
            self.error = f"{error.name} ({error.code}): {error}"
        else:
            self.error = str(error)
        self._schedule_draw()

    async def stop(self) -> None:
        """Stop polling and close the consumer (a group member leaves its group)."""
        self._stopping = True
        if self._polling and not self._stopped.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), POLL_TIMEOUT_MS / 1000 * 8)
        with contextlib.suppress(KafkaError):
            await self.consumer.close()

    async def _on_unmount(self) -> None:
        # The app is closing (or the view was removed without ``stop``): a group member
        # of this view's own leaves now rather than after its session timeout. A consumer
        # owned elsewhere is left to its owner.
        self._stopping = True
        if self.consumer is self._own_consumer:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.consumer.close(), POLL_TIMEOUT_MS / 1000 * 8)

    # -- the change feed: high watermarks and commits between polls ---------------------
    @work(group="consumer-view-feed")
    async def _follow_feed(self) -> None:
        sub = await self.source.subscribe("records", "offsets_committed", "group_rebalanced",
                                          "log_truncated", "segment_deleted", "resync")
        try:
            while True:
                first = await sub.get()
                for event in [first, *sub.get_nowait()]:
                    if isinstance(event, RecordsAppended) and event.topic == self.topic:
                        tp = TopicPartition(event.topic, event.partition)
                        self._high_watermarks[tp] = max(self._high_watermarks.get(tp, 0), event.high_watermark)
                    elif isinstance(event, OffsetsCommitted) and event.group == self.group:
                        self._committed_stale = True
                    elif isinstance(event, Resync) or getattr(event, "group", None) == self.group:
                        self._committed_stale = True
                self._schedule_draw()
                await asyncio.sleep(FRAME_S)
        finally:
            sub.close()

    # -- drawing, once per frame ---------------------------------------------------------
    def _schedule_draw(self) -> None:
        if not self._render_scheduled and self.is_mounted:
            self._render_scheduled = True
            self.set_timer(FRAME_S, self._refresh_all)

    async def _refresh_all(self) -> None:
        try:
            if not self.is_mounted:
                return
            if self._pending:
                items, self._pending = self._pending, []
                # A schema id seen for the first time is read once (the frame waits for it, so
                # lines keep their order); the records are decoded only when drawn.
                wanted = self._values.wanted(item.value for item in items if not isinstance(item, str))
                if wanted and await self._values.load(wanted) and self.is_mounted:
                    self.window.forget_drawn_lines()
                if not self.is_mounted:
                    return
                self.window.extend([_window_record(item, self._aborted) for item in items])
            self.stats = [dataclasses.replace(s, high_watermark=max(
                s.high_watermark or 0, self._high_watermarks.get(s.partition, 0))) for s in self.stats]
            self._draw()
        finally:
            self._render_scheduled = False
            if self._pending:
                self._schedule_draw()  # arrived while a schema was being read

    async def _collect_stats(self) -> None:
        """Positions, committed offsets and high watermarks, read by the poll loop's own task
        (a consumer is used by one task at a time, as a Kafka consumer by one thread)."""
        stats = []
        refresh_committed = self._committed_stale and self.group is not None
        self._committed_stale = False
        paused = self.consumer.paused()
        for tp in sorted(self.consumer.assignment()):
            try:
                position: int | None = await self.consumer.position(tp)
            except (KafkaError, ValueError):
                position = None
            if refresh_committed:
                with contextlib.suppress(KafkaError):
                    self._committed[tp] = await self.consumer.committed(tp)
            high_watermark = max(self._high_watermarks.get(tp, 0), self.consumer.high_watermark(tp) or 0)
            stats.append(PartitionStats(tp, position, self._committed.get(tp), high_watermark, tp in paused,
                                        self.group is not None))
        self.stats = stats

    def _draw(self) -> None:
        title = Text(no_wrap=True)
        if self.group is not None:
            title.append("group ", "dim")
            title.append(printable(self.group, 30), "bold")
            title.append("  epoch " if self._generation_word == "epoch" else "  gen ", "dim")
            title.append("—" if self.generation is None or self.generation < 0 else str(self.generation), "bold")
            member = self.consumer.member_id
            if member:
                title.append("  member ", "dim")
                title.append(printable(shorten_member_ids(member), 40))
        else:
            title.append("standalone ", "dim")
            title.append(printable(self.topic, 40), "bold")
            title.append("  assign()", "dim")
        assigned = ", ".join(str(tp.partition) for tp in sorted(self.assignment))
        title.append("\n")
        title.append(f"{printable(self.topic, 40)} [{assigned or '—'}]" if self.group is not None
                     else f"partitions [{assigned or '—'}]")
        if getattr(self.consumer, "read_committed", False):
            # Open and aborted transactions' records are not read: say so, it explains the gaps.
            title.append("  read_committed", "cyan")
        if self.paused:
            title.append("  ⏸ paused", "bold yellow")
        _set_text(self.query_one(".consumer-view-title", Static), title)

        stats = Text(no_wrap=True)
        for i, s in enumerate(self.stats[:STATS_LINES]):
            if i:
                stats.append("\n")
            stats.append(f"p{s.partition.partition:<3}", "bold")
            stats.append(" pos ", "dim")
            stats.append("—" if s.position is None else f"{s.position:,}")
            stats.append(" left ", "dim")
            left = s.left
            stats.append("—" if left is None else f"{left:,}", "yellow" if left else "")
            stats.append(" cmt ", "dim")
            stats.append("—" if s.committed is None else f"{s.committed:,}")
            stats.append(" lag ", "dim")
            lag = s.lag
            stats.append("—" if lag is None else f"{lag:,}", "bold red" if lag else "green")
        if len(self.stats) > STATS_LINES:
            stats.append(f"\n+{len(self.stats) - STATS_LINES} more partitions", "dim")
        if not self.stats:
            stats.append("no partitions assigned" + (" (idle member)" if self.group else ""), "dim")
        _set_text(self.query_one(".consumer-view-stats", Static), stats)

        status = Text(no_wrap=True)
        if self.error:
            status.append("✗ ", "bold red")
            status.append(printable(self.error, 200), "red")
        else:
            status.append(f"{self.consumed:,} consumed", "dim")
            if self.note:
                status.append("  ")
                status.append(printable(self.note, 120), "yellow")
        _set_text(self.query_one(".consumer-view-status", Static), status)

    @property
    def text(self) -> str:
        """What the view shows, as plain text (title, stats, records, status)."""
        parts = [self.query_one(".consumer-view-title", Static).content,
                 self.query_one(".consumer-view-stats", Static).content]
        lines = [p.plain if isinstance(p, Text) else str(p) for p in parts]
        lines.extend(self.window.lines_as_text())
        status = self.query_one(".consumer-view-status", Static).content
        lines.append(status.plain if isinstance(status, Text) else str(status))
        return "\n".join(lines)

    # -- actions ------------------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        """Pause fetching (the position stays) or resume it."""
        if not self.assignment and not self.consumer.assignment():
            return
        if self.paused:
            self.consumer.resume()
            self.paused = False
            self.note = "resumed"
        else:
            self.consumer.pause()
            self.paused = True
            self.note = "paused: position kept, nothing fetched"
        self._schedule_draw()

    def action_seek_beginning(self) -> None:
        """Move every assigned partition to its log start offset."""
        self._seek(beginning=True)

    def action_seek_end(self) -> None:
        """Move every assigned partition to its high watermark (only new records follow)."""
        self._seek(beginning=False)

    @work(group="consumer-view-action")
    async def _seek(self, *, beginning: bool) -> None:
        async with self._action_lock:
            if not self.consumer.assignment():
                return
            try:
                if beginning:
                    await self.consumer.seek_to_beginning()
                else:
                    await self.consumer.seek_to_end()
            except (KafkaError, ValueError) as error:
                self._fail(error)
                return
            await self._collect_stats()
        self.note = "seeked to the beginning" if beginning else "seeked to the end"
        self._pending.append(f"── {self.note} ──")
        self._schedule_draw()

    def action_commit(self) -> None:
        """Commit the current positions for the group now."""
        self._commit()

    @work(group="consumer-view-action")
    async def _commit(self) -> None:
        if self.group is None:
            self.note = "a standalone consumer has no group: nothing to commit to"
            self._schedule_draw()
            return
        async with self._action_lock:
            try:
                await self.consumer.commit()
            except KafkaError as error:
                self._fail(error)
                return
            self._committed_stale = True
            await self._collect_stats()
        self.note = "committed"
        self._schedule_draw()


def _window_record(item: ConsumerRecord | str, aborted: set[tuple[int, int]] = frozenset()) -> WindowRecord | str:
    """A consumed record cut to what a line can show (note lines pass through); ``aborted``:
    the (partition, offset) of records whose transaction was aborted."""
    if isinstance(item, str):
        return item
    value = item.value
    whole = value is None or len(value) <= KEPT_VALUE_BYTES or (
        len(value) <= KEPT_WIRE_BYTES and value[0] == 0)  # maybe registry-encoded: keep it decodable
    return WindowRecord(item.partition, item.offset,
                        item.key[:KEPT_KEY_BYTES] if item.key is not None else None,
                        value if whole or value is None else value[:KEPT_VALUE_BYTES], whole,
                        (item.partition, item.offset) in aborted)


def _set_text(static: Static, text: Text) -> None:
    """Update ``static`` only if its text changed, and lay the screen out again only if its
    height did: a relayout every frame is what makes a busy screen slow to answer keys."""
    current = static.content
    if isinstance(current, Text) and current == text:
        return
    same_height = isinstance(current, Text) and current.plain.count("\n") == text.plain.count("\n")
    static.update(text, layout=not same_height)


def _partition_list(partitions: set[TopicPartition] | frozenset[TopicPartition]) -> str:
    """``p0, p2`` (or ``nothing``)."""
    return ", ".join(f"p{tp.partition}" for tp in sorted(partitions)) or "nothing"
