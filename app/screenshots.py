"""Regenerate the README's screenshots: ``python -m app.screenshots DIR`` (``make screenshots``).

Drives the playground with Textual's Pilot at 160 x 45 on a fresh data file and a manual
clock, and saves SVGs of the main screen with traffic (also at 120 x 40, the size most
terminals open at, for the README, and at 80 x 24), the topic creation form, a
consumer group rebalancing as a second member joins, and the pipeline screen with a JDBC
source and sink connector moving rows (and a consumer view decoding their Avro values on
the main screen). Then it plays every built-in lesson
(``kplay demo NAME``) one step at a time and saves ``demo-NAME.svg`` right after the step
named in ``KEY_MOMENTS``: the moment the lesson is about. Last, ``remote-cluster.svg``: the same
screen opened with ``--cluster`` on ``kplay serve`` (a real Kafka listener, reached through
confluent-kafka), with a consumer group reading and records produced there by another client.

Each SVG is marked ``xml:space="preserve"``: Textual draws a run of spaces as leading
no-break spaces in a ``<text>`` element, which some renderers (librsvg, hence many image
viewers and converters) drop, so "orders  3 partitions" would read "orders3 partitions".
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from textual.pilot import Pilot

from broker_core import Cluster, ManualClock, Producer
from widgets.connectors_pane import ConnectorsPane
from widgets.consumer_deck import ConsumerDeck
from widgets.narration import NarrationPane
from widgets.topic_list import TopicList

from .scenarios.lesson_cluster import open_scenario_cluster
from .scenarios.library import builtin_scenarios
from .scenarios.playback import INSTANT, Playback
from .scenarios.script import Scenario, Step
from .screens.pipeline import PipelineScreen
from .screens.topic_form import TopicFormScreen
from .tui import PlaygroundApp

SIZE = (160, 45)
#: The README's main screenshot: what most people's terminal shows.
README_SIZE = (120, 40)
#: The smallest terminal the playground is laid out for.
SMALL_SIZE = (80, 24)
#: The screenshots' clock starts here (2026-01-01T00:00:00Z) so they look the same every run.
EPOCH_MS = 1_767_225_600_000
#: Longest wait for the screen to show what a step expects.
DEADLINE_S = 15.0
#: Built-in lesson -> the start of the step after which its screenshot is taken.
KEY_MOMENTS: dict[str, str] = {
    "first-steps": "say The consumer printed what was typed",
    # The audit consumer is down, the workers kept up: six records wait for the auditors (decoupling).
    "message-systems": "expect lag auditors == 6",
    "partitions-and-keys": "say alice's three orders sit one after another",
    "consumer-groups": "wait assignment cat == payments-3",
    "offsets-and-replay": "wait read reader == 20",
    # Broker 0 stopped: single-0 is offline, triple-2 has a new leader and a shrunk ISR.
    "replication-factor": "expect isr triple-2 == 1,2",
    "broker-failure": "expect isr orders-0 == 1,2",
    # No controller majority: orders-0 took three records (LEO 12) but its high watermark is stuck at 9.
    "control-plane": "expect high-watermark orders-0 == 9",
    # The five acks=1 records sit above the high watermark (dimmed, not yet committed), before the leader dies.
    "acks-and-data-loss": "expect high-watermark payments-0 == 0",
    "retention-and-compaction": "expect records clicks == 3",
    "connect-pipeline": "expect rows target.db/iris_data == 180",
    # dan has joined group modern: cat gave up only two partitions, group classic's ann all four.
    "rebalance-protocols": "expect revoked cat == 2",
    # The aborted transaction's records sit in the log; read_committed stepped over them and the markers.
    "transactions": "wait position committed-reader/totals-0 == 7",
}
#: Lesson playing time (wait steps) allowed before a screenshot fails.
LESSON_DEADLINE_S = 60.0
#: Rows in the pipeline screenshot's source table.
PIPELINE_ROWS = 30


def _connector_configs(url: str) -> list[dict[str, str]]:
    """The tutorial's JDBC source and sink (Avro values through the registry), on one SQLite file."""
    avro = {"value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": "http://schema-registry:8081"}
    return [
        {"name": "jdbc-source", "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
         "connection.url": url, "table.whitelist": "iris_data", "mode": "incrementing",
         "incrementing.column.name": "id", "topic.prefix": "db-", "poll.interval.ms": "200", "tasks.max": "1", **avro},
        {"name": "jdbc-sink", "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
         "connection.url": url, "topics": "db-iris_data", "table.name.format": "iris_copy", "auto.create": "true",
         "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id", "tasks.max": "1", **avro},
    ]


