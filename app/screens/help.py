"""The help screen: every binding on the screen, grouped by pane, with the ids used to remap keys."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..commands_palette import BoundAction


#: Narrower than this, a binding's id goes under its description instead of in its own column.
ID_COLUMN_MIN_WIDTH = 90


class KeyTable:
    """The keys, grouped by pane, laid out for the width it is drawn in (a Rich renderable):
    three columns when wide, the binding id under the description when narrow. Words wrap whole."""

    def __init__(self, sections: list[tuple[str, list[BoundAction]]]) -> None:
        self.sections = sections

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= ID_COLUMN_MIN_WIDTH
        for pane, actions in self.sections:
            yield Text(pane, style="bold underline")
            table = Table(box=None, show_header=False, expand=True, pad_edge=False)
            table.add_column("Key", no_wrap=True, width=18 if wide else 12)
            table.add_column("Does", ratio=3)
            if wide:
                table.add_column("Binding id (for keys.toml)", style="dim", ratio=2, no_wrap=True)
            for action in actions:
                key = Text(action.keys or "-", style="bold", overflow="fold")
                if wide:
                    table.add_row(key, Text(action.description), Text(action.binding.id or ""))
                else:
                    does = Text(action.description)
                    if action.binding.id:
                        does.append(f"  {action.binding.id}", style="dim")
                    table.add_row(key, does)
            yield table
            yield Text("")
        yield Text("Each line: key, what it does, " + ("and " if wide else "then ")
                   + "the binding id that keys.toml remaps.", style="dim")


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
        table = KeyTable(self.sections)
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
