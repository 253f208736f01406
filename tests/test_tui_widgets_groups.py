"""Group members in the ConsumerDeck, owners in the PartitionView, and the GroupPanel."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical

from broker_core import Cluster, Producer, TopicPartition
from tui_widget_harness import wait_for, screen_text
from widgets import consumer_deck, consumer_view, partition_log, partition_view
from widgets.consumer_deck import ConsumerDeck
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
            yield PartitionView(self.cluster)
            yield ConsumerDeck(self.cluster)


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
        assert "group billing" in first.text and f"gen {generation}" in first.text
        assert "orders [0, 1, 2, 3]" in first.text
        # A second member joins from the keyboard: the first visibly gives up half.
        deck.focus()
        await pilot.press("a")
        deck.query_one("#consumer-deck-group").value = "billing"
        deck.query_one("#consumer-deck-group").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(deck.views) == 2, "the second member")
        second = deck.views[1]
        await wait_for(pilot, lambda: partitions(first) == {0, 1} and partitions(second) == {2, 3},
                       "the range assignment split in two")
        await wait_for(pilot, lambda: "orders [0, 1]" in first.text, "the new assignment on screen")
        assert first.generation > generation
        assert f"gen {first.generation}" in first.text
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
        await wait_for(pilot, lambda: view.consumed == 5, "the backlog")
        assert "cmt —" in view.text  # nothing committed yet (auto-commit waits for its interval)
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
