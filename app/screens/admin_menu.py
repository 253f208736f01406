"""The admin forms: a menu (``A``), a command-palette entry for each, and opening them with context.

Each form acts on what the main screen has selected: the topic in the topic list, the
partition under the cursor, the first consumer group (or one typed in the form). A form
that did something dismisses with a one-line summary, shown as a notification.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from broker_core.errors import KafkaError
from widgets.group_panel import GroupPanel
from widgets.partition_view import PartitionView

if TYPE_CHECKING:
    from .main import MainScreen

#: action id -> (title, what it does); the order of the menu.
ADMIN_ACTIONS: dict[str, tuple[str, str]] = {
    "topic-configs": ("Topic configs", "every config of the topic, defaults vs overrides; alter one"),
    "add-partitions": ("Add partitions", "grow the topic (kafka-topics --alter --partitions)"),
    "leader-election": ("Leader election", "preferred or unclean (kafka-leader-election)"),
    "reset-offsets": ("Reset group offsets", "earliest, latest, offset, datetime, shift-by; dry run first"),
    "delete-group": ("Delete group", "an Empty group and its offsets (kafka-consumer-groups --delete)"),
    "delete-records": ("Delete records", "below an offset (kafka-delete-records)"),
}
#: The forms that act on the selected topic.
NEEDS_TOPIC = {"topic-configs", "add-partitions", "leader-election", "delete-records"}


class AdminMenuScreen(ModalScreen[str | None]):
    """Choose an admin form; dismisses with its action id."""

    CSS = """
    AdminMenuScreen { align: center middle; }
    #admin-menu { width: 80; max-width: 100%; height: auto; border: thick $accent; background: $surface; }
    #admin-menu OptionList { height: auto; max-height: 16; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="admin-menu.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-menu"):
            yield Static(Text("Admin", style="bold"))
            yield OptionList(*[Option(Text.assemble((title, "bold"), "  ", (what, "dim")), id=action)
                               for action, (title, what) in ADMIN_ACTIONS.items()])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close the menu."""
        self.dismiss(None)


class AdminCommands(Provider):
    """Command palette: one entry per admin form."""

    def _open(self, action: str) -> None:
        screen = self.screen
        opener = getattr(screen, "action_admin", None)
        if opener is not None:
            self.app.call_next(opener, action)

    async def discover(self) -> Hits:
        """Every admin form."""
        for action, (title, what) in ADMIN_ACTIONS.items():
            yield DiscoveryHit(f"Admin: {title}", partial(self._open, action), help=what)

    async def search(self, query: str) -> Hits:
        """The admin forms matching ``query``."""
        matcher = self.matcher(query)
        for action, (title, what) in ADMIN_ACTIONS.items():
            score = matcher.match(f"Admin: {title}")
            if score > 0:
                yield Hit(score, matcher.highlight(f"Admin: {title}"), partial(self._open, action), help=what)


@work(group="admin-open")
async def open_admin(screen: "MainScreen", action: str = "") -> None:
    """Open the admin form ``action`` (the menu first when empty) with the screen's selection."""
    if not action:
        action = await screen.app.push_screen_wait(AdminMenuScreen()) or ""
        if not action:
            return
    view = screen.query_one(PartitionView)
    topic, partitions = view.topic, list(view.partitions)
    if action in NEEDS_TOPIC and (topic is None or not partitions):
        screen.notify("Select a topic first.", severity="warning")
        return
    cursor = view.open_partition if view.open_partition is not None else view.strips.cursor
    groups = screen.query_one(GroupPanel).groups
    group = next((g.description.group_id for g in groups if g.description.state == "Empty"),
                 groups[0].description.group_id if groups else "")
    cluster = screen.cluster
    form: ModalScreen
    if action == "topic-configs":
        from .topic_configs_form import TopicConfigsForm
        form = TopicConfigsForm(cluster, topic or "")
    elif action == "add-partitions":
        from .partitions_form import AddPartitionsForm
        form = AddPartitionsForm(cluster, topic or "", len(partitions))
    elif action == "leader-election":
        from .leader_election_form import LeaderElectionForm
        form = LeaderElectionForm(cluster, topic or "", len(partitions))
    elif action == "reset-offsets":
        from .offset_reset_form import OffsetResetForm
        form = OffsetResetForm(cluster, group, topic or "")
    elif action == "delete-group":
        from .delete_group_form import DeleteGroupForm
        form = DeleteGroupForm(cluster, group)
    elif action == "delete-records":
        from .delete_records_form import DeleteRecordsForm
        try:
            fresh = (await cluster.topics.describe_topic(topic or "")).partitions
        except KafkaError as error:
            screen.notify(f"{error.name}: {error}", severity="error", markup=False)
            return
        form = DeleteRecordsForm(cluster, topic or "", list(fresh), min(cursor, len(fresh) - 1))
    else:
        screen.notify(f"No admin form called {action!r}.", severity="error", markup=False)
        return
    summary = await screen.app.push_screen_wait(form)
    if summary:
        screen.notify(summary, title="Admin", markup=False)
