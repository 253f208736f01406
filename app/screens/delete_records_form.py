"""Delete a partition's records below an offset (``kafka-delete-records``): the log start moves up."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Input, Select

from broker_core import Cluster
from broker_core.delete_records import HIGH_WATERMARK, delete_records
from broker_core.topics import PartitionDescription
from widgets.safe_text import printable

from .admin_form import AdminForm, whole_number


class DeleteRecordsForm(AdminForm):
    """Delete the records of ``topic``'s chosen partition below the offset typed (-1: all)."""

    def __init__(self, cluster: Cluster, topic: str, partitions: list[PartitionDescription], partition: int = 0) -> None:
        super().__init__(cluster)
        self.topic = topic
        self.partitions = {p.partition: p for p in partitions}
        self.partition = partition
        self.TITLE_TEXT = f"Delete records of {printable(topic, 60)} (kafka-delete-records)"

    def compose_fields(self) -> ComposeResult:
        yield from self.field_row("Partition", Select([(f"partition {p}", p) for p in self.partitions],
                                                      value=self.partition, allow_blank=False, id="partition"),
                                  "partition")
        yield from self.field_row("Before offset", Input("-1", id="offset"), "offset")

    def on_mount(self) -> None:
        self.query_one("#offset", Input).focus()
        self._explain()

    @on(Select.Changed, "#partition")
    @on(Input.Changed, "#offset")
    def _explain(self) -> None:
        p = self.partitions[int(self.query_one("#partition", Select).value)]  # type: ignore[arg-type]
        self.show_note("partition", f"log start {p.log_start_offset:,}, high watermark {p.high_watermark:,}")
        try:
            offset = whole_number("The offset", self.value("offset"))
        except ValueError as error:
            self.show_field_error("offset", str(error))
            return
        wanted = p.high_watermark if offset == HIGH_WATERMARK else offset
        if wanted < 0:
            self.show_field_error("offset", f"OFFSET_OUT_OF_RANGE: The offset {wanted} is not valid (-1 means "
                                            "the high watermark)")
        elif wanted > p.high_watermark:
            self.show_field_error("offset", f"OFFSET_OUT_OF_RANGE: {wanted:,} is larger than the high watermark "
                                            f"{p.high_watermark:,}")
        elif wanted <= p.log_start_offset:
            self.show_note("offset", "Nothing to delete: the log already starts there.")
        else:
            self.show_note("offset", f"Deletes offsets {p.log_start_offset:,}–{wanted - 1:,}: the log will start "
                                     f"at {wanted:,}. Consumers below it reset (auto.offset.reset).")

    async def submit(self) -> str:
        partition = int(self.query_one("#partition", Select).value)  # type: ignore[arg-type]
        offset = whole_number("The offset", self.value("offset"))
        starts = await delete_records(self.cluster.storage, self.cluster.clock, self.topic, {partition: offset})
        return f"{self.topic}-{partition}: records deleted, the log now starts at {starts[partition]:,} (low watermark)."
