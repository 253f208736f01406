"""The producer box's headers field and the acks shown in its result line."""

from __future__ import annotations

import pytest
from textual.widgets import Select

from broker_core import Cluster
from test_tui_widgets_producer import ProducerApp, read_all, type_into
from tui_widget_harness import wait_for
from widgets.producer_box import ProducerBox, parse_headers


def test_headers_parse_as_name_value_pairs() -> None:
    assert parse_headers("trace=abc, source = web ,flag") == (("trace", b"abc"), ("source", b"web"), ("flag", None))
    assert parse_headers(" ") == ()
    assert parse_headers("a=1,a=2") == (("a", b"1"), ("a", b"2"))  # names may repeat, as in Kafka
    with pytest.raises(ValueError, match="needs a name"):
        parse_headers("=x")


async def test_headers_are_sent_and_the_result_line_names_the_acks(cluster: Cluster) -> None:
    await cluster.topics.create_topic("orders", partitions=1)
    app = ProducerApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        box = app.query_one(ProducerBox)
        box.topic = "orders"
        await type_into(pilot, "#producer-headers", "trace=7f3a,[b]x[/b]=[i]y")
        await type_into(pilot, "#producer-value", "hello")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "✓" in box.result_text, "the result line")
        assert "acks all" in box.result_text and "2 headers" in box.result_text
        [record] = await read_all(cluster, "orders", 0)
        assert record.headers == (("trace", b"7f3a"), ("[b]x[/b]", b"[i]y"))
        app.query_one("#producer-acks", Select).value = "0"
        await type_into(pilot, "#producer-headers", "")
        await type_into(pilot, "#producer-value", "fire and forget")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "acks 0" in box.result_text, "the acks 0 result")
        assert "no offset is reported back" in box.result_text and "header" not in box.result_text
        # A header without a name is refused inline; nothing is sent.
        await type_into(pilot, "#producer-headers", "=oops")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "✗" in box.result_text, "the error")
        assert "needs a name" in box.result_text
        assert len(await read_all(cluster, "orders", 0)) == 2
