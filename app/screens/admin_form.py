"""``AdminForm``: the frame every admin form shares: fields, inline errors, a preview, a result.

A form is a modal dialog driven from the keyboard: Tab moves between fields, Enter (or
ctrl+s) submits, Escape cancels. Each field is checked as it is typed by the broker core's
own rules, and what only the data file can say comes back from the core on submit and is
shown inline, in Kafka's words (never a traceback). A form dismisses with a one-line
summary of what it did, which the main screen shows as a notification.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from broker_core import Cluster
from broker_core.errors import KafkaError
from widgets.safe_text import printable

#: Longest error line drawn.
ERROR_LIMIT = 200


class AdminForm(ModalScreen[str | None]):
    """Subclasses set ``TITLE_TEXT`` and ``HINT``, yield their fields in ``compose_fields`` and
    do the work in ``submit`` (raising KafkaError or ValueError to show a problem inline)."""

    CSS_PATH = str(Path(__file__).with_suffix(".tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="admin-form.cancel"),
        Binding("ctrl+s", "submit", "Apply", id="admin-form.submit"),
    ]
    TITLE_TEXT = "Admin"
    HINT = "enter applies · escape cancels · tab moves between fields"

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="admin-form"):
            yield Static(Text(self.TITLE_TEXT, style="bold"), classes="admin-form-title")
            with Grid(classes="admin-form-fields"):
                yield from self.compose_fields()
            yield from self.compose_extra()
            yield Label("", id="form-error", markup=False)
            yield Static(Text(self.HINT, style="dim"), classes="admin-form-hint")

    def compose_fields(self) -> ComposeResult:
        """The form's label / field / error rows (three widgets a row)."""
        yield from ()

    def compose_extra(self) -> ComposeResult:
        """Anything below the fields (a preview table)."""
        yield from ()

    @staticmethod
    def field_row(label: str, widget, field_id: str, note: str = "") -> ComposeResult:
        """A row: its label, the widget, and the line under it (errors, or ``note`` dimmed)."""
        yield Label(label, classes="field-label")
        yield widget
        yield Label(Text(note, style="dim"), id=f"{field_id}-error", classes="field-error")

    def show_field_error(self, field_id: str, message: str) -> None:
        """Show ``message`` under field ``field_id`` ("" clears it)."""
        self.query_one(f"#{field_id}-error", Label).update(Text(printable(message, ERROR_LIMIT), style="bold red"))

    def show_note(self, field_id: str, message: str) -> None:
        """Show a dim note under field ``field_id``."""
        self.query_one(f"#{field_id}-error", Label).update(Text(printable(message, ERROR_LIMIT), style="dim"))

    def show_error(self, message: str) -> None:
        """Show a problem under the whole form ("" clears it)."""
        self.query_one("#form-error", Label).update(Text(printable(message, ERROR_LIMIT), style="bold red"))

    @property
    def error_text(self) -> str:
        """The form's error line as plain text."""
        return str(self.query_one("#form-error", Label).render())

    def value(self, field_id: str) -> str:
        """The text typed in Input ``field_id``."""
        return self.query_one(f"#{field_id}", Input).value

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        """Apply the form (once at a time)."""
        if self._busy:
            return
        self._busy = True
        self.show_error("")
        self._run_submit()

    @work(exclusive=True, group="admin-form-submit")
    async def _run_submit(self) -> None:
        try:
            summary = await self.submit()
        except KafkaError as error:
            self.show_error(f"{error.name}: {error}")
            self.app.bell()
        except ValueError as error:
            self.show_error(str(error))
            self.app.bell()
        else:
            if summary is not None:
                self.dismiss(summary)
        finally:
            self._busy = False

    async def submit(self) -> str | None:
        """Do the work; return the summary to dismiss with (None: stay open, e.g. after a preview)."""
        raise NotImplementedError

    def action_cancel(self) -> None:
        """Close the form without changing anything."""
        self.dismiss(None)


def whole_number(what: str, raw: str) -> int:
    """``raw`` as an int; ValueError naming ``what`` otherwise."""
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"{what} must be a whole number, not '{printable(raw, 40)}'") from None
