"""The record view: one record, whole, on a screen of its own.

Enter on a record (a partition's log, a consumer view, a search result) opens it: where it
is (topic, partition, offset, leader epoch), its timestamp as a date with its type, its key
and value with their sizes (JSON pretty-printed, Avro decoded through the Schema Registry,
binary as a hex dump) and every header. The record is read again from the data file, so
what shows is the record as stored, not what a view cut down to a line. It scrolls, and
``y`` / ``Y`` copy the value / the whole record to the clipboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from broker_core.errors import KafkaError
from broker_core.records import ConsumerRecord, TopicPartition
from widgets.record_text import RecordSection, record_sections, sections_as_text
from widgets.safe_text import printable
from widgets.schema_values import SchemaValues

from ..backends import Backend


class RecordViewScreen(ModalScreen[None]):
    """Shows ``topic``-``partition`` at ``offset`` whole; Escape closes it."""

    CSS_PATH = str(Path(__file__).with_suffix(".tcss"))  # absolute: subclasses elsewhere find it too
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="record-view.close"),
        Binding("y", "copy_value", "Copy value", id="record-view.copy-value"),
        Binding("Y", "copy_record", "Copy record", id="record-view.copy-record"),
        Binding("right_square_bracket", "step(1)", "Next", id="record-view.next"),
        Binding("left_square_bracket", "step(-1)", "Previous", id="record-view.previous"),
        Binding("j", "scroll(1)", "Down", show=False, id="record-view.down"),
        Binding("k", "scroll(-1)", "Up", show=False, id="record-view.up"),
    ]

    def __init__(self, backend: Backend, topic: str, partition: int, offset: int) -> None:
        super().__init__()
        self.backend = backend
        self.topic = topic
        self.partition = partition
        self.record_offset = offset
        #: The record shown (None until read, or when the offset holds none).
        self.record: ConsumerRecord | None = None
        self.sections: list[RecordSection] = []
        self._values = SchemaValues(backend.cluster.schemas if backend.cluster is not None else None)

    def compose(self) -> ComposeResult:
        with Vertical(id="record-view"):
            yield Static(id="record-view-status", markup=False)
            yield VerticalScroll(id="record-view-body", can_focus=True)
        yield Footer()

    def on_mount(self) -> None:
        self._set_title()
        self.query_one("#record-view-body").focus()
        self._load()

    def _set_title(self) -> None:
        title = Text(f"{printable(self.topic, 60)}-{self.partition} @ {self.record_offset:,}")
        self.query_one("#record-view", Vertical).border_title = title

    @work(exclusive=True, group="record-view-load")
    async def _load(self) -> None:
        """Read the record (and its partition's epoch, its schemas), then draw it."""
        status = self.query_one("#record-view-status", Static)
        try:
            tp = TopicPartition(self.topic, self.partition)
            records = await self.backend.read(self.topic, self.partition, self.record_offset, max_records=1)
            marks = (await self.backend.watermarks([tp]))[tp]
            description = await self.backend.describe_topic(self.topic)
        except KafkaError as error:
            self._show_missing(f"{error.name}: {printable(str(error), 300)}")
            return
        record = records[0] if records else None
        if record is None or record.offset != self.record_offset:
            if self.record_offset >= marks.high_watermark:
                why = (f"Offset {self.record_offset:,} is past the end of the log: the high watermark is "
                       f"{marks.high_watermark:,}, so the last record is at {marks.high_watermark - 1:,}.")
            else:
                why = f"Offset {self.record_offset:,} was removed by compaction."
            self._show_missing(why)
            return
        await self._values.load(self._values.wanted((record.key, record.value)))
        epoch = next((p.leader_epoch for p in description.partitions if p.partition == self.partition), None)
        self.record = record
        self.sections = record_sections(record, leader_epoch=epoch,
                                        key=self._values.decode(record.key, self.topic, is_key=True),
                                        value=self._values.decode(record.value, self.topic))
        status.update(Text(f"the log holds offsets {marks.log_start_offset:,}–{marks.high_watermark - 1:,}  ·  "
                           "y copy value  Y copy record  [ ] previous/next"))
        await self._draw()

    def _show_missing(self, why: str) -> None:
        self.record = None
        self.sections = []
        self.query_one("#record-view-status", Static).update(Text(why))
        self.query_one("#record-view-body", VerticalScroll).remove_children()

    async def _draw(self) -> None:
        body = self.query_one("#record-view-body", VerticalScroll)
        await body.remove_children()
        widgets = []
        for section in self.sections:
            widgets.append(Static(Text(section.title), classes="record-view-heading", markup=False))
            # A Text, never a markup string: the lines hold untrusted bytes (already escaped).
            widgets.append(Static(Text("\n".join(section.lines)), classes="record-view-lines", markup=False))
        await body.mount_all(widgets)
        body.scroll_home(animate=False)

    def action_close(self) -> None:
        """Back to where the record was opened."""
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        """Scroll the record by ``lines``."""
        body = self.query_one("#record-view-body", VerticalScroll)
        body.scroll_relative(y=lines, animate=False)

    def action_step(self, delta: int) -> None:
        """Show the next (``1``) or previous (``-1``) offset of the partition."""
        self.record_offset = max(0, self.record_offset + delta)
        self._set_title()
        self._load()

    def action_copy_value(self) -> None:
        """Copy the value, as shown (JSON pretty-printed, binary as hex), to the clipboard."""
        value = next((s for s in self.sections if s.title.startswith("Value")), None)
        if value is None:
            self.notify("No record to copy.", severity="warning")
            return
        self.app.copy_to_clipboard("\n".join(value.lines) + "\n")
        self.notify("Value copied to the clipboard.")

    def action_copy_record(self) -> None:
        """Copy the whole record, as shown, to the clipboard."""
        if not self.sections:
            self.notify("No record to copy.", severity="warning")
            return
        self.app.copy_to_clipboard(sections_as_text(self.sections))
        self.notify("Record copied to the clipboard.")