async def _until(pilot: Pilot, condition: Callable[[], object], what: str, deadline_s: float = DEADLINE_S) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise RuntimeError(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause(0.2)  # one more frame for everything that follows the same events


async def _produce(cluster: Cluster, topic: str, count: int, keys: int, first: int = 0) -> None:
    async with Producer(cluster, acks="all") as producer:
        for i in range(first, first + count):
            await producer.send(topic, f"order {i}: {{\"amount\": {i * 7 % 100}}}".encode(),
                                key=f"customer-{i % keys}".encode())


async def _traffic(cluster: Cluster, clock: ManualClock) -> None:
    """Twelve seconds of uneven traffic, so the rates and sparklines have a shape."""
    sent = 0
    for second in range(12):
        burst = (3, 5, 8, 6, 2, 9, 12, 7, 4, 10, 6, 3)[second]
        await _produce(cluster, "orders", burst, keys=8, first=sent)
        sent += burst
        if second % 3 == 0:
            await _produce(cluster, "payments", 2, keys=4, first=second)
        clock.advance(1000)


async def take(directory: Path) -> list[Path]:
    """Save the screenshots into ``directory``; return their paths."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="kplay-screenshots-") as scratch:
        # A relative path, so the screenshots show "playground.db" rather than a temporary folder.
        os.chdir(scratch)
        clock = ManualClock(EPOCH_MS)
        cluster = await Cluster.open(Path("playground.db"), clock=clock)
        try:
            await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
            await cluster.topics.create_topic("payments", partitions=2, replication_factor=3)
            app = PlaygroundApp(cluster, keymap={})
            async with app.run_test(size=SIZE) as pilot:
                topics = app.screen.query_one(TopicList)
                await _until(pilot, lambda: topics.table.row_count == 2, "the topic list")
                await _traffic(cluster, clock)
                topics.select("orders")
                deck = app.screen.query_one(ConsumerDeck)
                first = await deck.add_consumer("orders", group="billing", label="billing #1")
                await _until(pilot, lambda: first.consumer is not None and first.consumer.generation >= 1,
                             "the first group member")
                await _produce(cluster, "orders", 9, keys=8)
                await pilot.pause(0.5)
                saved.append(_save(app, directory, "main-screen-wide.svg"))
                for size, name in ((README_SIZE, "main-screen.svg"), (SMALL_SIZE, "main-screen-80x24.svg")):
                    await pilot.resize_terminal(*size)
                    await pilot.pause(0.5)  # the screen lays itself out again for the new size
                    saved.append(_save(app, directory, name))
                await pilot.resize_terminal(*SIZE)
                await pilot.pause(0.5)

                second = await deck.add_consumer("orders", group="billing", label="billing #2")
                await _until(pilot, lambda: second.consumer is not None and second.consumer.generation >= 2
                             and len(second.consumer.assignment()) > 0, "the rebalance")
                await _produce(cluster, "orders", 6, keys=8)
                await pilot.pause(0.5)
                saved.append(_save(app, directory, "rebalance.svg"))

                topics.table.focus()
                await pilot.press("n")
                await _until(pilot, lambda: isinstance(app.screen, TopicFormScreen), "the topic form")
                await pilot.press(*"shipments", "tab", "backspace", "6")
                await pilot.pause(0.3)
                saved.append(_save(app, directory, "topic-creation.svg"))
                await pilot.press("escape")
                await _until(pilot, lambda: not isinstance(app.screen, TopicFormScreen), "the main screen")
                saved.extend(await _record_and_admin(app, pilot, cluster, directory))
                saved.extend(await _pipeline(app, pilot, cluster, directory))
        finally:
            await cluster.close()
            os.chdir(home)
    return saved


async def _record_and_admin(app: PlaygroundApp, pilot: Pilot, cluster: Cluster, directory: Path) -> list[Path]:
    """A JSON record with headers opened whole from a partition's log; the offset-reset form's dry run."""
    from .screens.offset_reset_form import OffsetResetForm
    from .screens.record_view import RecordViewScreen
    from widgets.partition_view import PartitionView

    async with Producer(cluster) as producer:
        await producer.send("orders", b'{"order_id": 1042, "customer": "carol", "items": [{"sku": "tea-01", "qty": 2}],'
                            b' "total": 18.5}', b"customer-3", partition=0,
                            headers=[("trace-id", b"7f3a9c"), ("source", b"web")])
    view = app.screen.query_one(PartitionView)
    await _until(pilot, lambda: view.topic == "orders" and bool(view.partitions), "the partitions")
    view.open_log(0)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await _until(pilot, lambda: isinstance(app.screen, RecordViewScreen) and app.screen.record is not None,
                 "the record view")
    await pilot.pause(0.3)
    saved = [_save(app, directory, "record-view.svg")]
    await pilot.press("escape")
    view.close_log()
    form = OffsetResetForm(cluster, "billing", "orders")
    app.push_screen(form)
    await _until(pilot, lambda: app.screen is form, "the offset reset form")
    form.query_one("#value").focus()
    await pilot.press("enter")
    await _until(pilot, lambda: bool(form.plan), "the dry run")
    await pilot.pause(0.3)
    saved.append(_save(app, directory, "offset-reset.svg"))
    await pilot.press("escape")
    return saved


async def _pipeline(app: PlaygroundApp, pilot: Pilot, cluster: Cluster, directory: Path) -> list[Path]:
    """Connectors created as ``kplay connect --create`` would, run by the playground's own worker:
    their Avro values decoded in a consumer view, then the pipeline screen."""
    from broker_core.connect import ConnectWorker, DataGenerator  # late: SQLAlchemy

    generator = DataGenerator("jdbc:sqlite:pipeline.db", "iris_data")
    try:
        await asyncio.to_thread(generator.insert, PIPELINE_ROWS)
    finally:
        generator.close()
    api = ConnectWorker(cluster)  # the API only: the app's worker runs them
    for config in _connector_configs("jdbc:sqlite:pipeline.db"):
        await api.create_connector(config)
    topics = app.screen.query_one(TopicList)
    await _until(pilot, lambda: "db-iris_data" in topics.rows, "the connector's topic")
    topics.select("db-iris_data")
    deck = app.screen.query_one(ConsumerDeck)
    for view in list(deck.views):
        await deck.remove_consumer(view)
    reader = await deck.add_consumer("db-iris_data", label="iris reader")
    await _until(pilot, lambda: reader.consumed >= PIPELINE_ROWS, "the Avro values", LESSON_DEADLINE_S)
    await pilot.pause(0.5)
    saved = [_save(app, directory, "avro-values.svg")]
    await pilot.press("C")
    await _until(pilot, lambda: isinstance(app.screen, PipelineScreen), "the pipeline screen")
    pane = app.screen.query_one(ConnectorsPane)
    await _until(pilot, lambda: any(c.name == "jdbc-sink" and (dict(c.tables).get("iris_copy") or 0) >= PIPELINE_ROWS
                                    for c in pane.connectors), "the target table's rows", LESSON_DEADLINE_S)
    await pilot.pause(0.5)
    saved.append(_save(app, directory, "pipeline.svg"))
    await pilot.press("C")
    return saved


def key_moment(name: str, scenario: Scenario) -> Step:
    """The step of built-in lesson ``name`` after which its screenshot is taken: the one
    ``KEY_MOMENTS`` names, else the lesson's last narration (its conclusion)."""
    wanted = KEY_MOMENTS.get(name)
    if wanted is None:
        print(f"screenshots: no key moment for the lesson {name!r} in KEY_MOMENTS; "
              "taking it at its last narration", file=sys.stderr)
        return [step for step in scenario.steps if step.verb == "say"][-1]
    for step in scenario.steps:
        if step.text.startswith(wanted):
            return step
    raise RuntimeError(f"screenshots: lesson {name!r} has no step starting {wanted!r} (KEY_MOMENTS)")


async def play_to_key_moment(pilot: Pilot, playback: Playback, pane: NarrationPane, name: str, moment: Step,
                             deadline_s: float = LESSON_DEADLINE_S) -> None:
    """Step lesson ``name``, played paused, until its narration is at ``moment`` (see ``key_moment``).

    Raises RuntimeError when the lesson fails, or ends without reaching the moment.
    """
    while True:
        await _until(pilot, lambda: playback.holding or pane.state in ("finished", "failed"),
                     f"lesson {name} to finish a step", deadline_s)
        if pane.state == "failed":
            raise RuntimeError(f"screenshots: lesson {name} stopped: {pane.error}")
        if pane.current_line == moment.line:
            return
        if pane.state == "finished":
            raise RuntimeError(f"screenshots: lesson {name} ended before its key moment (line {moment.line})")
        playback.step()


async def take_lessons(directory: Path, names: set[str] | None = None) -> list[Path]:
    """Play every built-in lesson (or those in ``names``) up to its key moment and save
    ``demo-NAME.svg`` there."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory(prefix="kplay-lesson-screenshots-") as scratch:
        for builtin in builtin_scenarios():
            if names is not None and builtin.name not in names:
                continue
            scenario = builtin.parse()
            moment = key_moment(builtin.name, scenario)
            cluster, _, _ = await open_scenario_cluster(scenario, Path(scratch) / f"{builtin.name}.db")
            try:
                # Paused and instant: the lesson moves only when told to, one step at a time.
                playback = Playback(INSTANT, paused=True)
                app = PlaygroundApp(cluster, keymap={}, demo=scenario, playback=playback)
                async with app.run_test(size=SIZE) as pilot:
                    pane = app.screen.query_one(NarrationPane)
                    await play_to_key_moment(pilot, playback, pane, builtin.name, moment)
                    await pilot.pause(0.6)  # the consumer views and partitions catch up with the step
                    saved.append(_save(app, directory, f"demo-{builtin.name}.svg"))
                    playback.resume()
                    await _until(pilot, lambda: pane.state in ("finished", "failed"), f"lesson {builtin.name}'s end",
                                 LESSON_DEADLINE_S)
            finally:
                await cluster.close()
    return saved


async def take_remote(directory: Path) -> Path:
    """``remote-cluster.svg``: ``kplay --cluster`` on ``kplay serve``, records arriving from another client."""
    from confluent_kafka import Producer as ClientProducer

    from .backends.kafka_client import KafkaClientBackend
    from .serve.servers import start_servers

    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kplay-screenshots-") as scratch:
        cluster = await Cluster.open(Path(scratch) / "served.db")
        servers = await start_servers(cluster, port=0, rest=False)
        try:
            await cluster.topics.create_topic("orders", partitions=3, replication_factor=2)
            await cluster.topics.create_topic("payments", partitions=2, replication_factor=3)
            await _produce(cluster, "orders", 24, keys=8)
            await _produce(cluster, "payments", 6, keys=4)
            bootstrap = servers.bootstrap_servers()
            # Named as a profile in clusters.toml would be: the header shows the name, not the ports.
            backend = await KafkaClientBackend.open({"bootstrap.servers": bootstrap}, name="staging")
            app = PlaygroundApp(backend=backend, keymap={})
            async with app.run_test(size=README_SIZE) as pilot:
                topics = app.screen.query_one(TopicList)
                await _until(pilot, lambda: topics.table.row_count == 2, "the remote topic list")
                topics.select("orders")
                view = await app.screen.query_one(ConsumerDeck).add_consumer("orders", group="billing",
                                                                              label="billing #1")
                await _until(pilot, lambda: view.consumed >= 24, "the group reading the remote topic", 60.0)

                def send_elsewhere() -> None:
                    producer = ClientProducer({"bootstrap.servers": bootstrap, "linger.ms": 0})
                    for i in range(24, 33):
                        producer.produce("orders", f"order {i}: {{\"amount\": {i * 7 % 100}}}".encode(),
                                         f"customer-{i % 8}".encode())
                    producer.flush(15)

                await asyncio.to_thread(send_elsewhere)
                await _until(pilot, lambda: view.consumed >= 33 and topics.rows["orders"].records >= 33,
                             "the records from another client", 30.0)
                await pilot.pause(1.5)  # the group panel's lag and the strips follow the next poll
                return _save(app, directory, "remote-cluster.svg")
        finally:
            await servers.stop()
            await cluster.close()


def _save(app: PlaygroundApp, directory: Path, name: str) -> Path:
    path = directory / name
    svg = app.export_screenshot()
    path.write_text(svg.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m app.screenshots DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.screenshots DIR", file=sys.stderr)
        return 2
    for path in asyncio.run(take(Path(args[0]))):
        print(path)
    for path in asyncio.run(take_lessons(Path(args[0]))):
        print(path)
    print(asyncio.run(take_remote(Path(args[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
