"""Asks before a topic is deleted: deleting removes every record and committed offset for it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.safe_text import printable


class ConfirmDeleteScreen(ModalScreen[bool]):
    """"Delete topic T?" -- dismisses with True (y) or False (n, escape)."""

    CSS_PATH = "confirm_delete.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Delete", id="confirm-delete.yes"),
        Binding("n,escape", "cancel", "Keep it", id="confirm-delete.no"),
    ]

    def __init__(self, topic: str, records: int) -> None:
        super().__init__()
        self.topic = topic
        self.records = records

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Delete topic ", style="bold")
        text.append(printable(self.topic, 80), style="bold")
        text.append("?\n\n")
        text.append(f"Its {self.records:,} record{'s' if self.records != 1 else ''} and every group's "
                    "committed offsets for it are removed. This cannot be undone.\n\n")
        text.append(" y ", style="bold reverse")
        text.append(" delete    ")
        text.append(" n ", style="bold reverse")
        text.append(" keep it")
        with Vertical(id="confirm-delete"):
            yield Static(text, id="confirm-delete-text")

    def action_confirm(self) -> None:
        """Delete."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Keep the topic."""
        self.dismiss(False)
