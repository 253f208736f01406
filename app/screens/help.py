"""The help screen: every binding on the screen, grouped by pane, with the ids used to remap keys."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..commands_palette import BoundAction


class HelpScreen(ModalScreen[None]):
    """Lists every key of the app, the main screen and each pane; escape or ? closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
        Binding("j", "scroll_down", "Down", show=False, id="help.down"),
        Binding("k", "scroll_up", "Up", show=False, id="help.up"),
        Binding("g", "scroll_home", "Top", show=False, id="help.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="help.bottom"),
    ]

    def __init__(self, sections: list[tuple[str, list[BoundAction]]], keymap_path: Path | None = None) -> None:
        super().__init__()
        self.sections = sections
        self.keymap_path = keymap_path

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True, pad_edge=False)
        table.add_column("Key", no_wrap=True, width=18)
        table.add_column("Does", ratio=3)
        table.add_column("Binding id (for keys.toml)", style="dim", ratio=2, no_wrap=True)
        for pane, actions in self.sections:
            table.add_row(Text(pane, style="bold underline"), Text(""), Text(""))
            for action in actions:
                table.add_row(Text(action.keys or "-", style="bold"), Text(action.description),
                              Text(action.binding.id or ""))
            table.add_row(Text(""), Text(""), Text(""))
        where = str(self.keymap_path) if self.keymap_path else "keys.toml in kplay's config directory"
        note = Text.assemble(("Remap any key in ", "dim"), (where, "italic"),
                             (' under [keys], e.g.  "topic.new" = "c"', "dim"))
        with VerticalScroll(id="help") as scroll:
            scroll.border_title = "Keys"
            yield Static(table, id="help-table")
            yield Static(note, id="help-note")

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        """Scroll down a line."""
        self.query_one("#help", VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        """Scroll up a line."""
        self.query_one("#help", VerticalScroll).scroll_up()

    def action_scroll_home(self) -> None:
        """Scroll to the top."""
        self.query_one("#help", VerticalScroll).scroll_home()

    def action_scroll_end(self) -> None:
        """Scroll to the bottom."""
        self.query_one("#help", VerticalScroll).scroll_end()
