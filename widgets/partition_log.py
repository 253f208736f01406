"""``PartitionLog``: one partition's records, browsable from the oldest kept to the newest.

The log is virtual: one line per offset between the log start offset and the high
watermark, but only the pages of records on screen are read from the data file, and
only a few pages are kept, so a partition with a million records opens as fast as one
with ten and holds the same memory. Offsets that compaction removed show as gaps. Values
written by a Schema Registry serializer are shown as JSON with their schema id and version.
A cursor marks one offset (j/k move it); Enter posts ``RecordChosen`` to open it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import events, work
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from broker_core.errors import KafkaError

from .cluster_source import ClusterSource
from .record_chosen import RecordChosen
from .safe_text import printable
from .schema_values import SchemaValues
from .styled_line import StyledLine

CSS_FILE = Path(__file__).with_suffix(".tcss")

#: Offsets read from the data file in one go.
PAGE_SIZE = 256
#: Pages kept in memory: the window a person can scroll through without a read.
PAGES_KEPT = 12
#: Characters of a key and of a value drawn on a line.
KEY_CHARS = 24
VALUE_CHARS = 240
#: The core's default fetch byte budget (``PartitionLogs.read(max_bytes=...)``).
FETCH_MAX_BYTES = 52_428_800


@dataclass(frozen=True, slots=True)
class LogLine:
    """One offset of the partition as drawn: ``key`` and ``value`` already made printable."""

    offset: int
    key: str
    value: str
    present: bool = True
    #: ``id 3 v1`` when ``value`` is a registry-encoded value decoded to JSON, else "".
    schema: str = ""


class PartitionLog(ScrollView, can_focus=True):
    """Scrolls through one partition's records, reading only the pages in view.

    Call ``show(topic, partition, log_start, high_watermark)`` to open a partition; it
    opens at the newest records and follows new ones while scrolled to the end.
    """

    COMPONENT_CLASSES = {
        "partition-log--offset",
        "partition-log--key",
        "partition-log--value",
        "partition-log--schema",
        "partition-log--gap",
        "partition-log--loading",
        "partition-log--cursor",
    }

    BINDINGS: list[BindingType] = [
        Binding("j,down", "cursor(1)", "Down", show=False, id="partition-log.down"),
        Binding("k,up", "cursor(-1)", "Up", show=False, id="partition-log.up"),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False, id="partition-log.page-down"),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False, id="partition-log.page-up"),
        Binding("g", "scroll_home", "Oldest", id="partition-log.oldest"),
        Binding("G", "scroll_end", "Newest", id="partition-log.newest"),
        Binding("enter", "open_record", "Open record", id="partition-log.open-record"),
    ]

    def __init__(self, source: ClusterSource, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self.topic: str | None = None
        self.partition = 0
        self.log_start = 0
        self.high_watermark = 0
        self._pages: LRUCache[int, list[LogLine]] = LRUCache(PAGES_KEPT)
        self._loading: set[int] = set()
        self._generation = 0  # bumped on every show(): late page reads of a previous partition are dropped
        self._values = SchemaValues(source.cluster.schemas if source.cluster is not None else None)
        #: The offset under the cursor (None: the newest, following new records).
        self.cursor: int | None = None
        #: Shown, but not yet laid out: scroll to the newest records once it has a size.
        self._end_when_sized = False

    # -- what is shown ------------------------------------------------------------------
    def show(self, topic: str, partition: int, log_start: int, high_watermark: int) -> None:
        """Open ``topic``-``partition`` at its newest records."""
        self.topic, self.partition = topic, partition
        self._generation += 1
        self._pages.clear()
        self._loading.clear()
        self.log_start, self.high_watermark = log_start, high_watermark
        self.cursor = None
        self.virtual_size = Size(0, self.line_count)
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        # A log that was hidden has no size yet: scroll again once it has been laid out (on_resize).
        # Not after the next refresh: that can come before the layout that sizes it, and the
        # log then stayed at its oldest record.
        self._end_when_sized = self.size.height == 0
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        if self._end_when_sized and event.size.height > 0:
            self._end_when_sized = False
            if self.cursor is None:
                self.scroll_end(animate=False, immediate=True, x_axis=False)

    @property
    def line_count(self) -> int:
        """Offsets between the log start and the high watermark (one line each)."""
        return max(0, self.high_watermark - self.log_start)

    @property
    def cached_records(self) -> int:
        """How many records are held in memory now (bounded by ``PAGES_KEPT * PAGE_SIZE``)."""
        return sum(len(self._pages.get(key) or ()) for key in list(self._pages.keys()))

    def advance(self, log_start: int, high_watermark: int, *, truncated: bool = False) -> None:
        """The partition moved: new records, retention, compaction or truncation.

        Keeps following the newest records if the view was at the end.
        """
        at_end = self.is_vertical_scroll_end
        if truncated or log_start != self.log_start:
            self._pages.clear()
        else:
            # Only the page that held the old high watermark can have been partial.
            self._pages.discard(self.high_watermark // PAGE_SIZE)
        old_start = self.log_start
        self.log_start, self.high_watermark = log_start, high_watermark
        self.virtual_size = Size(0, self.line_count)
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif log_start != old_start:
            # Keep the same offsets on screen when retention moved the start.
            self.scroll_to(y=max(0, self.scroll_y - (log_start - old_start)), animate=False, immediate=True)
        self.refresh()

    def invalidate(self) -> None:
        """Forget every page (compaction rewrote the log): they are read again when drawn."""
        self._pages.clear()
        self.refresh()

    def scroll_to_offset(self, offset: int) -> None:
        """Put ``offset`` at the top of the view (clamped to what the log keeps)."""
        offset = min(max(offset, self.log_start), max(self.log_start, self.high_watermark - 1))
        self.cursor = offset
        self.scroll_to(y=offset - self.log_start, animate=False, immediate=True)
        self.refresh()

    @property
    def cursor_offset(self) -> int | None:
        """The offset under the cursor (the newest when it follows), None for an empty log."""
        if self.high_watermark <= self.log_start:
            return None
        if self.cursor is None:
            return self.high_watermark - 1
        return min(max(self.cursor, self.log_start), self.high_watermark - 1)

    def action_cursor(self, delta: int) -> None:
        """Move the cursor ``delta`` offsets, scrolling to keep it in view."""
        current = self.cursor_offset
        if current is None:
            return
        self.cursor = min(max(current + delta, self.log_start), self.high_watermark - 1)
        if self.cursor == self.high_watermark - 1 and delta > 0:
            self.cursor = None  # back at the newest: follow new records again
        self._keep_cursor_in_view()
        self.refresh()

    def action_cursor_page(self, direction: int) -> None:
        """Move the cursor a screen up or down."""
        self.action_cursor(direction * max(1, self.size.height - 1))

    def _keep_cursor_in_view(self) -> None:
        offset = self.cursor_offset
        if offset is None:
            return
        row = offset - self.log_start
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= self.scroll_y + self.size.height:
            self.scroll_to(y=row - self.size.height + 1, animate=False, immediate=True)

    def on_focus(self) -> None:
        self.refresh()  # the cursor shows only while focused

    def on_blur(self) -> None:
        self.refresh()

    def action_open_record(self) -> None:
        """Open the record under the cursor whole (the record view)."""
        offset = self.cursor_offset
        if self.topic is None or offset is None:
            return
        self.post_message(RecordChosen(self.topic, self.partition, offset))

    def action_scroll_home(self) -> None:
        """Scroll to the oldest record kept."""
        self.cursor = self.log_start
        self.scroll_home(animate=False, immediate=True)
        self.refresh()

    def action_scroll_end(self) -> None:
        """Scroll to the newest record (and follow new ones)."""
        self.cursor = None
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    # -- drawing ------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """Draw the line for offset ``log_start + scroll_y + y``, reading its page if needed."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        row = scroll_y + y
        base = self.rich_style
        if self.topic is None or row >= self.line_count:
            return Strip.blank(width, base)
        offset = self.log_start + row
        page_no = offset // PAGE_SIZE
        page = self._pages.get(page_no)
        if page is not None and (not page or offset > page[-1].offset):
            # The page was read when the log ended before this offset: read it again.
            self._pages.discard(page_no)
            page = None
        if page is None:
            self._request_page(page_no)
            line = StyledLine(f"{offset:>10}  …", self.get_component_rich_style("partition-log--loading"))
        else:
            line = self._line(page, offset)
        if offset == self.cursor_offset and self.has_focus:
            base = base + self.get_component_rich_style("partition-log--cursor")
        return line.to_strip(scroll_x + width, base).crop(scroll_x, scroll_x + width)

    def _line(self, page: list[LogLine], offset: int) -> StyledLine:
        style = self.get_component_rich_style
        # A page holds one line per offset from its first, gaps included.
        index = offset - page[0].offset
        line = page[index] if 0 <= index < len(page) else None
        if line is None or not line.present:
            return StyledLine(f"{offset:>10}  (removed by compaction)", style("partition-log--gap"))
        drawn = StyledLine(f"{line.offset:>10}", style("partition-log--offset"))
        drawn.append("  ")
        drawn.append(f"{line.key:<{min(KEY_CHARS, 12)}}", style("partition-log--key"))
        drawn.append("  ")
        if line.schema:
            drawn.append(line.schema, style("partition-log--schema"))
            drawn.append(" ")
        drawn.append(line.value, style("partition-log--value"))
        return drawn

    def _request_page(self, page_no: int) -> None:
        if page_no in self._loading:
            return
        self._loading.add(page_no)
        self._load_page(page_no, self._generation)

    @work(group="partition-log-pages")
    async def _load_page(self, page_no: int, generation: int) -> None:
        """Read one page of offsets and redraw the lines it covers."""
        topic, partition = self.topic, self.partition
        first = max(page_no * PAGE_SIZE, self.log_start)
        last = min((page_no + 1) * PAGE_SIZE, self.high_watermark)
        lines: list[LogLine] = []
        try:
            if topic is not None and first < last:
                records, high_watermark = await self._read(topic, partition, first, last - first)
                by_offset = {r.offset: r for r in records}
                # Registry-encoded values are decoded once per page read, as JSON.
                await self._values.load(self._values.wanted(r.value for r in records))
                known_end = min(last, high_watermark)
                if records and _stopped_at_byte_limit(records):
                    known_end = records[-1].offset + 1  # the rest is unread, not removed
                for offset in range(first, known_end):
                    record = by_offset.get(offset)
                    if record is None:
                        lines.append(LogLine(offset, "", "", present=False))
                    else:
                        shown = self._values.decode(record.value, topic)
                        lines.append(LogLine(offset, printable(record.key, KEY_CHARS),
                                             printable(record.value if shown is None else shown.json, VALUE_CHARS),
                                             schema="" if shown is None else shown.tag))
        except KafkaError:
            lines = []  # retention or a deletion overtook the read; the next event redraws
        finally:
            if generation == self._generation:
                self._loading.discard(page_no)
        if generation != self._generation or not lines:
            return
        self._pages.set(page_no, lines)
        self.refresh()

    async def _read(self, topic: str, partition: int, first: int, count: int) -> tuple[list, int]:
        """Records from ``first`` on and the high watermark they were read below."""
        if self.source.cluster is not None:
            result = await self.source.cluster.logs.read(topic, partition, first, max_records=count)
            return result.records, result.high_watermark
        # A real cluster: a fetch returns committed records only; the feed keeps the watermark current.
        return await self.source.read(topic, partition, first, max_records=count), self.high_watermark

    def render_lines_as_text(self) -> list[str]:
        """The visible lines as plain text (what a person reads on screen)."""
        return [self.render_line(y).text for y in range(self.size.height)]


def _stopped_at_byte_limit(records: list) -> bool:
    """Whether a fetch stopped at its byte budget (so offsets after it are unread, not gaps)."""
    size = sum((len(r.key) if r.key else 0) + (len(r.value) if r.value else 0) for r in records)
    return size >= FETCH_MAX_BYTES
