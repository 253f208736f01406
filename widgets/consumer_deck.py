"""``ConsumerDeck``: several ``ConsumerView``s side by side, added and removed by keyboard.

``a`` opens a one-line form: topic, group (empty for a standalone consumer), partitions
(for a standalone consumer: ``all``, ``0,2`` or ``0-3``) and where to start. Enter adds
the consumer, Escape cancels. ``x`` removes the focused consumer (a group member leaves
its group, so the others rebalance), ``h``/``l`` move between consumers. At least four
views fit side by side in 160 columns; more scroll sideways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

from broker_core import Consumer
from broker_core.errors import KafkaError

from .adopted_consumer_view import AdoptedConsumerView, RecordsRead
from .cluster_source import ClusterSource
from .consumer_view import WINDOW, ConsumerView, RecordWindow
from .safe_text import printable

CSS_FILE = Path(__file__).with_suffix(".tcss")

#: Consumer views one deck holds at most (each owns a consumer and two workers).
MAX_VIEWS = 12

START_CHOICES: tuple[tuple[str, str], ...] = (("from beginning", "earliest"), ("from end", "latest"))
#: isolation.level: read_uncommitted (Kafka's default) reads open and aborted transactions' records too.
ISOLATION_CHOICES: tuple[tuple[str, str], ...] = (("uncommitted", "read_uncommitted"),
                                                  ("committed", "read_committed"))


def parse_partitions(raw: str) -> list[int] | None:
    """``all``/empty -> None; ``0,2`` / ``0 2`` / ``0-3`` -> sorted numbers; ValueError otherwise."""
    raw = raw.strip().lower()
    if raw in ("", "all", "*"):
        return None
    numbers: set[int] = set()
    for part in raw.replace(" ", ",").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"Partitions are numbers like 0,2 or 0-3, or all (not {printable(raw, 20)!r}).")
        if dash:
            if int(high) < int(low):
                raise ValueError(f"The range {printable(part, 20)} runs backwards.")
            numbers.update(range(int(low), int(high) + 1))
        else:
            numbers.add(int(low))
    return sorted(numbers)


class ConsumerDeck(Vertical, can_focus=True):
    """Consumers side by side: standalone ones and members of named groups.

    ``topic`` (a reactive) pre-fills the add form. ``add_consumer`` / ``remove_consumer``
    do the same as the keys, for scenarios and tests.
    """

    BINDINGS: list[BindingType] = [
        Binding("a", "add_consumer", "Add consumer", id="consumer-deck.add"),
        Binding("x", "remove_consumer", "Remove consumer", id="consumer-deck.remove"),
        Binding("h", "focus_previous_view", "Previous consumer", show=False, id="consumer-deck.previous"),
        Binding("l", "focus_next_view", "Next consumer", show=False, id="consumer-deck.next"),
        Binding("escape", "cancel_form", "Cancel", show=False, id="consumer-deck.cancel"),
    ]

    topic: reactive[str | None] = reactive(None)

    def __init__(self, source: ClusterSource, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source

    def compose(self) -> ComposeResult:
        with HorizontalScroll(id="consumer-deck-views"):
            yield Static(Text("No consumers yet. Press a to add one: standalone on chosen partitions, "
                              "or a member of a group (add two members of one group to watch a rebalance)."),
                         id="consumer-deck-empty", markup=False)
        with Horizontal(id="consumer-deck-form"):
            yield Label("topic", classes="consumer-deck-label")
            yield Input(placeholder="topic", id="consumer-deck-topic", compact=True)
            yield Label("group", classes="consumer-deck-label")
            yield Input(placeholder="none: standalone", id="consumer-deck-group", compact=True)
            yield Label("partitions", classes="consumer-deck-label")
            yield Input(placeholder="all", id="consumer-deck-partitions", compact=True)
            yield Select(START_CHOICES, value="earliest", allow_blank=False, id="consumer-deck-start",
                         compact=True)
            yield Select(ISOLATION_CHOICES, value="read_uncommitted", allow_blank=False,
                         id="consumer-deck-isolation", compact=True, tooltip="isolation.level")
        yield Static(id="consumer-deck-message", markup=False)

    def on_mount(self) -> None:
        self.query_one("#consumer-deck-form").display = False

    @property
    def views(self) -> list[ConsumerView]:
        """The consumer views, left to right."""
        return list(self.query(ConsumerView))

    # -- adding -------------------------------------------------------------------------
    def action_add_consumer(self) -> None:
        """Open the add-consumer form."""
        form = self.query_one("#consumer-deck-form")
        form.display = True
        topic_field = self.query_one("#consumer-deck-topic", Input)
        if not topic_field.value and self.topic:
            topic_field.value = self.topic
        self._say("Enter adds the consumer; empty group = standalone; Escape cancels.")
        (self.query_one("#consumer-deck-group", Input) if topic_field.value else topic_field).focus()

    def watch_topic(self, topic: str | None) -> None:
        if self.is_mounted and topic:
            self.query_one("#consumer-deck-topic", Input).value = topic

    def action_cancel_form(self) -> None:
        """Close the add-consumer form without adding."""
        if self.query_one("#consumer-deck-form").display:
            self.query_one("#consumer-deck-form").display = False
            self._say("")
            self._focus_a_view() or self.focus()

    @on(Input.Submitted, "#consumer-deck-form Input")
    def _form_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        topic = self.query_one("#consumer-deck-topic", Input).value.strip()
        group = self.query_one("#consumer-deck-group", Input).value.strip() or None
        try:
            if not topic:
                raise ValueError("Type the topic to consume.")
            partitions = parse_partitions(self.query_one("#consumer-deck-partitions", Input).value)
            if group is not None and partitions is not None:
                raise ValueError("A group member gets its partitions from the group: leave partitions "
                                 "as all, or clear the group for a standalone consumer.")
        except ValueError as error:
            self._say(str(error), error=True)
            return
        from_beginning = self.query_one("#consumer-deck-start", Select).value == "earliest"
        isolation = str(self.query_one("#consumer-deck-isolation", Select).value)
        self._add_from_form(topic, group, partitions, from_beginning, isolation)

    @work(group="consumer-deck-add")
    async def _add_from_form(self, topic: str, group: str | None, partitions: list[int] | None,
                             from_beginning: bool, isolation_level: str) -> None:
        try:
            view = await self.add_consumer(topic, group=group, partitions=partitions,
                                           from_beginning=from_beginning, isolation_level=isolation_level)
        except (KafkaError, ValueError) as error:
            self._say(_describe_error(error), error=True)
            return
        self.query_one("#consumer-deck-form").display = False
        self._say(f"added {view.label}" + (f" to group {printable(group, 40)}" if group else ""))
        view.window.focus()

    async def add_consumer(self, topic: str, *, group: str | None = None,
                           partitions: Sequence[int] | None = None, from_beginning: bool = True,
                           label: str | None = None, window: int = WINDOW,
                           isolation_level: str = "read_uncommitted") -> ConsumerView:
        """Add a consumer view keeping the newest ``window`` records (``isolation_level``:
        Kafka's isolation.level); raises UnknownTopicOrPartition or ValueError for bad input."""
        if len(self.views) >= MAX_VIEWS:
            raise ValueError(f"A deck holds at most {MAX_VIEWS} consumers; remove one first (x).")
        count = await self.source.partition_count(topic)
        if partitions is not None:
            missing = [p for p in partitions if not 0 <= p < count]
            if missing:
                raise ValueError(f"Topic {printable(topic, 40)} has partitions 0-{count - 1}; "
                                 f"there is no partition {missing[0]}.")
        view = ConsumerView(self.source, topic, partitions=partitions, group=group,
                            from_beginning=from_beginning, label=label, window=window,
                            isolation_level=isolation_level)
        empty = self.query("#consumer-deck-empty")
        if empty:
            await empty.remove()
        await self.query_one("#consumer-deck-views").mount(view)
        return view

    async def adopt(self, name: str, consumer: Consumer, records: RecordsRead) -> ConsumerView:
        """Show ``consumer``, which someone else (a lesson) created and polls, as a view
        labelled ``name``; ``records()`` gives how many records the owner has read and the
        newest of them. The view never polls or closes the consumer."""
        if len(self.views) >= MAX_VIEWS:
            raise ValueError(f"A deck holds at most {MAX_VIEWS} consumers; {printable(name, 40)} is not shown.")
        view = AdoptedConsumerView(self.source, consumer, records, label=name)
        empty = self.query("#consumer-deck-empty")
        if empty:
            await empty.remove()
        await self.query_one("#consumer-deck-views").mount(view)
        return view

    async def release(self, name: str) -> None:
        """Take away the adopted view labelled ``name`` (its owner stopped the consumer),
        leaving the focus where it is."""
        for view in self.views:
            if isinstance(view, AdoptedConsumerView) and view.label == name:
                await view.stop()
                await view.remove()
        views = self.query_one("#consumer-deck-views")
        if not self.views and not self.query("#consumer-deck-empty") and views.is_attached:  # not while closing
            await views.mount(
                Static(Text("No consumers. Press a to add one."), id="consumer-deck-empty", markup=False))

    # -- removing -----------------------------------------------------------------------
    def action_remove_consumer(self) -> None:
        """Remove the focused consumer (it leaves its group, if it has one)."""
        view = self.focused_view
        if view is not None:
            self._remove(view)

    @work(group="consumer-deck-remove")
    async def _remove(self, view: ConsumerView) -> None:
        await self.remove_consumer(view)

    async def remove_consumer(self, view: ConsumerView) -> None:
        """Close ``view``'s consumer and take the view away."""
        index = self.views.index(view) if view in self.views else 0
        await view.stop()
        await view.remove()
        remaining = self.views
        self._say(f"removed {view.label}" + (f" (left group {printable(view.group, 40)})" if view.group else ""))
        if remaining:
            remaining[min(index, len(remaining) - 1)].window.focus()
        else:
            await self.query_one("#consumer-deck-views").mount(
                Static(Text("No consumers. Press a to add one."), id="consumer-deck-empty", markup=False))
            self.focus()

    # -- moving between views -----------------------------------------------------------
    @property
    def focused_view(self) -> ConsumerView | None:
        """The view holding the focus, if any."""
        focused = self.screen.focused if self.is_mounted else None
        for view in self.views:
            if focused is not None and (focused is view or view in focused.ancestors):
                return view
        return None

    def action_focus_next_view(self) -> None:
        """Focus the consumer to the right."""
        self._step(1)

    def action_focus_previous_view(self) -> None:
        """Focus the consumer to the left."""
        self._step(-1)

    def _step(self, delta: int) -> None:
        views = self.views
        if not views:
            return
        current = self.focused_view
        index = views.index(current) + delta if current in views else 0
        target = views[index % len(views)]
        target.window.focus()
        target.scroll_visible()

    def _focus_a_view(self) -> bool:
        views = self.views
        if views:
            views[0].query_one(RecordWindow).focus()
        return bool(views)

    def _say(self, message: str, *, error: bool = False) -> None:
        text = Text()
        if error:
            text.append("✗ ", "bold red")
        text.append(printable(message, 300), "red" if error else "dim")
        self.query_one("#consumer-deck-message", Static).update(text)

    @property
    def message(self) -> str:
        """The deck's message line as plain text."""
        content = self.query_one("#consumer-deck-message", Static).content
        return content.plain if isinstance(content, Text) else str(content)


def _describe_error(error: Exception) -> str:
    if isinstance(error, KafkaError):
        return f"{error.name} ({error.code}): {error}"
    return str(error)
