"""The pipeline screen: Kafka Connect's connectors and the Schema Registry, side by side.

The tutorial's second half moves database rows through Kafka with connectors, and keeps
the messages small with Avro schemas in a registry. This screen shows that pipeline: on
the left every connector with its state, the records it moved, its offsets and its
tables' row counts; on the right the registry's subjects, versions and the schema under
the cursor. A line on top says what runs where: the playground's own Connect worker and,
with ``kplay --serve``, the Schema Registry and Connect REST addresses. ``C`` or escape
goes back to the main screen, which keeps running underneath.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from broker_core import Cluster
from widgets import connectors_pane, schema_pane
from widgets.connectors_pane import ConnectorsPane
from widgets.safe_text import printable
from widgets.schema_pane import SchemaPane

from ..playground_connect import PlaygroundConnect

#: The connectors pane's hint while the playground's own worker waits for connectors.
EMPTY_HINT_WITH_WORKER = ("No connectors yet. Create one from another terminal with `kplay connect --create FILE.json` "
                          "(or POST it to the Connect REST API of `kplay --serve`): the playground runs it, here. "
                          "Or play the demo `connect-pipeline`.")
#: How often the status line rereads the worker's state (in memory: no table is read).
STATUS_INTERVAL_S = 0.5
#: Below this many columns the connectors and schemas panes are stacked, not side by side.
STACKED_BELOW_COLUMNS = 110


class PipelineScreen(Screen[None]):
    """Connectors and schemas: the database pipeline of the tutorial, live."""

    CSS_PATH = ["pipeline.tcss", connectors_pane.CSS_FILE, schema_pane.CSS_FILE]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("C,escape", "back", "Main screen", id="pipeline.back"),
        Binding("1", "focus_pane('connectors')", "Focus connectors", show=False, id="pipeline.focus-connectors"),
        Binding("2", "focus_pane('schemas')", "Focus schemas", show=False, id="pipeline.focus-schemas"),
    ]

    def __init__(self, cluster: Cluster, *, connect: PlaygroundConnect | None = None,
                 serving: list[str] | None = None, base_dir: Path | None = None) -> None:
        super().__init__()
        self.cluster = cluster
        #: The playground's Connect worker, whose state the status line shows (None: no worker here).
        self.connect = connect
        #: ``kplay --serve``'s addresses, one line each (None when not serving).
        self.serving = serving
        self.base_dir = base_dir if base_dir is not None else (connect.base_dir if connect else None)

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")  # Textual's default icon is missing from common fonts
        yield Static(id="pipeline-status", markup=False)
        with Horizontal(id="pipeline-panes"):
            if self.connect is not None:
                yield ConnectorsPane(self.cluster, base_dir=self.base_dir, empty_hint=EMPTY_HINT_WITH_WORKER,
                                     id="connectors")
            else:
                yield ConnectorsPane(self.cluster, base_dir=self.base_dir, id="connectors")
            yield SchemaPane(self.cluster, id="schemas")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        # Side by side the connectors pane needs the width the schemas keep; narrower, stack them.
        self.set_class(event.size.width < STACKED_BELOW_COLUMNS, "-stacked")

    def on_mount(self) -> None:
        self.set_class(self.size.width < STACKED_BELOW_COLUMNS, "-stacked")
        self.sub_title = f"{self.cluster.path} · connectors and schemas"
        self._show_status()
        self.set_interval(STATUS_INTERVAL_S, self._show_status, name="pipeline-status")
        self.query_one(ConnectorsPane).focus()

    def status_text(self) -> Text:
        """What runs where: the Connect worker's state, and the REST APIs when serving."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.connect is None:
            text.append("No Connect worker in this process (a lesson runs its own); "
                        "run `kplay connect --worker` to run connectors.", "dim")
        else:
            text.append(printable(self.connect.describe(), 150), "bold" if self.connect.running else "dim")
        rest = [line for line in self.serving or () if line.startswith(("Schema Registry", "Kafka Connect"))]
        text.append("\n")
        if rest:
            text.append("REST  ", "dim")
            text.append(printable("   ".join(rest), 150), "cyan")
        else:
            text.append("REST APIs: start with `kplay --serve` (or `kplay serve`) for curl and real "
                        "Schema Registry clients.", "dim")
        return text

    def _show_status(self) -> None:
        status = self.query_one("#pipeline-status", Static)
        text = self.status_text()
        if status.content != text:
            status.update(text)

    def action_back(self) -> None:
        """Go back to the main screen."""
        self.dismiss()

    def action_focus_pane(self, pane: str) -> None:
        """Move the focus into the connectors or the schemas pane."""
        if pane == "connectors":
            self.query_one(ConnectorsPane).focus()
        else:
            self.query_one(SchemaPane).query_one("#schema-pane-tree").focus()
