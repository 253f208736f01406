"""PartitionView and PartitionLog through Pilot: live strips, the open log, hostile payloads."""

from __future__ import annotations

from textual.app import App, ComposeResult

from app.backends import EmbeddedBackend
from broker_core import Cluster, Producer
from tui_widget_harness import HOSTILE_PAYLOADS, HOSTILE_SHOWN, screen_styles_have_link, screen_text, wait_for
from widgets import partition_log, partition_view
from widgets.partition_log import PartitionLog
from widgets.partition_view import PartitionView


class PartitionApp(App):
    """Just a PartitionView over a cluster."""

    CSS_PATH = [partition_view.CSS_FILE, partition_log.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        yield PartitionView(EmbeddedBackend(self.cluster))


async def produce(cluster: Cluster, topic: str, items: list[tuple[bytes | None, bytes | None]],
                  partition: int | None = None) -> None:
    async with Producer(cluster) as producer:
        for key, value in items:
            await producer.send(topic, value, key, partition=partition)
        await producer.flush()


async def test_strips_show_offsets_keys_replicas_and_grow_live(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
    await produce(cluster, "orders", [(b"alpha", b"1"), (b"beta", b"2")], partition=1)
    app = PartitionApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = app.query_one(PartitionView)
        view.topic = "orders"
        await wait_for(pilot, lambda: "1:beta" in screen_text(app), "the strip of partition 1")
        text = screen_text(app)
        assert "orders" in text and "3 partitions" in text and "RF 2" in text
        assert "0:alpha" in text and "HW 2" in text
        assert "P0" in text and "P2" in text and "leader" in text
        # Each partition lists its replicas with an in-sync mark.
        assert text.count("●") >= 6
        # Another producer appends: the strip grows without any key press.
        await produce(cluster, "orders", [(b"gamma", b"3")], partition=1)
        await wait_for(pilot, lambda: "2:gamma" in screen_text(app), "the new record in the strip")
        assert "HW 3" in screen_text(app)


async def test_open_log_of_a_partition_and_follow_new_records(cluster: Cluster) -> None:
    await cluster.topics.create_topic("events", partitions=2)
    await produce(cluster, "events", [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(600)],
                  partition=0)
    app = PartitionApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = app.query_one(PartitionView)
        view.topic = "events"
        await wait_for(pilot, lambda: "599:k599" in screen_text(app), "the strip")
        view.strips.focus()
        await pilot.press("enter")
        log = app.query_one(PartitionLog)
        await wait_for(pilot, lambda: "value-599" in screen_text(app), "the newest record in the log")
        assert log.display and log.has_focus
        # It follows the end: a new record shows at the bottom.
        await produce(cluster, "events", [(b"late", b"value-late")], partition=0)
        await wait_for(pilot, lambda: "value-late" in screen_text(app), "the followed record")
        # g jumps to the oldest record; only a few pages are ever held.
        await pilot.press("g")
        await wait_for(pilot, lambda: "value-0 " in screen_text(app) + " ", "the oldest record")
        assert log.cached_records <= partition_log.PAGES_KEPT * partition_log.PAGE_SIZE
        # / jumps to an offset.
        await pilot.press("slash", *"300", "enter")
        await wait_for(pilot, lambda: "value-300" in screen_text(app), "offset 300")
        await pilot.press("escape")
        assert not log.display


async def test_a_log_shown_before_it_is_laid_out_opens_at_its_newest_records(cluster: Cluster) -> None:
    """However late the layout gives the log its size (a busy first frame), it opens at the end."""
    await cluster.topics.create_topic("events", partitions=1)
    await produce(cluster, "events", [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(600)])
    app = PartitionApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = app.query_one(PartitionView)
        view.topic = "events"
        await wait_for(pilot, lambda: "599:k599" in screen_text(app), "the strip")
        log = view.log
        log.show("events", 0, 0, 600)  # still hidden: no size yet
        await pilot.pause()
        await pilot.pause()  # refreshes come and go before the log has a size
        assert log.size.height == 0
        log.display = True
        await wait_for(pilot, lambda: "value-599" in screen_text(app), "the newest record in the log")
        assert "value-0 " not in screen_text(app) + " "


async def test_hostile_keys_and_values_show_literally(cluster: Cluster) -> None:
    await cluster.topics.create_topic("hostile", partitions=1)
    await produce(cluster, "hostile", [(payload, payload) for payload in HOSTILE_PAYLOADS])
    app = PartitionApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = app.query_one(PartitionView)
        view.topic = "hostile"
        await wait_for(pilot, lambda: "4:" in screen_text(app), "the strip")
        view.strips.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: all(shown in screen_text(app) for shown in HOSTILE_SHOWN),
                       "every hostile value, literally")
        text = screen_text(app)
        assert "\x1b" not in text and "\x07" not in text
        assert not screen_styles_have_link(app)


async def test_unknown_and_deleted_topic_say_so(cluster: Cluster) -> None:
    await cluster.topics.create_topic("doomed", partitions=1)
    app = PartitionApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = app.query_one(PartitionView)
        view.topic = "nope"
        await wait_for(pilot, lambda: "topic nope does not exist" in screen_text(app), "the unknown topic")
        view.topic = "doomed"
        await wait_for(pilot, lambda: "1 partition " in screen_text(app), "the topic")
        await cluster.topics.delete_topic("doomed")
        await wait_for(pilot, lambda: "was deleted" in screen_text(app), "the deletion")


async def test_an_open_transaction_shows_the_lso_in_the_partition_header(cluster: Cluster, data_path) -> None:
    """While a transaction is open on a partition its header shows the LSO below the HW; the
    commit (made by another opener of the file, as another process would) takes it away."""
    from transaction_support import TransactionalProducer

    await cluster.topics.create_topic("orders", 2, 1)
    app = PartitionApp(cluster)
    async with app.run_test(size=(160, 30)) as pilot:
        view = app.query_one(PartitionView)
        view.topic = "orders"
        await wait_for(pilot, lambda: "P0" in screen_text(app) and "HW 0" in screen_text(app), "the strips")
        assert "LSO" not in screen_text(app)
        other = await Cluster.open(data_path)
        try:
            producer = TransactionalProducer(other, "app")
            await producer.init()
            await producer.send(b"a", b"b")
            await wait_for(pilot, lambda: "HW 2  LSO 0" in screen_text(app), "the LSO of the open transaction")
            await producer.end(commit=True)
            await wait_for(pilot, lambda: "LSO" not in screen_text(app) and "HW 3" in screen_text(app),
                           "the LSO gone with the commit")
        finally:
            await other.close()
