"""The record view through Pilot: a record whole, long, JSON, Avro and hostile, opened from the views."""

from __future__ import annotations

import json

from textual.app import App

from app.backends import EmbeddedBackend
from app.screens.record_view import RecordViewScreen
from broker_core import Cluster, Producer
from broker_core.avro_serde import AvroSerializer
from broker_core.records import ProducerRecord
from tui_widget_harness import screen_styles_have_link, screen_text, wait_for

IRIS = json.dumps({"type": "record", "name": "iris", "fields": [
    {"name": "id", "type": "long"}, {"name": "species", "type": "string"}]})


class RecordApp(App):
    """Just the record view of one record."""

    def __init__(self, cluster: Cluster, topic: str, partition: int, offset: int) -> None:
        super().__init__()
        self.cluster = cluster
        self.opened = (topic, partition, offset)
        self.copied: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(RecordViewScreen(EmbeddedBackend(self.cluster), *self.opened))

    def copy_to_clipboard(self, text: str) -> None:
        self.copied.append(text)
        super().copy_to_clipboard(text)


def view_text(app: App) -> str:
    """Every line the record view holds (scrolled out of sight too), as plain text."""
    screen = app.screen
    assert isinstance(screen, RecordViewScreen)
    return "\n".join(line for section in screen.sections for line in (section.title, *section.lines))


async def append(cluster: Cluster, topic: str, *records: ProducerRecord) -> None:
    await cluster.logs.append(topic, 0, list(records), acks=1)


async def test_a_long_value_shows_whole_with_sizes_headers_and_timestamp(cluster: Cluster) -> None:
    await cluster.topics.create_topic("long", partitions=1)
    value = ("0123456789" * 1000).encode()  # 10,000 characters
    await append(cluster, "long", ProducerRecord(b"k1", value, (("trace", b"abc"), ("bin", b"\xff\x00")),
                                                 timestamp=1_700_000_000_123))
    app = RecordApp(cluster, "long", 0, 0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.record is not None, "the record")  # type: ignore[attr-defined]
        text = view_text(app)
        assert "Value · 10,000 bytes · text" in text
        assert "".join(text.split("Value · 10,000 bytes · text\n")[1].split("\n")[0:1]) == "0123456789" * 1000
        assert "Key · 2 bytes · text" in text and "\nk1\n" in text
        assert "timestamp      2023-11-14 22:13:20.123 UTC (1700000000123)" in text
        assert "timestamp type CreateTime" in text
        assert "leader epoch   0" in text
        assert "Headers · 2" in text and "trace (3 bytes): abc" in text
        assert "bin (2 bytes, binary (not UTF-8): hex): 00000000  ff 00" in text
        # The value wraps on screen and the view scrolls to its end.
        body = app.screen.query_one("#record-view-body")
        assert body.max_scroll_y > 100
        await pilot.press("G" if False else "end")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, "the end of the record")
        assert "Headers · 2" in screen_text(app)
        # y copies the value, Y the whole record.
        await pilot.press("y")
        assert app.copied[-1] == "0123456789" * 1000 + "\n"
        await pilot.press("Y")
        assert app.copied[-1].startswith("== Record\ntopic          long\n") and "trace (3 bytes): abc" in app.copied[-1]


async def test_json_is_pretty_printed_and_next_previous_and_a_gap_say_so(cluster: Cluster) -> None:
    await cluster.topics.create_topic("docs", partitions=1)
    await append(cluster, "docs", ProducerRecord(None, b'{"id": 7, "tags": ["a", "b"]}'),
                 ProducerRecord(b"x", None))
    app = RecordApp(cluster, "docs", 0, 0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.record is not None, "the record")  # type: ignore[attr-defined]
        text = view_text(app)
        assert "Key · null · null" in text
        assert 'Value · 29 bytes · JSON\n{\n  "id": 7,\n  "tags": [\n    "a",\n    "b"\n  ]\n}' in text
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "Value · null · null (tombstone)" in view_text(app), "the tombstone")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "past the end of the log" in screen_text(app), "the end of the log")
        assert "the last record is at 1." in " ".join(screen_text(app).replace("│", " ").split())


