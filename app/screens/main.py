"""The main screen: topics, partitions, producer, consumers, groups, brokers and events at once.

Layout (160 x 45): the top row holds the topic list, the selected topic's partitions (or
the welcome panel on an empty cluster) and the group panel above the brokers; then the
producer box, the consumer views side by side across the whole width, and the event log. Each pane follows the change feed itself; this screen only
wires selections between them and opens the dialogs. A lesson (``kplay demo NAME``) adds its
narration pane on top and plays there, with space, n, + and - as its keys. ``C`` opens the
pipeline screen (connectors and schemas) on top; the main screen keeps following the feed.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input, Select

import shlex

from broker_core.errors import KafkaError
from widgets import (broker_list, consumer_deck, consumer_view, event_log, group_panel, narration, partition_log,
                     partition_view, producer_box, topic_list, welcome)
from widgets.broker_list import BrokerList
from widgets.consumer_deck import ConsumerDeck
from widgets.consumer_view import ConsumerView, RecordWindow
from widgets.event_log import EventLog
from widgets.fitted_footer import FittedFooter
from widgets.group_panel import GroupPanel
from widgets.narration import NarrationPane
from widgets.partition_view import PartitionView
from widgets.producer_box import ProducerBox
from widgets.record_chosen import RecordChosen
from widgets.safe_text import printable
from widgets.topic_list import TopicList
from widgets.welcome import WelcomePanel

from ..backends import Backend, Capability
from ..scenarios.playback import Playback
from ..scenarios.script import Scenario
from ..scenarios.tui_observer import lesson_steps, play_lesson
from .admin_menu import AdminCommands, open_admin
from .confirm_delete import ConfirmDeleteScreen
from .explain import ExplainScreen, concepts_for
from .record_view import RecordViewScreen
from .topic_form import TopicFormScreen

#: Pane name -> (widget id, border title), in the order of the focus keys 1..7.
PANES: dict[str, tuple[str, str]] = {
    "topics": ("topics", "Topics"),
    "partitions": ("partitions", "Partitions"),
    "producer": ("producer", "Producer"),
    "consumers": ("consumers", "Consumers"),
    "groups": ("groups", "Groups"),
    "brokers": ("brokers", "Brokers"),
    "events": ("events", "Events"),
}

#: Below this many columns the side panes share one place (topics, groups, brokers).
NARROW_COLUMNS = 120
#: Below this many columns the side panes are narrower.
MEDIUM_COLUMNS = 160
#: From this many columns the topic list has room for its rate and trend columns.
WIDE_COLUMNS = 180
#: Below this many rows the consumers and the events share the bottom.
SHORT_ROWS = 36
#: Below this many rows the producer box shares the bottom too.
TINY_ROWS = 28
#: Panes that take turns in one place when the terminal is small: slot -> panes, default first.
SIDE_SLOT = ("topics", "groups", "brokers")
BOTTOM_SLOT = ("consumers", "events", "producer")


def size_classes(width: int, height: int) -> set[str]:
    """The main screen's size classes for a terminal of ``width`` x ``height`` (see main.tcss)."""
    classes = set()
    if width < NARROW_COLUMNS:
        classes.add("-w-narrow")
    elif width < MEDIUM_COLUMNS:
        classes.add("-w-medium")
    elif width >= WIDE_COLUMNS:
        classes.add("-w-wide")
    if height < SHORT_ROWS:
        classes.add("-h-short")
    if height < TINY_ROWS:
        classes.add("-h-tiny")
    return classes


