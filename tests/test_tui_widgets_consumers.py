"""ConsumerDeck and ConsumerView through Pilot: standalone consumers, actions, bounded windows."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical

from app.backends import EmbeddedBackend
from broker_core import Cluster, Producer
from tui_widget_harness import HOSTILE_PAYLOADS, HOSTILE_SHOWN, screen_styles_have_link, screen_text, wait_for
from widgets import consumer_deck, consumer_view, partition_log, partition_view, producer_box
from widgets.consumer_deck import ConsumerDeck, parse_partitions
from widgets.consumer_view import ConsumerView
from widgets.partition_view import PartitionView
from widgets.producer_box import ProducerBox


class DeckApp(App):
    """A producer box, a partition view and a consumer deck over one cluster."""

    CSS_PATH = [producer_box.CSS_FILE, partition_view.CSS_FILE, partition_log.CSS_FILE,
                consumer_view.CSS_FILE, consumer_deck.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        with Vertical():
            yield ProducerBox(EmbeddedBackend(self.cluster))
            yield PartitionView(EmbeddedBackend(self.cluster))
            yield ConsumerDeck(EmbeddedBackend(self.cluster))


async def produce(cluster: Cluster, topic: str, items: list[tuple[bytes | None, bytes | None]],
                  partition: int | None = None) -> None:
    async with Producer(cluster) as producer:
        for key, value in items:
            await producer.send(topic, value, key, partition=partition)
        await producer.flush()


def test_partition_lists_parse() -> None:
    assert parse_partitions("") is None and parse_partitions("all") is None
    assert parse_partitions("2,0") == [0, 2]
    assert parse_partitions("0-3") == [0, 1, 2, 3]
    assert parse_partitions("1 3") == [1, 3]
    for bad in ("x", "1-", "3-1", "-2"):
        try:
            parse_partitions(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


async def test_produce_from_the_box_and_see_it_in_a_consumer_and_the_strip(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=2)
    app = DeckApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        deck.focus()
        # Add a standalone consumer on partition 1 from the keyboard.
        await pilot.press("a")
        await pilot.press(*"orders", "tab", "tab", *"1", "enter")
        await wait_for(pilot, lambda: len(deck.views) == 1, "the consumer view")
        view = deck.views[0]
        await wait_for(pilot, lambda: "partitions [1]" in view.text, "its assignment")
        box = app.query_one(ProducerBox)
        box.topic = "orders"
        app.query_one(PartitionView).topic = "orders"
        box.query_one("#producer-partition").value = "1"
        box.query_one("#producer-key").value = "alice"
        box.query_one("#producer-value").value = "hello-from-the-box"
        box.query_one("#producer-value").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "1:0 alice hello-from-the-box" in view.text, "the record in the consumer")
        await wait_for(pilot, lambda: "0:alice" in screen_text(app), "the record in the partition strip")
        assert "hello-from-the-box" in screen_text(app)
        await wait_for(pilot, lambda: "pos 1 left 0" in view.text, "position and nothing left to read")


async def test_pause_resume_seek_and_bounded_window(cluster: Cluster) -> None:
    await cluster.topics.create_topic("flow", partitions=1)
    await produce(cluster, "flow", [(b"k", f"v{i}".encode()) for i in range(50)])
    app = DeckApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        view = await deck.add_consumer("flow")
        small = await deck.add_consumer("flow", label="small", window=20)  # a tiny window, quickly full
        await wait_for(pilot, lambda: view.consumed == 50 and "0:49 k v49" in small.text, "the backlog")
        assert len(small.window.records) == 20 and "0:49 k v49" in small.text and "0:29 " not in small.text
        view.window.focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: "paused" in view.text, "paused")
        await produce(cluster, "flow", [(b"k", b"while-paused")])
        await wait_for(pilot, lambda: small.consumed == 51, "the other consumer reading on")
        await wait_for(pilot, lambda: "left 1" in view.text, "records left to read growing while paused")
        assert view.consumed == 50
        await pilot.press("p")
        await wait_for(pilot, lambda: view.consumed == 51, "resumed")
        await pilot.press("b")
        await wait_for(pilot, lambda: view.consumed == 102, "everything again after seek to beginning")
        await pilot.press("e")
        await wait_for(pilot, lambda: "seeked to the end" in view.text, "seek to end")
        await produce(cluster, "flow", [(b"k", b"after-end")])
        await wait_for(pilot, lambda: view.consumed == 103, "only the new record")
        # c on a standalone consumer explains there is no group.
        await pilot.press("c")
        await wait_for(pilot, lambda: "no group" in view.text, "the commit explanation")
        # x removes the focused consumer; h/l move between them.
        await pilot.press("l")
        assert deck.focused_view is small
        await pilot.press("x")
        await wait_for(pilot, lambda: len(deck.views) == 1, "the removal")


async def test_add_form_refuses_bad_input_clearly(cluster: Cluster) -> None:
    await cluster.topics.create_topic("t", partitions=2)
    app = DeckApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        deck.focus()
        await pilot.press("a", *"ghost", "enter")
        await wait_for(pilot, lambda: "UNKNOWN_TOPIC_OR_PARTITION (3)" in deck.message, "unknown topic")
        deck.query_one("#consumer-deck-topic").value = "t"
        deck.query_one("#consumer-deck-partitions").value = "5"
        deck.query_one("#consumer-deck-partitions").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "no partition 5" in deck.message, "a missing partition")
        deck.query_one("#consumer-deck-partitions").value = "one"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Partitions are numbers" in deck.message, "a bad partition list")
        # A topic named like markup is echoed literally in the error.
        deck.query_one("#consumer-deck-partitions").value = ""
        deck.query_one("#consumer-deck-topic").value = "[link=http://e]y[/link]"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "'[link=http://e]y[/link]' does not exist" in screen_text(app),
                       "the markup-looking name, literally")
        assert not screen_styles_have_link(app)
        assert deck.views == []
        await pilot.press("escape")
        assert not deck.query_one("#consumer-deck-form").display


async def test_four_consumers_fit_in_160_columns(cluster: Cluster) -> None:
    await cluster.topics.create_topic("wide", partitions=4)
    app = DeckApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        for p in range(4):
            await deck.add_consumer("wide", partitions=[p])
        await pilot.pause()
        views = deck.views
        assert all(v.region.width >= 38 for v in views)
        assert views[-1].region.right <= 160


async def test_hostile_records_render_literally_in_a_consumer(cluster: Cluster) -> None:
    await cluster.topics.create_topic("hostile", partitions=1)
    await produce(cluster, "hostile", [(payload, payload) for payload in HOSTILE_PAYLOADS])
    app = DeckApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        deck = app.query_one(ConsumerDeck)
        view = await deck.add_consumer("hostile")
        await wait_for(pilot, lambda: view.consumed == len(HOSTILE_PAYLOADS), "the records")
        await wait_for(pilot, lambda: all(shown in screen_text(app) for shown in HOSTILE_SHOWN),
                       "every payload, literally")
        assert "\x1b" not in screen_text(app) and "\x07" not in screen_text(app)
        assert not screen_styles_have_link(app)


async def test_a_read_committed_view_skips_aborted_records(cluster) -> None:
    """Two views of one partition, as created from the deck's form: read_uncommitted shows the
    aborted transaction's record (marked) and both markers, read_committed neither (and says it
    is read_committed)."""
    from transaction_support import TransactionalProducer

    class DeckApp(App):
        CSS_PATH = [consumer_view.CSS_FILE, consumer_deck.CSS_FILE]

        def compose(self) -> ComposeResult:
            yield ConsumerDeck(EmbeddedBackend(cluster))

    await cluster.topics.create_topic("orders", 1, 1)
    producer = TransactionalProducer(cluster, "etl")
    await producer.init()
    await producer.send(b"kept")
    await producer.end(commit=True)
    await producer.send(b"dropped")
    await producer.end(commit=False)
    app = DeckApp()
    async with app.run_test(size=(160, 40)) as pilot:
        deck = app.query_one(ConsumerDeck)
        deck.focus()
        await pilot.press("a", *"orders", "enter")
        await wait_for(pilot, lambda: len(deck.views) == 1, "the read_uncommitted view")
        deck.query_one("#consumer-deck-isolation").value = "read_committed"
        deck.focus()
        await pilot.press("a")
        deck.query_one("#consumer-deck-topic").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(deck.views) == 2, "the read_committed view")
        uncommitted, committed = deck.views
        await wait_for(pilot, lambda: uncommitted.consumed == 2 and "dropped" in uncommitted.text, "both records")
        await wait_for(pilot, lambda: committed.consumed == 1 and "kept" in committed.text, "the committed record")
        assert "dropped" not in committed.text and "read_committed" in committed.text
        assert "read_committed" not in uncommitted.text
        # read_uncommitted shows what read_committed hides: the aborted record marked, and the markers.
        await wait_for(pilot, lambda: "0:2 ✗aborted" in uncommitted.text and "0:3 ABORT marker" in uncommitted.text,
                       "the aborted record and its marker")
        lines = uncommitted.text.splitlines()
        marker_lines = [line for line in lines if "marker" in line]
        assert [line.split()[1] for line in marker_lines] == ["0:1", "0:3"]  # COMMIT at 1, ABORT at 3
        assert "COMMIT marker" in marker_lines[0] and "kept" in lines[lines.index(marker_lines[0]) - 1]
        # Both read past the two markers: position 4 (records at 0 and 2, markers at 1 and 3).
        await wait_for(pilot, lambda: [s.position for s in committed.stats] == [4]
                       and [s.position for s in uncommitted.stats] == [4], "positions past the markers")
