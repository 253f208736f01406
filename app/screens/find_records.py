"""Find records in a partition or a whole topic, and open what is found in the record view.

By offset (the record there, or where the log really is when it has none), by timestamp
(Kafka's offsets-for-times: per partition, the first record at or after a date), by key
(exact), or by text or a regular expression over keys, values and headers. Scans run in a
worker, a chunk of offsets per query on the database thread, with a live counter and a
progress bar; Escape cancels a running scan (and closes the screen otherwise).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Footer, Input, Label, OptionList, ProgressBar, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from broker_core import Cluster
from broker_core.errors import KafkaError
from broker_core.record_search import SEARCH_FIELDS, RecordSearch, SearchMatch, SearchQuery
from widgets.record_text import format_timestamp
from widgets.safe_text import printable

from ..backends import EmbeddedBackend
from .record_view import RecordViewScreen

#: (value, label) of the "By" choices.
MODES = (("text", "text in key/value/headers"), ("regex", "regex in key/value/headers"), ("key", "key (exact)"),
         ("offset", "offset"), ("timestamp", "timestamp (offsets-for-times)"))
#: Characters of a key and of a value in a result line.
RESULT_KEY_CHARS = 16
RESULT_VALUE_CHARS = 120
WHOLE_TOPIC = -1


def parse_timestamp(raw: str) -> int:
    """Milliseconds since 1970 from ``1767225600000`` or an ISO date (``2026-01-01T10:00``, UTC unless a zone)."""
    raw = raw.strip()
    if raw.lstrip("-").isdigit():
        return int(raw)
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"Not a timestamp: '{printable(raw, 60)}' (milliseconds since 1970, "
                         "or a date such as 2026-01-01T10:00:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


class FindRecordsScreen(ModalScreen[None]):
    """Search ``topic`` (one partition or all); Enter on a result opens it whole."""

    CSS_PATH = str(Path(__file__).with_suffix(".tcss"))  # absolute: subclasses elsewhere find it too
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel / close", id="find.cancel"),
        Binding("ctrl+f", "search", "Search", id="find.search"),
    ]

    def __init__(self, cluster: Cluster, topic: str, partitions: int, partition: int | None = None, *,
                 chunk: int | None = None) -> None:
        super().__init__()
        #: Offsets per query of a scan (None: the core's default).
        self.chunk = chunk
        self.cluster = cluster
        self.topic = topic
        self.partitions = partitions
        self.partition = partition
        self.search = RecordSearch(cluster.storage, cluster.logs)
        #: What the last search found (the rows of the results list).
        self.results: list[SearchMatch] = []
        self.scanned = 0
        self._worker: Worker | None = None

    def compose(self) -> ComposeResult:
        where = [(f"partition {p}", p) for p in range(self.partitions)] + [("whole topic", WHOLE_TOPIC)]
        with Vertical(id="find"):
            with Grid(id="find-fields"):
                yield Label("Where", classes="field-label")
                yield Select(where, value=self.partition if self.partition is not None else WHOLE_TOPIC,
                             allow_blank=False, id="find-where")
                yield Label("By", classes="field-label")
                yield Select([(label, value) for value, label in MODES], value="text", allow_blank=False,
                             id="find-mode")
                yield Label("Find", classes="field-label")
                yield Input(placeholder="text, then Enter", id="find-pattern")
            with Horizontal(id="find-fields-in"):
                yield Label("In ", classes="field-label")
                for name in SEARCH_FIELDS:
                    yield Checkbox(name, True, id=f"find-in-{name}")
            with Horizontal(id="find-progress-row"):
                yield ProgressBar(total=None, show_eta=False, id="find-progress")
                yield Static("", id="find-status", markup=False)
            yield OptionList(id="find-results")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#find", Vertical).border_title = Text(f"Find records in {printable(self.topic, 60)}")
        self.query_one("#find-progress", ProgressBar).display = False
        self.query_one("#find-pattern", Input).focus()

    @property
    def running(self) -> bool:
        """Whether a scan is under way."""
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    @property
    def status(self) -> str:
        """The status line (errors, progress, the outcome) as plain text."""
        return str(self.query_one("#find-status", Static).render())

    def _say(self, text: str, style: str = "") -> None:
        self.query_one("#find-status", Static).update(Text(text, style=style))

    @on(Select.Changed, "#find-mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        placeholder = {"text": "text, then Enter", "regex": "regular expression, then Enter",
                       "key": "the key (null for records without one)", "offset": "an offset, then Enter",
                       "timestamp": "ms since 1970, or 2026-01-01T10:00:00 (UTC)"}[str(event.value)]
        self.query_one("#find-pattern", Input).placeholder = placeholder
        self.query_one("#find-fields-in").display = event.value in ("text", "regex")

    @on(Input.Submitted, "#find-pattern")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_search()

    def action_search(self) -> None:
        """Run the search the fields describe (a running one is cancelled first)."""
        if self._worker is not None:
            self._worker.cancel()
        where = self.query_one("#find-where", Select).value
        partitions = None if where == WHOLE_TOPIC else [int(where)]  # type: ignore[arg-type]
        mode = str(self.query_one("#find-mode", Select).value)
        raw = self.query_one("#find-pattern", Input).value
        self.results = []
        self.query_one("#find-results", OptionList).clear_options()
        self._worker = self._run(mode, raw, partitions)

    @work(exclusive=True, group="find-records")
    async def _run(self, mode: str, raw: str, partitions: list[int] | None) -> None:
        try:
            if mode == "offset":
                await self._find_offset(raw, partitions)
            elif mode == "timestamp":
                await self._find_time(raw, partitions)
            else:
                fields = frozenset(name for name in SEARCH_FIELDS
                                   if self.query_one(f"#find-in-{name}", Checkbox).value)
                await self._scan(SearchQuery(mode, raw, fields), partitions)  # type: ignore[arg-type]
        except (KafkaError, ValueError) as error:
            self.query_one("#find-progress", ProgressBar).display = False
            self._say(printable(str(error), 300), "bold red")

    async def _find_offset(self, raw: str, partitions: list[int] | None) -> None:
        try:
            offset = int(raw.strip())
        except ValueError:
            raise ValueError(f"An offset is a whole number, not '{printable(raw, 40)}'") from None
        if partitions is None:
            raise ValueError("An offset is per partition: choose a partition under Where")
        record = await self.search.record_at(self.topic, partitions[0], offset)
        self._show([SearchMatch(record.partition, record.offset, record.timestamp, record.key, record.value)])
        self._say(f"Offset {offset:,} of partition {partitions[0]}.")
        self.app.push_screen(RecordViewScreen(EmbeddedBackend(self.cluster), self.topic, partitions[0], offset))

    async def _find_time(self, raw: str, partitions: list[int] | None) -> None:
        timestamp = parse_timestamp(raw)
        found = await self.search.offsets_for_times(self.topic, timestamp, partitions)
        matches = []
        missing = []
        for partition, offset in found.items():
            if offset is None:
                missing.append(partition)
                continue
            record = await self.search.record_at(self.topic, partition, offset)
            matches.append(SearchMatch(partition, offset, record.timestamp, record.key, record.value))
        self._show(matches)
        text = f"First record at or after {format_timestamp(timestamp)}, per partition."
        if missing:
            text += f" None in partition{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}."
        self._say(text)

    async def _scan(self, query: SearchQuery, partitions: list[int] | None) -> None:
        bar = self.query_one("#find-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        shown = 0
        async for progress in self.search.scan(self.topic, query, partitions, chunk=self.chunk):
            self.scanned = progress.scanned
            bar.update(total=max(1, progress.total), progress=progress.scanned)
            new = progress.matches[shown:]
            shown = len(progress.matches)
            if new:
                self._show(new, append=True)
            state = "done" if progress.done else "searching"
            self._say(f"{state}: {progress.scanned:,} of {progress.total:,} offsets · {len(progress.matches):,} found"
                      + (" (stopped at the limit)" if progress.limited else ""))
        if not self.results:
            self._say(f"No record matches ({self.scanned:,} offsets searched).")

    def _show(self, matches: list[SearchMatch], *, append: bool = False) -> None:
        results = self.query_one("#find-results", OptionList)
        if not append:
            results.clear_options()
            self.results = []
        self.results.extend(matches)
        results.add_options([Option(Text(f"P{m.partition} @ {m.offset:<9,} {format_timestamp(m.timestamp)[:19]}  "
                                         f"{printable(m.key, RESULT_KEY_CHARS)}  {printable(m.value, RESULT_VALUE_CHARS)}"))
                             for m in matches])
        if matches and results.highlighted is None:
            results.highlighted = 0

    @on(OptionList.OptionSelected, "#find-results")
    def _open(self, event: OptionList.OptionSelected) -> None:
        match = self.results[event.option_index]
        self.app.push_screen(RecordViewScreen(EmbeddedBackend(self.cluster), self.topic, match.partition, match.offset))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._worker and event.state == WorkerState.CANCELLED:
            self.query_one("#find-progress", ProgressBar).display = False
            self._say(f"Cancelled after {self.scanned:,} offsets · {len(self.results):,} found.")

    def action_cancel(self) -> None:
        """Cancel the running search; with none running, close."""
        if self.running:
            assert self._worker is not None
            self._worker.cancel()
            return
        self.dismiss(None)
