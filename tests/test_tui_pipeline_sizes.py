"""The pipeline screen at the sizes people have: stacked panes on a laptop, side by side wide.

At 80x24 the connectors pane was 14 columns wide (its text one word a line) and the status
line was cut at the right edge; narrow terminals now stack the two panes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.screens.main import MainScreen
from app.screens.pipeline import PipelineScreen
from app.tui import PlaygroundApp
from broker_core import Cluster
from test_tui_app_support import screen_text, wait_until
from widgets.connectors_pane import ConnectorsPane
from widgets.schema_pane import SchemaPane


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_pipeline_panes_are_readable_at_each_size(cluster: Cluster, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         size: tuple[int, int]) -> None:
    monkeypatch.chdir(tmp_path)
    width, _ = size
    app = PlaygroundApp(cluster, keymap={})
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen), "the pipeline screen")
        await wait_until(pilot, lambda: "No connectors yet" in screen_text(pilot), "the empty connectors pane")
        connectors = app.screen.query_one(ConnectorsPane).region
        schemas = app.screen.query_one(SchemaPane).region
        assert connectors.width >= 40 and schemas.width >= 40
        assert connectors.right <= width and schemas.right <= width
        # The status line's hint is wrapped, never cut: its last words are on screen.
        assert "Schema Registry clients." in screen_text(pilot)
        if width < 110:
            assert schemas.y >= connectors.bottom  # stacked
        else:
            assert schemas.x >= connectors.right  # side by side
