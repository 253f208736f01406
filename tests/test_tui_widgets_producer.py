"""ProducerBox through Pilot: Enter sends, results and Kafka's errors inline, bursts."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, Select

from app.backends import EmbeddedBackend
from broker_core import Cluster, Consumer, TopicPartition
from broker_core.errors import KafkaError
from tui_widget_harness import HOSTILE_PAYLOADS, HOSTILE_SHOWN, screen_styles_have_link, screen_text, wait_for
from widgets import producer_box
from widgets.producer_box import ProducerBox


class ProducerApp(App):
    """Just a ProducerBox over a cluster."""

    CSS_PATH = [producer_box.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        yield ProducerBox(EmbeddedBackend(self.cluster))


async def type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.query_one(selector, Input)
    field.value = ""
    field.focus()
    await pilot.press(*text) if text else None


async def read_all(cluster: Cluster, topic: str, partition: int) -> list:
    consumer = Consumer(cluster, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, partition)])
    records = await consumer.poll(0)
    await consumer.close()
    return records


async def test_enter_sends_and_shows_partition_and_offset(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=3)
    app = ProducerApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        box = app.query_one(ProducerBox)
        box.topic = "orders"
        await type_into(pilot, "#producer-key", "alice")
        await type_into(pilot, "#producer-value", "hello")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "✓" in box.result_text, "the result line")
        [metadata] = box.last_result
        assert f"orders-{metadata.partition} @ offset 0" in screen_text(app)
        records = await read_all(cluster, "orders", metadata.partition)
        assert [(r.key, r.value) for r in records] == [(b"alice", b"hello")]
        # An explicit partition wins over the key's hash.
        await type_into(pilot, "#producer-partition", "2")
        await type_into(pilot, "#producer-value", "again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "orders-2 @ offset" in box.result_text, "the explicit partition")


async def test_errors_show_inline_with_kafka_names(cluster: Cluster) -> None:
    await cluster.topics.create_topic("small", partitions=2, config={"max.message.bytes": "200"})
    await cluster.topics.create_topic("safe", partitions=1, replication_factor=2,
                                      config={"min.insync.replicas": "3"})
    app = ProducerApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        box = app.query_one(ProducerBox)
        box.topic = "small"
        # Unknown partition: refused before sending.
        await type_into(pilot, "#producer-partition", "7")
        await type_into(pilot, "#producer-value", "x")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "UNKNOWN_TOPIC_OR_PARTITION (3)" in box.result_text, "unknown partition")
        # A bad partition field names the problem.
        await type_into(pilot, "#producer-partition", "two")
        await type_into(pilot, "#producer-value", "x")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Partition must be a number" in box.result_text, "bad partition")
        # RecordTooLarge.
        await type_into(pilot, "#producer-partition", "")
        app.query_one("#producer-value", Input).value = "v" * 500
        app.query_one("#producer-value", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "MESSAGE_TOO_LARGE (10)" in box.result_text, "record too large")
        # NotEnoughReplicas with acks=all; acks=1 goes through.
        box.topic = "safe"
        app.query_one("#producer-value", Input).value = "v"
        app.query_one("#producer-value", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "NOT_ENOUGH_REPLICAS (19)" in box.result_text, "not enough replicas")
        assert isinstance(box.last_result, KafkaError)
        app.query_one("#producer-acks", Select).value = "1"
        app.query_one("#producer-value", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "safe-0 @ offset 0" in box.result_text, "acks=1 success")
        # Unknown topic.
        await type_into(pilot, "#producer-topic", "ghost")
        await type_into(pilot, "#producer-value", "x")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "UNKNOWN_TOPIC_OR_PARTITION" in box.result_text, "unknown topic")


async def test_burst_with_round_robin_keys_spreads_over_partitions(cluster: Cluster) -> None:
    await cluster.topics.create_topic("burst", partitions=3)
    app = ProducerApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        box = app.query_one(ProducerBox)
        box.topic = "burst"
        await type_into(pilot, "#producer-count", "300")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "300 of 300 records" in box.result_text, "the burst result")
        assert sum(box.burst_spread.values()) == 300
        assert len(box.burst_spread) == 3  # ten keys hash onto all three partitions
        text = screen_text(app)
        assert "p0:" in text and "p1:" in text and "p2:" in text
        # Same key, same partition: each round-robin key landed on exactly one partition.
        seen: dict[bytes, set[int]] = {}
        for partition in range(3):
            for record in await read_all(cluster, "burst", partition):
                seen.setdefault(record.key, set()).add(partition)
        assert len(seen) == 10 and all(len(parts) == 1 for parts in seen.values())
        # Random keys, sent with the binding.
        app.query_one("#producer-key-mode", Select).value = "random"
        await type_into(pilot, "#producer-count", "50")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "50 of 50 records" in box.result_text, "the random-key burst")
        # A bad N is refused with a clear line.
        await type_into(pilot, "#producer-count", "0")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "N must be a whole number" in box.result_text, "bad N")


async def test_hostile_input_is_echoed_literally(cluster: Cluster) -> None:
    app = ProducerApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        box = app.query_one(ProducerBox)
        for payload, shown in zip(HOSTILE_PAYLOADS[:2], HOSTILE_SHOWN[:2]):
            # An unknown topic named like markup: the error echoes the name literally.
            await type_into(pilot, "#producer-topic", payload.decode())
            await type_into(pilot, "#producer-value", "x")
            await pilot.press("enter")
            await wait_for(pilot, lambda: shown in box.result_text, f"{shown} literally in the error")
            assert shown in screen_text(app)
        await cluster.topics.create_topic("t", partitions=1)
        await type_into(pilot, "#producer-topic", "t")
        app.query_one("#producer-key", Input).value = "\x1b]0;title\x07"
        app.query_one("#producer-value", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "t-0 @ offset 0" in box.result_text, "the send")
        # The result line echoes the key escaped (the field itself holds what the person typed).
        result_rows = [row for row in screen_text(app).splitlines() if "t-0 @ offset 0" in row]
        assert result_rows and "\\x1b]0;title\\x07" in result_rows[0]
        assert "\x1b" not in result_rows[0] and "\x07" not in result_rows[0]
        assert not screen_styles_have_link(app)
