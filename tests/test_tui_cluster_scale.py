"""``kplay --cluster`` on a cluster with hundreds of topics, through Pilot against ``kplay serve``.

The topic list must show every topic's record count, not only on a cluster of one topic: each
row on screen shows its count in the Records column, under a header that is not cut.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from app.backends.kafka_client import KafkaClientBackend
from app.tui import PlaygroundApp
from broker_core.records import ProducerRecord
from test_serve_support import ServedCluster
from test_tui_app_support import wait_until, widget_text
from widgets.topic_list import TopicList

TOPICS = 300
#: How long the topic list may take to fill on a loaded machine.
SHOWS_WITHIN_S = 60.0
ROW = re.compile(r"\b(many-\d{3}) +3 +(?:1 +)?(\d+)\b")


def records_in(number: int) -> int:
    """Topic ``number`` holds this many records (different counts, so a wrong row shows)."""
    return number % 7 + 1


@pytest.fixture(scope="module")
def many_topics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCluster]:
    """``kplay serve`` with ``TOPICS`` topics of three partitions, each holding a few records."""
    served = ServedCluster(Path(tmp_path_factory.mktemp("many")) / "cluster.db").start()
    try:
        async def fill() -> None:
            for number in range(TOPICS):
                name = f"many-{number:03d}"
                await served.core.topics.create_topic(name, 3, 1, {})
                await served.core.logs.append(name, number % 3,
                                              [ProducerRecord(b"k", b"v%d" % i) for i in range(records_in(number))])

        served.call(fill(), timeout=300)
        yield served
    finally:
        served.stop()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])
async def test_every_visible_topic_shows_its_record_count(many_topics: ServedCluster, size: tuple[int, int]) -> None:
    backend = await KafkaClientBackend.open({"bootstrap.servers": many_topics.bootstrap}, poll_interval_s=1.0)
    app = PlaygroundApp(backend=backend, keymap={})
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.screen.query(TopicList)) == 1, "the topic list", SHOWS_WITHIN_S)
        topics = app.screen.query_one(TopicList)

        def shown() -> dict[str, int]:
            return {name: int(count) for name, count in ROW.findall(widget_text(topics))}

        await wait_until(pilot, lambda: len(shown()) >= 5, "rows with record counts", SHOWS_WITHIN_S)
        text = widget_text(topics)
        assert "Records" in text
        visible = [line for line in text.splitlines()
                   if re.search(r"\bmany-\d{3}\b", line) and "records/s" not in line]  # not the rate caption
        rows = shown()
        assert len(rows) == len(visible), text
        assert rows == {name: records_in(int(name[-3:])) for name in rows}
