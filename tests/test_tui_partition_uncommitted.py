"""Records above the high watermark (acks=1 while the followers lag) are drawn in the partition strip,
dimmed and marked "not yet committed"; consumers still never read them."""

from __future__ import annotations

from textual.app import App, ComposeResult

from app.backends import EmbeddedBackend
from broker_core import Cluster, Producer
from tui_widget_harness import screen_text, wait_for
from widgets import partition_view
from widgets.partition_view import PartitionStrips, PartitionView


class PartitionApp(App):
    """Just a PartitionView over a cluster."""

    CSS_PATH = [partition_view.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        yield PartitionView(EmbeddedBackend(self.cluster))


def _segments_with(app: App, text: str) -> list:
    """The styled segments on screen whose text contains ``text``."""
    return [segment for line in app.screen._compositor.render_strips()  # noqa: SLF001
            for segment in line if text in segment.text]


async def test_records_above_the_high_watermark_show_dimmed_as_not_yet_committed(cluster: Cluster) -> None:
    await cluster.controller.set_replication_delay(60_000)  # the followers copy nothing for now
    await cluster.topics.create_topic("payments", partitions=1, replication_factor=3)
    async with Producer(cluster, acks=1) as producer:
        for i in range(5):
            await producer.send("payments", f"payment {i}".encode(), f"pay{i}".encode(), partition=0)
        await producer.flush()
    # A consumer's read stops at the high watermark: none of the five.
    assert (await cluster.logs.read("payments", 0, 0)).records == []

    app = PartitionApp(cluster)
    async with app.run_test(size=(120, 30)) as pilot:
        app.query_one(PartitionView).topic = "payments"
        await wait_for(pilot, lambda: "4:pay4" in screen_text(app), "the uncommitted records in the strip")
        text = screen_text(app)
        assert "HW 0" in text and "LEO 5" in text
        strip = next(line for line in text.splitlines() if "0:pay0" in line)
        # The high watermark's marker comes first, then the five records, then what they are.
        assert strip.index("▌") < strip.index("0:pay0") < strip.index("4:pay4") < strip.index("not yet committed")
        strips = app.query_one(PartitionStrips)
        dim = strips.get_component_rich_style("partition-strips--dim")
        committed_key = strips.get_component_rich_style("partition-strips--key")
        for i in range(5):
            (key,) = _segments_with(app, f"pay{i}")
            assert key.style.color == dim.color != committed_key.color, key.style


async def test_a_narrow_strip_keeps_the_high_watermark_marker_at_the_high_watermark(cluster: Cluster) -> None:
    await cluster.controller.set_replication_delay(60_000)
    await cluster.topics.create_topic("payments", partitions=1, replication_factor=3)
    async with Producer(cluster, acks=1) as producer:
        for i in range(8):
            await producer.send("payments", f"payment {i}".encode(), f"pay{i}".encode(), partition=0)
        await producer.flush()
    app = PartitionApp(cluster)
    async with app.run_test(size=(60, 20)) as pilot:
        app.query_one(PartitionView).topic = "payments"
        await wait_for(pilot, lambda: "7:pay7" in screen_text(app), "the newest uncommitted record")
        strip = next(line for line in screen_text(app).splitlines() if "7:pay7" in line)
        assert "0:pay0" not in strip  # too narrow for all eight
        # The marker stands at offset 0 (the high watermark), then "…" for the records that did not fit.
        assert "▌ … " in strip and strip.index("▌") < strip.index("7:pay7")
        assert "not yet committed" in strip or "uncommitted" in strip
