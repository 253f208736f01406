"""``ConnectorsPane``: every Kafka Connect connector, its state, what it has moved and its tables.

Per connector: its name and type, its state and its tasks' states (RUNNING, PAUSED,
FAILED with the first line of the trace, UNASSIGNED when no worker runs it), the records
it has moved (a source's topic records, a sink's committed offsets), its offsets (a
source's last id or timestamp per table, a sink's committed offset per partition) and
the row count of each of its tables: the target table grows as the sink writes.

It rereads after each batch of relevant change-feed events (Connect's internal topics,
the connectors' topics, a sink group's commits), at most a few times a second: a sink
commits after every batch it writes, so the target's count moves live without the pane
polling any table on a timer. ``p`` pauses or resumes the connector under the cursor,
``r`` restarts it with its tasks.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from broker_core import Cluster
from broker_core.connect import ConnectorOverview, ConnectWorker
from broker_core.connect.internal_topics import CONFIG_TOPIC, INTERNAL_TOPICS
from broker_core.errors import KafkaError
from broker_core.events import Event, OffsetsCommitted, RecordsAppended, Resync

from .safe_text import printable

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")
FEED_KINDS = ("records", "offsets_committed", "topic_created", "topic_deleted", "resync")
#: Shortest pause between two rereads (each counts the tables' rows in their databases).
REFRESH_S = 0.25
#: Connectors drawn at most (the rest are counted).
MAX_CONNECTORS = 50
NAME_LIMIT = 60
LINE_LIMIT = 120
STATE_STYLES = {"RUNNING": "bold green", "PAUSED": "bold yellow", "FAILED": "bold red",
                "UNASSIGNED": "bold magenta", "RESTARTING": "bold cyan"}
EMPTY_HINT = ("No connectors yet. Create one with `kplay connect --create FILE.json` and run a worker "
              "(`kplay connect --worker`), or play the demo `connect-pipeline`.")


class ConnectorsPane(VerticalScroll, can_focus=True):
    """Kafka Connect's connectors, live: state, tasks, records moved, offsets, table rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Next", show=False, id="connectors-pane.down"),
        Binding("k", "cursor_up", "Previous", show=False, id="connectors-pane.up"),
        Binding("g", "cursor_first", "First", show=False, id="connectors-pane.first"),
        Binding("G", "cursor_last", "Last", show=False, id="connectors-pane.last"),
        Binding("p", "toggle_pause", "Pause/resume", id="connectors-pane.pause"),
        Binding("r", "restart", "Restart", id="connectors-pane.restart"),
    ]

    def __init__(self, cluster: Cluster, *, base_dir: Path | None = None, empty_hint: str = EMPTY_HINT,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cluster = cluster
        #: What the pane says while there is no connector (where they come from, what runs them).
        self.empty_hint = empty_hint
        #: The Connect API (not a running worker): reads configs, statuses, offsets and tables.
        self.connect = ConnectWorker(cluster, base_dir=base_dir)
        self.connectors: list[ConnectorOverview] = []
        self.cursor = 0
        self.note = ""
        self._topics: set[str] = set(INTERNAL_TOPICS)

    def compose(self) -> ComposeResult:
        yield Static(Text(self.empty_hint, style="italic"), id="connectors-pane-body", markup=False)

    def on_mount(self) -> None:
        self.border_title = "Connectors"
        self._follow_feed()

    async def on_unmount(self) -> None:
        await self.connect.stop()  # closes the database connections it counted rows with

    @work(group="connectors-pane-feed")
    async def _follow_feed(self) -> None:
        """Read once, then again after each batch of relevant events (at most every REFRESH_S)."""
        await self.cluster.start_feed()
        sub = self.cluster.feed.subscribe(*FEED_KINDS)
        try:
            await self.reload()
            while True:
                first = await sub.get()
                batch = [first, *sub.get_nowait()]
                if not any(self._concerns_us(event) for event in batch):
                    continue
                started = time.monotonic()
                await self.reload()
                await asyncio.sleep(max(0.0, REFRESH_S - (time.monotonic() - started)))
        finally:
            sub.close()

    def _concerns_us(self, event: Event) -> bool:
        if isinstance(event, Resync):
            return True
        if isinstance(event, RecordsAppended):
            return event.topic in self._topics
        if isinstance(event, OffsetsCommitted):
            return event.group.startswith("connect-")
        return getattr(event, "topic", None) in self._topics

    async def reload(self) -> None:
        """Reread every connector and redraw."""
        try:
            # Reading Connect's topics creates them; a cluster without connectors is left as it is.
            if CONFIG_TOPIC in await self.cluster.topics.list_topics():
                self.connectors = (await self.connect.describe_connectors())[:MAX_CONNECTORS + 1]
            else:
                self.connectors = []
        except KafkaError as error:
            self.note = f"cannot read the connectors: {error}"
        self._topics = set(INTERNAL_TOPICS) | {t for c in self.connectors for t in c.topics}
        self.cursor = min(self.cursor, max(0, len(self.connectors) - 1))
        self.redraw()

    def redraw(self) -> None:
        """Draw the connectors as they were last read."""
        body = self.query_one("#connectors-pane-body", Static)
        body.update(self._render_connectors())
        self.border_subtitle = f"{len(self.connectors)} connector{'s' if len(self.connectors) != 1 else ''}"

    def _render_connectors(self) -> RenderableType:
        parts: list[RenderableType] = []
        if not self.connectors:
            parts.append(Text(self.empty_hint, style="italic"))
        for index, connector in enumerate(self.connectors[:MAX_CONNECTORS]):
            parts.extend(render_connector(connector, selected=index == self.cursor and self.has_focus))
        if len(self.connectors) > MAX_CONNECTORS:
            parts.append(Text("+ more connectors", style="dim"))
        if self.note:
            parts.append(Text(printable(self.note, LINE_LIMIT), style="yellow"))
        return Group(*parts)

    def on_focus(self) -> None:
        self.redraw()

    def on_blur(self) -> None:
        self.redraw()

    @property
    def selected(self) -> ConnectorOverview | None:
        """The connector under the cursor."""
        return self.connectors[self.cursor] if 0 <= self.cursor < len(self.connectors) else None

    def action_cursor_down(self) -> None:
        """Select the next connector."""
        self.cursor = min(self.cursor + 1, max(0, len(self.connectors) - 1))
        self.redraw()

    def action_cursor_up(self) -> None:
        """Select the previous connector."""
        self.cursor = max(self.cursor - 1, 0)
        self.redraw()

    def action_cursor_first(self) -> None:
        """Select the first connector."""
        self.cursor = 0
        self.redraw()

    def action_cursor_last(self) -> None:
        """Select the last connector."""
        self.cursor = max(0, len(self.connectors) - 1)
        self.redraw()

    async def action_toggle_pause(self) -> None:
        """Pause the connector under the cursor, or resume it if it is paused."""
        connector = self.selected
        if connector is None:
            return
        try:
            if connector.state == "PAUSED":
                await self.connect.resume_connector(connector.name)
                self.note = f"resume of {connector.name} requested"
            else:
                await self.connect.pause_connector(connector.name)
                self.note = f"pause of {connector.name} requested"
        except KafkaError as error:
            self.note = str(error)
        self.redraw()

    async def action_restart(self) -> None:
        """Restart the connector under the cursor and its tasks (from its stored offsets)."""
        connector = self.selected
        if connector is None:
            return
        try:
            await self.connect.restart_connector(connector.name, include_tasks=True)
            self.note = f"restart of {connector.name} requested"
        except KafkaError as error:
            self.note = str(error)
        self.redraw()


def render_connector(connector: ConnectorOverview, *, selected: bool = False) -> list[RenderableType]:
    """A heading, the figures and the tables of one connector; short lines for a narrow pane."""
    heading = Text(no_wrap=True, overflow="ellipsis")
    heading.append("▶ " if selected else "  ", "bold cyan")
    heading.append(printable(connector.name, NAME_LIMIT), "bold reverse" if selected else "bold")
    heading.append(f"  {connector.type}", "dim")
    heading.append(f"  {connector.state}", STATE_STYLES.get(connector.state, "bold"))
    if connector.task_states:
        heading.append("  tasks ", "dim")
        for i, state in enumerate(connector.task_states):
            heading.append(("" if i == 0 else ",") + state, STATE_STYLES.get(state, ""))
    parts: list[RenderableType] = [heading]
    figures = Text(no_wrap=True, overflow="ellipsis")
    figures.append("    copied ", "dim")
    figures.append(f"{connector.records:,}", "bold")
    figures.append(" records", "dim")
    for offset in connector.offsets[:4]:
        figures.append("  offset ", "dim")
        figures.append(printable(offset, LINE_LIMIT))
    parts.append(figures)
    for table, rows in connector.tables:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("    table ", "dim")
        line.append(printable(table, NAME_LIMIT))
        line.append("  ")
        # None: the table is not there yet, or its database cannot be reached.
        line.append("—" if rows is None else f"{rows:,} rows", "dim" if rows is None else "bold green")
        parts.append(line)
    if connector.trace:
        parts.append(Text("    ✗ " + printable(connector.trace.splitlines()[0], LINE_LIMIT), style="red",
                          no_wrap=True, overflow="ellipsis"))
    parts.append(Text(""))
    return parts
