"""Add partitions to a topic (``kafka-topics --alter --partitions N``): partitions only grow."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input

from broker_core import Cluster
from broker_core.errors import KafkaError
from broker_core.topics import validate_partition_increase
from widgets.safe_text import printable

from .admin_form import AdminForm, whole_number


class AddPartitionsForm(AdminForm):
    """Grow ``topic`` from ``current`` partitions to the total typed."""

    TITLE_TEXT = "Add partitions"

    def __init__(self, cluster: Cluster, topic: str, current: int) -> None:
        super().__init__(cluster)
        self.topic = topic
        self.current = current
        self.TITLE_TEXT = f"Add partitions to {printable(topic, 60)} (now {current})"

    def compose_fields(self) -> ComposeResult:
        yield from self.field_row("Partitions (total)", Input(str(self.current + 1), id="partitions", type="integer"),
                                  "partitions", "Keyed records may map to other partitions afterwards.")

    def on_mount(self) -> None:
        self.query_one("#partitions", Input).focus()

    @on(Input.Changed, "#partitions")
    def _check(self, event: Input.Changed) -> None:
        try:
            validate_partition_increase(self.current, whole_number("Partitions", event.value))
        except (KafkaError, ValueError) as error:
            self.show_field_error("partitions", f"{getattr(error, 'name', 'Error')}: {error}"
                                  if isinstance(error, KafkaError) else str(error))
            return
        self.show_note("partitions", "Keyed records may map to other partitions afterwards.")

    async def submit(self) -> str:
        total = whole_number("Partitions", self.value("partitions"))
        await self.cluster.topics.create_partitions(self.topic, total)
        return f"{self.topic} now has {total} partitions."
