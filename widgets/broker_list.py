"""The brokers pane: each broker's state, its KRaft roles (which one is the active controller,
which are quorum voters), how many leaders it hosts, and the quorum's state in the subtitle."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from broker_core.quorum import QuorumStatus
from broker_core.errors import KafkaError

from .cluster_source import ClusterSource

#: This widget's stylesheet, for the screen's CSS_PATH.
CSS_FILE = Path(__file__).with_suffix(".tcss")
#: Shortest pause between two redraws: a burst of events is drawn once per frame.
FRAME_S = 1 / 30

#: Feed kinds that change what the pane shows.
FOLLOWED_KINDS = ("broker_state", "controller_changed", "leader_elected", "topic_created",
                  "topic_deleted", "partitions_added", "topic_altered", "isr_changed", "resync")


class BrokerList(Vertical):
    """Brokers with state, controller mark and leader count; keys stop and start the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="brokers.down"),
        Binding("k", "cursor_up", "Up", show=False, id="brokers.up"),
        Binding("x", "stop_broker", "Stop broker", id="brokers.stop"),
        Binding("s", "start_broker", "Start broker", id="brokers.start"),
    ]

    @dataclass
    class Selected(Message):
        """The highlighted broker changed."""

        broker_id: int | None

    def __init__(self, source: ClusterSource, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.source = source
        #: ``BrokerDescription`` rows: id, alive, controller, voter, leaders.
        self.brokers: list[Any] = []
        #: The KRaft controller quorum as last read.
        self.quorum: QuorumStatus | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="broker-table", cursor_type="row")
        table.add_column("Id", key="id")
        table.add_column("State", key="state", width=5)
        table.add_column("Role", key="role", width=10)
        table.add_column("Leaders", key="leaders")
        yield table

    @property
    def table(self) -> DataTable:
        """The table of brokers."""
        return self.query_one("#broker-table", DataTable)

    @property
    def selected(self) -> int | None:
        """The highlighted broker's id."""
        row = self.table.cursor_row
        return self.brokers[row].broker_id if 0 <= row < len(self.brokers) else None

    def on_mount(self) -> None:
        self.border_title = "Brokers"
        self.run_worker(self._follow_feed(), name="broker-list-feed", group="broker-list", exclusive=True)

    async def _follow_feed(self) -> None:
        sub = await self.source.subscribe(*FOLLOWED_KINDS)
        try:
            await self.reload()
            while True:
                await sub.get()
                sub.get_nowait()  # the whole batch is answered by one re-read
                await self.reload()
                await asyncio.sleep(FRAME_S)
        finally:
            sub.close()

    async def reload(self) -> None:
        """Re-read the brokers and redraw."""
        try:
            self.brokers = await self.source.brokers()
            # The KRaft quorum is the simulation's: a client's metadata does not describe it.
            self.quorum = await self.source.cluster.controller.quorum() if self.source.cluster is not None else None
        except KafkaError:
            return  # the cluster went away: the screen says so; the next event reads again
        table = self.table
        keep = table.cursor_row
        table.clear()
        for broker in self.brokers:
            state = Text("up", style="green") if broker.alive else Text("down", style="bold red")
            # KRaft roles: the active controller, another voter of the quorum, or a broker only.
            role = (Text("controller", style="bold") if broker.is_controller else
                    Text("voter", style="dim") if broker.is_voter else Text(""))
            table.add_row(Text(str(broker.broker_id), justify="right"), state, role,
                          Text(str(broker.leader_count), justify="right"), key=str(broker.broker_id))
        if self.brokers:
            table.move_cursor(row=min(max(keep, 0), len(self.brokers) - 1), animate=False)
        alive = sum(b.alive for b in self.brokers)
        quorum = self.quorum
        # Short, to fit the pane's border: `kplay metadata-quorum ... describe --status` tells the rest.
        if quorum is None:
            self.border_subtitle = f"{alive} up"
        else:
            kraft = f"KRaft leader {quorum.leader_id}" if quorum.has_leader else "KRaft: no quorum"
            self.border_subtitle = f"{alive}/{len(self.brokers)} up · {kraft}"
        self.loaded = True

    @on(DataTable.RowHighlighted, "#broker-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Selected(self.selected))

    def action_cursor_down(self) -> None:
        """Highlight the next broker."""
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        """Highlight the previous broker."""
        self.table.action_cursor_up()

    def action_stop_broker(self) -> None:
        """Stop the highlighted broker: its leaderships move to in-sync followers."""
        self._change_state(alive=False)

    def action_start_broker(self) -> None:
        """Start the highlighted broker again: it catches up and rejoins the ISR."""
        self._change_state(alive=True)

    def _change_state(self, *, alive: bool) -> None:
        broker = self.selected
        if broker is None:
            return
        if self.source.cluster is None:
            self.notify(f"Brokers of {self.source.name} are not kplay's to {'start' if alive else 'stop'}: "
                        "only the playground's simulated brokers are", severity="warning", markup=False)
            return
        self.run_worker(self._set_alive(broker, alive), group="broker-list-change")

    async def _set_alive(self, broker: int, alive: bool) -> None:
        assert self.source.cluster is not None
        controller = self.source.cluster.controller
        try:
            change = await (controller.start_broker(broker) if alive else controller.stop_broker(broker))
        except KafkaError as error:
            self.notify(f"Broker {broker}: {error}", severity="error", markup=False)
            return
        # The pane itself follows the feed; the notification says what the change caused.
        self.notify("\n".join(change.lines()), title="Brokers", markup=False,
                    severity="information" if change.changed else "warning")
