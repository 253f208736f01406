"""``kplay --cluster``: the playground's screen on a real cluster, through Pilot.

The app runs on a ``KafkaClientBackend`` pointed at ``kplay serve`` on free ports and at Tansu,
a Kafka-compatible broker that is not ours. Records come from another client (confluent-kafka
in a thread, as another program would send them) and must show within the backend's poll
interval; what the TUI produces must reach that other client. Tansu deviates from Kafka in
places (``backend_support``): these tests check only what Kafka guarantees.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import AsyncIterator

import pytest
from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka import Consumer as ClientConsumer
from confluent_kafka import Producer as ClientProducer
from confluent_kafka import TopicPartition as ClientTopicPartition
from textual.widgets import Input, Static

from app.backends.kafka_client import KafkaClientBackend
from app.screens.confirm_delete import ConfirmDeleteScreen
from app.screens.main import MainScreen
from app.tui import PlaygroundApp
from backend_support import TansuBroker, free_port, served, tansu, unique  # noqa: F401
from cli_harness import KPLAY, ROOT
from test_serve_support import ServedCluster
from test_tui_app_support import screen_text, wait_until
from widgets.consumer_deck import ConsumerDeck
from widgets.consumer_view import ConsumerView
from widgets.partition_view import PartitionView
from widgets.producer_box import ProducerBox
from widgets.topic_list import TopicList

#: The change feed's poll interval in these tests (the default is 1 s).
POLL_S = 0.2
#: How long a change made elsewhere may take to show: a few polls, on a loaded machine.
SHOWS_WITHIN_S = 20.0
SIZE = (160, 45)


@pytest.fixture(params=["served", "tansu"])
def bootstrap(request: pytest.FixtureRequest) -> str:
    """kplay serve's, then Tansu's bootstrap servers."""
    return request.getfixturevalue(request.param).bootstrap


async def open_backend(bootstrap: str, **options: object) -> KafkaClientBackend:
    return await KafkaClientBackend.open({"bootstrap.servers": bootstrap}, poll_interval_s=POLL_S,
                                         **options)  # type: ignore[arg-type]


@pytest.fixture
async def topic(bootstrap: str) -> AsyncIterator[str]:
    """A fresh topic of 3 partitions on the cluster."""
    name = unique("tui")
    async with await open_backend(bootstrap) as admin:
        await admin.create_topic(name, partitions=3, replication_factor=1)
    yield name


def produce_elsewhere(bootstrap: str, topic: str, key: bytes, value: bytes, partition: int) -> None:
    """Send one record with another client, as another program would (blocking: run it in a thread)."""
    producer = ClientProducer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    failures: list[object] = []
    producer.produce(topic, value, key, partition=partition,
                     on_delivery=lambda error, _message: failures.append(error) if error else None)
    assert producer.flush(15) == 0 and not failures, failures


def consume_elsewhere(bootstrap: str, topic: str, wanted: bytes, timeout_s: float = 20.0) -> list[bytes]:
    """Read ``topic``'s partitions from the beginning with another client until ``wanted`` is among the values."""
    consumer = ClientConsumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    values: list[bytes] = []
    try:
        consumer.assign([ClientTopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
        deadline = time.monotonic() + timeout_s
        while wanted not in values and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                values.append(message.value())
    finally:
        consumer.close()
    return values


async def select_topic(pilot, app: PlaygroundApp, topic: str) -> None:
    """Wait for ``topic`` in the topic list and highlight it."""
    topics = app.screen.query_one(TopicList)
    await wait_until(pilot, lambda: topic in topics.rows, f"topic {topic} in the list", SHOWS_WITHIN_S)
    topics.select_when_shown(topic)
    view = app.screen.query_one(PartitionView)
    await wait_until(pilot, lambda: view.topic == topic and len(view.partitions) == 3,
                     f"the partitions of {topic}", SHOWS_WITHIN_S)


async def test_the_header_names_the_cluster_and_its_topics_and_partitions_show(bootstrap: str, topic: str) -> None:
    app = PlaygroundApp(backend=await open_backend(bootstrap, name="staging"), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.screen.sub_title == "cluster staging"
        await select_topic(pilot, app, topic)
        view = app.screen.query_one(PartitionView)
        # Each partition as the cluster's metadata has it: a leader among its replicas, in sync.
        for p in view.partitions:
            assert p.leader in p.replicas and p.leader in p.isr
        text = screen_text(pilot)
        assert "P0" in text and "P2" in text and "leader" in text


async def test_a_record_produced_by_another_client_shows_in_the_partition_view_and_a_consumer_view(
        bootstrap: str, topic: str) -> None:
    app = PlaygroundApp(backend=await open_backend(bootstrap), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await select_topic(pilot, app, topic)
        deck = app.screen.query_one(ConsumerDeck)
        await deck.add_consumer(topic)
        consumer = app.screen.query_one(ConsumerView)
        await asyncio.to_thread(produce_elsewhere, bootstrap, topic, b"far", b"hello remote", 1)
        view = app.screen.query_one(PartitionView)
        await wait_until(pilot, lambda: any(cell.key == "far" for cell in view.tails.get(1, ())),
                         "the record in partition 1 strip", SHOWS_WITHIN_S)
        await wait_until(pilot, lambda: "hello remote" in "\n".join(consumer.window.lines_as_text()),
                         "the record in the consumer view", SHOWS_WITHIN_S)
        rows = app.screen.query_one(TopicList).rows
        await wait_until(pilot, lambda: rows[topic].records >= 1, "the topic's record count", SHOWS_WITHIN_S)


async def test_a_record_produced_from_the_tui_reaches_another_client(bootstrap: str, topic: str) -> None:
    app = PlaygroundApp(backend=await open_backend(bootstrap), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await select_topic(pilot, app, topic)
        box = app.screen.query_one(ProducerBox)
        box.query_one("#producer-key", Input).value = "typed-key"
        box.query_one("#producer-value", Input).value = "typed in the TUI"
        box.action_send()
        await wait_until(pilot, lambda: isinstance(box.last_result, list), "the acknowledgement", SHOWS_WITHIN_S)
        assert box.last_result[0].topic == topic
    values = await asyncio.to_thread(consume_elsewhere, bootstrap, topic, b"typed in the TUI")
    assert b"typed in the TUI" in values


async def test_a_read_only_profile_refuses_writes_inline_and_keeps_running(served: ServedCluster) -> None:
    name = unique("ro")
    async with await open_backend(served.bootstrap) as admin:
        await admin.create_topic(name, partitions=3, replication_factor=1)
    app = PlaygroundApp(backend=await open_backend(served.bootstrap, name="prod", read_only=True), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.screen.sub_title == "cluster prod · read-only"
        await select_topic(pilot, app, name)
        box = app.screen.query_one(ProducerBox)
        box.query_one("#producer-value", Input).value = "must not land"
        box.action_send()
        await wait_until(pilot, lambda: box.last_result is not None, "the producer's answer")
        assert "read-only" in str(box.last_result)
        assert "read-only" in screen_text(pilot)  # said inline, in the producer box
        box.action_send_burst()  # a burst too: refused before anything is sent, no crash
        await pilot.pause()
        assert app.is_running
    async with await open_backend(served.bootstrap) as check:
        assert (await check.describe_topic(name)).record_count == 0


async def test_deleting_a_topic_on_a_real_cluster_asks_for_its_name_typed_back(served: ServedCluster) -> None:
    name = unique("del")
    async with await open_backend(served.bootstrap) as admin:
        await admin.create_topic(name, partitions=3, replication_factor=1)
    app = PlaygroundApp(backend=await open_backend(served.bootstrap), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await select_topic(pilot, app, name)
        app.screen.query_one(TopicList).table.focus()
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDeleteScreen), "the confirmation")
        assert app.screen.topic == name
        # y, the playground's key, only types a letter of the name here.
        await pilot.press("y", *"wrong", "enter")
        error = app.screen.query_one("#confirm-delete-error", Static)
        await wait_until(pilot, lambda: "nothing was deleted" in str(error.content), "the refusal")
        assert isinstance(app.screen, ConfirmDeleteScreen)
        field = app.screen.query_one(Input)
        field.value = ""
        await pilot.press(*name, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back on the main screen")
        rows = app.screen.query_one(TopicList).rows
        await wait_until(pilot, lambda: name not in rows, "the topic gone from the list", SHOWS_WITHIN_S)
    async with await open_backend(served.bootstrap) as check:
        assert name not in await check.list_topics()


async def test_a_stopped_server_is_one_line_on_screen_and_the_screen_keeps_working(tmp_path: Path) -> None:
    tansu_broker = TansuBroker(tmp_path / "tansu.log")
    try:
        name = unique("gone")
        async with await open_backend(tansu_broker.bootstrap) as admin:
            await admin.create_topic(name, partitions=3, replication_factor=1)
        backend = await open_backend(tansu_broker.bootstrap, name="flaky", request_timeout_s=2.0)
        app = PlaygroundApp(backend=backend, keymap={})
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            await select_topic(pilot, app, name)
            tansu_broker.stop()
            await wait_until(pilot, lambda: "lost:" in app.screen.sub_title, "the lost connection in the header",
                             SHOWS_WITHIN_S)
            assert app.screen.sub_title.startswith("cluster flaky · ⚠ lost: ")
            assert "\n" not in app.screen.sub_title
            # The screen still answers: the keys move the focus, the panes keep what they showed.
            await pilot.press("3")
            assert app.screen.query_one(ProducerBox).has_focus_within
            await pilot.press("1")
            assert app.screen.query_one(TopicList).table.has_focus
            assert len(app.screen.query_one(PartitionView).partitions) == 3
            assert app.is_running
            # Back on the same port: the header drops the warning.
            tansu_broker = TansuBroker(tmp_path / "tansu-again.log", port=tansu_broker.port)
            await wait_until(pilot, lambda: "lost" not in app.screen.sub_title, "the reconnection", 30.0)
            assert app.screen.sub_title == "cluster flaky"
    finally:
        tansu_broker.stop()


def run_kplay(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``kplay ARGS`` as a person types it (no --data), to completion."""
    return subprocess.run([*KPLAY, *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "KPLAY_DATA": "", **(env or {})}, stdin=subprocess.DEVNULL)


def test_a_cluster_unreachable_at_start_is_one_line_and_exit_1() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    for done in (run_kplay("--cluster", nobody), run_kplay(env={"KPLAY_CLUSTER": nobody})):
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and nobody in lines[0] and "refused" in lines[0].lower(), done.stderr
        assert "Traceback" not in done.stderr


def test_cluster_with_serve_or_before_a_tool_is_refused_in_one_line() -> None:
    for args in (("--cluster", "127.0.0.1:9", "--serve"), ("--cluster", "127.0.0.1:9", "topics", "--list")):
        done = run_kplay(*args)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "--cluster" in done.stderr, done.stderr