async def test_an_avro_value_is_decoded_through_the_registry(cluster: Cluster) -> None:
    await cluster.topics.create_topic("flowers", partitions=1)
    value = await AvroSerializer(cluster.schemas, IRIS).serialize({"id": 1, "species": "setosa"}, "flowers")
    schema_id = (await cluster.schemas.get_latest_version("flowers-value")).schema_id
    await append(cluster, "flowers", ProducerRecord(b"a", value))
    app = RecordApp(cluster, "flowers", 0, 0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.record is not None, "the record")  # type: ignore[attr-defined]
        text = view_text(app)
        assert (f"Value · {len(value)} bytes · Avro, schema id {schema_id}, subject flowers-value version 1\n"
                '{\n  "id": 1,\n  "species": "setosa"\n}') in text


async def test_hostile_bytes_show_literally_never_as_markup_or_escapes(cluster: Cluster) -> None:
    await cluster.topics.create_topic("evil", partitions=1)
    await append(cluster, "evil",
                 ProducerRecord(b"[bold red]key[/]", b"\x1b]0;title\x07\x1b[31m[link=http://e]y[/link]\r\nnext",
                                (("[b]h[/b]", b"\x1b[2J"),)),
                 ProducerRecord(b"\xff\xfe", b"\xff\xfe\x1b[31m bad utf-8 \x9b"))
    app = RecordApp(cluster, "evil", 0, 0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.record is not None, "the record")  # type: ignore[attr-defined]
        await pilot.pause()
        shown = screen_text(app)
        assert "[bold red]key[/]" in shown
        assert "\\x1b]0;title\\x07\\x1b[31m[link=http://e]y[/link]\\r" in shown and "\nnext" in view_text(app)
        assert "[b]h[/b] (4 bytes): \\x1b[2J" in shown
        assert "\x1b" not in shown and not screen_styles_have_link(app)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "binary (not UTF-8): hex" in screen_text(app), "the binary record")
        shown = screen_text(app)
        assert "00000000  ff fe 1b 5b 33 31 6d 20 62 61 64 20 75 74 66 2d  |...[31m bad utf-|" in shown
        assert "00000010  38 20 9b" in shown and "|8 .|" in shown
        assert "\x1b" not in shown and "\x9b" not in shown


async def test_enter_opens_the_record_under_the_cursor_in_the_log_and_in_a_consumer(cluster: Cluster) -> None:
    from app.tui import PlaygroundApp
    from widgets.consumer_deck import ConsumerDeck
    from widgets.partition_log import PartitionLog
    from widgets.partition_view import PartitionView

    await cluster.topics.create_topic("orders", partitions=1)
    async with Producer(cluster) as producer:
        for i in range(5):
            await producer.send("orders", f"value-{i}".encode(), f"k{i}".encode(), partition=0)
        await producer.flush()
    app = PlaygroundApp(cluster, keymap={}, connect=False, freeze_gc=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(PartitionView)), "the main screen")
        view = app.screen.query_one(PartitionView)
        await wait_for(pilot, lambda: view.topic == "orders" and len(view.partitions) == 1, "the partitions")
        # / past the log end says so, and the cursor stops at the newest record.
        view.strips.focus()
        await pilot.press("slash", *"999", "enter")
        await wait_for(pilot, lambda: any("past the end of the log" in str(n.message)
                                          for n in app._notifications), "the past-the-end notice")
        log = app.screen.query_one(PartitionLog)
        assert log.has_focus and log.cursor_offset == 4
        # k moves the cursor up; Enter opens that record whole; Escape comes back.
        await pilot.press("k", "k", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RecordViewScreen) and app.screen.record is not None,
                       "the record view")
        assert app.screen.record.offset == 2 and "value-2" in view_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RecordViewScreen), "the main screen again")
        # A consumer view: Enter opens the newest record, k the one before.
        deck = app.screen.query_one(ConsumerDeck)
        consumer = await deck.add_consumer("orders", label="reader")
        # Drawn, not only consumed: records reach the window on the next frame, and a k pressed
        # before they are there has nothing to move over (seen once in a full run).
        await wait_for(pilot, lambda: consumer.consumed == 5 and len(consumer.window.records) == 5,
                       "five records consumed and in the window")
        consumer.window.focus()
        await pilot.press("k", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RecordViewScreen) and app.screen.record is not None,
                       "the record view from the consumer")
        assert app.screen.record.offset == 3 and "value-3" in view_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RecordViewScreen), "the main screen again")
        # f finds records in the selected topic.
        await pilot.press("f")
        from app.screens.find_records import FindRecordsScreen
        await wait_for(pilot, lambda: isinstance(app.screen, FindRecordsScreen), "the find screen")
        assert app.screen.topic == "orders"
