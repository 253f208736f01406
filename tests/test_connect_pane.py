"""The connectors pane: state, records moved, offsets and the target table's rows, live."""

from __future__ import annotations


from textual.app import App, ComposeResult

from broker_core import Cluster
from broker_core.connect import ConnectWorker
from test_connect import TOPIC, insert
from test_connect_support import Database, sink_config, source_config, sqlite_db  # noqa: F401
from tui_widget_harness import screen_styles_have_link, screen_text, wait_for
from widgets import connectors_pane
from widgets.connectors_pane import ConnectorsPane


class PaneApp(App):
    """Just the connectors pane."""

    CSS_PATH = [connectors_pane.CSS_FILE]

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        yield ConnectorsPane(self.cluster)


async def test_the_pane_follows_the_pipeline_live_and_pauses_from_the_keyboard(cluster: Cluster,
                                                                               sqlite_db: Database) -> None:
    await insert(sqlite_db, 20)
    worker = ConnectWorker(cluster, worker_id="pane", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await worker.create_connector(source_config("jdbc-source", sqlite_db.url))
    await worker.create_connector(sink_config("jdbc-sink", sqlite_db.url, TOPIC))
    app = PaneApp(cluster)
    async with worker:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: "No connectors yet" not in screen_text(app), "the connectors")
            await worker.start()
            await wait_for(pilot, lambda: "iris_copy  20 rows" in screen_text(app), "the target's 20 rows")
            # The rows land before the offsets that cover them are committed and drawn.
            await wait_for(pilot, lambda: "offset iris_data: incrementing=20" in screen_text(app)
                           and f"offset {TOPIC}-0: 20" in screen_text(app), "both connectors' offsets")
            text = screen_text(app)
            assert "jdbc-source  source  RUNNING  tasks RUNNING" in text
            assert "jdbc-sink  sink  RUNNING  tasks RUNNING" in text
            assert "offset iris_data: incrementing=20" in text and f"offset {TOPIC}-0: 20" in text
            assert "copied 20 records" in text and "iris_data  20 rows" in text
            # More rows at the source: the target's count moves without anyone asking.
            await insert(sqlite_db, 10)
            await wait_for(pilot, lambda: "iris_copy  30 rows" in screen_text(app), "the target's 30 rows")
            assert "offset iris_data: incrementing=30" in screen_text(app)
            # The cursor starts on the first connector (jdbc-sink): p pauses it, p again resumes it.
            app.query_one(ConnectorsPane).focus()
            await pilot.press("p")
            await wait_for(pilot, lambda: "jdbc-sink  sink  PAUSED  tasks PAUSED" in screen_text(app), "PAUSED")
            await pilot.press("p")
            await wait_for(pilot, lambda: "jdbc-sink  sink  RUNNING" in screen_text(app), "RUNNING again")
            await pilot.press("j", "r")
            await wait_for(pilot, lambda: "restart of jdbc-source requested" in screen_text(app), "the restart")


async def test_a_failed_connector_shows_its_error_and_names_are_drawn_literally(cluster: Cluster) -> None:
    worker = ConnectWorker(cluster, worker_id="pane", heartbeat_interval_ms=100, session_timeout_ms=5_000)
    await worker.create_connector(source_config(
        "[link=http:e]x[b]odd", "jdbc:postgresql://127.0.0.1:1/nowhere?user=nobody", **{"connection.attempts": "1"}))
    app = PaneApp(cluster)
    async with worker:
        await worker.start()
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: "FAILED" in screen_text(app), "FAILED")
            text = screen_text(app)
            assert "[link=http:e]x[b]odd  source  FAILED" in text
            assert "✗ broker_core.connect.jdbc_source.DatabaseUnreachable: Could not connect" in text
            assert not screen_styles_have_link(app)


async def test_no_connectors_shows_how_to_make_one(cluster: Cluster) -> None:
    app = PaneApp(cluster)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: "No connectors yet" in screen_text(app), "the hint")
        assert "kplay connect --create FILE.json" in screen_text(app)
