"""A topic's configs, every one the core knows, with defaults and overrides (``kafka-configs --describe --all``),
editable from the keyboard (``kafka-configs --alter --add-config / --delete-config``).

The table lists each config's value and where it comes from (an override on the topic, or
the default); Enter on a row puts its value in the editor, checked as it is typed by the
core's own ConfigDef rules; Enter there sets it; ctrl+d removes the override (back to the
default). The form stays open for the next change; Escape closes it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Label

from broker_core import Cluster
from broker_core.config import TOPIC_CONFIGS, describe_topic_config
from broker_core.errors import KafkaError
from widgets.safe_text import printable

from .admin_form import AdminForm

SOURCES = {"DYNAMIC_TOPIC_CONFIG": "override", "DEFAULT_CONFIG": "default"}


class TopicConfigsForm(AdminForm):
    """Every config of ``topic``: its value, its source and its default; edit one at a time."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+d", "delete_override", "Back to default", id="topic-configs.delete"),
    ]
    HINT = "enter on a row edits it · enter in the editor sets it · ctrl+d back to the default · escape closes"

    def __init__(self, cluster: Cluster, topic: str) -> None:
        super().__init__(cluster)
        self.topic = topic
        self.TITLE_TEXT = f"Configs of {printable(topic, 60)} (kafka-configs --describe --all)"
        #: The config being edited (the row chosen last).
        self.editing: str | None = None
        self.overrides: dict[str, object] = {}

    def compose_fields(self) -> ComposeResult:
        yield from self.field_row("Value", Input(placeholder="choose a config in the table", id="config-value"),
                                  "config-value")

    def compose_extra(self) -> ComposeResult:
        table: DataTable = DataTable(id="configs", cursor_type="row", classes="admin-form-preview")
        table.add_columns("NAME", "VALUE", "SOURCE", "DEFAULT")
        yield table

    def on_mount(self) -> None:
        self.query_one("#configs", DataTable).focus()
        self._load()

    @work(exclusive=True, group="topic-configs-load")
    async def _load(self) -> None:
        try:
            description = await self.cluster.topics.describe_topic(self.topic)
        except KafkaError as error:
            self.show_error(f"{error.name}: {error}")
            return
        self.overrides = dict(description.config)
        table = self.query_one("#configs", DataTable)
        row = table.cursor_row
        table.clear()
        for entry in describe_topic_config(self.overrides):
            table.add_row(entry.name, Text(printable(entry.value, 60)), SOURCES.get(entry.source, entry.source),
                          Text(printable(TOPIC_CONFIGS[entry.name].default_text(), 40)), key=entry.name)
        if row:
            table.move_cursor(row=min(row, table.row_count - 1))

    @on(DataTable.RowSelected, "#configs")
    def _edit(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        self.editing = name
        key = TOPIC_CONFIGS[name]
        field = self.query_one("#config-value", Input)
        self.query_one(".field-label", Label).update(printable(name, 40))
        current = self.overrides.get(name, key.default)
        field.value = "" if current is None else str(current).lower() if isinstance(current, bool) else str(current)
        self.show_note("config-value", key.doc[:160])
        field.focus()

    @on(Input.Changed, "#config-value")
    def _check(self, event: Input.Changed) -> None:
        if self.editing is None:
            return
        try:
            TOPIC_CONFIGS[self.editing].parse(event.value)
        except KafkaError as error:
            self.show_field_error("config-value", str(error))
            return
        self.show_note("config-value", TOPIC_CONFIGS[self.editing].doc[:160])

    async def submit(self) -> None:
        if self.editing is None:
            raise ValueError("Choose a config in the table first (Enter on its row).")
        value = self.value("config-value")
        await self.cluster.topics.alter_config(self.topic, {self.editing: value})
        self.show_note("config-value", f"Set {self.editing}={printable(value, 60)} (an override now).")
        self._load()
        self.query_one("#configs", DataTable).focus()
        return None

    def action_delete_override(self) -> None:
        """Remove the override of the config under the cursor: it takes its default again."""
        table = self.query_one("#configs", DataTable)
        if table.row_count == 0:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self._delete(name)

    @work(exclusive=True, group="topic-configs-delete")
    async def _delete(self, name: str) -> None:
        if name not in self.overrides:
            self.show_error(f"{name} has no override: it already has its default.")
            return
        try:
            await self.cluster.topics.alter_config(self.topic, delete=[name])
        except KafkaError as error:
            self.show_error(f"{error.name}: {error}")
            return
        self.show_error("")
        self.show_note("config-value", f"Deleted the override of {name}: back to its default.")
        self._load()
