"""Asks before a topic is deleted: deleting removes every record and committed offset for it.

On the playground ``y`` deletes. On a real cluster (``type_name``) the topic's name must be
typed back, as a slip of one key there loses someone's data, not a playground's.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from widgets.safe_text import printable


class ConfirmDeleteScreen(ModalScreen[bool]):
    """"Delete topic T?" -- dismisses with True (y, or the name typed back) or False (n, escape)."""

    CSS_PATH = "confirm_delete.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Delete", id="confirm-delete.yes"),
        Binding("n,escape", "cancel", "Keep it", id="confirm-delete.no"),
    ]

    def __init__(self, topic: str, records: int, *, type_name: bool = False, cluster_name: str = "") -> None:
        super().__init__()
        self.topic = topic
        self.records = records
        #: A real cluster: the name must be typed back (y alone does nothing).
        self.type_name = type_name
        self.cluster_name = cluster_name

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Delete topic ", style="bold")
        text.append(printable(self.topic, 80), style="bold")
        if self.cluster_name:
            text.append(" on cluster ", style="bold")
            text.append(printable(self.cluster_name, 80), style="bold")
        text.append("?\n\n")
        text.append(f"Its {self.records:,} record{'s' if self.records != 1 else ''} and every group's "
                    "committed offsets for it are removed. This cannot be undone.\n\n")
        if self.type_name:
            text.append("Type the topic's name and press enter to delete;  ")
            text.append(" esc ", style="bold reverse")
            text.append(" keep it")
        else:
            text.append(" y ", style="bold reverse")
            text.append(" delete    ")
            text.append(" n ", style="bold reverse")
            text.append(" keep it")
        with Vertical(id="confirm-delete"):
            yield Static(text, id="confirm-delete-text")
            if self.type_name:
                yield Input(placeholder="the topic's name", id="confirm-delete-name")
                yield Static(id="confirm-delete-error", markup=False)

    def on_mount(self) -> None:
        if self.type_name:
            self.query_one("#confirm-delete-name", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """With the name to type back, y deletes nothing (in the field, y and n are letters of the name)."""
        if self.type_name and action == "confirm":
            return False
        return True

    @on(Input.Submitted, "#confirm-delete-name")
    def _name_typed(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == self.topic:
            self.dismiss(True)
        else:
            self.query_one("#confirm-delete-error", Static).update(
                Text(f"That is not the topic's name ({printable(self.topic, 60)}): nothing was deleted.",
                     style="bold red"))

    def action_confirm(self) -> None:
        """Delete."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Keep the topic."""
        self.dismiss(False)
