"""Registry-encoded values in the views: Avro in Confluent's wire format shown as JSON, the rest escaped."""

from __future__ import annotations

import json

from broker_core import Cluster
from broker_core.avro_serde import AvroSerializer, encode_wire_format
from test_tui_widgets_consumers import DeckApp, produce
from tui_widget_harness import screen_text, wait_for
from widgets.consumer_deck import ConsumerDeck
from widgets.partition_view import PartitionView
from widgets.schema_values import SchemaValues

IRIS = json.dumps({"type": "record", "name": "iris", "fields": [
    {"name": "id", "type": "long"}, {"name": "species", "type": "string"}]})
IRIS_V2 = json.dumps({"type": "record", "name": "iris", "fields": [
    {"name": "id", "type": "long"}, {"name": "species", "type": "string"},
    {"name": "petal_width", "type": "double", "default": 0.0}]})


async def _avro_values(cluster: Cluster) -> tuple[bytes, bytes, int]:
    """Two values of topic flowers: one with each version of the iris schema; and v2's id."""
    first = await AvroSerializer(cluster.schemas, IRIS).serialize({"id": 1, "species": "setosa"}, "flowers")
    v2 = AvroSerializer(cluster.schemas, IRIS_V2)
    second = await v2.serialize({"id": 2, "species": "virginica", "petal_width": 1.8}, "flowers")
    return first, second, (await cluster.schemas.get_latest_version("flowers-value")).schema_id


async def test_avro_values_show_as_json_with_schema_id_and_version_and_other_bytes_stay_escaped(
        cluster: Cluster) -> None:
    await cluster.topics.create_topic("flowers", partitions=1)
    first, second, v2_id = await _avro_values(cluster)
    assert second[1:5] == v2_id.to_bytes(4, "big")
    unknown_id = encode_wire_format(9999, first[5:])  # no schema has id 9999
    broken = second[:-3]  # v2's id, bytes cut short: not a datum
    trailing = first + b"\x02"  # a datum and a byte too many
    binary = b"\x00\xff\x1b[31m\x07"  # magic byte 0 but far too short, with an escape inside
    await produce(cluster, "flowers", [(b"a", first), (b"b", second), (b"c", unknown_id), (b"d", broken),
                                       (b"e", trailing), (b"f", binary)])
    app = DeckApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        view = await app.query_one(ConsumerDeck).add_consumer("flowers", label="reader")
        await wait_for(pilot, lambda: view.consumed == 6 and "0:5" in view.text, "six records")
        lines = {line.split(" ", 1)[0]: line.rstrip() for line in view.text.splitlines() if line.startswith("0:")}
        assert lines["0:0"] == '0:0 a id 1 v1 {"id": 1, "species": "setosa"}'
        assert lines["0:1"] == f'0:1 b id {v2_id} v2 {{"id": 2, "species": "virginica", "petal_width": 1.8}}'
        assert lines["0:2"].startswith("0:2 c \\x00\\x00\\x00'\\x0f")  # id 9999 = 0x270f, escaped
        assert lines["0:3"].startswith(f"0:3 d \\x00\\x00\\x00\\x00\\x0{v2_id}")
        assert lines["0:4"].startswith("0:4 e \\x00\\x00\\x00\\x00\\x01") and lines["0:4"].endswith("\\x02")
        assert lines["0:5"] == "0:5 f \\x00\\xff\\x1b[31m\\x07"
        # The partition log decodes the same way when the partition is opened.
        partitions = app.query_one(PartitionView)
        partitions.topic = "flowers"
        await wait_for(pilot, lambda: len(partitions.partitions) == 1, "the partition")
        partitions.open_log(0)
        await wait_for(pilot, lambda: 'id 1 v1 {"id": 1, "species": "setosa"}' in screen_text(app), "the log")
        text = screen_text(app)
        assert f'id {v2_id} v2 {{"id": 2, "species": "virginica", "petal_width": 1.8}}' in text
        assert "\\x00\\xff\\x1b[31m\\x07" in text


async def test_decoders_are_read_once_per_schema_id(cluster: Cluster) -> None:
    first, second, v2_id = await _avro_values(cluster)
    values = SchemaValues(cluster.schemas)
    assert values.wanted([first, second, first, b"plain", None]) == {1, v2_id}
    assert await values.load({1, v2_id})
    assert values.wanted([first, second]) == set()  # cached: no registry read per value
    shown = values.decode(second, "flowers")
    assert shown is not None and shown.tag == f"id {v2_id} v2" and json.loads(shown.json)["species"] == "virginica"
    # Another topic's subject does not hold the id: the first subject that does names the version.
    other = values.decode(first, "elsewhere")
    assert other is not None and other.tag == "id 1 v1"
    assert values.decode(b"plain text", "flowers") is None
    assert values.decode(None, "flowers") is None
