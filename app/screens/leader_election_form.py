"""Elect leaders (``kafka-leader-election``): preferred, or unclean for an offline partition."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Select

from broker_core import Cluster, TopicPartition
from widgets.safe_text import printable

from .admin_form import AdminForm

ALL = -1


class LeaderElectionForm(AdminForm):
    """Run a preferred or unclean election on one partition of ``topic`` or all of them."""

    HINT = "enter elects · escape cancels"

    def __init__(self, cluster: Cluster, topic: str, partitions: int) -> None:
        super().__init__(cluster)
        self.topic = topic
        self.partitions = partitions
        self.TITLE_TEXT = f"Leader election in {printable(topic, 60)}"

    def compose_fields(self) -> ComposeResult:
        yield from self.field_row("Election type", Select([("preferred", "preferred"), ("unclean", "unclean")],
                                                          value="preferred", allow_blank=False, id="type"), "type",
                                  "preferred: back to the first replica. unclean: an offline partition takes a "
                                  "replica outside the ISR (records may be lost).")
        yield from self.field_row("Partitions", Select([("all of the topic", ALL)]
                                                       + [(f"partition {p}", p) for p in range(self.partitions)],
                                                       value=ALL, allow_blank=False, id="partitions"), "partitions")

    def on_mount(self) -> None:
        self.query_one("#type", Select).focus()

    async def submit(self) -> str:
        kind = str(self.query_one("#type", Select).value)
        chosen = int(self.query_one("#partitions", Select).value)  # type: ignore[arg-type]
        numbers = range(self.partitions) if chosen == ALL else [chosen]
        results = await self.cluster.controller.elect_leaders(
            kind, [TopicPartition(self.topic, p) for p in numbers])  # type: ignore[arg-type]
        elected = [str(tp) for tp, error in results.items() if error is None]
        others = [f"{tp}: {error.name}" for tp, error in results.items() if error is not None]
        if not elected:
            raise ValueError("No leader changed — " + "; ".join(others))
        line = f"Successfully completed leader election ({kind.upper()}) for partitions {', '.join(elected)}"
        return line + (f"; {'; '.join(others)}" if others else "")