class MainScreen(Screen[None]):
    """Every pane of the playground on one screen, wired together."""

    CSS_PATH = ["main.tcss", topic_list.CSS_FILE, broker_list.CSS_FILE, event_log.CSS_FILE, welcome.CSS_FILE,
                partition_log.CSS_FILE, partition_view.CSS_FILE, producer_box.CSS_FILE, consumer_deck.CSS_FILE,
                consumer_view.CSS_FILE, group_panel.CSS_FILE, narration.CSS_FILE]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_topic", "New topic", id="topic.new"),
        Binding("i", "explain", "Explain", id="explain"),
        Binding("C", "show_pipeline", "Connect & schemas", id="pipeline.show"),
        Binding("f", "find_records", "Find records", id="records.find"),
        Binding("A", "admin", "Admin", id="admin.menu"),
        Binding("escape", "leave_field", "Leave the field", show=False, id="main.leave-field"),
        *[Binding(str(number), f"focus_pane('{pane}')", f"Focus {title.lower()}", show=False,
                  id=f"focus.{pane}")
          for number, (pane, (_, title)) in enumerate(PANES.items(), start=1)],
        # A lesson's controls (kplay demo): only while one plays; n steps instead of making a topic.
        Binding("space", "lesson_pause", "Pause/resume", id="lesson.pause"),
        Binding("n", "lesson_step", "Step", id="lesson.step"),
        Binding("plus", "lesson_faster", "Faster", id="lesson.faster"),
        Binding("minus", "lesson_slower", "Slower", id="lesson.slower"),
    ]

    COMMANDS = {AdminCommands}

    #: Actions that exist only while a lesson plays.
    LESSON_ACTIONS = frozenset({"lesson_pause", "lesson_step", "lesson_faster", "lesson_slower"})
    #: Actions the playground's core does and a real cluster's screen leaves out: action -> the reason.
    PLAYGROUND_ACTIONS: ClassVar[dict[str, Callable[[Backend], str]]] = {
        "find_records": lambda backend: "Find records searches the playground's data file; on a real cluster use "
                                        f"kplay console-consumer --cluster {backend.name}",
        "admin": lambda backend: "The admin forms run on the playground; on a real cluster use kplay topics, "
                                 f"configs and consumer-groups with --cluster {backend.name}",
        "show_pipeline": lambda backend: (backend.unsupported_reason(Capability.CONNECT)
                                          or "The pipeline screen shows the playground's own Connect worker "
                                             "and Schema Registry"),
    }
    #: Where an action works, for the help screen (action -> context).
    CONTEXT_ACTIONS: ClassVar[dict[str, str]] = {action: "in a lesson" for action in LESSON_ACTIONS}
    #: Panes shown only once the person adds one: the help screen lists their keys anyway.
    MAY_SHOW: ClassVar[tuple[type[Widget], ...]] = (ConsumerView, RecordWindow)

    def __init__(self, backend: Backend, *, lesson: Scenario | None = None,
                 playback: Playback | None = None, serving: list[str] | None = None) -> None:
        super().__init__()
        #: The cluster the panes run on: the playground's data file or a real cluster.
        self.backend = backend
        #: The playground's core (None on a real cluster: what only a simulation has is left out).
        self.cluster = backend.cluster
        #: Where ``kplay --serve`` listens, one line per service (None when not serving).
        self.serving = serving
        #: The scenario played as a lesson on this screen (``kplay demo NAME``), if any.
        self.lesson = lesson
        self.playback = playback or Playback()
        #: True from the lesson's start until it finishes or stops.
        self.lesson_running = lesson is not None
        #: The side pane shown when the side panes share one place (narrow terminals).
        self.side_pane = "topics"
        #: The bottom pane shown when consumers, events (and the producer) share one place.
        self.bottom_pane = "consumers"
        self._titles: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        # The layout's classes before the panes mount, so each pane is styled once, for this size:
        # each class changed on the screen afterwards restyles every pane (tens of ms apiece).
        self.set_class(self.lesson is not None, "-lesson", update=False)
        self._set_layout_classes(self.app.size.width, self.app.size.height)
        yield Header(icon="≡")
        if self.lesson is not None:
            yield NarrationPane(self.lesson.title, lesson_steps(self.lesson), id="narration")
        with Horizontal(id="top-row"):
            yield TopicList(self.backend, id="topics")
            yield WelcomePanel(self._cli_option(), self._welcome_keys(), playground=self.cluster is not None,
                               id="welcome")
            yield PartitionView(self.backend, id="partitions")
            with Vertical(id="right-column"):
                yield GroupPanel(self.backend, id="groups")
                yield BrokerList(self.backend, id="brokers")
        yield ProducerBox(self.backend, id="producer")
        yield ConsumerDeck(self.backend, id="consumers")
        yield EventLog(self.backend, id="events")
        yield FittedFooter(compact=self.app.size.width < MEDIUM_COLUMNS)

    def _where(self) -> str:
        """The header's line: which cluster is open (and where ``kplay --serve`` serves it)."""
        if self.cluster is None:
            # A real cluster: its profile's name or its bootstrap servers, always in sight.
            return f"cluster {self.backend.name}" + (" · read-only" if self.backend.read_only else "")
        if not self.serving:
            return str(self.cluster.path)
        # The addresses real clients need, always in sight (the event log lists them too).
        bootstrap = next((line.split("=", 1)[1] for line in self.serving if line.startswith("bootstrap.servers=")), "")
        rest = [line.replace("Kafka Connect:", "Connect").replace("Schema Registry:", "Schema Registry")
                for line in self.serving if line.startswith(("Schema Registry:", "Kafka Connect:"))]
        return " · ".join([str(self.cluster.path), f"Kafka {bootstrap}", *rest])

    @work(group="main-connection")
    async def _follow_connection(self) -> None:
        """A real cluster: the header says when it is lost, and why, until it answers again."""
        sub = await self.backend.subscribe("cluster_connection")
        try:
            while True:
                event = await sub.get()
                if event.kind != "cluster_connection":
                    continue  # a resync, delivered to every subscriber
                lost = "" if getattr(event, "connected", True) else getattr(event, "reason", "") or "no answer"
                self.sub_title = self._where() + (f" · ⚠ lost: {printable(lost, 200)}" if lost else "")
        finally:
            sub.close()

    def _cli_option(self) -> str:
        """The option that points the command-line tools at this screen's cluster."""
        if self.cluster is not None:
            return f"--data {shlex.quote(str(self.cluster.path))}"
        return f"--cluster {shlex.quote(self.backend.name)}"

    def on_mount(self) -> None:
        self.sub_title = self._where()
        for pane_name, (widget_id, title) in PANES.items():
            pane = self.query_one(f"#{widget_id}")
            if not pane.border_title:
                pane.border_title = title
            self._titles[pane_name] = str(pane.border_title)
        self.fit_to(self.app.size.width, self.app.size.height)
        # The welcome panel shows only once the topic list knows the cluster is empty.
        self.query_one(WelcomePanel).display = False
        self.query_one(TopicList).table.focus()
        if self.cluster is None:
            self._follow_connection()
        if self.lesson is not None:
            self.sub_title = self.lesson.title
            self.playback.on_change = self._show_playback
            self._show_playback()
            self._play_lesson()

    def _welcome_keys(self) -> dict[str, str]:
        keymap = getattr(self.app, "keymap", {}) or {}
        shown = {}
        for step, binding_id, default in (("new_topic", "topic.new", "n"), ("explain", "explain", "i"),
                                          ("help", "help", "question_mark"), ("palette", "command-palette", "colon")):
            key = keymap.get(binding_id, default).split(",")[0].strip()
            shown[step] = self.app.get_key_display(Binding(key, ""))
        return shown

    # -- fitting the terminal ------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self.fit_to(event.size.width, event.size.height)

    def fit_to(self, width: int, height: int) -> None:
        """Lay the panes out for a ``width`` x ``height`` terminal (at once, on every resize)."""
        before = set(self.classes)
        self._set_layout_classes(width, height)
        if set(self.classes) != before:
            self.update_node_styles()  # once for every class changed
        # A narrower footer drops the spaces between keys (and then the least important keys, see FittedFooter).
        self.query_one(FittedFooter).compact = width < MEDIUM_COLUMNS
        self._title_slots()

    def _set_layout_classes(self, width: int, height: int) -> None:
        """Set the size classes and the shared places' classes for ``width`` x ``height``, not restyling."""
        wanted = size_classes(width, height)
        for name in ("-w-narrow", "-w-medium", "-w-wide", "-h-short", "-h-tiny"):
            self.set_class(name in wanted, name, update=False)
        self._set_slot_classes()

    def _folded(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The panes that share the side place and the bottom place now (empty: each has its own)."""
        side = SIDE_SLOT if self.has_class("-w-narrow") else ()
        if self.has_class("-h-tiny") and not self.has_class("-lesson"):
            bottom: tuple[str, ...] = ("producer", "consumers", "events")
        elif self.has_class("-h-short"):
            bottom = ("consumers", "events")
        else:
            bottom = ()
        return side, bottom

    def _show_slots(self) -> None:
        """Show the chosen pane of each shared place; title each with the keys of the others."""
        before = set(self.classes)
        self._set_slot_classes()
        if set(self.classes) != before:
            self.update_node_styles()
        self._title_slots()

    def _set_slot_classes(self) -> None:
        """Mark the pane shown in each shared place, not restyling."""
        side, bottom = self._folded()
        if self.bottom_pane not in bottom:
            self.bottom_pane = "consumers"
        for pane in SIDE_SLOT[1:]:
            self.set_class(self.side_pane == pane, f"-side-{pane}", update=False)
        for pane in BOTTOM_SLOT:
            self.set_class(self.bottom_pane == pane, f"-bottom-{pane}", update=False)

    def _title_slots(self) -> None:
        """Title each pane of a shared place with the keys of the others."""
        side, bottom = self._folded()
        if not self._titles:
            return
        numbers = {pane: str(number) for number, pane in enumerate(PANES, start=1)}
        for slot, chosen in ((side, self.side_pane), (bottom, self.bottom_pane)):
            for pane in PANES:
                if pane in slot and pane == chosen:
                    title = Text(self._titles[pane], style="bold")
                    for other in slot:
                        if other != pane:
                            title.append(f" {numbers[other]}:{PANES[other][1]}", style="dim")
                    self._set_title(pane, title)
        for pane in PANES:
            if pane not in side and pane not in bottom:
                self._set_title(pane, Text(self._titles[pane]))

    def _set_title(self, pane: str, title: Text) -> None:
        widget = self.query_one(f"#{PANES[pane][0]}")
        widget.pane_title = self._titles[pane]  # the help screen's name for it, without the other keys
        if str(widget.border_title) != title.plain:
            widget.border_title = title

    def show_pane(self, pane: str) -> None:
        """Bring ``pane`` on screen when it shares its place with others (the focus keys do this)."""
        side, bottom = self._folded()
        if pane in side:
            self.side_pane = pane
        elif pane in bottom:
            self.bottom_pane = pane
        self._show_slots()

    # -- wiring between panes -----------------------------------------------------------------
    @on(TopicList.Selected)
    def _topic_selected(self, event: TopicList.Selected) -> None:
        self.query_one(PartitionView).topic = event.topic
        self.query_one(ProducerBox).topic = event.topic
        self.query_one(ConsumerDeck).topic = event.topic

    @on(RecordChosen)
    def _record_chosen(self, event: RecordChosen) -> None:
        self.app.push_screen(RecordViewScreen(self.backend, event.topic, event.partition, event.offset))

    @on(TopicList.CountChanged)
    def _topic_count_changed(self, event: TopicList.CountChanged) -> None:
        empty = event.count == 0
        # Not during a lesson: the welcome's keys (n: new topic) are the lesson's keys then.
        self.query_one(WelcomePanel).display = empty and not self.lesson_running
        self.query_one(PartitionView).display = not empty
        self.set_class(empty, "-empty")

    @on(TopicList.DeleteRequested)
    def _delete_requested(self, event: TopicList.DeleteRequested) -> None:
        row = self.query_one(TopicList).rows.get(event.topic)
        records = row.records if row is not None else 0

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._delete_topic(event.topic)

        # On a real cluster the name is typed back: a slip of one key there loses real data.
        real = self.cluster is None
        self.app.push_screen(ConfirmDeleteScreen(event.topic, records, type_name=real,
                                                 cluster_name=self.backend.name if real else ""), answered)

    @work(group="main-delete-topic")
    async def _delete_topic(self, topic: str) -> None:
        try:
            await self.backend.delete_topic(topic)
        except KafkaError as error:
            self.notify(f"{error.name}: {error}", severity="error", markup=False)

    # -- the lesson -----------------------------------------------------------------------------
    @work(exclusive=True, group="lesson")
    async def _play_lesson(self) -> None:
        assert self.lesson is not None and self.cluster is not None
        pane = self.query_one(NarrationPane)
        result = await play_lesson(self.cluster, self.lesson, self.playback, pane,
                                   self.query_one(ConsumerDeck), self.query_one(EventLog), self.query_one(TopicList))
        self.lesson_running = False
        self.remove_class("-lesson")
        self._show_slots()
        self.refresh_bindings()
        if result is None:
            self.notify("The lesson stopped: see the lesson pane.", title="Lesson", severity="error", timeout=10)
        elif result.passed:
            self.notify(f"{self.lesson.title}: done, {result.steps_run} steps. The playground is yours.",
                        title="Lesson", timeout=15, markup=False)
        else:
            self.notify("; ".join(result.failures), title="Lesson: expectations failed",
                        severity="warning", timeout=30, markup=False)

    def _show_playback(self) -> None:
        if self.is_mounted and self.lesson is not None:
            playback = self.playback
            state = "holding" if playback.holding else playback.state
            self.query_one(NarrationPane).show_playback(state, playback.speed)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The lesson's keys only while a lesson plays; n makes a topic only when none does;
        no letter reaches past a dropdown; escape only leaves a field."""
        if self._on_dropdown() and action not in ("focus_pane", "leave_field"):
            return False  # on a dropdown, letters choose: n, i, C... never reach the screen's keys
        if action == "leave_field":
            return isinstance(self.focused, (Input, Select))
        if action in self.LESSON_ACTIONS:
            return self.lesson_running
        if action == "new_topic":
            return not self.lesson_running
        return True

    def action_lesson_pause(self) -> None:
        """Pause the lesson before its next step, or play on."""
        self.playback.toggle_pause()

    def action_lesson_step(self) -> None:
        """Run exactly one step of the paused lesson (while playing: pause after this step)."""
        self.playback.step()

    def action_lesson_faster(self) -> None:
        """Play the lesson faster (up to 8x)."""
        self.playback.faster()

    def action_lesson_slower(self) -> None:
        """Play the lesson slower (down to 0.25x)."""
        self.playback.slower()

    def _on_dropdown(self) -> bool:
        focused = self.focused
        return focused is not None and any(isinstance(node, Select) for node in focused.ancestors_with_self)

    # -- actions ------------------------------------------------------------------------------
    def action_leave_field(self) -> None:
        """Leave the field being typed in: the focus goes to its pane, whose keys work again."""
        focused = self.focused
        if focused is None:
            return
        for widget_id, _ in PANES.values():
            pane = self.query_one(f"#{widget_id}", Widget)
            if pane in focused.ancestors:
                if pane.focusable:
                    pane.focus()
                else:
                    # A pane that is only a frame: its first widget that is not a field.
                    target = next((w for w in self.focus_chain if pane in w.ancestors
                                   and not isinstance(w, (Input, Select))), None)
                    if target is not None:
                        target.focus()
                    else:
                        self.set_focus(None)
                return
        self.set_focus(None)

    def _playground_only(self, action: str) -> bool:
        """On a real cluster, say in one line why ``action`` is not here; True when it is not."""
        if self.cluster is not None:
            return False
        self.notify(self.PLAYGROUND_ACTIONS[action](self.backend), severity="warning", markup=False)
        return True

    @work(exclusive=True, group="main-new-topic")
    async def action_new_topic(self) -> None:
        """Open the topic creation form."""
        try:
            self.backend.check_writable("create a topic")
            live = sum(1 for broker in await self.backend.brokers() if broker.alive)
        except KafkaError as error:
            self.notify(f"{error.name}: {error}", severity="error", markup=False)
            return
        created = await self.app.push_screen_wait(TopicFormScreen(self.backend, live))
        if created:
            self.query_one(TopicList).select_when_shown(created)
            self.notify(f"Topic {created} created.", markup=False)

    def action_find_records(self) -> None:
        """Find records of the selected topic (in the selected partition, or all of them)."""
        from .find_records import FindRecordsScreen

        if self._playground_only("find_records"):
            return
        view = self.query_one(PartitionView)
        if view.topic is None or not view.partitions:
            self.notify("Select a topic first.", severity="warning")
            return
        partition = view.open_partition if view.open_partition is not None else view.strips.cursor
        self.app.push_screen(FindRecordsScreen(self.cluster, view.topic, len(view.partitions), partition))

    def action_admin(self, which: str = "") -> None:
        """Administer the cluster: topic configs, partitions, elections, group offsets, deletions."""
        if self._playground_only("admin"):
            return
        open_admin(self, which)

    def action_show_pipeline(self) -> None:
        """Show the connectors and the Schema Registry (the tutorial's database pipeline)."""
        from .pipeline import PipelineScreen  # late: Kafka Connect loads SQLAlchemy

        if self._playground_only("show_pipeline"):
            return
        connect = getattr(self.app, "connect", None)
        self.app.push_screen(PipelineScreen(self.cluster, connect=connect, serving=self.serving))

    def action_explain(self) -> None:
        """Explain the Kafka concepts shown by the focused pane."""
        pane, concepts = concepts_for(self.focused)
        node = self.focused
        title = ""
        while node is not None and node is not self:
            if getattr(node, "border_title", None):
                title = str(node.border_title)
                break
            node = node.parent  # type: ignore[assignment]
        self.app.push_screen(ExplainScreen(title or pane, concepts))

    def action_focus_pane(self, pane: str) -> None:
        """Move the focus into ``pane`` (topics, partitions, producer, consumers, groups, brokers, events)."""
        widget_id, _ = PANES[pane]
        self.show_pane(pane)
        self.call_after_refresh(self._focus_in, pane, widget_id)

    def _focus_in(self, pane: str, widget_id: str) -> None:
        target = self.query_one(f"#{widget_id}", Widget)
        if target.focusable:
            target.focus()
            return
        for widget in self.focus_chain:
            if target in widget.ancestors:
                widget.focus()
                return
        self.notify(f"The {pane} pane has nothing to focus yet.", severity="warning")
