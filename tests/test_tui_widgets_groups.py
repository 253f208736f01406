"""Group members in the ConsumerDeck, owners in the PartitionView, and the GroupPanel."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical

from app.backends import EmbeddedBackend
from broker_core import Cluster, Producer, TopicPartition
from tui_widget_harness import screen_styles_have_link, screen_text, wait_for
from widgets import consumer_deck, consumer_view, group_panel, partition_log, partition_view
from widgets.consumer_deck import ConsumerDeck
from widgets.group_panel import GroupPanel
from widgets.partition_view import PartitionView


class GroupsApp(App):
    """A partition view over a consumer deck."""

    CSS_PATH = [partition_view.CSS_FILE, partition_log.CSS_FILE, consumer_view.CSS_FILE,
                consumer_deck.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        with Vertical():
            yield PartitionView(EmbeddedBackend(self.cluster))
            yield ConsumerDeck(EmbeddedBackend(self.cluster))


def partitions(view) -> set[int]:
    return {tp.partition for tp in view.assignment}


async def test_adding_a_second_member_rebalances_the_first(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=4)
    app = GroupsApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        deck.focus()
        await pilot.press("a", *"orders", "tab", *"billing", "enter")
        await wait_for(pilot, lambda: len(deck.views) == 1, "the first member")
        first = deck.views[0]
        await wait_for(pilot, lambda: partitions(first) == {0, 1, 2, 3}, "the first member owning everything")
        generation = first.generation
        await wait_for(pilot, lambda: f"gen {generation}" in first.text and "orders [0, 1, 2, 3]" in first.text,
                       "the assignment on screen")
        assert "group billing" in first.text
        # A second member joins from the keyboard: the first visibly gives up half.
        deck.focus()
        await pilot.press("a")
        deck.query_one("#consumer-deck-group").value = "billing"
        deck.query_one("#consumer-deck-group").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(deck.views) == 2, "the second member")
        second = deck.views[1]
        # Range gives the first half to the member id that sorts first; ids carry a counter
        # ("consumer-9" sorts after "consumer-10"), so either member may get either half.
        halves = {frozenset({0, 1}), frozenset({2, 3})}
        await wait_for(pilot, lambda: {frozenset(partitions(first)), frozenset(partitions(second))} == halves,
                       "the range assignment split in two")
        kept = ", ".join(str(p) for p in sorted(partitions(first)))
        await wait_for(pilot, lambda: f"orders [{kept}]" in first.text and f"gen {first.generation}" in first.text,
                       "the new assignment on screen")
        assert first.generation > generation
        assert "rebalanced" in first.text and "revoked p0, p1, p2, p3" in first.text
        # The partition view names each partition's owner.
        app.query_one(PartitionView).topic = "orders"
        await wait_for(pilot, lambda: screen_text(app).count("billing/") == 4, "owners on the strips")
        # The second leaves (x): the first gets everything back.
        second.window.focus()
        await pilot.press("x")
        await wait_for(pilot, lambda: partitions(first) == {0, 1, 2, 3}, "the first member owning everything again")


async def test_commit_now_shows_committed_offset_and_lag(cluster: Cluster) -> None:
    await cluster.topics.create_topic("pay", partitions=1)
    async with Producer(cluster) as producer:
        for i in range(5):
            await producer.send("pay", f"v{i}".encode(), b"k")
    app = GroupsApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        view = await deck.add_consumer("pay", group="ledger")
        # Nothing committed yet: auto-commit waits for its interval on the (manual) clock.
        await wait_for(pilot, lambda: view.consumed == 5 and "pos 5 left 0 cmt — lag —" in view.text, "the backlog")
        view.window.focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: "cmt 5" in view.text and "lag 0" in view.text, "the commit")
        assert await cluster.groups.fetch_offsets("ledger", [TopicPartition("pay", 0)]) == {TopicPartition("pay", 0): 5}
        # The partition view puts the committed marker on the strip.
        app.query_one(PartitionView).topic = "pay"
        await wait_for(pilot, lambda: "committed 5  lag 0" in screen_text(app), "the committed marker")
        # New records: lag grows until the next commit.
        async with Producer(cluster) as producer:
            await producer.send("pay", b"v5", b"k")
        await wait_for(pilot, lambda: "committed 5  lag 1" in screen_text(app), "the marker lagging")


class PanelApp(App):
    """A consumer deck beside a group panel."""

    CSS_PATH = [consumer_view.CSS_FILE, consumer_deck.CSS_FILE, group_panel.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ConsumerDeck(EmbeddedBackend(self.cluster))
            yield GroupPanel(EmbeddedBackend(self.cluster))


async def test_group_panel_shows_members_generation_assignment_and_lag(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2)
    async with Producer(cluster) as producer:
        for i in range(6):
            await producer.send("orders", f"v{i}".encode(), partition=i % 2)
    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        panel = app.query_one(GroupPanel)
        await wait_for(pilot, lambda: "No consumer groups yet" in screen_text(app), "the empty panel")
        deck = app.query_one(ConsumerDeck)
        first = await deck.add_consumer("orders", group="audit", label="auditor-a")
        await wait_for(pilot, lambda: first.consumed == 6, "the first member's records")
        first.window.focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: any(row.committed == 3 for s in panel.groups for row in s.lag),
                       "the commit in the panel")
        text = screen_text(app)
        assert "audit" in text and "Stable" in text and "gen 1" in text
        assert "auditor-a → orders-0, orders-1" in text
        second = await deck.add_consumer("orders", group="audit", label="auditor-b")
        await wait_for(pilot, lambda: bool(panel.groups) and panel.groups[0].description.generation == 2
                       and panel.groups[0].description.state == "Stable", "the rebalance in the panel")
        await wait_for(pilot, lambda: "gen 2" in screen_text(app) and "auditor-b → orders-1" in screen_text(app),
                       "generation 2 on screen")
        members = {m.client_id: [tp.partition for tp in m.assignment] for m in panel.groups[0].description.members}
        assert members == {"auditor-a": [0], "auditor-b": [1]}
        # New records raise the lag without anyone committing.
        async with Producer(cluster) as producer:
            await producer.send("orders", b"late", partition=0)
        await wait_for(pilot, lambda: any(row.partition == 0 and row.lag == 1 for row in panel.groups[0].lag),
                       "lag on partition 0")
        assert second.generation == 2


async def test_group_panel_shows_hostile_group_and_client_names_literally(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", partitions=1)
    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        view = await deck.add_consumer("t", group="[bold red]x[/]", label="[link=http://e]y[/link]")
        await wait_for(pilot, lambda: view.generation == 1, "the member")
        await wait_for(pilot, lambda: "[bold red]x[/]" in screen_text(app)
                       and "[link=http://e]y[/link]" in screen_text(app), "the names, literally")
        assert not screen_styles_have_link(app)


async def test_closing_the_app_makes_its_members_leave_the_group(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", partitions=2)
    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = await app.query_one(ConsumerDeck).add_consumer("t", group="leavers")
        await wait_for(pilot, lambda: view.generation == 1, "the member")
        assert len((await cluster.groups.describe_group("leavers")).members) == 1
    # No waiting for a 45 s session timeout: the member left when its view went away.
    description = await cluster.groups.describe_group("leavers")
    assert description.members == [] and description.state == "Empty"


async def test_a_view_of_a_consumer_owned_elsewhere_never_closes_it(cluster: Cluster) -> None:
    from broker_core import Consumer

    await cluster.topics.create_topic("lesson", partitions=1)
    owned = Consumer(cluster, group_id="lessons", client_id="lesson-consumer")
    owned.subscribe(["lesson"])
    await owned.poll(100)
    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        await deck.adopt("lesson-view", owned, lambda: (0, []))
        await wait_for(pilot, lambda: len(deck.views) == 1, "the adopted view")
    # The app closed with the view on screen: the lesson's consumer is still a member.
    assert len((await cluster.groups.describe_group("lessons")).members) == 1
    await owned.close()
    assert (await cluster.groups.describe_group("lessons")).members == []


async def test_group_panel_shows_each_members_host_lag_and_the_assignor(cluster: Cluster) -> None:
    from broker_core import Consumer, TopicPartition

    await cluster.topics.create_topic("orders", partitions=2)
    async with Producer(cluster) as producer:
        for i in range(6):
            await producer.send("orders", f"v{i}".encode(), partition=i % 2)
    consumer = Consumer(cluster, group_id="billing", client_id="biller", host="/10.0.0.7", enable_auto_commit=False)
    consumer.subscribe(["orders"])
    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        panel = app.query_one(GroupPanel)
        for _ in range(100):  # an application's poll loop, until the member has its partitions
            await consumer.poll(timeout_ms=50)
            if consumer.assignment():
                break
        await wait_for(pilot, lambda: bool(panel.groups) and panel.groups[0].description.state == "Stable",
                       "the stable group")
        await consumer.commit({TopicPartition("orders", 0): 1, TopicPartition("orders", 1): 3})
        await wait_for(pilot, lambda: "lag 2" in screen_text(app), "the member's lag")
        text = screen_text(app)
        assert "Stable  gen 1  classic/range" in text
        assert "biller → orders-0, orders-1  lag 2  /10.0.0.7" in text
        assert "orders-0  cmt 1  end 3  lag 2  biller" in text and "orders-1  cmt 3  end 3  lag 0  biller" in text
    await consumer.close()


async def test_group_panel_shows_transactions_live(cluster: Cluster, data_path) -> None:
    """A transaction's state changes (made here through a second opener of the file, as another
    process's producer would) reach the panel: open with its partitions, then committed; a
    zombie's fencing shows as the epoch moving on."""
    await cluster.topics.create_topic("orders", partitions=2)
    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: "No consumer groups yet" in screen_text(app), "the empty panel")
        assert "Transactions" not in screen_text(app)
        other = await Cluster.open(data_path)
        try:
            txns = other.transactions
            pid = await txns.init_producer_id("etl-<b>1</b>", 60_000)
            await txns.add_partitions("etl-<b>1</b>", pid.producer_id, pid.producer_epoch,
                                      [TopicPartition("orders", 1)])
            await wait_for(pilot, lambda: f"etl-<b>1</b>  Ongoing  pid {pid.producer_id}/0 → orders-1"
                           in screen_text(app), "the open transaction")
            await txns.end_transaction("etl-<b>1</b>", pid.producer_id, pid.producer_epoch, commit=True)
            await wait_for(pilot, lambda: f"etl-<b>1</b>  CompleteCommit  pid {pid.producer_id}/0"
                           in screen_text(app), "the commit")
            await txns.init_producer_id("etl-<b>1</b>", 60_000)
            await wait_for(pilot, lambda: f"etl-<b>1</b>  Empty  pid {pid.producer_id}/1" in screen_text(app),
                           "the bumped epoch")
        finally:
            await other.close()


