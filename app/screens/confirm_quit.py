"""Asks before quitting while consumer views run: quitting closes them (their positions are lost)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuitScreen(ModalScreen[bool]):
    """"Quit and close N consumers?" -- dismisses with True (y, q, ctrl+c) or False (n, escape)."""

    CSS_PATH = "confirm_quit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,q,ctrl+c", "confirm", "Quit", id="confirm-quit.yes"),
        Binding("n,escape", "cancel", "Stay", id="confirm-quit.no"),
    ]

    def __init__(self, consumers: int, groups: int) -> None:
        super().__init__()
        self.consumers = consumers
        self.groups = groups

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(f"Quit and close {self.consumers} consumer{'s' if self.consumers != 1 else ''}?", style="bold")
        text.append("\n\n")
        if self.consumers > self.groups:
            text.append("Standalone consumers' positions are lost. ")
        if self.groups:
            text.append("Group members leave their groups (a rebalance); "
                        "what they committed stays in the data file. ")
        text.append("Topics and records stay.\n\n")
        text.append(" y ", style="bold reverse")
        text.append(" quit    ")
        text.append(" n ", style="bold reverse")
        text.append(" stay")
        with Vertical(id="confirm-quit"):
            yield Static(text, id="confirm-quit-text")

    def action_confirm(self) -> None:
        """Quit."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Stay in the playground."""
        self.dismiss(False)
