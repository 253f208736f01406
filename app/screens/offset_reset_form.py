"""Reset a consumer group's offsets (``kafka-consumer-groups --reset-offsets``), dry run first.

Enter shows the plan, the NEW-OFFSET table the tool prints for ``--dry-run``; ctrl+s
executes it (``--execute``), only once the table shows what the fields say. As in Kafka
only an inactive group can be reset: a group with members says so.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Select

from broker_core import Cluster
from broker_core.offset_reset import RESET_SCENARIOS, PlannedOffset, plan_offset_reset
from widgets.safe_text import printable

from .admin_form import AdminForm, whole_number
from .find_records import parse_timestamp

PLACEHOLDERS = {"to-earliest": "(no value)", "to-latest": "(no value)", "to-offset": "an offset",
                "to-datetime": "2026-01-01T10:00:00 (UTC) or ms", "shift-by": "N (negative goes back)"}


class OffsetResetForm(AdminForm):
    """Plan, show and execute an offset reset of ``group`` on ``topic``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Execute", id="offset-reset.execute"),
    ]
    TITLE_TEXT = "Reset a group's offsets (kafka-consumer-groups --reset-offsets)"
    HINT = "enter: dry run (the NEW-OFFSET table) · ctrl+s: execute it · escape cancels"

    def __init__(self, cluster: Cluster, group: str = "", topic: str = "") -> None:
        super().__init__(cluster)
        self.group = group
        self.topic = topic
        #: The inputs of the plan on show, and the plan (execute applies only this).
        self.planned_for: tuple | None = None
        self.plan: list[PlannedOffset] = []

    def compose_fields(self) -> ComposeResult:
        yield from self.field_row("Group", Input(self.group, placeholder="group id", id="group"), "group")
        yield from self.field_row("Topic", Input(self.topic, placeholder="topic", id="topic"), "topic")
        yield from self.field_row("Reset", Select([(s, s) for s in RESET_SCENARIOS], value="to-earliest",
                                                  allow_blank=False, id="scenario"), "scenario")
        yield from self.field_row("Value", Input(placeholder=PLACEHOLDERS["to-earliest"], id="value"), "value")

    def compose_extra(self) -> ComposeResult:
        table: DataTable = DataTable(id="plan", cursor_type="row", classes="admin-form-preview")
        table.add_columns("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET")
        yield table

    def on_mount(self) -> None:
        self.query_one("#group" if not self.group else "#scenario").focus()

    @on(Select.Changed, "#scenario")
    def _scenario(self, event: Select.Changed) -> None:
        self.query_one("#value", Input).placeholder = PLACEHOLDERS[str(event.value)]

    def _inputs(self) -> tuple:
        return (self.value("group").strip(), self.value("topic").strip(),
                str(self.query_one("#scenario", Select).value), self.value("value").strip())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.planned_for = None  # Enter always shows the plan again
        self.action_submit()

    async def _make_plan(self) -> None:
        group, topic, scenario, raw = self._inputs()
        if not group or not topic:
            raise ValueError("Type the group and the topic.")
        value = None
        if scenario == "to-datetime":
            value = parse_timestamp(raw)
        elif scenario in ("to-offset", "shift-by"):
            value = whole_number("The value", raw)
        plan = await plan_offset_reset(self.cluster.groups, self.cluster.logs, group, topic,
                                       scenario, value)  # type: ignore[arg-type]
        table = self.query_one("#plan", DataTable)
        table.clear()
        for row in plan:
            table.add_row(Text(printable(group, 30)), Text(printable(topic, 30)), str(row.partition.partition),
                          "-" if row.current is None else str(row.current), str(row.new))
        notes = [row.note for row in plan if row.note]
        self.plan = plan
        self.planned_for = (group, topic, scenario, raw)
        self.show_note("value", ("WARN " + notes[0] + (f" (+{len(notes) - 1} more)" if len(notes) > 1 else ""))
                       if notes else "Dry run: nothing changed yet. ctrl+s executes this plan.")

    async def submit(self) -> str | None:
        if self.planned_for != self._inputs():
            await self._make_plan()
            return None
        group = self.planned_for[0]
        await self.cluster.groups.reset_offsets(group, {row.partition: row.new for row in self.plan})
        return f"Offsets of group {group} reset on {len(self.plan)} partition{'s' if len(self.plan) != 1 else ''}."