async def test_group_panel_says_which_protocol_and_shows_kip848_epochs_and_targets(cluster: Cluster) -> None:
    from broker_core.consumer_group_coordinator import ConsumerGroupHeartbeatRequest

    await cluster.topics.create_topic("orders", partitions=2)

    async def heartbeat(member: str, epoch: int, owned: tuple[int, ...] | None = ()) -> None:
        await cluster.groups.consumer_group_heartbeat(ConsumerGroupHeartbeatRequest(
            "modern", member, epoch, rebalance_timeout_ms=30_000 if epoch == 0 else -1,
            subscribed_topic_names=("orders",) if epoch == 0 else None,
            owned_partitions=None if owned is None else {"orders": owned}, client_id=member))

    app = PanelApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        panel = app.query_one(GroupPanel)
        await heartbeat("alpha", 0)
        await wait_for(pilot, lambda: "modern  Stable  epoch 1  consumer/uniform" in screen_text(app),
                       "the consumer-protocol group's heading")
        await wait_for(pilot, lambda: "alpha → orders-0, orders-1  epoch 1" in screen_text(app), "alpha's line")
        # beta joins: alpha keeps both partitions until it revokes one, and the panel says so.
        await heartbeat("beta", 0)
        await heartbeat("alpha", 1, owned=(0, 1))
        await wait_for(pilot, lambda: "Reconciling" in screen_text(app)
                       and "beta → (waiting for partitions)  epoch 2  target orders-" in screen_text(app),
                       "the reconciling group, beta waiting for its target")
        await heartbeat("alpha", 1, owned=tuple(tp.partition for tp in next(
            m for m in panel.groups[0].description.members if m.member_id == "alpha").assignment))
        await heartbeat("beta", 2)
        await wait_for(pilot, lambda: "modern  Stable  epoch 2  consumer/uniform" in screen_text(app), "the stable group")
        members = {m.member_id: len(m.assignment) for m in panel.groups[0].description.members}
        assert members == {"alpha": 1, "beta": 1}
