"""``GroupPanel``: every consumer group with its members, assignment, generation and lag.

What ``kafka-consumer-groups --describe --members`` and ``--describe`` print, live: per
group its state, protocol (classic or KIP-848 consumer), generation or group epoch,
assignor and leader; per member its client id, host,
partitions and total lag; per partition the committed offset, the log end (high watermark),
the lag and the member reading it.
Below the groups, the transactional ids (``kafka-transactions list``/``describe``, live): each
one's state, producer id and epoch, and the partitions an open transaction writes to.
It redraws on group and transaction events at once and, while records flow, at most a few times a second
(lag changes with every record; reading it per record would be wasted work).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from broker_core.errors import KafkaError
from broker_core.group_descriptions import CONSUMER_GROUP_TYPE
from broker_core.groups import GroupDescription, PartitionLag
from broker_core.records import TopicPartition
from broker_core.transactions import ONGOING, TransactionDescription

from .cluster_source import ClusterSource
from .safe_text import printable

CSS_FILE = Path(__file__).with_suffix(".tcss")

#: Groups drawn at most (the rest are counted).
MAX_GROUPS = 20
#: Partition rows drawn per group at most.
MAX_LAG_ROWS = 64
#: Transactional ids drawn at most (open ones first; the rest are counted).
MAX_TRANSACTIONS = 10
#: A transaction's state, coloured: open (yellow), committed (green), aborted (red).
TRANSACTION_STYLES = {"Ongoing": "bold yellow", "PrepareCommit": "bold yellow", "PrepareAbort": "bold yellow",
                      "CompleteCommit": "bold green", "CompleteAbort": "bold red", "Empty": "dim"}
#: Shortest pause between two redraws caused by group events (one per frame).
FRAME_S = 1 / 30
#: Shortest pause between two redraws caused only by records (lag), which arrive constantly.
LAG_REFRESH_S = 0.25

FEED_KINDS = ("group_rebalanced", "group_state", "offsets_committed", "records", "topic_deleted",
              "log_truncated", "segment_deleted", "transaction_state", "resync")


@dataclass(frozen=True)
class GroupSnapshot:
    """One group as last read: its description and its per-partition lag rows."""

    description: GroupDescription
    lag: list[PartitionLag] = field(default_factory=list)


class GroupPanel(VerticalScroll, can_focus=True):
    """Consumer groups: members and their partitions, generation, per-partition lag."""

    BINDINGS: list[BindingType] = [
        Binding("j", "scroll_down", "Down", show=False, id="group-panel.down"),
        Binding("k", "scroll_up", "Up", show=False, id="group-panel.up"),
        Binding("g", "scroll_home", "Top", show=False, id="group-panel.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="group-panel.bottom"),
    ]

    def __init__(self, source: ClusterSource, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self.groups: list[GroupSnapshot] = []
        self.hidden_groups = 0
        self.transactions: list[TransactionDescription] = []
        self.hidden_transactions = 0
        self._shape: tuple[list[tuple[str, int, int]], list[tuple[str, int]]] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("No consumer groups yet.", style="italic"), id="group-panel-body", markup=False)

    def on_mount(self) -> None:
        self.border_title = "Consumer groups"
        self._follow_feed()

    @work(group="group-panel-feed")
    async def _follow_feed(self) -> None:
        """Read the groups once, then again after each batch of relevant events."""
        sub = await self.source.subscribe(*FEED_KINDS)
        try:
            await self.reload()
            last = time.monotonic()
            while True:
                first = await sub.get()
                batch = [first, *sub.get_nowait()]
                if all(event.kind == "records" for event in batch):
                    # Only lag moved: wait out the lag interval, gathering whatever else comes.
                    wait = LAG_REFRESH_S - (time.monotonic() - last)
                    if wait > 0:
                        await asyncio.sleep(wait)
                        sub.get_nowait()
                await self.reload()
                last = time.monotonic()
                await asyncio.sleep(FRAME_S)
        finally:
            sub.close()

    async def reload(self) -> None:
        """Read every group through the coordinator and redraw."""
        snapshots: list[GroupSnapshot] = []
        try:
            listings = await self.source.list_groups()
        except KafkaError:
            listings = []
        self.hidden_groups = max(0, len(listings) - MAX_GROUPS)
        for listing in listings[:MAX_GROUPS]:
            try:
                description = await self.source.describe_group(listing.group_id)
                lag = await self.source.group_lag(listing.group_id)
            except KafkaError:
                continue  # deleted between the calls
            snapshots.append(GroupSnapshot(description, lag))
        self.groups = snapshots
        await self._reload_transactions()
        body = self.query_one("#group-panel-body", Static)
        shape = ([(s.description.group_id, len(s.description.members), len(s.lag)) for s in snapshots],
                 [(t.transactional_id, len(t.partitions)) for t in self.transactions])
        # Lay out again only when the number of lines can have changed (not for new lag figures).
        body.update(self._render_groups(), layout=shape != self._shape)
        self._shape = shape

    async def _reload_transactions(self) -> None:
        core = self.source.cluster
        if core is None:
            # The backend has no transaction verbs yet (Kafka's ListTransactions): the playground's only.
            self.transactions, self.hidden_transactions = [], 0
            return
        try:
            listings = await core.transactions.list_transactions()
        except KafkaError:
            listings = []
        # Open transactions first: they hold the last stable offset back.
        listings.sort(key=lambda t: (t.state != ONGOING, t.transactional_id))
        self.hidden_transactions = max(0, len(listings) - MAX_TRANSACTIONS)
        described = []
        for listing in listings[:MAX_TRANSACTIONS]:
            try:
                described.append(await core.transactions.describe(listing.transactional_id))
            except KafkaError:
                continue  # expired between the calls
        self.transactions = described

    def _render_groups(self) -> RenderableType:
        parts: list[RenderableType] = []
        if not self.groups:
            parts.append(Text("No consumer groups yet. Add a consumer with a group name to create one.",
                              style="italic"))
        for snapshot in self.groups:
            parts.extend(_render_group(snapshot))
        if self.hidden_groups:
            parts.append(Text(f"+{self.hidden_groups} more groups", style="dim"))
        if self.transactions:
            parts.extend(_render_transactions(self.transactions, self.hidden_transactions))
        return Group(*parts)


def _render_group(snapshot: GroupSnapshot) -> list[RenderableType]:
    """A heading, one line per member (★ the leader) and one per partition; fits a narrow pane.

    The heading names the group's protocol: a classic group counts generations, a KIP-848
    consumer group epochs (each member shows its own, and the target it is moving to).
    """
    d = snapshot.description
    consumer_protocol = d.group_type == CONSUMER_GROUP_TYPE
    heading = Text(no_wrap=True, overflow="ellipsis")
    heading.append(printable(d.group_id, 40), "bold")
    heading.append(f"  {d.state}", "bold green" if d.state == "Stable" else "bold yellow")
    if d.generation >= 0:  # -1 on a real cluster: DescribeGroups does not give a client the generation
        heading.append("  epoch " if consumer_protocol else "  gen ", "dim")
        heading.append(str(d.generation), "bold")
    # "classic/range", "consumer/uniform": the protocol, then the assignor (short: the pane may be narrow).
    heading.append(f"  {d.group_type}", "cyan")
    if d.protocol:
        heading.append("/", "dim")
        heading.append(printable(d.protocol, 30))
    parts: list[RenderableType] = [heading]

    for member in sorted(d.members, key=lambda m: (m.client_id, m.member_id)):
        # A member's assignment wraps onto more lines in a narrow pane rather than being cut.
        line = Text()
        line.append(" ★ " if member.member_id == d.leader else "   ", "yellow")
        line.append(printable(member.client_id or member.member_id, 30), "bold")
        line.append(" → ", "dim")
        waiting = "(waiting for partitions)" if consumer_protocol else "(rebalancing)"
        line.append(_partitions_text(member.assignment)
                    or (waiting if d.state != "Stable" else "(idle: no partition)"))
        if consumer_protocol and member.member_epoch is not None:
            line.append(f"  epoch {member.member_epoch}", "dim")
            if sorted(member.target_assignment) != sorted(member.assignment):
                line.append("  target ", "dim")
                line.append(_partitions_text(member.target_assignment) or "nothing", "yellow")
        owned = [row.lag for row in snapshot.lag if row.member_id == member.member_id and row.lag is not None]
        if owned:
            line.append("  lag ", "dim")
            line.append(f"{sum(owned):,}", "bold red" if sum(owned) else "green")
        if member.host:
            line.append(f"  {printable(member.host, 40)}", "dim")
        parts.append(line)
    if not d.members:
        parts.append(Text("   no members (offsets are kept)", style="dim"))

    for row in snapshot.lag[:MAX_LAG_ROWS]:
        # One short line per partition (the pane may be narrow): committed / end and lag.
        lag = row.lag
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"   {printable(row.topic, 30)}-{row.partition}", "bold")
        line.append("  cmt ", "dim")
        line.append("-" if row.committed is None else f"{row.committed:,}")
        line.append("  end ", "dim")
        line.append("-" if row.log_end_offset is None else f"{row.log_end_offset:,}")
        line.append("  lag ", "dim")
        line.append("-" if lag is None else f"{lag:,}", "bold red" if lag else "green")
        if row.client_id:
            line.append(f"  {printable(row.client_id, 30)}", "dim")
        parts.append(line)
    if len(snapshot.lag) > MAX_LAG_ROWS:
        parts.append(Text(f"+{len(snapshot.lag) - MAX_LAG_ROWS} more partitions", style="dim"))
    parts.append(Text(""))
    return parts


def _render_transactions(transactions: list[TransactionDescription], hidden: int) -> list[RenderableType]:
    """A heading, then one line per transactional id: state, producer id/epoch, open partitions."""
    parts: list[RenderableType] = [Text("Transactions", style="bold underline")]
    for txn in transactions:
        line = Text()
        line.append(printable(txn.transactional_id, 40), "bold")
        line.append(f"  {txn.state}", TRANSACTION_STYLES.get(txn.state, "bold"))
        line.append("  pid ", "dim")
        line.append(f"{txn.producer_id}/{txn.producer_epoch}")
        if txn.partitions:
            line.append(" → ", "dim")
            line.append(", ".join(f"{printable(tp.topic, 30)}-{tp.partition}" for tp in txn.partitions))
        parts.append(line)
    if hidden:
        parts.append(Text(f"+{hidden} more transactional ids", style="dim"))
    return parts


def _partitions_text(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{printable(tp.topic, 30)}-{tp.partition}" for tp in sorted(partitions))
