"""The playground's main screen, driven through Textual's Pilot: topics, brokers, events, welcome."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.tui import PlaygroundApp
from broker_core import Cluster, ManualClock, Producer
from test_tui_app_support import screen_text, wait_until, widget_text
from widgets.broker_list import BrokerList
from widgets.event_log import EventLog
from widgets.topic_list import TopicList
from widgets.welcome import WelcomePanel

SIZE = (160, 45)


def topic_cells(app: PlaygroundApp, topic: str) -> list[str]:
    """The plain text of a topic's row in the topic list."""
    table = app.screen.query_one(TopicList).table
    return [cell.plain for cell in table.get_row(topic)]


async def produce(cluster: Cluster, topic: str, count: int, *, key: bytes | None = b"k") -> None:
    async with Producer(cluster) as producer:
        for i in range(count):
            await producer.send(topic, f"v{i}".encode(), key=key + str(i).encode() if key else None)


async def test_topic_list_shows_partitions_rf_and_records(cluster):
    await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
    await produce(cluster, "orders", 20)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        topics = app.screen.query_one(TopicList)
        await wait_until(pilot, lambda: "orders" in topics.rows and topics.table.row_count == 1, "orders listed")
        name, partitions, rf, records = topic_cells(app, "orders")[:4]  # the rate columns need a wide pane
        assert (name, partitions, rf, records) == ("orders", "3", "2", "20")
        assert topics.selected == "orders"


async def test_counts_follow_records_produced_while_open(cluster):
    await cluster.topics.create_topic("orders", partitions=2, replication_factor=1)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        topics = app.screen.query_one(TopicList)
        await wait_until(pilot, lambda: topics.table.row_count == 1, "orders listed")
        await produce(cluster, "orders", 7)
        await wait_until(pilot, lambda: topic_cells(app, "orders")[3] == "7", "7 records counted")
        # The produce-rate history counted the same 7 records for this second.
        assert sum(topics.rows["orders"].rate.series(cluster.clock.now_ms())) == 7


async def test_welcome_panel_on_empty_cluster_gives_way_to_the_first_topic(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        welcome = app.screen.query_one(WelcomePanel)
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded, "topic list loaded")
        assert welcome.display
        text = widget_text(welcome)
        assert "create a topic" in text
        # The command may be folded over two lines on a narrow pane.
        assert "console-producer--topicorders" in "".join(text.replace("│", "").split())
        await cluster.topics.create_topic("first", partitions=1, replication_factor=1)
        await wait_until(pilot, lambda: not welcome.display, "welcome panel hidden")
        assert app.screen.query_one("#partitions").display


async def test_welcome_panel_shows_remapped_key(cluster):
    app = PlaygroundApp(cluster, keymap={"topic.new": "c"})
    async with app.run_test(size=SIZE) as pilot:
        welcome = app.screen.query_one(WelcomePanel)
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded, "topic list loaded")
        assert re.search(r"\sc\s+create a topic", widget_text(welcome))


async def test_fresh_data_file_opens_as_three_broker_cluster(data_path: Path, clock: ManualClock):
    assert not data_path.exists()
    app = PlaygroundApp(data_path=data_path, clock=clock, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query(BrokerList) and app.screen.query_one(BrokerList).loaded,
                         "brokers listed")
        brokers = app.screen.query_one(BrokerList)
        assert [b.broker_id for b in brokers.brokers] == [0, 1, 2]
        assert all(b.alive for b in brokers.brokers)
        assert sum(b.is_controller for b in brokers.brokers) == 1
    assert data_path.exists()


async def test_event_log_narrates_topic_creation_and_appends(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        log = app.screen.query_one(EventLog)
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded, "topic list loaded")
        await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
        await produce(cluster, "orders", 5)
        await wait_until(pilot, lambda: any("Records appended: 5 to orders" in line for line in log.lines),
                         "append summary")
        assert any("Topic orders created: 3 partitions, replication factor 2" in line for line in log.lines)


async def test_footer_shows_main_bindings(cluster):
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded, "topic list loaded")
        footer = screen_text(pilot).splitlines()[-1]
        for shown in ("New topic", "Delete topic", "Explain", "Help", "Quit", "Commands"):
            assert shown in footer


def test_kplay_without_arguments_opens_the_playground_on_the_data_file(monkeypatch, tmp_path):
    import app.tui
    from app.cli import app as cli

    opened: list[tuple[Path, object]] = []

    def run_playground(path: Path, serve: object = None) -> int:
        assert not gc.isenabled()  # start-up runs without collections (the app turns them back on)
        opened.append((path, serve))
        return 0

    monkeypatch.setattr(app.tui, "run_playground", run_playground)
    monkeypatch.setenv("KPLAY_DATA", str(tmp_path / "env.db"))
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["--data", str(tmp_path / "flag.db")])
    assert result.exit_code == 0, result.output
    assert opened == [(tmp_path / "env.db", None), (tmp_path / "flag.db", None)]
    assert gc.isenabled()  # on again once the playground returned


async def test_collections_are_back_on_and_start_up_frozen_once_the_screen_is_up(cluster):
    """kplay opens the playground with the garbage collector off; the app turns it on again."""
    gc.disable()
    try:
        app = PlaygroundApp(cluster, keymap={})
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, gc.isenabled, "collections back on")
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()


def test_kplay_serve_flag_opens_the_playground_serving_with_the_flags_of_kplay_serve(monkeypatch, tmp_path):
    import app.tui
    from app.cli import app as cli
    from app.tui import ServeSettings

    opened: list[object] = []
    monkeypatch.setattr(app.tui, "run_playground", lambda path, serve=None: opened.append(serve) or 0)
    monkeypatch.setenv("KPLAY_DATA", str(tmp_path / "env.db"))
    result = CliRunner().invoke(cli, ["--serve"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["--serve", "--port", "19092", "--schema-registry-port", "18081",
                                      "--connect-port", "18083", "--advertised-host", "kafka.local", "--kafka-only"])
    assert result.exit_code == 0, result.output
    assert opened == [ServeSettings(), ServeSettings(port=19092, schema_registry_port=18081, connect_port=18083,
                                                     advertised_host="kafka.local", kafka_only=True)]
    # Refused, each in one line, without opening anything.
    for args, said in ((["--port", "19092"], "--port needs --serve"),
                       (["--serve", "--connect-port", "70000"], "--connect-port must be between 0 and 65535"),
                       (["--serve", "topics", "--list"], "--serve is an option of the playground itself")):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and said in result.output, (args, result.output)
    assert len(opened) == 2


def test_unusable_data_file_is_one_line_error(tmp_path, capsys):
    from app.tui import run_playground

    not_kplay = tmp_path / "notes.db"
    not_kplay.write_text("these are my notes, not a database\n")
    assert run_playground(not_kplay) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kplay: {not_kplay}:") and "\n" not in err
    assert not_kplay.read_text() == "these are my notes, not a database\n"


@pytest.mark.parametrize("keys", [{"topic.new": "c"}])
async def test_keymap_remaps_new_topic(cluster, keys):
    from app.screens.topic_form import TopicFormScreen

    app = PlaygroundApp(cluster, keymap=keys)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(TopicList).loaded, "topic list loaded")
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, TopicFormScreen)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "form opened by c")
