"""The pipeline screen and the playground's own Connect worker, through Pilot.

Connectors are created through the core's Connect API, as ``kplay connect --create`` in
another terminal does; the playground's worker runs them and the pipeline screen shows
their state, records moved and table rows, and the Schema Registry's subjects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.commands_palette import palette_actions
from app.screens.main import MainScreen
from app.screens.pipeline import PipelineScreen
from app.tui import PlaygroundApp
from broker_core import Cluster
from broker_core.connect import ConnectWorker
from test_connect import TOPIC, insert
from test_connect_support import Database, sink_config, source_config, sqlite_db  # noqa: F401
from test_tui_app_support import screen_text, wait_until
from widgets.schema_pane import SchemaPane

#: Connector jobs move rows on a real poll interval: allow for a busy machine.
PIPELINE_DEADLINE_S = 30.0


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory: the app's worker resolves relative SQLite paths from here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_connectors_created_elsewhere_run_in_the_playground_and_show_on_the_pipeline_screen(
        cluster: Cluster, sqlite_db: Database, in_tmp: Path) -> None:
    await insert(sqlite_db, 20)
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert "C Connect & schemas" in screen_text(pilot).splitlines()[-1]
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen), "the pipeline screen")
        await wait_until(pilot, lambda: "No connectors yet" in screen_text(pilot), "the empty connectors pane")
        assert "Connect worker: waiting for the first connector" in screen_text(pilot)
        # Looking at an empty pipeline creates nothing: Connect's topics come with the first connector.
        assert await cluster.topics.list_topics() == []
        assert app.connect is not None and not app.connect.running

        # Another terminal: kplay connect --create source.json / sink.json (the API only, no worker).
        elsewhere = ConnectWorker(cluster, worker_id="cli")
        await elsewhere.create_connector(source_config("jdbc-source", sqlite_db.url))
        await elsewhere.create_connector(sink_config("jdbc-sink", sqlite_db.url, TOPIC))
        await wait_until(pilot, lambda: "iris_copy  20 rows" in screen_text(pilot), "the target's 20 rows",
                         PIPELINE_DEADLINE_S)
        await wait_until(pilot, lambda: "runs jdbc-sink, jdbc-source" in screen_text(pilot), "the worker's line")
        text = screen_text(pilot)
        assert app.connect.running
        assert "jdbc-source  source  RUNNING  tasks RUNNING" in text
        assert "jdbc-sink  sink  RUNNING  tasks RUNNING" in text
        assert "copied 20 records" in text and "offset iris_data: incrementing=20" in text
        # The source registered the table's schema: the registry pane lists its subject.
        assert f"{TOPIC}-value  v1" in text
        assert '"name": "sepal_length"' in text

        # A schema registered from anywhere shows up live.
        schema = json.dumps({"type": "record", "name": "order", "fields": [{"name": "id", "type": "long"}]})
        await cluster.schemas.register_schema("orders-value", schema)
        await wait_until(pilot, lambda: "orders-value  v1" in screen_text(pilot), "the new subject")

        # The screen's actions are in the palette; C (or escape) goes back to the main screen.
        titles = {f"{a.pane}: {a.description}" for a in palette_actions(app.screen)}
        assert "Pipeline screen: Main screen" in titles and "Connectors: Pause/resume" in titles
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen again")
        assert "Main screen: Connect & schemas" in {f"{a.pane}: {a.description}" for a in palette_actions(app.screen)}
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen), "the pipeline screen again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "escape back")

    # The app stopped its worker on exit: the connectors wait for another worker.
    status = await elsewhere.connector_status("jdbc-source")
    assert status.state == "UNASSIGNED" and all(task.state == "UNASSIGNED" for task in status.tasks)


async def test_a_lesson_runs_no_worker_of_the_app_and_the_screen_says_so(cluster: Cluster, in_tmp: Path) -> None:
    from app.scenarios.playback import INSTANT, Playback
    from app.scenarios.script import parse

    lesson = parse("title: Nothing\nsay hello\n", "nothing.kplay")
    app = PlaygroundApp(cluster, keymap={}, demo=lesson, playback=Playback(INSTANT, paused=True))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.connect is None
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen), "the pipeline screen")
        await wait_until(pilot, lambda: app.screen.query_one(SchemaPane).is_mounted, "the schema pane")
        assert "No Connect worker in this process" in screen_text(pilot)
